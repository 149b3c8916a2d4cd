"""The LLM understander's prompts: files loaded once at start-up, rendered into chat messages.

The files live in ``prompts/`` (installed as the package ``lumen_bot.prompts``) or in a shop's own folder.
Rendering is pure: the messages hold the system prompt, the bot's last question and the shopper's
text — nothing else, so no order data and no other shopper's words can reach the model.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import ValidationError

from lumen_bot.domain.understanding import Question, Understanding

SYSTEM_FILE = "understanding_system.md"
USER_FILE = "understanding_user.md"
EXAMPLES_FILE = "understanding_examples.jsonl"
_PLACEHOLDERS = {SYSTEM_FILE: ("{shop_name}", "{examples}"), USER_FILE: ("{last_question}", "{message}")}

# What the bot's previous reply asked for, in words the model can use to read a bare "1042".
_LAST_QUESTIONS: dict[Question, str] = {
    Question.ORDER_NUMBER: "The assistant has just asked the shopper for their order number.",
    Question.EMAIL: "The assistant has just asked the shopper for the email address on their order.",
    Question.CONFIRM_TICKET: "The assistant has just asked whether to pass the request to the shop's team.",
    Question.OFFER_UPDATES: (
        "The assistant has just offered to message the shopper when their order is out for delivery or"
        " delivered."
    ),
}


class PromptError(Exception):
    """A prompt file is missing or invalid; the message names the file."""


@dataclass(frozen=True, slots=True)
class Example:
    message: str
    last_question: Question | None
    understanding: Understanding

    def render(self) -> str:
        asked = f" (after: {self.last_question})" if self.last_question else ""
        extraction = self.understanding.model_dump(mode="json", exclude_defaults=True)
        return f"- {json.dumps(self.message, ensure_ascii=False)}{asked} → {json.dumps(extraction)}"


@dataclass(frozen=True, slots=True)
class Prompts:
    system: str
    user: str
    examples: tuple[Example, ...]

    def messages(self, *, shop_name: str, text: str, last_question: Question | None) -> list[dict[str, str]]:
        """The chat messages for one shopper message. Placeholders are replaced one by one, the
        shopper's text last, so braces the shopper typed are never read as placeholders."""
        examples = "\n".join(example.render() for example in self.examples)
        system = self.system.replace("{shop_name}", shop_name).replace("{examples}", examples)
        question = _LAST_QUESTIONS[last_question] if last_question else ""
        user = self.user.replace("{last_question}", question).replace("{message}", text)
        return [{"role": "system", "content": system}, {"role": "user", "content": user.strip()}]


def load_prompts(directory: Path | None = None) -> Prompts:
    """The prompts in ``directory``, or the ones installed with Lumen."""
    folder: Traversable = directory if directory is not None else resources.files("lumen_bot.prompts")
    system, user = (_read(folder, name) for name in (SYSTEM_FILE, USER_FILE))
    for name, text in ((SYSTEM_FILE, system), (USER_FILE, user)):
        missing = [placeholder for placeholder in _PLACEHOLDERS[name] if placeholder not in text]
        if missing:
            raise PromptError(f"{name}: missing placeholder {', '.join(missing)}")
    return Prompts(system=system, user=user, examples=_examples(_read(folder, EXAMPLES_FILE)))


def _read(folder: Traversable, name: str) -> str:
    try:
        return folder.joinpath(name).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as error:
        raise PromptError(f"{name}: cannot be read ({error})") from error


def _examples(text: str) -> tuple[Example, ...]:
    examples = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            asked = row.get("last_question")
            if asked is not None and asked not in set(Question):
                raise ValueError(f"unknown last_question {asked!r}")
            last_question = Question(asked) if asked is not None else None
            understanding = Understanding.model_validate(row["understanding"])
            examples.append(Example(str(row["message"]), last_question, understanding))
        except (ValueError, KeyError, TypeError, ValidationError) as error:
            reason = str(error).splitlines()[0] if str(error) else type(error).__name__
            raise PromptError(f"{EXAMPLES_FILE} line {number}: {reason}") from error
    return tuple(examples)
