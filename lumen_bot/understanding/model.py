"""The typed result of understanding one shopper message (the contract of DESIGN.md)."""

from __future__ import annotations

from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator

from lumen_bot.identifiers import normalize_email, normalize_order_number


class Intent(StrEnum):
    ORDER_STATUS = "order_status"
    TRACKING = "tracking"
    DELIVERY_ESTIMATE = "delivery_estimate"
    PROVIDE_DETAILS = "provide_details"
    OUT_OF_SCOPE = "out_of_scope"
    HUMAN = "human"
    GREETING = "greeting"
    THANKS = "thanks"
    HELP = "help"
    UNKNOWN = "unknown"


class Topic(StrEnum):
    REFUND = "refund"
    RETURN = "return"
    CANCEL = "cancel"
    ADDRESS_CHANGE = "address_change"
    DAMAGED = "damaged"
    MISSING_ITEM = "missing_item"
    PAYMENT = "payment"
    COMPLAINT = "complaint"
    OTHER = "other"


#: Intents that ask about an order and so need a verified order to answer.
ORDER_QUESTIONS = frozenset({Intent.ORDER_STATUS, Intent.TRACKING, Intent.DELIVERY_ESTIMATE})


class Understanding(BaseModel):
    """What one shopper message asks for, and the order number and email it contains."""

    model_config = ConfigDict(frozen=True)

    intent: Intent = Field(description="What the shopper wants from this message.")
    topic: Topic | None = Field(
        default=None, description="Only with intent out_of_scope: what kind of request it is."
    )
    order_number: str | None = Field(
        default=None, max_length=40, description="The order number written in the message, if any."
    )
    email: str | None = Field(
        default=None, max_length=254, description="The email address written in the message, if any."
    )
    not_arrived: bool = Field(
        default=False, description="The shopper says the order has not arrived or cannot be found."
    )

    @field_validator("order_number")
    @classmethod
    def _normalize_order_number(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = normalize_order_number(value)
        if not normalized:
            return None
        if not any(ch.isdigit() for ch in normalized):
            raise ValueError("an order number contains digits")
        return normalized

    @field_validator("email")
    @classmethod
    def _normalize_email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        normalized = normalize_email(value)
        if normalized is None:
            raise ValueError(f"not a valid email address: {value!r}")
        return normalized

    @field_validator("topic")
    @classmethod
    def _topic_only_out_of_scope(cls, value: Topic | None, info: ValidationInfo) -> Topic | None:
        return value if info.data.get("intent") == Intent.OUT_OF_SCOPE else None
