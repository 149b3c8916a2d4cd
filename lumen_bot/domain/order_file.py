"""Reading a shop's order file (CSV or JSON Lines) into orders: every row is checked, every problem named.

The file shape (DESIGN.md, "Order import CSV"):

- One CSV row, or one JSON object per line, per shipment, with the fields ``order_number, email, status,
  placed_at, carrier, tracking_number, tracking_url, estimated_delivery, customer_name`` in any order;
  only ``order_number``, ``email`` and ``status`` are required. A JSON Lines object is flat, exactly like
  a CSV row (no nested ``shipments`` list), so one description of a row serves both formats.
- Rows with the same order number (``#1042`` = ``1042``) are one order. A row without carrier, tracking
  number or tracking URL adds no shipment: that order has not shipped yet.
- The order's status is its first row's status; each shipment keeps its own row's status. So an order
  whose status differs from all its shipments' (``partially_shipped`` with one ``delivered`` and one
  ``shipped`` shipment) starts with a row that has no shipment fields.
- ``email``, ``placed_at`` and ``customer_name`` belong to the order: a later row may leave the optional
  ones blank, but two rows of one order must not disagree.
- Dates are ISO 8601, a date or a date and time; a time without an offset is UTC.
- Unknown columns are rejected rather than ignored, so that a misspelt one cannot silently drop data.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    HttpUrl,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from pydantic_core import ErrorDetails

from lumen_bot.domain.identifiers import normalize_email, normalize_order_number
from lumen_bot.domain.orders import MaxLength, Order, OrderStatus, Shipment

_REQUIRED = ("order_number", "email", "status")
_ORDER_FIELDS = ("email", "placed_at", "customer_name")
_JSON_LINES_SUFFIXES = frozenset({".jsonl", ".ndjson"})

_Error = tuple[int, str]  # a physical line number and what is wrong there
_Record = tuple[int, dict[str, Any]]  # a physical line number and the fields given there


class ImportFailed(Exception):
    """Nothing was imported; ``errors`` has one ``line N: reason`` per problem, in line order."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__("\n".join(errors))
        self.errors = errors


@dataclass(frozen=True)
class ImportSummary:
    orders: int
    shipments: int

    def __str__(self) -> str:
        return f"Imported {_count(self.orders, 'order')} and {_count(self.shipments, 'shipment')}."


def parse_orders(data: bytes, *, name: str = "") -> list[Order]:
    """The orders in a file's ``data``; :class:`ImportFailed` lists every bad row when there is any.

    The file is JSON Lines when its ``name`` ends in ``.jsonl`` or ``.ndjson`` or it starts with ``{``,
    else CSV."""
    text = _read_text(data)
    suffix = name[name.rfind(".") :].lower() if "." in name else ""
    is_json_lines = suffix in _JSON_LINES_SUFFIXES or text.lstrip().startswith("{")
    records, errors = _json_lines_records(text) if is_json_lines else _csv_records(text)
    rows: list[tuple[int, _Row]] = []
    for line, fields in records:
        try:
            rows.append((line, _Row.model_validate(fields)))
        except ValidationError as invalid:
            errors += [(line, _reason(detail)) for detail in invalid.errors()]
    if not records and not errors:
        errors.append((1, "no orders in the file"))
    orders, conflicts = _group(rows)
    errors += conflicts
    if errors:
        raise ImportFailed([f"line {line}: {reason}" for line, reason in sorted(errors, key=lambda e: e[0])])
    return orders


# Reading -----------------------------------------------------------------------------------------------


def _read_text(data: bytes) -> str:
    data = data.removeprefix(codecs.BOM_UTF8)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as error:
        line = data.count(b"\n", 0, error.start) + 1
        raise ImportFailed([f"line {line}: not UTF-8 text; save the file as UTF-8"]) from None


