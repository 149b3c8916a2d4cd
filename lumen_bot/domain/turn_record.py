"""What one turn of a conversation did, as the shop's dashboard counts it: who understood the message and
at what cost, how long the answer took, what the answer was, and whether an order was verified.

Stored with the message it describes (the message log), so every figure of the dashboard is a count over
stored rows, never a guess.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from lumen_bot.domain.engine import ConversationState, Effect, RecordFailure
from lumen_bot.domain.identifiers import email_digest
from lumen_bot.domain.messages import Reply, ReplyKind
from lumen_bot.domain.orders import Order
from lumen_bot.domain.understanding import Explanation


class Verification(StrEnum):
    """How a turn's verification went, when it had one."""

    PASSED = "passed"
    """An order was verified: the email matched (or the channel had proven the address)."""
    FAILED = "failed"
    """An email check failed and was counted toward the limits."""
    LOCKED = "locked"
    """The shopper hit a verification limit."""


# A turn's headline is the first of these its replies hold: an order answer beside an offer of updates is
# an order answer.
_HEADLINES = (
    ReplyKind.ORDER_ANSWER,
    ReplyKind.LOCKED,
    ReplyKind.NOT_VERIFIED,
    ReplyKind.ESCALATED,
    ReplyKind.CONFIRM_TICKET,
    ReplyKind.UNAVAILABLE,
)


@dataclass(frozen=True, slots=True)
class VerifiedOrder:
    """An order this turn verified, and the digest of its email (what support searches a shopper by)."""

    order_number: str
    email_digest: str | None


@dataclass(frozen=True, slots=True)
class TurnRecord:
    understander: str | None
    """``rules``, ``model`` or ``llm``; ``None`` when nothing was read (an attachment alone)."""
    tokens_in: int
    tokens_out: int
    reply_ms: int
    """From the start of the turn to its replies being ready (the commit after it not included)."""
    outcome: ReplyKind | None
    verification: Verification | None
    verified: tuple[VerifiedOrder, ...] = ()


def outcome_of(replies: Sequence[Reply]) -> ReplyKind | None:
    """The reply that says what the turn achieved: the first headline kind, else the first reply's kind."""
    kinds = [reply.kind for reply in replies]
    for kind in _HEADLINES:
        if kind in kinds:
            return kind
    return kinds[0] if kinds else None


def newly_verified(
    before: ConversationState, after: ConversationState, order: Order | None
) -> tuple[VerifiedOrder, ...]:
    """The orders ``after`` holds as verified that ``before`` did not (with the email digest of ``order``,
    the order the turn looked up, when it is one of them)."""
    return tuple(
        VerifiedOrder(
            number, email_digest(order.email) if order is not None and order.number == number else None
        )
        for number in after.verified_orders
        if number not in before.verified_orders
    )


def verification_of(
    replies: Sequence[Reply], effects: Sequence[Effect], verified: Sequence[VerifiedOrder]
) -> Verification | None:
    if any(reply.kind is ReplyKind.LOCKED for reply in replies):
        return Verification.LOCKED
    if any(isinstance(effect, RecordFailure) for effect in effects):
        return Verification.FAILED
    return Verification.PASSED if verified else None


def record_turn(
    explanation: Explanation | None,
    replies: Sequence[Reply],
    effects: Sequence[Effect],
    verified: tuple[VerifiedOrder, ...],
    seconds: float,
) -> TurnRecord:
    return TurnRecord(
        understander=explanation.understander if explanation is not None else None,
        tokens_in=explanation.tokens_in if explanation is not None else 0,
        tokens_out=explanation.tokens_out if explanation is not None else 0,
        reply_ms=max(0, round(seconds * 1000)),
        outcome=outcome_of(replies),
        verification=verification_of(replies, effects, verified),
        verified=verified,
    )
