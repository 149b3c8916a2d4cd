"""Settings come from LUMEN_ variables and a .env file, with defaults that run the demo."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lumen_bot.settings import load_settings


def test_defaults_use_the_embedded_database_and_rules():
    settings = load_settings()
    assert settings.database_url == "sqlite:///./lumen.db"
    assert settings.session_idle_minutes == 30
    assert settings.understanding_mode == "rules"


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