def _csv_records(text: str) -> tuple[list[_Record], list[_Error]]:
    rows = _csv_rows(text)
    first = next(rows, None)
    if first is None:
        return [], []
    header_line, header = first
    columns = [name.strip().lower() for name in header]
    errors = _header_errors(header_line, columns)
    if errors:
        # Rows are read through the header: while it is wrong, one error about it beats one per row.
        return [], errors
    records: list[_Record] = []
    for line, row in rows:
        if len(row) == len(columns):
            records.append((line, _present(zip(columns, row, strict=True))))
        else:
            errors.append((line, f"expected {len(columns)} fields like the header, found {len(row)}"))
    return records, errors


def _csv_rows(text: str) -> Iterator[tuple[int, list[str]]]:
    """Non-blank CSV rows with the physical line each starts on (a quoted field may span lines)."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    line = 1
    try:
        for row in reader:
            if any(cell.strip() for cell in row):
                yield line, row
            line = reader.line_num + 1
    except csv.Error as error:
        raise ImportFailed([f"line {line}: malformed CSV ({error})"]) from None


def _header_errors(line: int, columns: list[str]) -> list[_Error]:
    errors = [(line, f"missing required column {name!r}") for name in _REQUIRED if name not in columns]
    errors += [
        (line, f"unknown column {name!r}" if name else "a column without a name")
        for name in columns
        if name not in _Row.model_fields
    ]
    duplicates = dict.fromkeys(name for name in columns if columns.count(name) > 1)
    errors += [(line, f"duplicate column {name!r}") for name in duplicates]
    return errors


def _json_lines_records(text: str) -> tuple[list[_Record], list[_Error]]:
    records: list[_Record] = []
    errors: list[_Error] = []
    for line, raw in enumerate(io.StringIO(text, newline=""), start=1):
        if not raw.strip():
            continue
        try:
            fields = json.loads(raw)
        except json.JSONDecodeError as error:
            errors.append((line, f"invalid JSON ({error.msg})"))
            continue
        if isinstance(fields, dict):
            records.append((line, _present(fields.items())))
        else:
            errors.append((line, "expected a JSON object"))
    return records, errors


def _present(fields: Iterable[tuple[str, Any]]) -> dict[str, Any]:
    """The fields that have a value, text trimmed: an empty cell or ``null`` means "not given"."""
    present: dict[str, Any] = {}
    for name, value in fields:
        cleaned = value.strip() if isinstance(value, str) else value
        if cleaned is not None and cleaned != "":
            present[name] = cleaned
    return present


# Checking one row --------------------------------------------------------------------------------------


def _fits(max_length: int) -> StringConstraints:
    """No longer than the field may be, so a long value is a row error rather than a failed write."""
    return StringConstraints(max_length=max_length)


def _order_number(value: str) -> str:
    number = normalize_order_number(value)
    if not number:
        raise ValueError(f"invalid order number {value!r}")
    return number


def _email(value: str) -> str:
    email = normalize_email(value)
    if email is None:
        raise ValueError(f"invalid email {value!r}")
    return email


def _status(value: Any) -> OrderStatus:
    try:
        return OrderStatus(str(value).lower())
    except ValueError:
        expected = ", ".join(OrderStatus)
        raise ValueError(f"unknown status {value!r} (expected one of {expected})") from None


def _iso_datetime(value: Any, info: ValidationInfo) -> datetime:
    try:
        return datetime.fromisoformat(value)
    except (TypeError, ValueError):
        raise ValueError(f"invalid date {value!r} in {info.field_name}") from None


def _utc(moment: datetime) -> datetime:
    # SQLite keeps no offset, so every stored time is UTC.
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _iso_date(value: Any, info: ValidationInfo) -> date:
    # With a time, the delivery day is the one the shop wrote, not shifted into another time zone.
    return _iso_datetime(value, info).date()


_HTTP_URL = TypeAdapter(HttpUrl)


def _http_url(value: str) -> str:
    try:
        _HTTP_URL.validate_python(value)
    except ValidationError:
        raise ValueError(f"invalid tracking_url {value!r} (expected an http or https URL)") from None
    return value  # as given: HttpUrl would rewrite it (trailing slash, punycode)


class _Row(BaseModel):
    """One CSV row or JSON object: an order's fields and, once it has shipped, one of its shipments."""

    model_config = ConfigDict(frozen=True, extra="forbid", coerce_numbers_to_str=True)

    order_number: Annotated[str, _fits(MaxLength.ORDER_NUMBER), AfterValidator(_order_number)]
    email: Annotated[str, _fits(MaxLength.EMAIL), AfterValidator(_email)]
    status: Annotated[OrderStatus, BeforeValidator(_status)]
    placed_at: Annotated[datetime, BeforeValidator(_iso_datetime), AfterValidator(_utc)] | None = None
    customer_name: Annotated[str, _fits(MaxLength.CUSTOMER_NAME)] | None = None
    carrier: Annotated[str, _fits(MaxLength.CARRIER)] | None = None
    tracking_number: Annotated[str, _fits(MaxLength.TRACKING_NUMBER)] | None = None
    tracking_url: Annotated[str, _fits(MaxLength.TRACKING_URL), AfterValidator(_http_url)] | None = None
    estimated_delivery: Annotated[date, BeforeValidator(_iso_date)] | None = None

    @model_validator(mode="after")
    def _estimate_needs_a_shipment(self) -> Self:
        # The order itself has no delivery estimate: without a shipment the date would be lost.
        if self.estimated_delivery and not self.has_shipment:
            raise ValueError("estimated_delivery needs a carrier, tracking_number or tracking_url")
        return self

    @property
    def has_shipment(self) -> bool:
        return bool(self.carrier or self.tracking_number or self.tracking_url)

    def shipment(self) -> Shipment:
        return Shipment(
            status=self.status,
            carrier=self.carrier,
            tracking_number=self.tracking_number,
            tracking_url=self.tracking_url,
            estimated_delivery=self.estimated_delivery,
        )


