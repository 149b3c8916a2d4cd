"""Who asked for no more messages on a channel (SMS STOP), kept until they opt back in."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from lumen_bot.store.database import run_query
from lumen_bot.store.tables import OptOutRow

_OPT_OUT = OptOutRow.__table__  # type: ignore[attr-defined]
_SAME = (_OPT_OUT.c.channel == bindparam("channel")) & (_OPT_OUT.c.address == bindparam("address"))
_IS_OUT = select(_OPT_OUT.c.id).where(_SAME)
_ADD = insert(_OPT_OUT)
_REMOVE = delete(_OPT_OUT).where(_SAME)


class OptOuts:
    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    async def is_opted_out(self, channel: str, address: str) -> bool:
        return await run_query(self._engine, self._is_opted_out, channel, address)

    async def opt_out(self, channel: str, address: str) -> None:
        await run_query(self._engine, self._opt_out, channel, address)

    async def opt_in(self, channel: str, address: str) -> None:
        await run_query(self._engine, self._opt_in, channel, address)

    def _is_opted_out(self, channel: str, address: str) -> bool:
        with self._engine.connect() as connection:
            return connection.execute(_IS_OUT, {"channel": channel, "address": address}).first() is not None

    def _opt_out(self, channel: str, address: str) -> None:
        row = {"channel": channel, "address": address, "created_at": datetime.now(UTC)}
        try:
            with self._engine.begin() as connection:
                connection.execute(_ADD, row)
        except IntegrityError:
            pass  # already opted out: a second STOP changes nothing

    def _opt_in(self, channel: str, address: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(_REMOVE, {"channel": channel, "address": address})
