"""Carriers: their public tracking links, and recognising one from a tracking number's format.

Order sources often give a tracking number without a link, and now and then without the carrier.
:func:`complete_shipment` fills in what can be derived: the carrier (from the number's format) and the
link (from the carrier, named or recognised). It never replaces what the source gave.

A number is recognised only when exactly one carrier's format fits it — its pattern and, where the format
has one, its check digit. Numbers that could be another covered carrier's are not recognised (some formats
are left out for that reason), and get a link only when the shop names the carrier:

- GLS: 11- and 12-digit parcel numbers and 8-character Track-IDs (paketda.de, "GLS-Paketlabel") overlap
  FedEx, Deutsche Post/DHL Paket and DHL numbers, and no check-digit rule for them is published.
- FedEx Express 12 digits (mod 11 check) and DHL Express 11 digits share their lengths with GLS (and DHL
  Paket's 12-digit Identcode), so neither is claimed.
- DPD's bare 14-digit parcel number has no check digit of its own: only the 15-character form with
  DPD's check character (ISO 7064 MOD 37,36) is recognised.
- USPS 92… IMpb numbers are also FedEx SmartPost numbers (same structure and check digit): ambiguous.
- Legacy 20-digit USPS and SmartPost numbers (without their 91/92 prefix), the 420+ZIP routing forms, and
  Australia Post's domestic consignment numbers have no distinctive documented rule.

Why a table and not a library: PyPI's ``tracking-numbers`` (0.1.8, MIT, last release 2022-11) knows US
carriers (UPS, USPS, FedEx, OnTrac, …), DHL Express and a generic S10 — none of the European carriers
here. It is built from jkeen/tracking_number_data, which the formats below were checked against.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import quote

from lumen_bot.domain.orders import Shipment


@dataclass(frozen=True, slots=True)
class Carrier:
    key: str
    name: str
    """The display name, as Lumen says it to a shopper."""


# --- Check digits -------------------------------------------------------------------------------------


def _gs1_mod10(digits: str) -> bool:
    """GS1 mod 10, as USPS IMpb, FedEx Ground and Canada Post use it: weights 3, 1, 3, … from the last
    data digit; the check digit takes the sum up to a multiple of 10 (USPS Publication 199)."""
    *data, check = map(int, digits)
    total = sum(digit * (3 if i % 2 == 0 else 1) for i, digit in enumerate(reversed(data)))
    return (10 - total % 10) % 10 == check


def _ups(number: str) -> bool:
    """UPS's modified mod 10 over the 15 characters after ``1Z``: letters count as (A=2 … I=0, J=1 …),
    the 2nd, 4th, … characters twice (UPS developer guide, via jkeen/tracking_number_data)."""
    values = [int(c) if c.isdigit() else (ord(c) - 63) % 10 for c in number[2:-1]]
    total = sum(value * (2 if i % 2 else 1) for i, value in enumerate(values))
    return (10 - total % 10) % 10 == int(number[-1])


def _s10(number: str) -> bool:
    """UPU S10: weights 8, 6, 4, 2, 3, 5, 9, 7 over the 8 serial digits; check = 11 - sum mod 11, where
    10 becomes 0 and 11 becomes 5 (UPU standard S10, check-digit section)."""
    weights = (8, 6, 4, 2, 3, 5, 9, 7)
    total = sum(int(digit) * weight for digit, weight in zip(number[2:10], weights, strict=True))
    check = 11 - total % 11
    return {10: 0, 11: 5}.get(check, check) == int(number[10])


def _dhl_express(number: str) -> bool:
    """DHL Express waybills: the check digit is the other digits, read as one number, mod 7
    (paketda.de, "Prüfziffer DHL Express 10-stellig"; jkeen/tracking_number_data)."""
    return int(number[:-1]) % 7 == int(number[-1])


def _fedex_96(number: str) -> bool:
    """FedEx Ground 96… (22 digits): GS1 mod 10 over the last 14 data digits only (FedEx Ground label
    layout specification, via jkeen/tracking_number_data)."""
    return _gs1_mod10(number[-15:])


_MOD36 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _dpd(number: str) -> bool:
    """DPD's check character: ISO 7064 MOD 37,36 over the 14-digit parcel number (DPD parcel label
    specification; paketda.de's example 01015026003653C)."""
    product = 36
    for char in number[:-1]:
        product = ((product + _MOD36.index(char)) % 36 or 36) * 2 % 37
    return _MOD36[(37 - product) % 36] == number[-1]


