"""Settings come from LUMEN_ variables and a .env file, with defaults that run the demo."""

from __future__ import annotations

import pytest
from limits import parse
from pydantic import ValidationError

from lumen_bot.settings import DEFAULT_CHAT_RATE_LIMIT, load_settings


def test_defaults_use_the_embedded_database_and_rules():
    settings = load_settings()
    assert settings.database_url == "sqlite:///./lumen.db"
    assert settings.session_idle_minutes == 30
    assert settings.understanding_mode == "rules"


def test_the_default_chat_rate_limit_is_one_the_limits_library_reads():
    # The settings skip the check for the default (importing limits would slow every CLI command).
    assert parse(DEFAULT_CHAT_RATE_LIMIT)
    assert load_settings().chat_rate_limit == DEFAULT_CHAT_RATE_LIMIT


@pytest.mark.parametrize("name", ["LUMEN_CHAT_RATE_LIMIT", "LUMEN_CHAT_RATE_LIMIT_PER_CLIENT"])
def test_a_chat_rate_limit_the_limits_library_cannot_read_is_refused(monkeypatch, name):
    monkeypatch.setenv(name, "twenty a minute")
    with pytest.raises(ValidationError, match="not a rate"):
        load_settings()


def test_a_model_makes_hybrid_the_default_understanding(monkeypatch):
    monkeypatch.setenv("LUMEN_LLM_MODEL", "gpt-4o-mini")
    assert load_settings().understanding_mode == "hybrid"


def test_a_dotenv_file_in_the_working_directory_is_read(tmp_path):
    (tmp_path / ".env").write_text("LUMEN_SHOP_NAME=Dotenv Shop\nLUMEN_SESSION_IDLE_MINUTES=5\n")
    settings = load_settings()
    assert settings.shop_name == "Dotenv Shop"
    assert settings.session_idle_minutes == 5


def test_the_environment_wins_over_the_dotenv_file(tmp_path, monkeypatch):
    (tmp_path / ".env").write_text("LUMEN_SHOP_NAME=Dotenv Shop\n")
    monkeypatch.setenv("LUMEN_SHOP_NAME", "Env Shop")
    assert load_settings().shop_name == "Env Shop"


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("LUMEN_SESSION_IDLE_MINUTES", "0"),
        ("LUMEN_ORDER_NUMBER_PATTERN", "(unclosed"),
        ("LUMEN_UNDERSTANDING", "magic"),
    ],
)
def test_invalid_values_are_refused(monkeypatch, name, value):
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        load_settings()


def test_an_openai_compatible_server_is_configured_from_the_environment(monkeypatch):
    monkeypatch.setenv("LUMEN_LLM_MODEL", "llama3.1:8b")
    monkeypatch.setenv("LUMEN_LLM_BASE_URL", "http://127.0.0.1:11434/v1")
    monkeypatch.setenv("LUMEN_LLM_API_KEY", "ollama")
    monkeypatch.setenv("LUMEN_LLM_MODE", "json")
    monkeypatch.setenv("LUMEN_LLM_TIMEOUT_SECONDS", "2.5")

    settings = load_settings()

    assert (settings.llm_model, settings.llm_base_url) == ("llama3.1:8b", "http://127.0.0.1:11434/v1")
    assert settings.llm_api_key is not None and settings.llm_api_key.get_secret_value() == "ollama"
    assert "ollama" not in repr(settings)
    assert (settings.llm_mode, settings.llm_timeout_seconds) == ("json", 2.5)


@pytest.mark.parametrize(
    ("name", "value"),
    [("LUMEN_LLM_MODE", "telepathy"), ("LUMEN_LLM_TIMEOUT_SECONDS", "0"), ("LUMEN_LLM_MAX_RETRIES", "9")],
)
def test_invalid_llm_settings_are_refused(monkeypatch, name, value):
    monkeypatch.setenv("LUMEN_LLM_MODEL", "gpt-4o-mini")
    monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError):
        load_settings()


@pytest.mark.parametrize("mode", ["llm", "hybrid"])
def test_llm_understanding_without_a_model_is_refused(monkeypatch, mode):
    monkeypatch.setenv("LUMEN_UNDERSTANDING", mode)
    with pytest.raises(ValidationError, match="needs LUMEN_LLM_MODEL"):
        load_settings()


@pytest.mark.parametrize(
    ("given", "missing"),
    [
        ({"LUMEN_TICKET_WEBHOOK_URL": "https://hooks.example/lumen"}, "LUMEN_TICKET_WEBHOOK_SECRET"),
        ({"LUMEN_TICKET_EMAIL_TO": "support@acme.example"}, "LUMEN_SMTP_HOST and LUMEN_EMAIL_FROM"),
        (
            {"LUMEN_ZENDESK_URL": "https://acme.zendesk.com"},
            "LUMEN_ZENDESK_EMAIL and LUMEN_ZENDESK_API_TOKEN",
        ),
    ],
)
def test_a_half_configured_ticket_sink_is_refused(monkeypatch, given, missing):
    for name, value in given.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ValidationError, match=missing):
        load_settings()
