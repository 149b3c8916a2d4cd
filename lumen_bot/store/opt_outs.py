"""Who asked for no more messages on a channel (SMS STOP), kept until they opt back in."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.exc import IntegrityError

from lumen_bot.store.database import Database
from lumen_bot.store.prepared import Prepared
from lumen_bot.store.tables import OptOutRow

_OPT_OUT = OptOutRow.__table__  # type: ignore[attr-defined]
_SAME = (_OPT_OUT.c.channel == bindparam("channel")) & (_OPT_OUT.c.address == bindparam("address"))
_IS_OUT = Prepared(select(_OPT_OUT.c.id).where(_SAME))
_ADD = insert(_OPT_OUT)
_REMOVE = delete(_OPT_OUT).where(_SAME)


class SqlOptOuts:
    """Implements the ``OptOuts`` port."""

    def __init__(self, database: Database) -> None:
        self._database = database
        self._engine = database.engine

    async def is_opted_out(self, channel: str, address: str) -> bool:
        return await self._database.lookup(self._is_opted_out, channel, address)

    async def opt_out(self, channel: str, address: str, now: datetime) -> None:
        await self._database.write(self._opt_out, channel, address, now)

    async def opt_in(self, channel: str, address: str) -> None:
        await self._database.write(self._opt_in, channel, address)

    def _is_opted_out(self, channel: str, address: str) -> bool:
        with self._engine.connect() as connection:
            return _IS_OUT.run(connection, {"channel": channel, "address": address}).fetchone() is not None

    def _opt_out(self, channel: str, address: str, now: datetime) -> None:
        try:
            with self._engine.begin() as connection:
                connection.execute(_ADD, {"channel": channel, "address": address, "created_at": now})
        except IntegrityError:
            pass  # already opted out: a second STOP changes nothing

    def _opt_in(self, channel: str, address: str) -> None:
        with self._engine.begin() as connection:
            connection.execute(_REMOVE, {"channel": channel, "address": address})