def _reason(error: ErrorDetails) -> str:
    field = ".".join(str(part) for part in error["loc"])
    match error["type"]:
        case "value_error":
            return str(error["ctx"]["error"])
        case "missing":
            return f"missing {field}"
        case "extra_forbidden":
            return f"unknown field {field!r}"
        case "string_too_long":
            return f"{field} is longer than {error['ctx']['max_length']} characters"
        case _:
            return f"{field}: {error['msg']}"


# Rows to orders ----------------------------------------------------------------------------------------


def _group(rows: list[tuple[int, _Row]]) -> tuple[list[Order], list[_Error]]:
    by_number: dict[str, list[tuple[int, _Row]]] = {}
    for line, row in rows:
        by_number.setdefault(row.order_number, []).append((line, row))
    orders: list[Order] = []
    errors: list[_Error] = []
    for number, group in by_number.items():
        fields, conflicts = _order_fields(number, group)
        errors += conflicts
        orders.append(
            Order(
                number=number,
                status=group[0][1].status,
                shipments=tuple(row.shipment() for _, row in group if row.has_shipment),
                **fields,
            )
        )
    return orders, errors


def _order_fields(number: str, group: list[tuple[int, _Row]]) -> tuple[dict[str, Any], list[_Error]]:
    """The order's own fields, from whichever of its rows give them; the rows must not disagree."""
    seen: dict[str, tuple[int, Any]] = {}
    errors: list[_Error] = []
    for line, row in group:
        for field in _ORDER_FIELDS:
            value = getattr(row, field)
            if value is None:
                continue
            first_line, first = seen.setdefault(field, (line, value))
            # Case-insensitive, as emails are compared when a shopper is verified.
            if str(value).casefold() != str(first).casefold():
                reason = f"{field} '{value}' differs from '{first}' on line {first_line} for order {number}"
                errors.append((line, reason))
    return {field: value for field, (_, value) in seen.items()}, errors


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}" if number == 1 else f"{number} {noun}s"
