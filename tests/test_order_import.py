"""Importing orders from CSV and JSON Lines: all-or-nothing, every bad row reported by its line."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from lumen_bot.domain.demo import demo_orders
from lumen_bot.domain.order_file import ImportFailed, ImportSummary
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.store.orders import import_file, is_empty, write_orders
from lumen_bot.store.tables import OrderRow, ShipmentRow

HEADER = (
    "order_number,email,status,placed_at,carrier,tracking_number,"
    "tracking_url,estimated_delivery,customer_name"
)
JANE = (
    "1042,jane.doe@example.com,shipped,2026-11-24,UPS,1Z999AA10123456784,"
    "https://www.ups.com/track?tracknum=1Z999AA10123456784,2026-12-01,Jane Doe"
)
STATUSES = "processing, partially_shipped, shipped, out_for_delivery, delivered, exception, cancelled"


def write(tmp_path: Path, *lines: str, name: str = "orders.csv") -> Path:
    path = tmp_path / name
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def stored(engine: Engine) -> dict[str, Order]:
    """Every order in the database, by number, read back as plain facts."""
    orders_table, shipments_table = OrderRow.__table__, ShipmentRow.__table__  # type: ignore[attr-defined]
    with engine.connect() as connection:
        orders = connection.execute(select(orders_table)).mappings().all()
        shipments = connection.execute(select(shipments_table).order_by("position")).mappings().all()
    by_order: dict[int, list[Shipment]] = defaultdict(list)
    for shipment in shipments:
        by_order[shipment["order_id"]].append(
            Shipment(**{name: shipment[name] for name in Shipment.model_fields if name in shipment})
        )
    return {
        order["number"]: Order(
            number=order["number"],
            email=order["email"],
            status=order["status"],
            placed_at=_utc(order["placed_at"]),
            customer_name=order["customer_name"],
            shipments=tuple(by_order[order["id"]]),
        )
        for order in orders
    }


def _utc(moment: datetime | None) -> datetime | None:
    # SQLite hands back naive times (stored as UTC), PostgreSQL aware ones in the session's zone.
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def failure_of(engine: Engine, path: Path) -> list[str]:
    with pytest.raises(ImportFailed) as failure:
        import_file(engine, path)
    return failure.value.errors


# What a good file becomes ------------------------------------------------------------------------------


def test_columns_may_come_in_any_order(engine: Engine, tmp_path: Path) -> None:
    import_file(
        engine,
        write(
            tmp_path, "status,customer_name,email,order_number", "shipped,Jane Doe,jane.doe@example.com,1042"
        ),
    )

    assert stored(engine) == {
        "1042": Order(
            number="1042", email="jane.doe@example.com", status=OrderStatus.SHIPPED, customer_name="Jane Doe"
        )
    }


def test_a_row_without_carrier_or_tracking_is_an_order_without_shipment(
    engine: Engine, tmp_path: Path
) -> None:
    import_file(
        engine, write(tmp_path, HEADER, "1051,liam@example.com,processing,2026-11-27,,,,,Liam O'Connor")
    )

    order = stored(engine)["1051"]
    assert order.status == OrderStatus.PROCESSING
    assert order.shipments == ()


def test_rows_with_the_same_order_number_are_one_order_with_several_shipments(
    engine: Engine, tmp_path: Path
) -> None:
    import_file(
        engine,
        write(
            tmp_path,
            HEADER,
            "1036,priya@example.com,partially_shipped,2026-11-20,,,,,Priya Patel",
            "1036,priya@example.com,delivered,,FedEx,771234567890,,2026-11-25,",
            "#1036,priya@example.com,shipped,,USPS,9205590164917312751089,,2026-12-02,",
        ),
    )

    assert stored(engine) == {
        "1036": Order(
            number="1036",
            email="priya@example.com",
            status=OrderStatus.PARTIALLY_SHIPPED,
            placed_at=datetime(2026, 11, 20, tzinfo=UTC),
            customer_name="Priya Patel",
            shipments=(
                Shipment(
                    status=OrderStatus.DELIVERED,
                    carrier="FedEx",
                    tracking_number="771234567890",
                    estimated_delivery=date(2026, 11, 25),
                ),
                Shipment(
                    status=OrderStatus.SHIPPED,
                    carrier="USPS",
                    tracking_number="9205590164917312751089",
                    estimated_delivery=date(2026, 12, 2),
                ),
            ),
        )
    }


def test_the_order_status_is_the_first_rows_while_each_shipment_keeps_its_own(
    engine: Engine, tmp_path: Path
) -> None:
    import_file(
        engine,
        write(
            tmp_path,
            "order_number,email,status,carrier",
            "2001,sam@example.org,partially_shipped,FedEx",
            "2001,sam@example.org,delivered,USPS",
        ),
    )

    order = stored(engine)["2001"]
    assert order.status == OrderStatus.PARTIALLY_SHIPPED
    assert [shipment.status for shipment in order.shipments] == [
        OrderStatus.PARTIALLY_SHIPPED,
        OrderStatus.DELIVERED,
    ]


def test_order_numbers_ignore_a_hash_spaces_and_case(engine: Engine, tmp_path: Path) -> None:
    import_file(
        engine,
        write(
            tmp_path,
            "order_number,email,status,carrier",
            "#1042,jane.doe@example.com,shipped,UPS",
            "1042,jane.doe@example.com,shipped,USPS",
            " # lum 7 ,jane.doe@example.com,processing,",
        ),
    )

    orders = stored(engine)
    assert sorted(orders) == ["1042", "LUM7"]
    assert len(orders["1042"].shipments) == 2


def test_emails_are_stored_normalized(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, write(tmp_path, "order_number,email,status", "1042, Jane.Doe@EXAMPLE.com ,shipped"))

    assert stored(engine)["1042"].email == "Jane.Doe@example.com"


@pytest.mark.parametrize(
    ("placed_at", "expected"),
    [
        ("2026-11-20", datetime(2026, 11, 20, 0, 0, tzinfo=UTC)),
        ("2026-11-20T10:00:00", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),
        ("2026-11-20T10:00:00Z", datetime(2026, 11, 20, 10, 0, tzinfo=UTC)),
        ("2026-11-20T10:00:00+02:00", datetime(2026, 11, 20, 8, 0, tzinfo=UTC)),
    ],
)
def test_times_are_iso_8601_and_utc_unless_they_carry_an_offset(
    engine: Engine, tmp_path: Path, placed_at: str, expected: datetime
) -> None:
    import_file(
        engine,
        write(tmp_path, "order_number,email,status,placed_at", f"1042,jane@example.com,shipped,{placed_at}"),
    )

    assert stored(engine)["1042"].placed_at == expected


def test_a_delivery_estimate_with_a_time_keeps_the_day_as_written(engine: Engine, tmp_path: Path) -> None:
    import_file(
        engine,
        write(
            tmp_path,
            "order_number,email,status,carrier,estimated_delivery",
            "1042,jane@example.com,shipped,UPS,2026-12-01T23:30:00-05:00",
        ),
    )

    assert stored(engine)["1042"].shipments[0].estimated_delivery == date(2026, 12, 1)


def test_the_summary_counts_orders_and_shipments(engine: Engine, tmp_path: Path) -> None:
    summary = import_file(
        engine,
        write(
            tmp_path,
            "order_number,email,status,carrier",
            "1,a@example.com,partially_shipped,UPS",
            "1,a@example.com,shipped,DHL",
            "2,b@example.com,processing,",
        ),
    )

    assert summary == ImportSummary(orders=2, shipments=2)
    assert str(summary) == "Imported 2 orders and 2 shipments."
    assert str(ImportSummary(orders=1, shipments=1)) == "Imported 1 order and 1 shipment."


# Bad files: every problem reported, nothing written ----------------------------------------------------


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("1043,bob@,shipped,,,,,,", "invalid email 'bob@'"),
        ("1043,bob@example.com,shiped,,,,,,", f"unknown status 'shiped' (expected one of {STATUSES})"),
        ("1043,bob@example.com,shipped,yesterday,,,,,", "invalid date 'yesterday' in placed_at"),
        (
            "1043,bob@example.com,shipped,,UPS,1Z1,,2026-13-01,",
            "invalid date '2026-13-01' in estimated_delivery",
        ),
        (
            "1043,bob@example.com,shipped,,UPS,1Z1,javascript:alert(1),,",
            "invalid tracking_url 'javascript:alert(1)' (expected an http or https URL)",
        ),
        ("#,bob@example.com,shipped,,,,,,", "invalid order number '#'"),
        ("1043,,shipped,,,,,,", "missing email"),
        ("1043,bob@example.com,,,,,,,", "missing status"),
        (
            f"1043,bob@example.com,shipped,,UPS,{'9' * 101},,,",
            "tracking_number is longer than 100 characters",
        ),
        (f"{'9' * 41},bob@example.com,shipped,,,,,,", "order_number is longer than 40 characters"),
        (
            "1043,bob@example.com,processing,,,,,2026-12-01,",
            "estimated_delivery needs a carrier, tracking_number or tracking_url",
        ),
        ("1043,bob@example.com,shipped", "expected 9 fields like the header, found 3"),
    ],
)
def test_a_bad_row_is_reported_by_its_line_and_nothing_is_written(
    engine: Engine, tmp_path: Path, row: str, reason: str
) -> None:
    errors = failure_of(engine, write(tmp_path, HEADER, JANE, row))

    assert errors == [f"line 3: {reason}"]
    assert stored(engine) == {}


def test_every_bad_row_is_reported_with_its_physical_line_number(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        "1001,bob@,shipped,,,,,,",
        '1002,ann@,processing,,,,,,"Ann',
        'Smith"',
        "",
        "1003,cy@example.com,shiped,,UPS,1Z1,,2026-13-01,",
    )

    assert failure_of(engine, path) == [
        "line 2: invalid email 'bob@'",
        "line 3: invalid email 'ann@'",
        f"line 6: unknown status 'shiped' (expected one of {STATUSES})",
        "line 6: invalid date '2026-13-01' in estimated_delivery",
    ]


def test_nothing_changes_when_only_the_last_row_is_bad(engine: Engine, tmp_path: Path) -> None:
    import_file(engine, write(tmp_path, HEADER, JANE, name="before.csv"))
    before = stored(engine)

    errors = failure_of(
        engine,
        write(
            tmp_path,
            HEADER,
            "1042,jane.doe@example.com,delivered,,UPS,1Z999AA10123456784,,,Jane Doe",
            "2001,sam@example.org,processing,,,,,,Sam Lee",
            "2002,sam@example.org,shipped,,UPS,1Z1,,2026-02-30,Sam Lee",
        ),
    )

    assert errors == ["line 4: invalid date '2026-02-30' in estimated_delivery"]
    assert stored(engine) == before


@pytest.mark.parametrize(
    ("header", "reason"),
    [
        ("order_number,status,carrier", "missing required column 'email'"),
        ("order_number,email,status,tracking_no", "unknown column 'tracking_no'"),
        ("order_number,email,status,email", "duplicate column 'email'"),
    ],
)
def test_a_bad_header_is_reported_once_as_line_1(
    engine: Engine, tmp_path: Path, header: str, reason: str
) -> None:
    path = write(tmp_path, header, "1042,jane@example.com,shipped,UPS", "1043,bob@,shiped,UPS")

    assert failure_of(engine, path) == [f"line 1: {reason}"]


def test_one_order_number_with_different_emails_is_an_error(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "order_number,email,status,carrier",
        "1042,jane.doe@example.com,partially_shipped,UPS",
        "#1042,JANE.DOE@example.com,shipped,USPS",
        "#1042,john@example.com,shipped,DHL",
    )

    assert failure_of(engine, path) == [
        "line 4: email 'john@example.com' differs from 'jane.doe@example.com' on line 2 for order 1042"
    ]
    assert stored(engine) == {}


@pytest.mark.parametrize("content", ["", "\n\n", HEADER + "\n"], ids=["empty", "blank lines", "header only"])
def test_a_file_without_orders_is_an_error(engine: Engine, tmp_path: Path, content: str) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(content, encoding="utf-8")

    assert failure_of(engine, path) == ["line 1: no orders in the file"]


# Encodings ---------------------------------------------------------------------------------------------


def test_a_utf8_byte_order_mark_is_ignored(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    path.write_text(
        "order_number,email,status,customer_name\n1048,lena@example.org,shipped,Lena Müller\n",
        encoding="utf-8-sig",
    )

    import_file(engine, path)

    assert stored(engine)["1048"].customer_name == "Lena Müller"


def test_a_file_that_is_not_utf8_is_rejected_at_its_first_bad_line(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "orders.csv"
    lines = [
        "order_number,email,status,customer_name",
        "1042,jane@example.com,shipped,Jane",
        "1048,lena@example.org,shipped,Lena Müller",
    ]
    path.write_bytes("\n".join(lines).encode("latin-1"))

    assert failure_of(engine, path) == ["line 3: not UTF-8 text; save the file as UTF-8"]
    assert stored(engine) == {}


# JSON Lines --------------------------------------------------------------------------------------------


def test_json_lines_hold_one_flat_row_per_line_like_csv(engine: Engine, tmp_path: Path) -> None:
    rows = [
        {
            "order_number": 1036,
            "email": "priya@example.com",
            "status": "partially_shipped",
            "customer_name": "Priya",
        },
        {
            "order_number": "#1036",
            "email": "priya@example.com",
            "status": "delivered",
            "carrier": "FedEx",
            "customer_name": None,
        },
    ]
    import_file(engine, write(tmp_path, *(json.dumps(row) for row in rows), name="orders.jsonl"))

    assert stored(engine) == {
        "1036": Order(
            number="1036",
            email="priya@example.com",
            status=OrderStatus.PARTIALLY_SHIPPED,
            customer_name="Priya",
            shipments=(Shipment(status=OrderStatus.DELIVERED, carrier="FedEx"),),
        )
    }


def test_json_lines_are_recognized_by_content_whatever_the_file_name(engine: Engine, tmp_path: Path) -> None:
    row = {"order_number": "1042", "email": "jane@example.com", "status": "shipped"}
    import_file(engine, write(tmp_path, json.dumps(row), name="export.txt"))

    assert list(stored(engine)) == ["1042"]


def test_a_bad_json_line_is_reported_by_its_line(engine: Engine, tmp_path: Path) -> None:
    good = {"order_number": "1042", "email": "jane@example.com", "status": "shipped"}
    path = write(
        tmp_path,
        json.dumps(good),
        '{"order_number": "1043",',
        "",
        "[1043]",
        json.dumps(good | {"order_number": "1044", "colour": "red"}),
        json.dumps({"order_number": "1045", "status": "shipped"}),
        name="orders.ndjson",
    )

    assert failure_of(engine, path) == [
        "line 2: invalid JSON (Expecting property name enclosed in double quotes)",
        "line 4: expected a JSON object",
        "line 5: unknown field 'colour'",
        "line 6: missing email",
    ]
    assert stored(engine) == {}


# Importing again ---------------------------------------------------------------------------------------


def test_reimporting_an_order_updates_it_and_replaces_its_shipments(engine: Engine, tmp_path: Path) -> None:
    import_file(
        engine,
        write(tmp_path, HEADER, JANE, "2001,sam@example.org,processing,,,,,,Sam Lee", name="first.csv"),
    )

    import_file(
        engine,
        write(
            tmp_path,
            "order_number,email,status,carrier,tracking_number",
            "#1042,jane.doe@example.com,delivered,USPS,9400111899223345678901",
            name="second.csv",
        ),
    )

    orders = stored(engine)
    assert orders["1042"] == Order(
        number="1042",
        email="jane.doe@example.com",
        status=OrderStatus.DELIVERED,
        shipments=(
            Shipment(status=OrderStatus.DELIVERED, carrier="USPS", tracking_number="9400111899223345678901"),
        ),
    )
    assert orders["2001"].customer_name == "Sam Lee"  # not in the second file: left as it was


def test_importing_the_same_file_twice_leaves_the_same_orders(engine: Engine, tmp_path: Path) -> None:
    path = write(
        tmp_path,
        HEADER,
        JANE,
        "2001,sam@example.org,partially_shipped,,FedEx,771234567890,,,Sam Lee",
        "2001,sam@example.org,delivered,,USPS,9400111899223344556677,,,",
    )
    import_file(engine, path)
    first = stored(engine)

    import_file(engine, path)

    assert stored(engine) == first
    assert sum(len(order.shipments) for order in first.values()) == 3


def test_thousands_of_orders_are_written_and_rewritten(engine: Engine, tmp_path: Path) -> None:
    rows = [
        f"{number},c{number}@example.com,shipped,UPS,1Z{number}" for number in range(2500) for _ in range(2)
    ]
    path = write(tmp_path, "order_number,email,status,carrier,tracking_number", *rows)

    import_file(engine, path)
    summary = import_file(engine, path)

    orders = stored(engine)
    assert summary == ImportSummary(orders=2500, shipments=5000)
    assert len(orders) == 2500
    assert all(len(order.shipments) == 2 for order in orders.values())


def test_write_orders_refuses_one_number_twice(engine: Engine) -> None:
    order = Order(number="1042", email="jane@example.com", status=OrderStatus.SHIPPED)

    with pytest.raises(ValueError, match="only once"):
        write_orders(engine, [order, order])


# The demo ----------------------------------------------------------------------------------------------


def load_demo(engine: Engine) -> ImportSummary:
    return write_orders(engine, demo_orders())


def test_the_demo_orders_load_into_an_empty_database_and_loading_again_changes_nothing(
    engine: Engine,
) -> None:
    assert is_empty(engine)

    summary = load_demo(engine)
    first = stored(engine)
    load_demo(engine)

    assert not is_empty(engine)
    assert stored(engine) == first
    assert summary.orders == len(first) >= 8
    jane = first["1042"]
    assert (jane.email, jane.status, jane.shipments[0].carrier) == ("jane.doe@example.com", "shipped", "UPS")


def test_the_demo_shows_every_status_a_split_shipment_and_a_late_one(engine: Engine) -> None:
    load_demo(engine)
    orders = stored(engine).values()

    assert {order.status for order in orders} == set(OrderStatus)
    split = next(order for order in orders if order.status == OrderStatus.PARTIALLY_SHIPPED)
    assert [shipment.status for shipment in split.shipments] == [OrderStatus.DELIVERED, OrderStatus.SHIPPED]
    assert any(
        shipment.status != OrderStatus.DELIVERED
        and shipment.estimated_delivery is not None
        and shipment.estimated_delivery < date(2026, 11, 28)
        for order in orders
        for shipment in order.shipments
    )
    processing = next(order for order in orders if order.status == OrderStatus.PROCESSING)
    assert processing.shipments == ()
