"""Webhook tokens already accepted (Mailgun's replay protection): a second use of one is a replay."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import insert
from sqlalchemy.exc import IntegrityError

from lumen_bot.store.database import Database
from lumen_bot.store.tables import SeenTokenRow

_SEEN = SeenTokenRow.__table__  # type: ignore[attr-defined]
_ADD = insert(_SEEN)
# The column's length: a longer token is kept by its first part, which still tells replays apart.
_MAX_TOKEN = 200


class SqlSeenTokens:
    """Implements the ``SeenTokens`` port."""

    def __init__(self, database: Database) -> None:
        self._database = database

    async def first_use(self, provider: str, token: str, now: datetime) -> bool:
        return await self._database.write(self._first_use, provider, token, now)

    def _first_use(self, provider: str, token: str, now: datetime) -> bool:
        try:
            with self._database.engine.begin() as connection:
                connection.execute(_ADD, {"provider": provider, "token": token[:_MAX_TOKEN], "seen_at": now})
        except IntegrityError:
            return False
        return True
