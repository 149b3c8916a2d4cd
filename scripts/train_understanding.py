#!/usr/bin/env python3
"""Train the offline understanding model from training/understanding and write it into the package.

    .venv/bin/python scripts/train_understanding.py [--check]

Deterministic: the same data and code give the same file, byte for byte. The model is a multinomial
logistic regression over the features of ``lumen_bot.domain.features`` (fitted with scikit-learn, which is
needed here only: serving reads the weights with plain Python). Three fixed splits (see
``scripts/understanding_data.py``): the model learns from ``train``; its temperature and the confidence
from which it is "sure" are chosen on ``calibration``; ``test`` is left for scripts/eval_understanding.py.

``--check`` only tells whether the shipped model was trained from the current data and code (exit 1 when
it is stale), as tests/test_understanding_model.py does.
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
import sys
from collections import Counter
from collections.abc import Callable, Sequence

try:
    from understanding_data import (
        MODEL_PATH,
        REPO_ROOT,
        Example,
        examples,
        shipped_digest,
        source_digest,
    )

    from lumen_bot.domain.features import character_features, plain_words, word_features
    from lumen_bot.domain.lexicon import keyword_signals
    from lumen_bot.domain.linear_model import LinearModel, UnderstandingModel, feature_value
    from lumen_bot.domain.model_reading import intent_class, merged, reading_features
    from lumen_bot.domain.rules import RuleUnderstander
    from lumen_bot.domain.understanding import Question
except ModuleNotFoundError as error:
    sys.exit(f"error: {error}; run this with the project's Python: .venv/bin/python {sys.argv[0]}")

RULES = RuleUnderstander()
REGULARIZATION = 30.0  # scikit-learn's C, chosen on the calibration split
MIN_MESSAGES_PER_FEATURE = 2  # a feature seen in one message only is noise, and size
# Features whose weights all stay below this change no answer on the calibration split (measured) but cost
# time and memory on every message.
MIN_WEIGHT = 0.3
# The confidences from which the model is sure keep, on the calibration split, order questions precise and
# other answers right; below them hybrid mode asks the LLM. Order questions get a margin over the 99% goal:
# the split holds a few hundred sure order questions, where 99% is within a message or two of chance.
ORDER_QUESTION_PRECISION = 0.995
SURE_ACCURACY = 0.95
ORDER = frozenset({"order_status", "tracking", "delivery_estimate"})


# A message → its blocks of text features (each of unit length) and its signals (each worth 1).
Featurize = Callable[[Example], tuple[list[list[str]], list[str]]]


def intent_features(example: Example) -> tuple[list[list[str]], list[str]]:
    """The text features and the rules' signals the offline understander gives the intent model (see
    services/offline_understanding.py)."""
    asked = example.row.get("last_question")
    reading = RULES.read(example.text, last_question=Question(asked) if asked else None)
    words = plain_words(example.text)
    return [character_features(words), word_features(words)], reading_features(reading) + keyword_signals(
        words
    )


def language_features(example: Example) -> tuple[list[list[str]], list[str]]:
    """The words and word pairs the language model reads."""
    return [word_features(plain_words(example.text))], []


def vectors(examples: Sequence[Example], featurize: Featurize) -> list[dict[str, float]]:
    rows = []
    for example in examples:
        blocks, signals = featurize(example)
        row = dict.fromkeys(signals, 1.0)
        for block in blocks:
            distinct = set(block)
            row.update(dict.fromkeys(distinct, feature_value(len(distinct))))
        rows.append(row)
    return rows


def fit(train: Sequence[Example], labels: Sequence[str], featurize: Featurize) -> LinearModel:
    # Imported here: the train extra is needed to train, not to --check (the tests run that).
    try:
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
    except ModuleNotFoundError as error:
        sys.exit(f"error: {error}; training needs the train extra: .venv/bin/pip install -e '.[train]'")

    rows = vectors(train, featurize)
    seen = Counter(feature for row in rows for feature in row)
    kept = [{f: v for f, v in row.items() if seen[f] >= MIN_MESSAGES_PER_FEATURE} for row in rows]
    vectorizer = DictVectorizer(sort=True)
    matrix = vectorizer.fit_transform(kept)
    # Balanced: a class (or a language) with fewer examples is not a less likely answer.
    model = LogisticRegression(C=REGULARIZATION, class_weight="balanced", max_iter=5000, tol=1e-6)
    model.fit(matrix, labels)
    weights = {
        str(name): tuple(float(row[i]) for row in model.coef_)
        for i, name in enumerate(vectorizer.get_feature_names_out())
        if max(abs(row[i]) for row in model.coef_) >= MIN_WEIGHT
    }
    return LinearModel(tuple(map(str, model.classes_)), weights, tuple(map(float, model.intercept_)))


def with_temperature(
    model: LinearModel, held_out: Sequence[Example], labels: Sequence[str], featurize: Featurize
) -> LinearModel:
    """The model with the temperature that makes its probabilities honest on ``held_out``."""
    rows = [featurize(example) for example in held_out]

    def loss(temperature: float) -> float:
        scaled = LinearModel(model.classes, model.weights, model.bias, temperature)
        return -sum(
            math.log(max(scaled.probabilities(*row[0], signals=row[1])[label], 1e-12))
            for row, label in zip(rows, labels, strict=True)
        )

    temperatures = [round(0.2 + 0.05 * step, 2) for step in range(57)]  # 0.2 … 3.0
    best = min(temperatures, key=loss)
    return LinearModel(model.classes, model.weights, model.bias, best)


def thresholds(model: LinearModel, held_out: Sequence[Example]) -> tuple[float, float]:
    """The lowest confidences from which, on ``held_out``, the model's order questions are precise and its
    other answers right: an order question wrongly sure shows order facts to a shopper who asked
    something else, a wrongly sure "unknown" only asks them to rephrase."""
    scored = []
    for example in held_out:
        blocks, signals = intent_features(example)
        probabilities = merged(model.probabilities(*blocks, signals=signals))
        guess = max(probabilities, key=probabilities.__getitem__)
        scored.append((probabilities[guess], guess, intent_class(example.label)))
    # 0.30 … 0.99, then finer: the confidences near 1 are where a few more nines buy precision.
    grid = [round(0.30 + 0.01 * step, 2) for step in range(70)] + [
        round(0.99 + 0.001 * s, 3) for s in range(1, 10)
    ]

    def order_precise(threshold: float) -> bool:
        said = [label for confidence, guess, label in scored if confidence >= threshold and guess in ORDER]
        return sum(label in ORDER for label in said) >= ORDER_QUESTION_PRECISION * len(said)

    def others_right(threshold: float) -> bool:
        said = [(g, label) for confidence, g, label in scored if confidence >= threshold and g not in ORDER]
        return sum(guess == label for guess, label in said) >= SURE_ACCURACY * len(said)

    return next(filter(order_precise, grid), 1.0), next(filter(others_right, grid), 1.0)


def train() -> UnderstandingModel:
    train_set = list(examples("train"))
    calibration = list(examples("calibration"))
    intents = fit(train_set, [e.label for e in train_set], intent_features)
    intents = with_temperature(intents, calibration, [e.label for e in calibration], intent_features)
    languages = fit(train_set, [e.language for e in train_set], language_features)
    languages = with_temperature(languages, calibration, [e.language for e in calibration], language_features)
    order_sure_from, other_sure_from = thresholds(intents, calibration)
    return UnderstandingModel(intents, languages, order_sure_from, other_sure_from, source_digest())


def model_bytes(model: UnderstandingModel) -> bytes:
    text = json.dumps(model.to_document(), sort_keys=True, separators=(",", ":"))
    return gzip.compress(text.encode("utf-8"), compresslevel=9, mtime=0)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--check", action="store_true", help="only check that the shipped model is current")
    args = parser.parse_args(argv)
    if args.check:
        if shipped_digest() != source_digest():
            print(f"{MODEL_PATH.relative_to(REPO_ROOT)} is stale: run {sys.argv[0]}")
            return 1
        print("the shipped model is current")
        return 0
    model = train()
    MODEL_PATH.write_bytes(model_bytes(model))
    print(
        f"wrote {MODEL_PATH.relative_to(REPO_ROOT)}: {MODEL_PATH.stat().st_size / 1024:.0f} KiB,"
        f" {len(model.intents.weights)} features, {len(model.intents.classes)} classes,"
        f" temperature {model.intents.temperature}, sure from {model.order_sure_from} (order questions)"
        f" and {model.other_sure_from} (the rest)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
