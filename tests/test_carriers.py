"""Carrier links and carrier recognition: what Lumen derives from a shipment's tracking number."""

from __future__ import annotations

import pytest

from lumen_bot.domain.carriers import Carrier, carrier_named, complete_shipment, detect_carrier, tracking_url
from lumen_bot.domain.orders import OrderStatus, Shipment

# Valid numbers in every recognised format. Check digits are worked out by hand in the comments, so the
# tests do not lean on the module's own arithmetic; samples marked "jkeen" come from the public test data
# of jkeen/tracking_number_data.
VALID: list[tuple[str, str]] = [
    # UPS's published sample. After 1Z: 9 9 9 A→2 A→2 1 0 1 2 3 4 5 6 7 8; odd places 9+9+2+0+2+4+6+8 = 40,
    # even places (9+2+1+1+3+5+7)*2 = 56; 40+56 = 96, so the check digit is 4.
    ("1Z999AA10123456784", "ups"),
    # USPS IMpb (jkeen). Weights 3,1,3,… from the right over the first 21 digits sum to 94: check 6.
    ("9400111201080805483016", "usps"),
    # S10: 1*8+2*6+3*4+4*2+5*3+6*5+7*9+8*7 = 204; 204 mod 11 = 6; 11-6 = 5.
    ("EA123456785US", "usps"),
    # FedEx Ground (jkeen). Weights 3,1,… from the right over 14 digits sum to 116: check 4.
    ("041441760228964", "fedex"),
    # FedEx Ground 96 (jkeen). The same mod 10 over the last 14 data digits 98765431234567 sums to 138: 2.
    ("9611020987654312345672", "fedex"),
    # DHL Express waybill (jkeen): 331881002 mod 7 = 5.
    ("3318810025", "dhl_express"),
    # A DHL piece ID (paketda.de's example): no check digit, the JJD prefix alone tells.
    ("JJD1410302937991", "dhl_express"),
    # DHL eCommerce (jkeen): GM + 16 digits, no check digit.
    ("GM2951173225174494", "dhl_ecommerce"),
    # S10 as above: check 5.
    ("AB123456785GB", "royal_mail"),
    # Canada Post 16 digits (jkeen). Weights 3,1,… from the right over 15 digits sum to 153: check 7.
    ("0073938000549297", "canada_post"),
    # The S10 standard's example: 4*8+7*6+3*4+1*2+2*3+4*5+8*9+2*7 = 200; 200 mod 11 = 2; 11-2 = 9.
    ("RR473124829AU", "australia_post"),
    # PostNL 3S, 13 and 15 characters long (PostNL's Barcode API: "3S" + customer code + serial).
    ("3SABCD1234567", "postnl"),
    ("3SDEVC201611210", "postnl"),
    # Colissimo, La Poste's own example in its tracking FAQ.
    ("8D00432154798", "la_poste"),
    ("RR473124829DE", "deutsche_post"),
    # DPD with its check character (paketda.de's example): ISO 7064 MOD 37,36 over the 14 digits gives C.
    ("01015026003653C", "dpd"),
]

# The same numbers with the check digit changed.
WRONG_CHECK_DIGIT = [
    "1Z999AA10123456785",
    "9400111201080805483017",
    "EA123456784US",
    "041441760228965",
    "9611020987654312345673",
    "3318810026",
    "AB123456784GB",
    "0073938000549292",
    "RR473124828AU",
    "01015026003653D",
]

# One sample per carrier, and the link each one gets.
LINKS: list[tuple[str, str, str]] = [
    ("ups", "1Z999AA10123456784", "https://www.ups.com/track?tracknum=1Z999AA10123456784"),
    (
        "usps",
        "9400111201080805483016",
        "https://tools.usps.com/go/TrackConfirmAction?tLabels=9400111201080805483016",
    ),
    ("fedex", "041441760228964", "https://www.fedex.com/fedextrack/?trknbr=041441760228964"),
    (
        "dhl_express",
        "3318810025",
        "https://www.dhl.com/global-en/home/tracking/tracking-express.html?submit=1&tracking-id=3318810025",
    ),
    (
        "dhl_ecommerce",
        "GM2951173225174494",
        "https://www.dhl.com/global-en/home/tracking/tracking-ecommerce.html?submit=1"
        "&tracking-id=GM2951173225174494",
    ),
    (
        "royal_mail",
        "AB123456785GB",
        "https://www.royalmail.com/track-your-item#/tracking-results/AB123456785GB",
    ),
    (
        "canada_post",
        "0073938000549297",
        "https://www.canadapost-postescanada.ca/track-reperage/en#/search?searchFor=0073938000549297",
    ),
    ("australia_post", "RR473124829AU", "https://auspost.com.au/mypost/track/details/RR473124829AU"),
    ("postnl", "3SABCD1234567", "https://jouw.postnl.nl/track-and-trace/3SABCD1234567"),
    ("la_poste", "8D00432154798", "https://www.laposte.fr/outils/suivre-vos-envois?code=8D00432154798"),
    (
        "deutsche_post",
        "RR473124829DE",
        "https://www.deutschepost.de/de/s/sendungsverfolgung.html?piececode=RR473124829DE",
    ),
    # A GLS Track-ID (paketda.de's example): linked by name only.
    ("gls", "XHAX4HDA", "https://gls-group.com/track/XHAX4HDA"),
    ("dpd", "01015026003653", "https://tracking.dpd.de/status/en_US/parcel/01015026003653"),
]

