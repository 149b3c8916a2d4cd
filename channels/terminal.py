"""The terminal channel: one shopper message per input line, the bot's replies printed after each."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from lumen_bot.domain.messages import InboundMessage, clean_text
from lumen_bot.logs import request_context
from lumen_bot.services.conversation import ConversationHandler


async def chat(
    handler: ConversationHandler,
    lines: Iterable[str],
    out: TextIO,
    *,
    channel: str,
    sender: str,
    max_text_length: int,
    interactive: bool,
) -> None:
    if interactive:
        print("Type a message (Ctrl-D to quit).", file=out)
    for line in lines:
        text = clean_text(line)[:max_text_length]
        if not text:
            continue
        message = InboundMessage(
            channel=channel, conversation_key=sender, text=text, received_at=datetime.now(UTC)
        )
        with request_context():
            replies = await handler.handle(message)
        for reply in replies:
            print(reply.text, file=out)
            if interactive and reply.quick_replies:
                print("  [" + "] [".join(reply.quick_replies) + "]", file=out)
        print(file=out)
        out.flush()
