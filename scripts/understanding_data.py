"""The labelled training messages of training/understanding, and their fixed split.

Shared by scripts/train_understanding.py, scripts/eval_understanding.py and the tests, so that the test
split is the same everywhere and training never sees it. A message's split follows from its text alone
(a hash), so adding messages never moves an old one from one split to another.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from lumen_bot.domain.model_reading import NOT_ARRIVED_CLASS

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DATA = REPO_ROOT / "training/understanding"
# A sample of Bitext's English utterances (scripts/import_bitext.py): training and calibration only.
BITEXT_SAMPLE = REPO_ROOT / "training/bitext/bitext_sample.jsonl"
LANGUAGES = ("en", "es", "de", "fr", "pt")
Split = Literal["train", "calibration", "test"]
MODEL_PATH = REPO_ROOT / "lumen_bot/trained/understanding_model.json.gz"
# The code whose change changes the model, besides the data files.
SOURCES = (
    "scripts/train_understanding.py",
    "scripts/understanding_data.py",
    "lumen_bot/domain/features.py",
    "lumen_bot/domain/lexicon.py",
    "lumen_bot/domain/linear_model.py",
    "lumen_bot/domain/model_reading.py",
    "lumen_bot/domain/rules.py",
    "lumen_bot/domain/identifiers.py",
)
_TEST_SHARE = 20  # percent
_CALIBRATION_SHARE = 15


@dataclass(frozen=True, slots=True)
class Example:
    language: str
    text: str
    label: str
    row: dict[str, object]


def split_of(text: str) -> Split:
    bucket = int(hashlib.sha256(text.strip().lower().encode("utf-8")).hexdigest()[:8], 16) % 100
    if bucket < _TEST_SHARE:
        return "test"
    if bucket < _TEST_SHARE + _CALIBRATION_SHARE:
        return "calibration"
    return "train"


def label_of(row: dict[str, object]) -> str:
    """The class the model learns: the intent, with the topic of out_of_scope and whether an order status
    question says it has not arrived."""
    intent = str(row["intent"])
    if intent == "out_of_scope":
        return f"out_of_scope:{row['topic']}"
    if intent == "order_status" and row.get("not_arrived"):
        return NOT_ARRIVED_CLASS
    return intent


def data_files() -> list[Path]:
    return [*sorted(TRAINING_DATA.glob("*.jsonl")), BITEXT_SAMPLE]


def language_of(path: Path) -> str:
    """en.jsonl and en_general.jsonl are English, and so is Bitext."""
    return "en" if path == BITEXT_SAMPLE else path.stem.split("_")[0]


def examples(split: Split | None = None) -> Iterator[Example]:
    for path in data_files():
        language = language_of(path)
        for line in path.read_text(encoding="utf-8").splitlines():
            if not line.strip():
                continue
            row = json.loads(line)
            if split is None or split_of(row["text"]) == split:
                yield Example(language, row["text"], label_of(row), row)


def source_digest() -> str:
    """The SHA-256 of the training data and the code that turns it into the model."""
    digest = hashlib.sha256()
    for path in [*data_files(), *(REPO_ROOT / source for source in SOURCES)]:
        digest.update(path.relative_to(REPO_ROOT).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()


def shipped_digest() -> str | None:
    """The digest the shipped model was trained from, or None without a readable model."""
    try:
        return json.loads(gzip.decompress(MODEL_PATH.read_bytes()))["source_digest"]
    except (OSError, ValueError, KeyError):
        return None