# --- Formats ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Format:
    pattern: re.Pattern[str]
    check: Callable[[str], bool] | None = None
    """None where the format has no check digit: its pattern must be distinctive on its own."""

    def fits(self, number: str) -> bool:
        return self.pattern.fullmatch(number) is not None and (self.check is None or self.check(number))


def _format(pattern: str, check: Callable[[str], bool] | None = None) -> _Format:
    return _Format(re.compile(pattern), check)


def _s10_from(country: str) -> _Format:
    """An S10 number (2 letters, 8 digits, check digit, country) issued by `country`'s national post."""
    return _format(rf"[A-Z]{{2}}\d{{9}}{country}", _s10)


def _as_given(number: str) -> str:
    return number


_DPD_WITH_CHECK = _format(r"\d{14}[0-9A-Z]", _dpd)


def _dpd_parcel_number(number: str) -> str:
    # DPD's tracking page asks for the 14-digit parcel number: the check character is dropped.
    return number[:14] if _DPD_WITH_CHECK.fits(number.upper()) else number


@dataclass(frozen=True, slots=True)
class _Entry:
    carrier: Carrier
    names: tuple[str, ...]
    """What shops and platforms call the carrier, besides its key and display name."""
    link: str
    """The public tracking page, ``{}`` standing for the URL-encoded number."""
    formats: tuple[_Format, ...] = ()
    linked_number: Callable[[str], str] = _as_given


_CARRIERS: tuple[_Entry, ...] = (
    _Entry(
        Carrier("ups", "UPS"),
        ("United Parcel Service", "UPS Ground", "UPS Express", "UPS SurePost", "UPS Mail Innovations"),
        "https://www.ups.com/track?tracknum={}",
        # 1Z, 6-character shipper number, 2-character service, 7-digit package number, check digit.
        (_format(r"1Z[0-9A-Z]{8}\d{8}", _ups),),
    ),
    _Entry(
        Carrier("usps", "USPS"),
        ("United States Postal Service", "US Postal Service", "US Mail", "USPS Priority Mail"),
        "https://tools.usps.com/go/TrackConfirmAction?tLabels={}",
        # IMpb: channel identifier 91-95, then 20 (or, with a longer serial, 24) digits, the last a check.
        (_format(r"9[1-5](?:\d{20}|\d{24})", _gs1_mod10), _s10_from("US")),
    ),
    _Entry(
        Carrier("fedex", "FedEx"),
        (
            "Federal Express",
            "FedEx Ground",
            "FedEx Express",
            "FedEx Home Delivery",
            "FedEx SmartPost",
            "FedEx Ground Economy",
        ),
        "https://www.fedex.com/fedextrack/?trknbr={}",
        (
            _format(r"\d{15}", _gs1_mod10),  # Ground
            _format(r"96\d{20}", _fedex_96),  # Ground 96…
            _format(r"92\d{20}", _gs1_mod10),  # SmartPost (an IMpb number: USPS fits it as well)
        ),
    ),
    _Entry(
        Carrier("dhl_express", "DHL Express"),
        ("DHL", "DHL Worldwide Express"),
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id={}",
        # 10-digit waybill; piece IDs JD/JJD + digits (jkeen/tracking_number_data; paketda.de).
        (_format(r"\d{10}", _dhl_express), _format(r"JJ?D\d{9,18}")),
    ),
    _Entry(
        Carrier("dhl_ecommerce", "DHL eCommerce"),
        ("DHL eCommerce Solutions", "DHL Global Mail"),
        "https://www.dhl.com/global-en/home/tracking/tracking-ecommerce.html?submit=1&tracking-id={}",
        # GM + 16-22 digits (jkeen/tracking_number_data). Its S10 numbers belong to the issuing post.
        (_format(r"GM\d{16,22}"),),
    ),
    _Entry(
        Carrier("royal_mail", "Royal Mail"),
        (),
        "https://www.royalmail.com/track-your-item#/tracking-results/{}",
        (_s10_from("GB"),),
    ),
    _Entry(
        Carrier("canada_post", "Canada Post"),
        ("Postes Canada",),
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor={}",
        # 16 digits, GS1 mod 10 (jkeen/tracking_number_data).
        (_format(r"\d{16}", _gs1_mod10), _s10_from("CA")),
    ),
    _Entry(
        Carrier("australia_post", "Australia Post"),
        ("AusPost",),
        "https://auspost.com.au/mypost/track/details/{}",
        (_s10_from("AU"),),
    ),
    _Entry(
        Carrier("postnl", "PostNL"),
        (),
        # Full details ask for the destination country and postcode; this link opens PostNL's own
        # track-and-trace page for the number, where the shopper adds them.
        "https://jouw.postnl.nl/track-and-trace/{}",
        # 3S + 4-letter customer code + serial, 13 or 15 characters in all (PostNL Barcode API docs).
        (_format(r"3S[A-Z]{4}(?:\d{7}|\d{9})"), _s10_from("NL")),
    ),
    _Entry(
        Carrier("la_poste", "La Poste (Colissimo)"),
        ("La Poste", "Colissimo", "La Poste Colissimo"),
        "https://www.laposte.fr/outils/suivre-vos-envois?code={}",
        # Colissimo: digit, letter, 11 digits, e.g. 8D00432154798 (La Poste's tracking FAQ).
        (_format(r"\d[A-Z]\d{11}"), _s10_from("FR")),
    ),
    _Entry(
        Carrier("deutsche_post", "Deutsche Post"),
        ("Deutsche Post AG",),
        "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode={}",
        (_s10_from("DE"),),
    ),
    _Entry(
        Carrier("gls", "GLS"),
        ("General Logistics Systems", "GLS Group"),
        "https://gls-group.com/track/{}",
    ),
    _Entry(
        Carrier("dpd", "DPD"),
        ("DPD Group", "Dynamic Parcel Distribution"),
        "https://tracking.dpd.de/status/en_US/parcel/{}",
        (_DPD_WITH_CHECK,),
        linked_number=_dpd_parcel_number,
    ),
)


