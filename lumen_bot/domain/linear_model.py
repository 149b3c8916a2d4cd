"""A trained linear classifier over named features, with calibrated probabilities: pure arithmetic.

``scripts/train_understanding.py`` fits the weights and the temperature and writes them as a plain
document (:meth:`LinearModel.to_document`); this module scores with them. No numeric library is needed to
serve: a message has a few hundred features and the model a few dozen classes.
"""

from __future__ import annotations

import base64
import math
import sys
from array import array
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass


class ModelFormatError(ValueError):
    """The model document is not one this code can read."""


@dataclass(frozen=True, slots=True)
class LinearModel:
    """``classes`` and, per feature, one weight per class.

    A message is blocks of distinct features, each worth ``1/sqrt(count in its block)`` so that long and
    short messages weigh alike, and signals worth 1. Probabilities are a softmax of the scores divided
    by ``temperature`` (fitted on held-out messages, so that 0.9 means right 9 times in 10)."""

    classes: tuple[str, ...]
    weights: Mapping[str, tuple[float, ...]]
    bias: tuple[float, ...]
    temperature: float = 1.0

    def probabilities(self, *blocks: Iterable[str], signals: Iterable[str] = ()) -> dict[str, float]:
        """Each class's probability for a message with these blocks of text features (each block of unit
        length: character n-grams weigh as much as words, however many more there are) and ``signals``,
        features worth 1 each whatever the message's length (what the rules made of it)."""
        scores = list(self.bias)
        for block in blocks:
            distinct = set(block)
            value = feature_value(len(distinct))
            scores = [score + value * s for score, s in zip(scores, self._column_sums(distinct), strict=True)]
        scores = [score + s for score, s in zip(scores, self._column_sums(set(signals)), strict=True)]
        scaled = [score / self.temperature for score in scores]
        top = max(scaled)
        exps = [math.exp(score - top) for score in scaled]
        total = sum(exps)
        return {label: value / total for label, value in zip(self.classes, exps, strict=True)}

    def _column_sums(self, features: set[str]) -> list[float]:
        """The summed weights of ``features``, per class: zip and sum run in C, and a message has
        hundreds of features."""
        if isinstance(self.weights, PackedWeights):
            rows = self.weights.rows(features)
        else:
            rows = [row for row in map(self.weights.get, features) if row is not None]
        return [sum(column) for column in zip(*rows, strict=True)] if rows else [0.0] * len(self.classes)

    def to_document(self) -> dict[str, object]:
        """The model as JSON-ready data; the weights are stored as 16-bit integers (a tenth of the size of
        JSON numbers), which moves a probability by well under 0.001."""
        names = sorted(self.weights)
        largest = max((abs(w) for row in self.weights.values() for w in row), default=1.0) or 1.0
        scale = 32767 / largest
        packed = array("h", (round(w * scale) for name in names for w in self.weights[name]))
        if sys.byteorder == "big":  # the document is the same on every machine: little-endian
            packed.byteswap()
        return {
            "classes": list(self.classes),
            "features": names,
            "weights": base64.b64encode(packed.tobytes()).decode("ascii"),
            "scale": scale,
            "bias": list(self.bias),
            "temperature": self.temperature,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> LinearModel:
        try:
            classes = tuple(str(c) for c in _sequence(document["classes"]))
            names = [str(n) for n in _sequence(document["features"])]
            scale = float(str(document["scale"]))
            packed = array("h")
            packed.frombytes(base64.b64decode(str(document["weights"])))
            if sys.byteorder == "big":
                packed.byteswap()
            bias = tuple(float(str(b)) for b in _sequence(document["bias"]))
            temperature = float(str(document["temperature"]))
        except (KeyError, TypeError, ValueError) as error:
            raise ModelFormatError(f"not a linear model document: {error}") from error
        width = len(classes)
        if len(packed) != width * len(names) or len(bias) != width or temperature <= 0:
            raise ModelFormatError("the weights do not fit the classes and features")
        return cls(classes, PackedWeights(names, packed, width, scale), bias, temperature)


class PackedWeights(Mapping[str, tuple[float, ...]]):
    """A document's weights, each feature's row decoded from the 16-bit integers when first looked up (and
    kept): a model has tens of thousands of features and a message a few hundred, and decoding them all
    took most of the time ``lumen understand`` needs to start."""

    __slots__ = ("_index", "_packed", "_rows", "_scale", "_width")

    def __init__(self, names: Sequence[str], packed: array[int], width: int, scale: float) -> None:
        self._index = dict(zip(names, range(len(names)), strict=True))  # a repeated name: its last row
        self._packed = packed
        self._width = width
        self._scale = scale
        self._rows: dict[str, tuple[float, ...]] = {}

    def rows(self, features: set[str]) -> list[tuple[float, ...]]:
        """The rows of those of ``features`` the model knows, in their order, decoding those not decoded yet
        (found by set operations: this runs in C, as the lookups in a dict would)."""
        decoded = self._rows
        for name in (self._index.keys() & features).difference(decoded):
            self._decode(name)
        return [row for row in map(decoded.get, features) if row is not None]

    def get(self, name: str, default: tuple[float, ...] | None = None) -> tuple[float, ...] | None:
        row = self._rows.get(name)
        if row is None:
            return self._decode(name) if name in self._index else default
        return row

    def _decode(self, name: str) -> tuple[float, ...]:
        start = self._index[name] * self._width
        # Two threads may decode the same row at once: both get equal values, either is kept.
        row = self._rows[name] = tuple(w / self._scale for w in self._packed[start : start + self._width])
        return row

    def __getitem__(self, name: str) -> tuple[float, ...]:
        row = self.get(name)
        if row is None:
            raise KeyError(name)
        return row

    def __contains__(self, name: object) -> bool:
        return name in self._index

    def __iter__(self) -> Iterator[str]:
        return iter(self._index)

    def __len__(self) -> int:
        return len(self._index)


def _sequence(value: object) -> Sequence[object]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return value


def feature_value(distinct_features: int) -> float:
    """The value of each feature of a message with this many distinct ones (unit length)."""
    return 1 / math.sqrt(distinct_features) if distinct_features else 0.0


@dataclass(frozen=True, slots=True)
class UnderstandingModel:
    """What scripts/train_understanding.py ships: the intent model, the language model, the confidences
    from which an order question and any other intent count as sure (chosen on messages neither model
    was trained on), and the digest of the data and code it was trained from."""

    intents: LinearModel
    languages: LinearModel
    order_sure_from: float
    other_sure_from: float
    source_digest: str

    def to_document(self) -> dict[str, object]:
        return {
            "format": MODEL_FORMAT,
            "intents": self.intents.to_document(),
            "languages": self.languages.to_document(),
            "order_sure_from": self.order_sure_from,
            "other_sure_from": self.other_sure_from,
            "source_digest": self.source_digest,
        }

    @classmethod
    def from_document(cls, document: Mapping[str, object]) -> UnderstandingModel:
        if document.get("format") != MODEL_FORMAT:
            raise ModelFormatError(f"model format {document.get('format')!r}, expected {MODEL_FORMAT}")
        intents, languages = document.get("intents"), document.get("languages")
        if not isinstance(intents, Mapping) or not isinstance(languages, Mapping):
            raise ModelFormatError("the model document lacks its intent or language model")
        try:
            order_sure_from = float(str(document["order_sure_from"]))
            other_sure_from = float(str(document["other_sure_from"]))
            digest = str(document["source_digest"])
        except (KeyError, ValueError) as error:
            raise ModelFormatError(f"not an understanding model document: {error}") from error
        return cls(
            LinearModel.from_document(intents),
            LinearModel.from_document(languages),
            order_sure_from,
            other_sure_from,
            digest,
        )


MODEL_FORMAT = 2
