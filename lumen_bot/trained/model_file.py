"""Reading the understanding model that scripts/train_understanding.py wrote into this package."""

from __future__ import annotations

import gzip
import json
from functools import cache
from importlib import resources

from lumen_bot.domain.linear_model import ModelFormatError, UnderstandingModel

MODEL_FILE = "understanding_model.json.gz"


@cache  # immutable, and every runtime of a process (the tests build hundreds) reads the same file
def load_understanding_model() -> UnderstandingModel:
    """The shipped model; ``ModelFormatError`` when the file is missing or unreadable (a broken install)."""
    try:
        data = resources.files(__package__).joinpath(MODEL_FILE).read_bytes()
        document = json.loads(gzip.decompress(data))
    except (OSError, ValueError) as error:
        raise ModelFormatError(f"cannot read the understanding model {MODEL_FILE}: {error}") from error
    if not isinstance(document, dict):
        raise ModelFormatError(f"{MODEL_FILE} does not hold a model")
    return UnderstandingModel.from_document(document)
