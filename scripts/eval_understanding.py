#!/usr/bin/env python3
"""Evaluate an understander on labelled shopper messages and Bitext utterances; print a Markdown report.

    .venv/bin/python scripts/eval_understanding.py [--data PATH ...] [--split train|calibration|test]
        [--understander offline|rules|llm|hybrid] [--concurrency N] [--show-errors N]

Each ``--data PATH`` (repeatable) gets its own report: a folder (all its *.jsonl files together), a .jsonl
file, or the Bitext .csv file. The training messages (training/understanding) are read in one split only,
``--split`` (default: test, which training never sees). The default data is that test split and the
labelled set in tests/data/understanding.

``offline`` (the default) is the trained model with the rules, what Lumen runs without an LLM; ``rules``
the patterns alone, for comparison; ``llm`` (the LLM for every message) and ``hybrid`` (the LLM for what
the offline understander is unsure of) are configured by the LUMEN_LLM_* environment, LUMEN_LLM_MODEL at
least. A failed LLM call falls back to the offline answer and is counted as a failure; ``--concurrency``
messages are in flight at once.

Labelled sets hold one JSON object per line: {"category", "text", "last_question", "intent", "topic",
"order_number", "email"} (training rows add "not_arrived" and "answer"). A row is right when the intent
is, and for out_of_scope the topic too. Order numbers are compared normalized (no '#', no spaces, upper
case), email addresses trimmed and ignoring case; ``last_question`` is passed to the understander. A row's
language is its file's (es.jsonl, en_general.jsonl → en) or, in tests/data, its category (es, de …);
labelled reports add a table per language, with how often the language itself was identified.

The Bitext dataset is not in the repository (see ../shared/datasets/bitext/README.md); a sample of it is,
in training/bitext, and the model learns from it — so only Bitext's test-split rows are scored (the split
of a text is the same everywhere: scripts/understanding_data.py). Its labels map to Lumen's understanding
as that README suggests:

- track_order → order_status; delivery_period → delivery_estimate or order_status;
- contact_human_agent, contact_customer_service → human;
- cancel_order → out_of_scope/cancel; change_order → out_of_scope/other; change_shipping_address,
  set_up_shipping_address → out_of_scope/address_change; get_refund, track_refund, check_refund_policy →
  out_of_scope/refund; complaint → out_of_scope/complaint; payment_issue → out_of_scope/payment.
  For these the intent and the topic must both match.
- Every other label is "not an order-tracking question": a prediction is correct when it is neither an
  order question (order_status, tracking, delivery_estimate) nor human. out_of_scope with any topic,
  unknown, help, greeting … are all fine there.

Bitext order numbers are scored on the rows that contain one of the dataset's five order numbers, comparing
digits and ignoring leading zeros; Bitext labels no email address. Precision and recall per intent count
only the rows that expect a single intent (not delivery_period, not the unmapped labels).
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import logging
import math
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from itertools import zip_longest
from pathlib import Path
from typing import Literal

try:
    from pydantic import ValidationError
    from understanding_data import Split, language_of, split_of

    from channels.understanders import build_understander
    from lumen_bot.domain.identifiers import email_key, normalize_order_number
    from lumen_bot.domain.rules import RuleUnderstander
    from lumen_bot.domain.understanding import (
        ORDER_QUESTIONS,
        Explanation,
        Intent,
        Question,
        Topic,
        Understanding,
    )
    from lumen_bot.ports import ExplainingUnderstander
    from lumen_bot.settings import ConfigurationError, load_settings
except ModuleNotFoundError as error:
    sys.exit(f"error: {error}; run this with the project's Python: .venv/bin/python {sys.argv[0]}")

REPO_ROOT = Path(__file__).resolve().parent.parent
TRAINING_DATA = REPO_ROOT / "training/understanding"
DEFAULT_DATA = (TRAINING_DATA, REPO_ROOT / "tests/data/understanding")
UNDERSTANDERS = ("offline", "rules", "llm", "hybrid")
SURE = frozenset({"rules sure", "model sure"})
LANGUAGE_CATEGORIES = frozenset({"en", "es", "de", "fr", "pt"})
KNOWN_ORDER_NUMBERS = frozenset({"3707955617", "123842", "732201349959", "4587345", "113542617735902"})
TEXT_WIDTH = 160
_DIGIT_RUN = re.compile(r"\d+")
_NON_DIGITS = re.compile(r"\D")
_LINE_BREAKS = re.compile(r"[\r\n]+")


class DataError(Exception):
    """A data path that is missing, of an unknown kind, or holds an invalid row."""


@dataclass(frozen=True)
class Expected:
    """What a row accepts: one of ``intents`` with ``topic``.

    Without intents (the Bitext labels Lumen has no intent for), anything that is neither an order
    question nor human."""

    intents: frozenset[Intent] = frozenset()
    topic: Topic | None = None

    def accepts(self, understanding: Understanding) -> bool:
        if not self.intents:
            return understanding.intent not in ORDER_QUESTIONS | {Intent.HUMAN}
        return understanding.intent in self.intents and understanding.topic == self.topic

    @property
    def intent(self) -> Intent | None:
        """The one intent expected, for precision and recall; ``None`` when several or none are."""
        return next(iter(self.intents)) if len(self.intents) == 1 else None

    def describe(self) -> str:
        if not self.intents:
            return "not an order question, not human"
        return " or ".join(sorted(self.intents)) + (f"/{self.topic}" if self.topic else "")


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
NOT_AN_ORDER_QUESTION = Expected()


@dataclass(frozen=True)
class Sample:
    """One message to understand and what is expected of it.

    ``order_number`` is in the form its source's ``number_key`` gives, ``email`` in the form of
    :func:`email_key`; ``None`` when the message has none."""

    category: str
    text: str
    expected: Expected
    last_question: Question | None = None
    order_number: str | None = None
    email: str | None = None
    language: str = "en"


@dataclass(frozen=True)
class Source:
    """The samples of one ``--data`` path, and how its order numbers are compared."""

    name: str
    kind: Literal["labelled", "bitext"]
    samples: tuple[Sample, ...]
    number_key: Callable[[str], str]


@dataclass(frozen=True)
class Result:
    """A sample, its explained understanding, and the order number and email found, in comparable form."""

    sample: Sample
    explanation: Explanation
    order_number: str | None
    email: str | None

    @property
    def prediction(self) -> Understanding:
        return self.explanation.understanding

    @property
    def correct(self) -> bool:
        return self.sample.expected.accepts(self.prediction)

    @property
    def failed(self) -> bool:
        return self.explanation.reason.startswith("llm failed")

    @property
    def called_llm(self) -> bool:
        """Whether an LLM was (or, with the rules alone, would have been) asked."""
        return self.explanation.reason not in SURE


# Loading ------------------------------------------------------------------------------------------------


def display_name(path: Path) -> str:
    resolved = path.resolve()
    return str(resolved.relative_to(REPO_ROOT)) if resolved.is_relative_to(REPO_ROOT) else str(path)


def load_source(path: Path, split: Split) -> Source:
    if not path.exists():
        raise DataError(f"data not found: {path}")
    if path.is_dir():
        files = sorted(path.glob("*.jsonl"))
        if not files:
            raise DataError(f"no *.jsonl file in {path}")
        return labelled_source(display_name(path), files, split)
    if path.suffix == ".jsonl":
        return labelled_source(display_name(path), [path], split)
    if path.suffix == ".csv":
        return bitext_source(path)
    raise DataError(f"not a folder, .jsonl or .csv file: {path}")


def labelled_source(name: str, files: Iterable[Path], split: Split) -> Source:
    samples = []
    for file in files:
        training = file.resolve().parent == TRAINING_DATA
        samples += [
            sample
            for sample in load_labelled(file, language_of(file) if training else None)
            if not training or split_of(sample.text) == split
        ]
    if any(file.resolve().parent == TRAINING_DATA for file in files):
        name = f"{name}, {split} split"
    return Source(name, "labelled", tuple(samples), normalize_order_number)


def load_labelled(path: Path, language: str | None) -> list[Sample]:
    """The rows of ``path``; their language is ``language``, or else their category when it names one."""
    samples: list[Sample] = []
    with path.open(encoding="utf-8") as file:
        for number, line in enumerate(file, start=1):
            if not line.strip():
                continue
            try:
                samples.append(labelled_sample(json.loads(line), language))
            except (ValueError, KeyError, TypeError, AttributeError) as error:
                raise DataError(f"{path}:{number}: invalid row: {error!r}") from error
    return samples


def labelled_sample(record: dict[str, str | None], language: str | None = None) -> Sample:
    intent = Intent(record["intent"])
    topic = Topic(record["topic"]) if record["topic"] is not None else None
    if (intent == Intent.OUT_OF_SCOPE) != (topic is not None):
        raise ValueError("a topic goes with out_of_scope, and only with it")
    last_question = record["last_question"]
    number = record["order_number"]
    email = record["email"]
    return Sample(
        category=str(record["category"]),
        text=str(record["text"]),
        expected=Expected(frozenset({intent}), topic),
        last_question=Question(last_question) if last_question is not None else None,
        order_number=normalize_order_number(number) if number is not None else None,
        email=email_key(email) if email is not None else None,
        language=language
        or (category if (category := str(record["category"])) in LANGUAGE_CATEGORIES else "en"),
    )


def bitext_source(path: Path) -> Source:
    """The Bitext rows of the test split: the model learnt from a sample of the others."""
    with path.open(newline="", encoding="utf-8") as file:
        try:
            samples = tuple(
                bitext_sample(record["instruction"], record["intent"])
                for record in csv.DictReader(file)
                if split_of(record["instruction"].strip()) == "test"
            )
        except KeyError as error:
            raise DataError(f"{path}: not the Bitext CSV (no {error} column)") from error
    return Source(f"{display_name(path)}, test split", "bitext", samples, digits_key)


def bitext_sample(text: str, label: str) -> Sample:
    return Sample(
        category=label,
        text=text,
        expected=MAPPING.get(label, NOT_AN_ORDER_QUESTION),
        order_number=known_order_number(text),
    )


def known_order_number(text: str) -> str | None:
    """The Bitext order number in ``text``, without leading zeros."""
    for run in _DIGIT_RUN.findall(text):
        if run.lstrip("0") in KNOWN_ORDER_NUMBERS:
            return run.lstrip("0")
    return None


def digits_key(order_number: str) -> str:
    return _NON_DIGITS.sub("", order_number).lstrip("0")


# Running ------------------------------------------------------------------------------------------------


def make_understander(name: str) -> ExplainingUnderstander:
    """Raises :class:`ValidationError` (LUMEN_LLM_* settings) or :class:`ConfigurationError`."""
    if name == "rules":
        return RuleUnderstander()
    return build_understander(load_settings(understanding="rules" if name == "offline" else name))


def score(sample: Sample, explanation: Explanation, number_key: Callable[[str], str]) -> Result:
    found_number = explanation.understanding.order_number
    found_email = explanation.understanding.email
    return Result(
        sample,
        explanation,
        number_key(found_number) if found_number else None,
        email_key(found_email) if found_email else None,
    )


async def evaluate(
    understander: ExplainingUnderstander, source: Source, concurrency: int
) -> tuple[list[Result], float]:
    """The results in the order of the samples, and the wall time taken."""
    semaphore = asyncio.Semaphore(concurrency)

    async def one(sample: Sample) -> Result:
        async with semaphore:
            explanation = await understander.explain(sample.text, last_question=sample.last_question)
        return score(sample, explanation, source.number_key)

    started = time.perf_counter()
    results = await asyncio.gather(*(one(sample) for sample in source.samples))
    return list(results), time.perf_counter() - started


async def evaluate_all(
    understander: ExplainingUnderstander, sources: Sequence[Source], concurrency: int
) -> list[tuple[list[Result], float]]:
    return [await evaluate(understander, source, concurrency) for source in sources]


# Reporting ----------------------------------------------------------------------------------------------


def percent(hits: int, total: int) -> str:
    return f"{100 * hits / total:.1f}% ({hits}/{total})" if total else "n/a"


def cell(text: str, width: int | None = None) -> str:
    """``text`` fit for a Markdown table cell: on one line, pipes escaped, at most ``width`` characters."""
    text = _LINE_BREAKS.sub(" ", text).strip()
    if width is not None and len(text) > width:
        text = text[: width - 1] + "…"
    return text.replace("|", "\\|")


def describe_intent(understanding: Understanding) -> str:
    if understanding.topic:
        return f"{understanding.intent}/{understanding.topic}"
    return understanding.intent.value


def describe(understanding: Understanding) -> str:
    number = f" #{understanding.order_number}" if understanding.order_number else ""
    email = f" {understanding.email}" if understanding.email else ""
    return f"{describe_intent(understanding)}{number}{email}"


def describe_expected(sample: Sample) -> str:
    number = f" #{sample.order_number}" if sample.order_number else ""
    email = f" {sample.email}" if sample.email else ""
    return f"{sample.expected.describe()}{number}{email}"


def by_category(results: Iterable[Result]) -> dict[str, list[Result]]:
    """Results grouped by category, in the order categories first appear."""
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(result.sample.category, []).append(result)
    return groups


def nearest_rank(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(share * len(ordered)) - 1)]


def accuracy(results: Sequence[Result]) -> str:
    return percent(sum(result.correct for result in results), len(results))


def sure_accuracy(results: Sequence[Result]) -> str:
    return accuracy([result for result in results if not result.called_llm])


def llm_share(results: Sequence[Result]) -> str:
    return percent(sum(result.called_llm for result in results), len(results))


def order_numbers(results: Sequence[Result]) -> tuple[str, int]:
    """Exact matches on rows with a labelled number, and numbers found on rows without one."""
    labelled = [result for result in results if result.sample.order_number]
    matched = sum(result.order_number == result.sample.order_number for result in labelled)
    extra = sum(1 for result in results if result.order_number and not result.sample.order_number)
    return percent(matched, len(labelled)), extra


def emails(results: Sequence[Result]) -> tuple[str, int]:
    """Exact matches on rows with a labelled email, and emails found on rows without one."""
    labelled = [result for result in results if result.sample.email]
    matched = sum(result.email == result.sample.email for result in labelled)
    extra = sum(1 for result in results if result.email and not result.sample.email)
    return percent(matched, len(labelled)), extra


def failures(results: Sequence[Result]) -> str:
    reasons = Counter(result.explanation.reason for result in results if result.failed)
    if not reasons:
        return "0"
    details = ", ".join(f"{reason.removeprefix('llm failed: ')} {count}" for reason, count in reasons.items())
    return f"{reasons.total()} ({details})"


def latency(results: Sequence[Result]) -> str:
    milliseconds = [1000 * result.explanation.seconds for result in results]
    mean = sum(milliseconds) / len(milliseconds)
    return f"{mean:,.2f} ms / {nearest_rank(milliseconds, 0.95):,.2f} ms"


def tokens(results: Sequence[Result]) -> str:
    calls = [result for result in results if result.explanation.understander == "llm" or result.failed]
    if not calls:
        return "n/a (no LLM call)"
    tokens_in = sum(result.explanation.tokens_in for result in calls)
    tokens_out = sum(result.explanation.tokens_out for result in calls)
    return (
        f"{tokens_in:,} / {tokens_out:,} "
        f"({tokens_in / len(calls):,.0f} / {tokens_out / len(calls):,.0f} per call)"
    )


def summary(results: Sequence[Result], seconds: float, concurrency: int) -> list[str]:
    number_match, extra_numbers = order_numbers(results)
    email_match, extra_emails = emails(results)
    return [
        "| Measure | Value |",
        "|---|---|",
        f"| Rows | {len(results)} |",
        f"| Intent accuracy (with the topic for out_of_scope) | {accuracy(results)} |",
        f"| Order number exact match (rows with a labelled number) | {number_match} |",
        f"| Order numbers found where none is labelled | {extra_numbers} |",
        f"| Email exact match (rows with a labelled email) | {email_match} |",
        f"| Emails found where none is labelled | {extra_emails} |",
        f"| Accuracy when sure (answered without an LLM) | {sure_accuracy(results)} |",
        f"| Unsure: sent to the LLM in hybrid mode | {llm_share(results)} |",
        f"| Precision of order questions when sure | {order_question_precision(results)} |",
        f"| LLM failures (the offline understander answered) | {failures(results)} |",
        f"| Latency per message, mean / p95 | {latency(results)} |",
        f"| LLM tokens in / out | {tokens(results)} |",
        f"| Wall time | {seconds:,.2f} s (concurrency {concurrency}) |",
    ]


def order_question_precision(results: Sequence[Result]) -> str:
    """Of the sure answers that took a message for an order question, the share that expected one."""
    said = [r for r in results if not r.called_llm and r.prediction.intent in ORDER_QUESTIONS]
    return percent(sum(r.sample.expected.accepts(r.prediction) for r in said), len(said))


def topic_accuracy(results: Sequence[Result]) -> str:
    """On the rows that expect out_of_scope: the share understood as out_of_scope with the right topic."""
    out_of_scope = [r for r in results if r.sample.expected.intent is Intent.OUT_OF_SCOPE]
    return percent(sum(r.correct for r in out_of_scope), len(out_of_scope))


def languages(results: Sequence[Result]) -> list[str]:
    """The summary's measures per language, with how often the language itself was identified."""
    groups: dict[str, list[Result]] = {}
    for result in results:
        groups.setdefault(result.sample.language, []).append(result)
    lines = [
        "| Language | Rows | Intent accuracy | Topic accuracy (out_of_scope rows) | Order numbers exact"
        " | Emails exact | Sure (no LLM) | Accuracy when sure | Order-question precision when sure"
        " | Language identified |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for language, group in sorted(groups.items()):
        sure = [r for r in group if not r.called_llm]
        identified = sum(r.prediction.language == language for r in group)
        lines.append(
            f"| {language} | {len(group)} | {accuracy(group)} | {topic_accuracy(group)} |"
            f" {order_numbers(group)[0]} | {emails(group)[0]} | {percent(len(sure), len(group))} |"
            f" {sure_accuracy(group)} | {order_question_precision(group)} |"
            f" {percent(identified, len(group))} |"
        )
    for language, group in sorted(groups.items()):
        lines += ["", f"### {language}: precision and recall", "", *intents(group)]
    return lines


def intents(results: Sequence[Result]) -> list[str]:
    """Precision and recall of each labelled intent, over the rows that expect a single intent."""
    pairs = [
        (expected, result.prediction.intent)
        for result in results
        if (expected := result.sample.expected.intent) is not None
    ]
    labelled = Counter(expected for expected, _ in pairs)
    predicted = Counter(prediction for _, prediction in pairs)
    hits = Counter(expected for expected, prediction in pairs if expected == prediction)
    lines = [
        f"Over the {len(pairs)} of {len(results)} rows that expect a single intent.",
        "",
        "| Intent | Precision | Recall |",
        "|---|---|---|",
    ]
    for intent in Intent:
        if labelled[intent]:
            precision = percent(hits[intent], predicted[intent])
            lines.append(f"| {intent} | {precision} | {percent(hits[intent], labelled[intent])} |")
    return lines


def mistakes(results: Sequence[Result], *, with_expected: bool) -> str:
    wrong = Counter(
        f"{result.sample.expected.describe()} → {describe_intent(result.prediction)}"
        if with_expected
        else describe_intent(result.prediction)
        for result in results
        if not result.correct
    )
    return ", ".join(f"{name} {count}" for name, count in wrong.most_common(3))


def categories(results: Sequence[Result]) -> list[str]:
    """Accuracy and LLM share per category; with the expectation when each category has a single one."""
    groups = by_category(results)
    uniform = all(len({result.sample.expected for result in group}) == 1 for group in groups.values())
    lines = [
        "| Category | Rows |"
        + (" Expected |" if uniform else "")
        + " Accuracy | Sent to LLM | Most frequent mistakes |",
        "|---|---|" + ("---|" if uniform else "") + "---|---|---|",
    ]
    for category, group in groups.items():
        expected = f" {group[0].sample.expected.describe()} |" if uniform else ""
        lines.append(
            f"| {cell(category)} | {len(group)} |{expected} {accuracy(group)} | {llm_share(group)} | "
            f"{mistakes(group, with_expected=not uniform)} |"
        )
    return lines


def errors(results: Sequence[Result], count: int) -> list[str]:
    """``count`` misclassified rows, taken from each category in turn so a few show every kind of error."""
    wrong = by_category(result for result in results if not result.correct)
    in_turn = [result for group in zip_longest(*wrong.values()) for result in group if result is not None]
    lines = [f"## Misclassified ({min(count, len(in_turn))} of {len(in_turn)})", ""]
    lines += ["| Category | Text | Expected | Predicted | Answered by |", "|---|---|---|---|---|"]
    lines += [
        f"| {cell(result.sample.category)} | {cell(result.sample.text, TEXT_WIDTH)} | "
        f"{cell(describe_expected(result.sample))} | {cell(describe(result.prediction))} | "
        f"{result.explanation.understander} ({result.explanation.reason}) |"
        for result in in_turn[:count]
    ]
    return lines


def report(
    source: Source,
    results: Sequence[Result],
    seconds: float,
    *,
    understander: str,
    concurrency: int,
    show_errors: int,
) -> list[str]:
    lines = [f"# Understanding on {source.name} ({source.kind}, {understander}, {len(results)} rows)", ""]
    if not results:
        return [*lines, "No rows.", ""]
    lines += ["## Summary", "", *summary(results, seconds, concurrency), ""]
    if source.kind == "labelled":
        lines += ["## Languages", "", *languages(results), ""]
    lines += ["## Intents", "", *intents(results), ""]
    lines += ["## Categories", "", *categories(results), ""]
    if show_errors > 0:
        lines += [*errors(results, show_errors), ""]
    return lines


# Command line -------------------------------------------------------------------------------------------


def positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1: {value}")
    return number


def not_negative(value: str) -> int:
    number = int(value)
    if number < 0:
        raise argparse.ArgumentTypeError(f"must not be negative: {value}")
    return number


def parse_arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        action="append",
        metavar="PATH",
        help="a folder of *.jsonl files, a .jsonl file or the Bitext .csv; repeatable "
        f"(default: {' and '.join(display_name(path) for path in DEFAULT_DATA)})",
    )
    parser.add_argument(
        "--split",
        choices=("train", "calibration", "test"),
        default="test",
        help="the split of the training messages to read (default: %(default)s)",
    )
    parser.add_argument(
        "--understander",
        choices=UNDERSTANDERS,
        default="offline",
        help="llm and hybrid are configured by LUMEN_LLM_* (default: %(default)s)",
    )
    parser.add_argument(
        "--concurrency",
        type=positive,
        default=4,
        metavar="N",
        help="messages in flight (default: %(default)s)",
    )
    parser.add_argument(
        "--show-errors",
        type=not_negative,
        default=0,
        metavar="N",
        help="print N misclassified rows per report",
    )
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_arguments(argv)
    try:
        sources = [load_source(path, args.split) for path in args.data or DEFAULT_DATA]
    except (DataError, OSError, UnicodeDecodeError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    try:
        understander = make_understander(args.understander)
    except ValidationError as error:
        problems = "; ".join(problem["msg"].removeprefix("Value error, ") for problem in error.errors())
        print(
            f"error: --understander {args.understander}: invalid LUMEN_* settings: {problems}",
            file=sys.stderr,
        )
        return 2
    except ConfigurationError as error:
        print(f"error: --understander {args.understander}: {error}", file=sys.stderr)
        return 2
    # Failed LLM calls are counted in the report; a warning for each would only bury it.
    logging.getLogger("lumen_bot").setLevel(logging.ERROR)
    runs = asyncio.run(evaluate_all(understander, sources, args.concurrency))
    lines: list[str] = []
    for source, (results, seconds) in zip(sources, runs, strict=True):
        lines += report(
            source,
            results,
            seconds,
            understander=args.understander,
            concurrency=args.concurrency,
            show_errors=args.show_errors,
        )
    print("\n".join(lines).rstrip())
    return 0


if __name__ == "__main__":
    sys.exit(main())
