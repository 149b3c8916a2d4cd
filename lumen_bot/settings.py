"""Typed settings read from the environment (prefix ``LUMEN_``) and a ``.env`` file.

Built by :func:`load_settings`, never at import time, so tests and the CLI can each make their own.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LUMEN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./lumen.db"
    shop_name: str = "our shop"
    support_contact: str = "our support team"
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    public_base_url: str | None = None
    admin_token: SecretStr | None = None

    # A shop whose order numbers look different (e.g. "SO-2026-00042") sets its own pattern; it is matched
    # against the upper-cased text, so letters in it are upper-case.
    order_number_pattern: str = r"(?:[A-Z]{1,5}-?)?\d{3,20}"
    max_text_length: int = Field(default=2000, ge=1, le=20_000)

    # Guessing limits (verification rule 3): failures within the window, per conversation, per order
    # number and per email address offered (a new web session must not reset the count).
    verify_max_failures: int = Field(default=5, ge=1)
    verify_max_failures_per_order: int = Field(default=10, ge=1)
    verify_max_failures_per_email: int = Field(default=10, ge=1)
    verify_window_minutes: int = Field(default=60, ge=1)

    log_level: str = "INFO"
    log_json: bool = False

    twilio_auth_token: SecretStr | None = None
    twilio_account_sid: str | None = None

    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"

    smtp_host: str | None = None
    smtp_port: int = 587
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    email_from: str | None = None
    mailgun_signing_key: SecretStr | None = None
    inbound_email_secret: SecretStr | None = None

    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    understanding: Literal["rules", "llm", "hybrid"] | None = None

    @property
    def understanding_mode(self) -> Literal["rules", "llm", "hybrid"]:
        if self.understanding is not None:
            return self.understanding
        return "hybrid" if self.llm_model else "rules"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
