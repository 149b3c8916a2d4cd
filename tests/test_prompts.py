"""The prompt files: shipped with Lumen, replaceable by a shop's own, checked at start-up."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import pytest

from lumen_bot.llm.prompts import EXAMPLES_FILE, SYSTEM_FILE, USER_FILE, PromptError, load_prompts

REPO_PROMPTS = Path(__file__).resolve().parent.parent / "prompts"


@pytest.fixture
def own_prompts(tmp_path: Path) -> Path:
    """A shop's copy of the prompt folder."""
    folder = tmp_path / "prompts"
    shutil.copytree(REPO_PROMPTS, folder)
    return folder


def test_the_installed_prompts_are_the_files_in_the_prompts_folder():
    installed = resources.files("lumen_bot.prompts")
    for name in (SYSTEM_FILE, USER_FILE, EXAMPLES_FILE):
        assert installed.joinpath(name).read_text(encoding="utf-8") == (REPO_PROMPTS / name).read_text()


def test_every_shipped_example_is_a_valid_understanding():
    assert len(load_prompts().examples) >= 10


def test_the_system_prompt_names_the_shop_and_holds_the_examples():
    [system, _user] = load_prompts().messages(shop_name="Acme Outfitters", text="hi", last_question=None)

    assert "assistant of Acme Outfitters" in system["content"]
    assert '"¿Cuándo llega mi pedido #A7731?"' in system["content"]


def test_the_user_message_holds_only_the_last_question_and_the_text():
    [_system, user] = load_prompts().messages(
        shop_name="Acme", text="sam.lee@example.org", last_question="ask_email"
    )

    assert user["content"].startswith("The assistant has just asked the shopper for the email address")
    assert "sam.lee@example.org" in user["content"]


def test_braces_in_the_shoppers_text_are_not_placeholders():
    [system, user] = load_prompts().messages(
        shop_name="Acme", text="{shop_name} {last_question} {examples}", last_question="ask_order_number"
    )

    assert "{shop_name} {last_question} {examples}" in user["content"]
    assert "{examples}" not in system["content"]


def test_a_shops_own_prompts_are_used(own_prompts):
    system = own_prompts / SYSTEM_FILE
    system.write_text("Extract order questions for {shop_name}, politely.\n{examples}")

    [message, _user] = load_prompts(own_prompts).messages(shop_name="Acme", text="hi", last_question=None)

    assert message["content"].startswith("Extract order questions for Acme, politely.")


@pytest.mark.parametrize(("name", "placeholder"), [(SYSTEM_FILE, "{shop_name}"), (USER_FILE, "{message}")])
def test_a_missing_placeholder_is_refused_naming_the_file(own_prompts, name, placeholder):
    path = own_prompts / name
    path.write_text(path.read_text().replace(placeholder, ""))

    with pytest.raises(PromptError, match=f"{name}: missing placeholder {placeholder}"):
        load_prompts(own_prompts)


@pytest.mark.parametrize(
    "bad_line",
    [
        '{"message": "hi", "understanding": {"intent": "chit_chat"}}',
        '{"message": "hi", "understanding": {"intent": "provide_details", "email": "not an address"}}',
        '{"message": "hi", "last_question": "ask_shoe_size", "understanding": {"intent": "greeting"}}',
        '{"understanding": {"intent": "greeting"}}',
        "not json",
    ],
)
def test_an_invalid_example_is_refused_naming_its_line(own_prompts, bad_line):
    examples = own_prompts / EXAMPLES_FILE
    examples.write_text(examples.read_text() + bad_line + "\n")
    line = len(examples.read_text().splitlines())

    with pytest.raises(PromptError, match=f"{EXAMPLES_FILE} line {line}: "):
        load_prompts(own_prompts)


def test_a_missing_file_is_refused_naming_it(own_prompts):
    (own_prompts / USER_FILE).unlink()

    with pytest.raises(PromptError, match=f"{USER_FILE}: cannot be read"):
        load_prompts(own_prompts)
