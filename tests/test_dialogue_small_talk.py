"""Dialogues: greetings, help, thanks and the unclear get a short, friendly answer with an example."""

from __future__ import annotations

import pytest

from lumen_bot.domain.messages import ReplyKind


@pytest.mark.parametrize(
    ("text", "kind"),
    [
        ("hello", ReplyKind.GREETING),
        ("what can you do?", ReplyKind.HELP),
        ("thanks!", ReplyKind.THANKS),
        ("purple monkey dishwasher", ReplyKind.UNKNOWN),
    ],
)
def test_small_talk_gets_its_own_reply(chat, text, kind):
    chat(text)
    assert chat.kinds == [kind]


@pytest.mark.parametrize("text", ["hi", "help", "blorp"])
def test_the_reply_says_what_lumen_can_do_with_an_example(chat, text):
    answer = chat(text)
    assert "order" in answer and "1042" in answer


def test_the_greeting_names_the_shop(chat):
    assert "Acme Outfitters" in chat("hello")


def test_quick_replies_offer_tracking_and_a_person(chat):
    chat("hello")
    assert chat.replies[0].quick_replies == ("Where's my order?", "Talk to a person")
