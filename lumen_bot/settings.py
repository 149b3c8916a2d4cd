"""Typed settings read from the environment (prefix ``LUMEN_``) and a ``.env`` file.

Built by :func:`load_settings`, never at import time, so tests and the CLI can each make their own.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Literal, TypeVar
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from lumen_bot.domain.identifiers import DEFAULT_ORDER_NUMBER_PATTERN
from lumen_bot.domain.quiet_hours import QuietHours
from lumen_bot.domain.speech import LANGUAGES, Language

DEFAULT_CHAT_RATE_LIMIT = "20/minute"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LUMEN_", env_file=".env", extra="ignore")

    database_url: str = "sqlite:///./lumen.db"
    # `lumen serve` loads the demo orders first when the database has none (the Docker image's try-out).
    demo: bool = False
    shop_name: str = "our shop"
    support_contact: str = "our support team"
    session_idle_minutes: int = Field(default=30, ge=1, le=24 * 60)
    # The languages Lumen answers in (the shopper's, when enabled), and the one for anything else.
    languages: Annotated[list[Language], NoDecode] = list(LANGUAGES)
    default_language: Language = "en"
    # The shop's timezone (IANA name): dates in replies, and whether a parcel is late today.
    timezone: str = "UTC"

    # A shop whose order numbers look different (e.g. "SO-2026-00042") sets its own pattern; it is matched
    # against the upper-cased text, so letters in it are upper-case.
    order_number_pattern: str = DEFAULT_ORDER_NUMBER_PATTERN
    max_text_length: int = Field(default=2000, ge=1, le=20_000)

    # Guessing limits (verification rule 3): failures within the window, per conversation, per order
    # number and per email address offered (a new web session must not reset the count).
    verify_max_failures: int = Field(default=5, ge=1)
    verify_max_failures_per_order: int = Field(default=10, ge=1)
    verify_max_failures_per_email: int = Field(default=10, ge=1)
    verify_window_minutes: int = Field(default=60, ge=1)

    log_level: str = "INFO"
    log_json: bool = False

    # The URL providers call, as they see it: behind a proxy the app's own view of scheme and host is
    # wrong, and signatures are computed over the URL the provider used.
    public_base_url: str | None = None

    twilio_auth_token: SecretStr | None = None
    twilio_account_sid: str | None = None
    # The secret of a Twilio webhook SharedKey, for requests signed with HMAC-SHA256 (announced by the
    # X-Twilio-Webhooks-Signature-Settings header).
    twilio_webhook_shared_key: SecretStr | None = None
    # Development only: accept unsigned Twilio requests. Logged as a warning at start-up.
    twilio_insecure_dev: bool = False
    twilio_api_url: str = "https://api.twilio.com"
    # Replies not ready within this many seconds go out through the REST API instead of inline TwiML
    # (Twilio gives up on a webhook after 15 s).
    twilio_inline_seconds: float = Field(default=8.0, ge=0, le=14)

    whatsapp_app_secret: SecretStr | None = None
    whatsapp_verify_token: SecretStr | None = None
    whatsapp_access_token: SecretStr | None = None
    whatsapp_graph_url: str = "https://graph.facebook.com/v21.0"
    # When set, webhook events for any other business phone number are ignored.
    whatsapp_phone_number_id: str | None = None

    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    smtp_starttls: bool = True
    # Implicit TLS from the first byte (usually port 465), instead of STARTTLS.
    smtp_tls: bool = False
    email_from: str | None = None
    mailgun_signing_key: SecretStr | None = None
    # HTTP Basic password (user "lumen") for the raw, SendGrid and Postmark inbound routes.
    inbound_email_secret: SecretStr | None = None
    # Replies to one address per hour at most, so two auto-responders can never loop for long.
    email_replies_per_hour: int = Field(default=10, ge=1)
    email_max_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)

    # Replies to shoppers that failed are retried with exponential backoff, up to this many attempts
    # (about 9 minutes for 8: a later reply is of no use). Tickets: LUMEN_TICKET_DELIVERY_RETRY_HOURS.
    outbox_max_attempts: int = Field(default=8, ge=1)
    # How long a worker may take to answer a webhook message it accepted before another worker takes it
    # over (the first one stopped): longer than a turn can take, LLM call and database waits included.
    inbox_lease_seconds: float = Field(default=30.0, ge=1, le=3600)

    # Storefronts allowed to call POST /api/chat from the browser (CORS), comma-separated origins such as
    # "https://shop.example,https://www.shop.example"; the page Lumen serves itself needs none.
    widget_origins: Annotated[list[str], NoDecode] = []
    # Messages one conversation (web session) may send to POST /api/chat, in the syntax of the limits
    # library.
    chat_rate_limit: str = DEFAULT_CHAT_RATE_LIMIT
    # Messages one client (IP address) may send over all the sessions it opens; unset, ten times
    # LUMEN_CHAT_RATE_LIMIT. Higher than one session's budget, because many shoppers can share an address
    # (an office, a mobile carrier's NAT); there only so that one address cannot open sessions endlessly.
    chat_rate_limit_per_client: str | None = None
    # Where the counts live: memory:// (one process) or redis://host:6379 (shared by workers and replicas;
    # needs the redis extra, pip install 'lumen-bot[redis]').
    rate_limit_storage: str = "memory://"
    # The proxies `lumen serve` believes about the client's address and scheme (X-Forwarded-For and
    # X-Forwarded-Proto): addresses or networks, comma-separated, or "*" for any. Unset, uvicorn's own
    # FORWARDED_ALLOW_IPS, else 127.0.0.1 (a proxy on the same host).
    forwarded_allow_ips: str | None = None

    # Where orders come from: Lumen's own database (imported), or the shop's platform, live.
    order_source: Literal["database", "shopify", "woocommerce", "http"] = "database"
    # Each lookup, retries included, ends within this; then the shopper hears "try again in a few minutes".
    order_source_timeout_seconds: float = Field(default=5.0, gt=0, le=30)
    # Orders found are kept this long, so follow-ups in a conversation do not call the platform again.
    order_cache_seconds: float = Field(default=60.0, ge=0, le=3600)
    shopify_store_url: str | None = None
    shopify_access_token: SecretStr | None = None
    shopify_api_version: str = "2025-10"
    woocommerce_url: str | None = None
    woocommerce_consumer_key: str | None = None
    woocommerce_consumer_secret: SecretStr | None = None
    order_http_url: str | None = None
    order_http_token: SecretStr | None = None
    # The keys the platforms sign their order webhooks with (POST /webhooks/shopify, /webhooks/woocommerce):
    # Shopify's app client secret, the secret given when creating the WooCommerce webhook. Unset, the
    # route is off (404).
    shopify_webhook_secret: SecretStr | None = None
    woocommerce_webhook_secret: SecretStr | None = None

    # The admin routes (GET /api/tickets …) answer only with "Authorization: Bearer <this>".
    admin_token: SecretStr | None = None
    # Ticket sinks, any number at once: a webhook (JSON, signed with HMAC-SHA256), the support inbox
    # (through the SMTP settings above), Zendesk (API token of an agent).
    ticket_webhook_url: str | None = None
    ticket_webhook_secret: SecretStr | None = None
    ticket_email_to: str | None = None
    zendesk_url: str | None = None
    zendesk_email: str | None = None
    zendesk_api_token: SecretStr | None = None
    # A ticket a sink does not take is retried with backoff (every 15 minutes at most) for this long from
    # when it was stored, so a sink down for hours still gets it; then `lumen tickets redeliver`.
    ticket_delivery_retry_hours: float = Field(default=24.0, gt=0, le=24 * 30)

    # Proactive shipping updates (see README "Proactive updates"): subscribed orders are checked again
    # every this many seconds, so a missed webhook only delays an update.
    updates_poll_seconds: float = Field(default=900.0, ge=1, le=24 * 3600)
    # A subscription ends this many days after the shopper said yes, if the order has not settled.
    updates_max_days: int = Field(default=30, ge=1, le=365)
    # No SMS update goes out in these hours of LUMEN_TIMEZONE ("21:00-08:00"; empty: none): held until
    # they end.
    quiet_hours: str = ""
    # WhatsApp outside the 24-hour window: an approved template (Cloud API: its name and language;
    # Twilio: its Content SID). Without one the update is skipped and recorded.
    whatsapp_update_template: str = ""
    # Empty: the template in the update's own language (the shopper's), approved under the same name.
    whatsapp_update_template_language: str = ""
    twilio_update_content_sid: str = ""
    # Where shoppers reach Lumen (the email update's one-click unsubscribe link); empty: the
    # LUMEN_PUBLIC_BASE_URL.
    public_url: str = ""

    # Any OpenAI-compatible server: OpenAI, Azure OpenAI, Ollama, vLLM, llama.cpp (LUMEN_LLM_BASE_URL).
    llm_model: str | None = None
    llm_base_url: str | None = None
    llm_api_key: SecretStr | None = None
    # How the model returns the extraction: tool calls, or JSON for servers without tool calling.
    llm_mode: Literal["tools", "json", "json_schema", "md_json"] = "tools"
    # The whole understanding step, re-asks included, ends within this; then the rules answer.
    llm_timeout_seconds: float = Field(default=4.0, gt=0, le=60)
    # Times the model is asked again after an answer that is not a valid Understanding.
    llm_max_retries: int = Field(default=1, ge=0, le=5)
    # 0 reads the same message the same way every time; models that only take their default need 1.
    llm_temperature: float = Field(default=0.0, ge=0, le=2)
    # What the LLM provider charges per 1,000 tokens, in the shop's currency: the dashboard's cost estimate
    # (none shown while both are unset).
    llm_price_per_1k_input: float | None = Field(default=None, ge=0)
    llm_price_per_1k_output: float | None = Field(default=None, ge=0)
    understanding: Literal["rules", "llm", "hybrid"] | None = None
    # A folder with the shop's own copies of the prompt files (see prompts/README.md).
    prompts_dir: Path | None = None

    @field_validator("order_number_pattern")
    @classmethod
    def _compiles(cls, pattern: str) -> str:
        try:
            re.compile(pattern)
        except re.error as error:
            raise ValueError(f"not a valid regular expression: {error}") from error
        return pattern

    @field_validator("widget_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if isinstance(value, list):
            for origin in value:
                parsed = urlsplit(str(origin))
                if origin != "*" and (
                    parsed.scheme not in ("http", "https") or not parsed.netloc or parsed.path
                ):
                    raise ValueError(f"not an origin (scheme://host[:port]): {origin!r}")
        return value

    @field_validator("languages", mode="before")
    @classmethod
    def _languages(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("timezone")
    @classmethod
    def _timezone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as error:
            raise ValueError(f"not an IANA timezone such as Europe/Madrid: {value!r}") from error
        return value

    @field_validator("quiet_hours")
    @classmethod
    def _quiet_hours(cls, value: str) -> str:
        QuietHours.parse(value)
        return value.strip()

    @field_validator("whatsapp_update_template_language")
    @classmethod
    def _template_language(cls, value: str) -> str:
        if value and not re.fullmatch(r"[a-z]{2,3}(_[A-Z]{2})?", value):
            raise ValueError(f"not a WhatsApp template language code such as en or pt_BR: {value!r}")
        return value

    @field_validator("twilio_update_content_sid")
    @classmethod
    def _content_sid(cls, value: str) -> str:
        value = value.strip()
        if value and not re.fullmatch(r"HX[0-9a-fA-F]{32}", value):
            raise ValueError(f"not a Twilio Content SID (HX and 32 hex digits): {value!r}")
        return value

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        parsed = urlsplit(value)
        if value and (parsed.scheme not in ("http", "https") or not parsed.netloc):
            raise ValueError(f"not an http(s) URL: {value!r}")
        return value

    @model_validator(mode="after")
    def _public_url_default(self) -> Settings:
        if not self.public_url and self.public_base_url:
            self.public_url = self.public_base_url.strip().rstrip("/")
        return self

    @property
    def quiet_hours_span(self) -> QuietHours | None:
        """``LUMEN_QUIET_HOURS`` parsed (validated at start-up)."""
        return QuietHours.parse(self.quiet_hours)

    @model_validator(mode="after")
    def _default_language_enabled(self) -> Settings:
        if self.default_language not in self.languages:
            raise ValueError(
                f"LUMEN_DEFAULT_LANGUAGE={self.default_language} is not in LUMEN_LANGUAGES"
                f" ({','.join(self.languages)})"
            )
        return self

    @field_validator("chat_rate_limit", "chat_rate_limit_per_client")
    @classmethod
    def _rate(cls, value: str | None) -> str | None:
        # The default is valid (tests/test_settings.py); anything else is read by the limits library, imported
        # only then: it takes a tenth of a second to import, which every CLI command would pay.
        if value is None or value == DEFAULT_CHAT_RATE_LIMIT:
            return value
        from limits import parse

        try:
            parse(value)
        except ValueError as error:
            raise ValueError(f"not a rate such as 20/minute: {value!r}") from error
        return value

    @model_validator(mode="after")
    def _model_for_llm_modes(self) -> Settings:
        if self.understanding in ("llm", "hybrid") and not self.llm_model:
            raise ValueError(f"LUMEN_UNDERSTANDING={self.understanding} needs LUMEN_LLM_MODEL")
        return self

    @model_validator(mode="after")
    def _order_source_settings(self) -> Settings:
        required = {
            "database": {},
            "shopify": {
                "LUMEN_SHOPIFY_STORE_URL": self.shopify_store_url,
                "LUMEN_SHOPIFY_ACCESS_TOKEN": self.shopify_access_token,
            },
            "woocommerce": {
                "LUMEN_WOOCOMMERCE_URL": self.woocommerce_url,
                "LUMEN_WOOCOMMERCE_CONSUMER_KEY": self.woocommerce_consumer_key,
                "LUMEN_WOOCOMMERCE_CONSUMER_SECRET": self.woocommerce_consumer_secret,
            },
            "http": {"LUMEN_ORDER_HTTP_URL": self.order_http_url},
        }[self.order_source]
        missing = [name for name, value in required.items() if not value]
        if missing:
            raise ValueError(f"LUMEN_ORDER_SOURCE={self.order_source} needs {' and '.join(missing)}")
        return self

    @model_validator(mode="after")
    def _complete_ticket_sinks(self) -> Settings:
        # A sink half configured would drop tickets silently; better to refuse to start.
        needs = {
            "LUMEN_TICKET_WEBHOOK_URL": (self.ticket_webhook_url, ("LUMEN_TICKET_WEBHOOK_SECRET",)),
            "LUMEN_TICKET_EMAIL_TO": (self.ticket_email_to, ("LUMEN_SMTP_HOST", "LUMEN_EMAIL_FROM")),
            "LUMEN_ZENDESK_URL": (self.zendesk_url, ("LUMEN_ZENDESK_EMAIL", "LUMEN_ZENDESK_API_TOKEN")),
        }
        values = {
            "LUMEN_TICKET_WEBHOOK_SECRET": self.ticket_webhook_secret,
            "LUMEN_SMTP_HOST": self.smtp_host,
            "LUMEN_EMAIL_FROM": self.email_from,
            "LUMEN_ZENDESK_EMAIL": self.zendesk_email,
            "LUMEN_ZENDESK_API_TOKEN": self.zendesk_api_token,
        }
        for name, (value, required) in needs.items():
            missing = [other for other in required if value and not values[other]]
            if missing:
                raise ValueError(f"{name} needs {' and '.join(missing)}")
        return self

    @property
    def understanding_mode(self) -> Literal["rules", "llm", "hybrid"]:
        if self.understanding is not None:
            return self.understanding
        return "hybrid" if self.llm_model else "rules"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


class ConfigurationError(Exception):
    """A setting the configuration needs is missing or unusable; the message names the variable."""


T = TypeVar("T")


def required(value: T | None, variable: str) -> T:
    """``value``, which the configuration needs; :class:`ConfigurationError` naming ``variable`` when it
    is not set."""
    if value is None or value == "":
        raise ConfigurationError(f"{variable} must be set")
    return value
