"""The schema: created whole in a new database, upgraded in place in an older one, data kept."""

from __future__ import annotations

from datetime import UTC, datetime

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, text
from sqlmodel import SQLModel

from lumen_bot.store import database
from lumen_bot.store.database import make_engine
from lumen_bot.store.tickets import get_ticket


def revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return compare_metadata(MigrationContext.configure(connection), SQLModel.metadata)


def as_made_by_lumen_0_1(engine: Engine) -> None:
    """Take the database back to 0.1's schema, which had no record of its revision."""
    config = database._config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0001")
        connection.execute(text("DROP TABLE alembic_version"))


def insert_old_ticket(engine: Engine, reference: str, at: datetime) -> None:
    """A conversation and its ticket, with the columns 0.1 had."""
    with engine.begin() as connection:
        conversation = connection.execute(
            text(
                "INSERT INTO conversations (channel, key, state, version, created_at, updated_at)"
                " VALUES ('web', :reference, '{}', 1, :at, :at) RETURNING id"
            ),
            {"reference": reference, "at": at},
        ).scalar_one()
        connection.execute(
            text(
                "INSERT INTO tickets"
                " (reference, conversation_id, channel, category, summary, status, created_at)"
                " VALUES (:reference, :conversation, 'web', 'refund', 'I want a refund', 'open', :at)"
            ),
            {"reference": reference, "conversation": conversation, "at": at},
        )


def test_a_new_database_has_the_newest_schema(database_url):
    engine = make_engine(database_url)

    assert revision(engine) == database._scripts().get_current_head()
    assert schema_differences(engine) == []


def test_a_database_of_lumen_0_1_is_upgraded_and_keeps_its_tickets(database_url):
    engine = make_engine(database_url)
    as_made_by_lumen_0_1(engine)
    created = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    insert_old_ticket(engine, "LUM-OLD234", created)

    upgraded = make_engine(database_url)

    assert revision(upgraded) == database._scripts().get_current_head()
    assert schema_differences(upgraded) == []
    ticket = get_ticket(upgraded, "LUM-OLD234")
    assert ticket is not None
    assert (ticket.summary, ticket.requests, ticket.transcript) == ("I want a refund", 1, ())
    assert ticket.updated_at == created


def test_tickets_of_lumen_0_1_are_not_sent_to_sinks_after_the_upgrade(database_url):
    engine = make_engine(database_url)
    as_made_by_lumen_0_1(engine)
    insert_old_ticket(engine, "LUM-OLD567", datetime.now(UTC))

    upgraded = make_engine(database_url)

    with upgraded.connect() as connection:
        pending = connection.execute(text("SELECT count(*) FROM tickets WHERE dispatched_at IS NULL"))
        assert pending.scalar_one() == 0