_NOT_A_LETTER = re.compile(r"[\W_]+")


def _name_key(name: str) -> str:
    return _NOT_A_LETTER.sub("", name.casefold())


_BY_KEY = {entry.carrier.key: entry for entry in _CARRIERS}
_BY_NAME = {
    _name_key(name): entry.carrier
    for entry in _CARRIERS
    for name in (entry.carrier.key, entry.carrier.name, *entry.names)
}
_SPACES = re.compile(r"\s+")
_SPACES_AND_DASHES = re.compile(r"[\s-]+")


# Every answer about an order completes its shipments again, and a shop has few carrier names and a
# conversation asks about the same numbers: both lookups are remembered (bounded; pure functions).
@lru_cache(maxsize=256)
def carrier_named(name: str) -> Carrier | None:
    """The carrier a shop or platform calls `name` ("ups", "United Parcel Service", "FedEx Ground",
    "Colissimo", …), case- and punctuation-insensitive; plain "DHL" is DHL Express."""
    return _BY_NAME.get(_name_key(name))


@lru_cache(maxsize=4096)
def detect_carrier(tracking_number: str) -> Carrier | None:
    """The one carrier whose format (and check digit, where it has one) fits the number; None when none
    does or several do. Spaces and dashes are ignored."""
    number = _SPACES_AND_DASHES.sub("", tracking_number).upper()
    fitting = {entry.carrier for entry in _CARRIERS if any(f.fits(number) for f in entry.formats)}
    return fitting.pop() if len(fitting) == 1 else None


@lru_cache(maxsize=4096)
def tracking_url(carrier: Carrier, tracking_number: str) -> str:
    """The carrier's public tracking page for the number (spaces removed, URL-encoded)."""
    entry = _BY_KEY[carrier.key]
    number = entry.linked_number(_SPACES.sub("", tracking_number))
    return entry.link.format(quote(number, safe=""))


def complete_shipment(shipment: Shipment) -> Shipment:
    """The shipment with the carrier's name when the source gave none and the number is recognised, and
    the tracking link when the source gave none and the carrier is known (by name, else by number).

    What the source gave is kept as it is. A carrier the source names but Lumen does not know is trusted
    over the number's format: no link is guessed for it. Returns `shipment` itself when nothing is added.
    """
    number = (shipment.tracking_number or "").strip()
    if not number:
        return shipment
    named = (shipment.carrier or "").strip()
    carrier = carrier_named(named) if named else detect_carrier(number)
    if carrier is None:
        return shipment
    update: dict[str, str] = {}
    if not named:
        update["carrier"] = carrier.name
    if not (shipment.tracking_url or "").strip():
        update["tracking_url"] = tracking_url(carrier, number)
    return shipment.model_copy(update=update) if update else shipment