DISPLAY_NAMES = {
    "ups": "UPS",
    "usps": "USPS",
    "fedex": "FedEx",
    "dhl_express": "DHL Express",
    "dhl_ecommerce": "DHL eCommerce",
    "royal_mail": "Royal Mail",
    "canada_post": "Canada Post",
    "australia_post": "Australia Post",
    "postnl": "PostNL",
    "la_poste": "La Poste (Colissimo)",
    "deutsche_post": "Deutsche Post",
    "gls": "GLS",
    "dpd": "DPD",
}


def carrier(key: str) -> Carrier:
    return Carrier(key, DISPLAY_NAMES[key])


def shipment(carrier: str | None = None, number: str | None = None, url: str | None = None) -> Shipment:
    return Shipment(status=OrderStatus.SHIPPED, carrier=carrier, tracking_number=number, tracking_url=url)


# --- detect_carrier -----------------------------------------------------------------------------------


@pytest.mark.parametrize(("number", "key"), VALID)
def test_a_valid_number_is_recognised_as_its_carriers(number: str, key: str) -> None:
    assert detect_carrier(number) == carrier(key)


@pytest.mark.parametrize("number", WRONG_CHECK_DIGIT)
def test_a_number_with_a_wrong_check_digit_is_not_recognised(number: str) -> None:
    assert detect_carrier(number) is None


@pytest.mark.parametrize(
    "number",
    # Formats without a check digit are recognised by their exact shape: one digit short, none is.
    ["JJD14103029", "GM295117322517449", "3SABCD123456", "8D0043215479"],
)
def test_a_number_the_wrong_length_for_its_prefix_is_not_recognised(number: str) -> None:
    assert detect_carrier(number) is None


@pytest.mark.parametrize(
    ("number", "key"),
    [
        # As printed on labels, typed by hand, or copied from a carrier's email.
        ("1z 999 aa1 01 2345 6784", "ups"),
        ("9400-1112-0108-0805-4830-16", "usps"),
        (" rr473124829de ", "deutsche_post"),
    ],
)
def test_spaces_dashes_and_case_are_ignored(number: str, key: str) -> None:
    assert detect_carrier(number) == carrier(key)


@pytest.mark.parametrize(
    ("country", "key"),
    [
        ("US", "usps"),
        ("GB", "royal_mail"),
        ("CA", "canada_post"),
        ("AU", "australia_post"),
        ("NL", "postnl"),
        ("FR", "la_poste"),
        ("DE", "deutsche_post"),
    ],
)
def test_an_s10_number_belongs_to_the_national_post_of_its_country(country: str, key: str) -> None:
    # The S10 standard's example serial (check digit 9, see VALID) with each country's suffix.
    assert detect_carrier(f"RR473124829{country}") == carrier(key)


@pytest.mark.parametrize("country", ["CH", "CN", "SE"])
def test_an_s10_number_from_an_uncovered_country_is_not_recognised(country: str) -> None:
    assert detect_carrier(f"RR473124829{country}") is None


@pytest.mark.parametrize(
    "number",
    [
        # A FedEx SmartPost number (jkeen) is also a valid USPS IMpb number: same prefix and check digit.
        "9261292700768711948021",
        # Valid for DPD (MOD 37,36 over 01015026000019 gives 1) and for FedEx Ground (weights 3,1,… from
        # the right: 9*3+1+6*3+2+5+1*3+1*3 = 59, check 1): both formats fit.
        "010150260000191",
    ],
)
def test_a_number_two_carriers_formats_fit_is_ambiguous(number: str) -> None:
    assert detect_carrier(number) is None


@pytest.mark.parametrize(
    "number",
    [
        # FedEx Express 12 digits with a valid mod 11 check (jkeen): GLS and DHL Paket use 12 digits too.
        "986578788855",
        # DHL Express 11 digits with a valid mod 7 check (jkeen): GLS uses 11 digits too.
        "73891051146",
        # DPD's bare parcel number: no check digit of its own.
        "01015026003653",
    ],
)
def test_bare_digits_of_a_length_several_carriers_use_are_not_claimed(number: str) -> None:
    assert detect_carrier(number) is None


@pytest.mark.parametrize("text", ["", "   ", "LUM1042", "not a number", "1Z"])
def test_text_that_is_no_tracking_number_is_not_recognised(text: str) -> None:
    assert detect_carrier(text) is None


# --- tracking_url -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("key", "number", "url"), LINKS)
def test_each_carrier_links_to_its_public_tracking_page(key: str, number: str, url: str) -> None:
    assert tracking_url(carrier(key), number) == url


