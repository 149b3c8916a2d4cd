"""The labelled messages of tests/data/understanding, used by scripts/eval_understanding.py, stay valid."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path
from typing import Any

from lumen_bot.domain.grounding import ground
from lumen_bot.domain.messages import ReplyKind
from lumen_bot.domain.understanding import Understanding

DATA = Path(__file__).parent / "data" / "understanding"
# English phrasings, then other languages, long emails and manipulation attempts.
CATEGORIES = {"seed", "sms", "out_of_scope", "numbers", "small_talk", "human"} | {
    "es",
    "de",
    "fr",
    "pt",
    "long_email",
    "injection",
}


def rows() -> list[dict[str, Any]]:
    return [json.loads(line) for path in sorted(DATA.glob("*.jsonl")) for line in path.open(encoding="utf-8")]


def test_the_set_covers_every_category_with_at_least_400_messages():
    categories = Counter(row["category"] for row in rows())

    assert set(categories) == CATEGORIES
    assert sum(categories.values()) >= 400


def test_no_message_is_labelled_twice():
    texts = Counter(row["text"] for row in rows())

    assert [text for text, count in texts.items() if count > 1] == []


def problems(row: dict[str, Any]) -> list[str]:
    try:
        labelled = Understanding(
            intent=row["intent"], topic=row["topic"], order_number=row["order_number"], email=row["email"]
        )
    except ValueError as error:
        return [str(error).splitlines()[0]]
    found = []
    if (labelled.topic is None) != (row["topic"] is None):
        found.append("a topic belongs to out_of_scope only")
    if row["last_question"] not in {None, ReplyKind.ASK_ORDER_NUMBER, ReplyKind.ASK_EMAIL}:
        found.append(f"unknown last_question {row['last_question']!r}")
    _grounded, dropped = ground(labelled, row["text"])
    found += [f"{name} does not occur in the text" for name in dropped]
    return found


def test_each_label_is_a_valid_understanding_of_identifiers_in_the_text():
    invalid = {row["text"][:60]: found for row in rows() if (found := problems(row))}

    assert invalid == {}
