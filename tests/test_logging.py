"""Logs: structured, with a request id, and never a full email, phone number or tracking number."""

from __future__ import annotations

import json
import logging

import pytest

from lumen_bot.domain.redaction import redact
from lumen_bot.logs import configure_logging, request_context


@pytest.mark.parametrize(
    ("secret", "kept"),
    [
        ("jane.doe@example.com", "j***@e***"),
        ("+1 555 123 4567", "67"),
        ("(555) 123-4567", "67"),
        ("1Z999AA10123456784", "84"),
        ("9400111899223344556677", "77"),
    ],
)
def test_personal_data_is_masked(secret, kept):
    masked = redact(f"value {secret} end")
    assert secret not in masked
    assert kept in masked


@pytest.mark.parametrize("harmless", ["order 1042", "took 12.5 ms", "2026-11-28", "LUM-7K3P9Q"])
def test_ordinary_values_are_left_alone(harmless):
    assert redact(harmless) == harmless


def test_json_log_lines_carry_the_request_id_and_no_email(capsys):
    configure_logging("INFO", json_lines=True)
    with request_context("req-123"):
        logging.getLogger("lumen.test").info("lookup for %s", "jane.doe@example.com", extra={"n": 2})
    line = json.loads(capsys.readouterr().err.strip())
    assert line["request_id"] == "req-123"
    assert line["n"] == 2
    assert "jane.doe@example.com" not in line["message"]


def test_a_handled_dialogue_logs_no_personal_data(chat, capsys):
    configure_logging("INFO")
    chat("order 1042 jane.doe@example.com")
    chat("tracking link?")
    err = capsys.readouterr().err
    assert "message handled" in err
    for secret in ("jane.doe@example.com", "1Z999AA10123456784"):
        assert secret not in err
