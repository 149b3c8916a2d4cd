"""Replies as the message log keeps them: JSON, read back into the same :class:`Reply` values."""

from __future__ import annotations

import json
from collections.abc import Sequence

from lumen_bot.domain.messages import Part, Reply, ReplyKind


def dump_replies(replies: Sequence[Reply]) -> str:
    return json.dumps(
        [
            {
                "kind": r.kind.value,
                "parts": [[p.text, p.short, p.optional] for p in r.parts],
                "quick_replies": r.quick_replies,
                "links": r.links,
                "language": r.language,
            }
            for r in replies
        ]
    )


def load_replies(stored: str) -> list[Reply]:
    return [
        Reply(
            ReplyKind(item["kind"]),
            tuple(Part(text, short, optional) for text, short, optional in item["parts"]),
            tuple(item["quick_replies"]),
            tuple(item["links"]),
            item.get("language", "en"),  # replies logged before languages were English
        )
        for item in json.loads(stored)
    ]
