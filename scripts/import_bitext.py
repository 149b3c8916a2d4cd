#!/usr/bin/env python3
"""Take a sample of the Bitext customer-support utterances into training/bitext, labelled for Lumen.

    .venv/bin/python scripts/import_bitext.py PATH/bitext_customer_support_training_4514.csv

Bitext (CDLA-Sharing-1.0, see training/bitext/) is machine-generated English in a formal, templated style:
a little of it teaches the model the shop requests shoppers phrase that way, too much would teach it the
style. So at most ``PER_LABEL`` rows of each Bitext label are kept (``PER_OTHER_LABEL`` of the labels
that all map to out_of_scope/other), and only rows outside the test split
(scripts/eval_understanding.py scores Bitext on its test-split rows, which training never sees).
Labels map as the dataset's README suggests; labels outside order tracking are shop requests Lumen
passes on (out_of_scope/other).
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
import sys

from understanding_data import REPO_ROOT, split_of

OUT = REPO_ROOT / "training/bitext/bitext_sample.jsonl"
PER_LABEL = 35
PER_OTHER_LABEL = 15  # the labels Lumen has no intent for are all out_of_scope/other: fewer of each
KNOWN_ORDER_NUMBERS = frozenset({"3707955617", "123842", "732201349959", "4587345", "113542617735902"})
LABELS = {
    "track_order": ("order_status", None),
    "delivery_period": ("delivery_estimate", None),
    "contact_human_agent": ("human", None),
    "contact_customer_service": ("human", None),
    "cancel_order": ("out_of_scope", "cancel"),
    "change_order": ("out_of_scope", "other"),
    "change_shipping_address": ("out_of_scope", "address_change"),
    "set_up_shipping_address": ("out_of_scope", "address_change"),
    "get_refund": ("out_of_scope", "refund"),
    "track_refund": ("out_of_scope", "refund"),
    "check_refund_policy": ("out_of_scope", "refund"),
    "complaint": ("out_of_scope", "complaint"),
    "payment_issue": ("out_of_scope", "payment"),
}
_DIGITS = re.compile(r"\d+")


def order_number(text: str) -> str | None:
    return next((run for run in _DIGITS.findall(text) if run.lstrip("0") in KNOWN_ORDER_NUMBERS), None)


def main(path: str) -> int:
    with open(path, newline="", encoding="utf-8") as file:
        records = [(row["instruction"].strip(), row["intent"]) for row in csv.DictReader(file)]
    kept: dict[str, list[str]] = {}
    seen: set[str] = set()
    # A fixed order that does not follow the file's: the hash of the text.
    for text, label in sorted(records, key=lambda r: hashlib.sha256(r[0].encode()).hexdigest()):
        limit = PER_LABEL if label in LABELS else PER_OTHER_LABEL
        if split_of(text) == "test" or text.lower() in seen or len(kept.setdefault(label, [])) >= limit:
            continue
        seen.add(text.lower())
        intent, topic = LABELS.get(label, ("out_of_scope", "other"))
        row = {
            "category": f"bitext:{label}",
            "text": text,
            "last_question": None,
            "intent": intent,
            "topic": topic,
            "not_arrived": False,
            "order_number": order_number(text),
            "email": None,
            "answer": None,
        }
        kept[label].append(json.dumps(row, ensure_ascii=False))
    lines = [line for label in sorted(kept) for line in kept[label]]
    OUT.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"wrote {len(lines)} rows to {OUT.relative_to(REPO_ROOT)}")
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    sys.exit(main(sys.argv[1]))
