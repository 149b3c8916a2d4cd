#!/usr/bin/env python3
"""Evaluate an understander on the Bitext customer-support utterances; print a Markdown report.

    .venv/bin/python scripts/eval_understanding.py [--data PATH] [--understander rules] [--show-errors N]

The dataset is not in the repository (see ../shared/datasets/bitext/README.md). Its labels map to Lumen's
understanding as that README suggests:

- track_order → order_status; delivery_period → delivery_estimate or order_status;
- contact_human_agent, contact_customer_service → human;
- cancel_order → out_of_scope/cancel; change_order → out_of_scope/other; change_shipping_address,
  set_up_shipping_address → out_of_scope/address_change; get_refund, track_refund, check_refund_policy →
  out_of_scope/refund; complaint → out_of_scope/complaint; payment_issue → out_of_scope/payment.
  For these the intent and the topic must both match.
- Every other label is "not an order-tracking question": a prediction is correct when it is neither an
  order question (order_status, tracking, delivery_estimate) nor human. out_of_scope with any topic,
  unknown, help, greeting … are all fine there.

Order numbers are scored on the rows that contain one of the dataset's five order numbers, comparing
digits and ignoring leading zeros.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path

try:
    from lumen_bot.ports import Understander
    from lumen_bot.understanding.model import ORDER_QUESTIONS, Intent, Topic, Understanding
    from lumen_bot.understanding.rules import RuleUnderstander
except ModuleNotFoundError as error:
    sys.exit(f"error: {error}; run this with the project's Python: .venv/bin/python {sys.argv[0]}")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT / "../shared/datasets/bitext/bitext_customer_support_training_4514.csv"
KNOWN_ORDER_NUMBERS = frozenset({"3707955617", "123842", "732201349959", "4587345", "113542617735902"})
UNDERSTANDERS: dict[str, Callable[[], Understander]] = {"rules": RuleUnderstander}
_DIGIT_RUN = re.compile(r"\d+")


@dataclass(frozen=True)
class Expected:
    intents: frozenset[Intent]
    topic: Topic | None = None

    def accepts(self, understanding: Understanding) -> bool:
        return understanding.intent in self.intents and understanding.topic == self.topic


def _out_of_scope(topic: Topic) -> Expected:
    return Expected(frozenset({Intent.OUT_OF_SCOPE}), topic)


#: Bitext label → what Lumen should understand; labels not listed are not order-tracking questions.
MAPPING: dict[str, Expected] = {
    "track_order": Expected(frozenset({Intent.ORDER_STATUS})),
    "delivery_period": Expected(frozenset({Intent.DELIVERY_ESTIMATE, Intent.ORDER_STATUS})),
    "contact_human_agent": Expected(frozenset({Intent.HUMAN})),
    "contact_customer_service": Expected(frozenset({Intent.HUMAN})),
    "cancel_order": _out_of_scope(Topic.CANCEL),
    "change_order": _out_of_scope(Topic.OTHER),
    "change_shipping_address": _out_of_scope(Topic.ADDRESS_CHANGE),
    "set_up_shipping_address": _out_of_scope(Topic.ADDRESS_CHANGE),
    "get_refund": _out_of_scope(Topic.REFUND),
    "track_refund": _out_of_scope(Topic.REFUND),
    "check_refund_policy": _out_of_scope(Topic.REFUND),
    "complaint": _out_of_scope(Topic.COMPLAINT),
    "payment_issue": _out_of_scope(Topic.PAYMENT),
}
TRACKING_LABELS = frozenset({"track_order", "delivery_period"})
HUMAN_LABELS = frozenset({"contact_human_agent", "contact_customer_service"})


@dataclass(frozen=True)
class Row:
    text: str
    label: str
    prediction: Understanding

    @property
    def correct(self) -> bool:
        expected = MAPPING.get(self.label)
        if expected is not None:
            return expected.accepts(self.prediction)
        return self.prediction.intent not in ORDER_QUESTIONS | {Intent.HUMAN}

    @property
    def known_order_number(self) -> str | None:
        """The dataset order number in the text, without leading zeros."""
        for run in _DIGIT_RUN.findall(self.text):
            if run.lstrip("0") in KNOWN_ORDER_NUMBERS:
                return run.lstrip("0")
        return None


def load(path: Path) -> list[tuple[str, str]]:
    with path.open(newline="", encoding="utf-8") as file:
        return [(record["instruction"], record["intent"]) for record in csv.DictReader(file)]


async def predict(understander: Understander, examples: Sequence[tuple[str, str]]) -> tuple[list[Row], float]:
    started = time.perf_counter()
    rows = [Row(text, label, await understander.understand(text)) for text, label in examples]
    return rows, time.perf_counter() - started


def percent(hits: int, total: int) -> str:
    return f"{100 * hits / total:.1f}% ({hits}/{total})" if total else "n/a"


def describe(prediction: Understanding, *, with_number: bool = False) -> str:
    topic = f"/{prediction.topic}" if prediction.topic else ""
    number = f" #{prediction.order_number}" if with_number and prediction.order_number else ""
    return f"{prediction.intent}{topic}{number}"


def precision_recall(
    rows: Sequence[Row], gold: Callable[[Row], bool], predicted: Callable[[Row], bool]
) -> str:
    true_positives = sum(1 for row in rows if gold(row) and predicted(row))
    return (
        f"precision {percent(true_positives, sum(1 for row in rows if predicted(row)))}, "
        f"recall {percent(true_positives, sum(1 for row in rows if gold(row)))}"
    )


def accuracy(rows: Sequence[Row]) -> str:
    return percent(sum(row.correct for row in rows), len(rows))


def summary(rows: Sequence[Row], seconds: float) -> list[str]:
    def is_order_question(row: Row) -> bool:
        return row.prediction.intent in ORDER_QUESTIONS

    def is_human(row: Row) -> bool:
        return row.prediction.intent == Intent.HUMAN

    topical = [row for row in rows if (expected := MAPPING.get(row.label)) and expected.topic]
    right_topic = sum(row.prediction.topic == MAPPING[row.label].topic for row in topical)
    with_number = [(row, number) for row in rows if (number := row.known_order_number)]
    extracted = sum(
        1
        for row, number in with_number
        if row.prediction.order_number
        and re.sub(r"\D", "", row.prediction.order_number).lstrip("0") == number
    )
    elsewhere = sum(1 for row in rows if row.prediction.order_number and not row.known_order_number)
    tracking = precision_recall(rows, lambda row: row.label in TRACKING_LABELS, is_order_question)
    human = precision_recall(rows, lambda row: row.label in HUMAN_LABELS, is_human)
    return [
        "| Measure | Value |",
        "|---|---|",
        f"| Overall accuracy | {accuracy(rows)} |",
        f"| Tracking, human and out-of-scope labels | {accuracy([r for r in rows if r.label in MAPPING])} |",
        f"| Other labels (not an order question, not human) | "
        f"{accuracy([r for r in rows if r.label not in MAPPING])} |",
        f"| Is an order-tracking question | {tracking} |",
        f"| Wants a human | {human} |",
        f"| Out-of-scope topic (rows with a mapped topic) | {percent(right_topic, len(topical))} |",
        f"| Order number extracted (rows with a known number) | {percent(extracted, len(with_number))} |",
        f"| Order number found in rows without a known one | {elsewhere} |",
        f"| Speed | {len(rows) / seconds:,.0f} messages/s ({1e6 * seconds / len(rows):.0f} µs each) |",
    ]


def per_label(rows: Sequence[Row]) -> list[str]:
    by_label: dict[str, list[Row]] = {}
    for row in rows:
        by_label.setdefault(row.label, []).append(row)
    lines = ["| Bitext intent | Expected | Accuracy | Most frequent predictions |", "|---|---|---|---|"]
    for label, label_rows in sorted(by_label.items()):
        expected = MAPPING.get(label)
        wanted = (
            " or ".join(sorted(expected.intents)) + (f"/{expected.topic}" if expected.topic else "")
            if expected
            else "not an order question, not human"
        )
        common = Counter(describe(row.prediction) for row in label_rows).most_common(3)
        predictions = ", ".join(f"{name} {count}" for name, count in common)
        lines.append(f"| {label} | {wanted} | {accuracy(label_rows)} | {predictions} |")
    return lines


def errors(rows: Sequence[Row], count: int) -> list[str]:
    """``count`` misclassified rows, taken from each label in turn so a few show every kind of error."""
    by_label: dict[str, list[Row]] = {}
    for row in rows:
        if not row.correct:
            by_label.setdefault(row.label, []).append(row)
    in_turn = [row for group in zip_longest(*by_label.values()) for row in group if row is not None]
    lines = [f"## Misclassified ({min(count, len(in_turn))} of {len(in_turn)})", ""]
    lines += ["| Bitext intent | Text | Predicted |", "|---|---|---|"]
    lines += [
        f"| {row.label} | {row.text.replace('|', '/')} | {describe(row.prediction, with_number=True)} |"
        for row in in_turn[:count]
    ]
    return lines


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data", type=Path, default=DEFAULT_DATA, help="the Bitext CSV (default: %(default)s)"
    )
    parser.add_argument("--understander", choices=sorted(UNDERSTANDERS), default="rules")
    parser.add_argument("--show-errors", type=int, default=0, metavar="N", help="print N misclassified rows")
    args = parser.parse_args(argv)

    data: Path = args.data.resolve()
    if not data.is_file():
        print(
            f"error: dataset not found: {data} (it is not in the repository; pass --data PATH)",
            file=sys.stderr,
        )
        return 2
    rows, seconds = asyncio.run(predict(UNDERSTANDERS[args.understander](), load(data)))
    lines = [f"# Understanding on Bitext ({args.understander}, {len(rows)} rows)", ""]
    lines += [*summary(rows, seconds), "", *per_label(rows)]
    if args.show_errors > 0:
        lines += ["", *errors(rows, args.show_errors)]
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
