#!/usr/bin/env python3
"""Check labelled understanding messages: the format, the labels and that identifiers are copied exactly.

.venv/bin/python scripts/validate_training_data.py training/understanding/es.jsonl [...]
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from pathlib import Path

try:
    from lumen_bot.domain.understanding import Intent, Question, Topic
except ModuleNotFoundError as error:
    sys.exit(f"error: {error}; run this with the project's Python: .venv/bin/python {sys.argv[0]}")

KEYS = frozenset(
    {"category", "text", "last_question", "intent", "topic", "not_arrived", "order_number", "email", "answer"}
)
INTENTS = frozenset(intent.value for intent in Intent)
TOPICS = frozenset(topic.value for topic in Topic)
QUESTIONS = frozenset({None, *(question.value for question in Question)})


def problems(row: dict[str, object]) -> list[str]:
    found = []
    if set(row) != KEYS:
        found.append(f"keys {sorted(set(row) ^ KEYS)} differ")
        return found
    text = row["text"]
    if not isinstance(text, str) or not text.strip():
        found.append("text is empty")
        return found
    if row["intent"] not in INTENTS:
        found.append(f"intent {row['intent']!r}")
    if row["intent"] == "out_of_scope" and row["topic"] not in TOPICS:
        found.append(f"out_of_scope needs a topic, not {row['topic']!r}")
    if row["intent"] != "out_of_scope" and row["topic"] is not None:
        found.append("topic only with out_of_scope")
    if row["last_question"] not in QUESTIONS:
        found.append(f"last_question {row['last_question']!r}")
    if not isinstance(row["not_arrived"], bool):
        found.append("not_arrived is true or false")
    if row["answer"] not in (None, "yes", "no"):
        found.append(f"answer {row['answer']!r}")
    for key in ("order_number", "email"):
        value = row[key]
        if value is not None and (not isinstance(value, str) or value not in text):
            found.append(f"{key} {value!r} is not written in the text")
    if isinstance(row["order_number"], str) and not any(ch.isdigit() for ch in row["order_number"]):
        found.append("an order number has digits")
    if isinstance(row["email"], str) and "@" not in row["email"]:
        found.append("an email has an @")
    return found


def main(paths: list[str]) -> int:
    failed = False
    for path in paths:
        intents: Counter[str] = Counter()
        seen: set[str] = set()
        for number, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as error:
                print(f"{path}:{number}: not JSON: {error}")
                failed = True
                continue
            issues = problems(row)
            text = str(row.get("text", "")).strip().lower()
            if text in seen:
                issues.append("duplicate text")
            seen.add(text)
            for issue in issues:
                print(f"{path}:{number}: {issue}")
            failed = failed or bool(issues)
            label = row.get("intent", "?") + (f"/{row['topic']}" if row.get("topic") else "")
            intents[label] += 1
        print(f"{path}: {sum(intents.values())} lines")
        for label, count in sorted(intents.items()):
            print(f"  {label}: {count}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