def test_the_number_in_a_link_is_url_encoded() -> None:
    # A shop's free text must not break out of the query or path: "/", "&", "?" and "#" are escaped.
    assert tracking_url(carrier("gls"), "A/B&C?D#E") == "https://gls-group.com/track/A%2FB%26C%3FD%23E"
    assert tracking_url(carrier("ups"), "1Z&x=1") == "https://www.ups.com/track?tracknum=1Z%26x%3D1"


def test_the_spaces_a_label_prints_are_left_out_of_the_link() -> None:
    url = tracking_url(carrier("ups"), " 1Z 999 AA1 01 2345 6784 ")
    assert url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"


def test_a_dpd_link_leaves_out_the_check_character() -> None:
    # DPD's tracking page asks for the 14-digit parcel number.
    assert tracking_url(carrier("dpd"), "01015026003653C").endswith("/parcel/01015026003653")


# --- carrier_named ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "key"),
    [
        ("UPS", "ups"),
        ("ups", "ups"),
        ("United Parcel Service", "ups"),
        ("USPS", "usps"),
        ("United States Postal Service", "usps"),
        ("U.S. Postal Service", "usps"),
        ("FedEx", "fedex"),
        ("FedEx Ground", "fedex"),
        ("fedex-express", "fedex"),
        ("DHL Express", "dhl_express"),
        ("DHL eCommerce", "dhl_ecommerce"),
        ("Royal Mail", "royal_mail"),
        ("royal-mail", "royal_mail"),
        ("Canada Post", "canada_post"),
        ("Australia Post", "australia_post"),
        ("AusPost", "australia_post"),
        ("PostNL", "postnl"),
        ("La Poste", "la_poste"),
        ("Colissimo", "la_poste"),
        ("La Poste (Colissimo)", "la_poste"),
        ("Deutsche Post", "deutsche_post"),
        ("deutsche_post", "deutsche_post"),
        ("GLS", "gls"),
        ("DPD", "dpd"),
    ],
)
def test_a_carrier_is_known_by_the_names_shops_use(name: str, key: str) -> None:
    assert carrier_named(name) == carrier(key)


def test_plain_dhl_is_dhl_express() -> None:
    assert carrier_named("DHL") == carrier("dhl_express")


@pytest.mark.parametrize("name", ["", "Speedy Couriers", "Hermes", "DHL Paket", "UPSS"])
def test_a_carrier_lumen_does_not_cover_is_not_known(name: str) -> None:
    assert carrier_named(name) is None


# --- complete_shipment --------------------------------------------------------------------------------


def test_a_named_carrier_gets_its_link_and_keeps_the_shops_own_name() -> None:
    completed = complete_shipment(shipment("ups", "1Z999AA10123456784"))
    assert completed.carrier == "ups"
    assert completed.tracking_url == "https://www.ups.com/track?tracknum=1Z999AA10123456784"


@pytest.mark.parametrize("missing", [None, "", "  "])
def test_a_recognisable_number_gets_the_carriers_name_and_link(missing: str | None) -> None:
    completed = complete_shipment(shipment(missing, "AB123456785GB"))
    assert completed.carrier == "Royal Mail"
    assert (
        completed.tracking_url == "https://www.royalmail.com/track-your-item#/tracking-results/AB123456785GB"
    )


def test_a_link_the_source_gave_is_kept() -> None:
    given = shipment("UPS", "1Z999AA10123456784", "https://shop.example/track/1042")
    assert complete_shipment(given) is given


def test_a_recognised_carrier_is_added_beside_the_link_the_source_gave() -> None:
    completed = complete_shipment(shipment(None, "1Z999AA10123456784", "https://shop.example/track/1042"))
    assert (completed.carrier, completed.tracking_url) == ("UPS", "https://shop.example/track/1042")


def test_the_carrier_the_source_names_wins_over_the_numbers_format() -> None:
    # The shop says DHL although the number looks like UPS's: the shop knows what it shipped with.
    completed = complete_shipment(shipment("DHL", "1Z999AA10123456784"))
    assert completed.carrier == "DHL"
    assert completed.tracking_url is not None and completed.tracking_url.startswith("https://www.dhl.com/")


def test_a_carrier_lumen_does_not_know_gets_no_guessed_link() -> None:
    # The number happens to fit the S10 format, but the shop says another carrier carries it.
    given = shipment("Speedy Couriers", "AB123456785GB")
    assert complete_shipment(given) is given


@pytest.mark.parametrize("number", ["PKG-77", "986578788855", "AB123456784GB"])
def test_an_unrecognised_number_without_a_carrier_is_left_alone(number: str) -> None:
    given = shipment(None, number)
    assert complete_shipment(given) is given


@pytest.mark.parametrize("number", [None, "", "  "])
def test_a_shipment_without_a_tracking_number_is_left_alone(number: str | None) -> None:
    given = shipment("UPS", number)
    assert complete_shipment(given) is given
