"""Twilio SMS and WhatsApp over ``POST /webhooks/twilio``, signed exactly as Twilio signs."""

from __future__ import annotations

import hashlib
import json
import logging
import re
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from itertools import count

import pytest
from pydantic import SecretStr
from sqlalchemy import func, select
from twilio.request_validator import HMAC_SHA256, SIGNATURE_SETTINGS_HEADER, RequestValidator

from channels.app import create_app
from channels.sms_text import segment_count, to_gsm7
from lumen_bot.store.tables import MessageRow, OutboundRow, UpdateSubscriptionRow, VerificationFailureRow
from lumen_bot.store.tickets import list_tickets
from tests.conftest import PUBLIC_BASE_URL, TWILIO_SID, TWILIO_TOKEN, LiveServer, eventually

# The channel's protocol, on SQLite: several workers on PostgreSQL taking the same deliveries are tested
# in test_faults_two_processes.py, test_redelivery.py and test_concurrent_turns.py.
pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

TOKEN = TWILIO_TOKEN
SHARED_KEY = "twilio-test-shared-key"
SID = TWILIO_SID
PUBLIC = PUBLIC_BASE_URL
SHOP_NUMBER = "+15550001000"
SHOPPER = "+15557654321"
JANE = "jane.doe@example.com"


class Twilio:
    """Posts webhooks to the app as Twilio does: form-encoded, signed over the public URL."""

    def __init__(self, http, token: str = TOKEN) -> None:
        self.http = http
        self.validator = RequestValidator(token)
        self.sids = count(1)

    def params(self, body: str | None, sender: str = SHOPPER, **extra: str) -> dict[str, str]:
        to = "whatsapp:" + SHOP_NUMBER if sender.startswith("whatsapp:") else SHOP_NUMBER
        params = {"AccountSid": SID, "From": sender, "To": to, "NumMedia": "0", **extra}
        params.setdefault("MessageSid", f"SM{next(self.sids):032d}")
        if body is not None:
            params.update(Body=body, SmsStatus="received")
        return params

    def post(
        self, params: dict[str, str], *, signature: str | None = "sign", url: str = PUBLIC, headers=None
    ):
        headers = dict(headers or {})
        if signature == "sign":
            signature = self.validator.compute_signature(url + "/webhooks/twilio", params)
        if signature is not None:
            headers["X-Twilio-Signature"] = signature
        return self.http.post("/webhooks/twilio", data=params, headers=headers)

    def post_json(self, body: str, *, hashed: bytes | None = None):
        """A JSON body signed as Twilio signs one: its SHA-256 (of ``hashed``, to forge) in the signed URL."""
        digest = hashlib.sha256(body.encode() if hashed is None else hashed).hexdigest()
        path = f"/webhooks/twilio?bodySHA256={digest}"
        signature = self.validator.compute_signature(PUBLIC + path, {})
        headers = {"content-type": "application/json", "X-Twilio-Signature": signature}
        return self.http.post(path, content=body, headers=headers)

    def say(self, body: str, sender: str = SHOPPER, **extra: str) -> list[str]:
        response = self.post(self.params(body, sender, **extra))
        assert response.status_code == 200, response.text
        return messages(response)


def messages(response) -> list[str]:
    assert response.headers["content-type"].startswith("text/xml")
    return [message.text or "" for message in ET.fromstring(response.text).iter("Message")]


def count_rows(engine, table) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.count()).select_from(table)).scalar()


@pytest.fixture
def twilio(twilio_settings, orders, clock) -> Iterator[Twilio]:
    with LiveServer(create_app(twilio_settings, engine=orders, clock=clock)) as http:
        yield Twilio(http)


def test_the_seed_dialogue_works_over_sms(twilio):
    assert "order number" in twilio.say("Where's my order?")[0]
    assert "email" in twilio.say("1042")[0]
    [answer] = twilio.say(JANE)
    assert "shipped" in answer and "UPS" in answer and "1Z999AA10123456784" in answer


def test_sms_replies_are_gsm7_within_three_segments(twilio):
    [answer] = twilio.say(f"\u201cWhere\u2019s\u201d order 1042 \u2014 {JANE} \U0001f4e6")
    assert answer == to_gsm7(answer)
    assert segment_count(answer) <= 3


def test_the_seed_dialogue_works_over_twilio_whatsapp(twilio):
    wa = "whatsapp:" + SHOPPER
    twilio.say("Where's my order?", sender=wa)
    twilio.say("1042", sender=wa)
    [answer] = twilio.say(JANE, sender=wa)
    assert answer.startswith("*")  # WhatsApp bold lead
    assert "1Z999AA10123456784" in answer


def test_sms_and_whatsapp_of_one_number_are_separate_conversations(twilio):
    twilio.say(f"order 1042 {JANE}")
    assert "order number" in twilio.say("tracking link?", sender="whatsapp:" + SHOPPER)[0]


def test_a_missing_signature_is_refused_and_nothing_processed(twilio, orders):
    response = twilio.post(twilio.params("order 1042"), signature=None)
    assert response.status_code == 403
    assert count_rows(orders, MessageRow) == 0


def test_a_wrong_signature_is_refused(twilio, orders):
    response = twilio.post(twilio.params("order 1042"), signature="bm90IGEgc2lnbmF0dXJl")
    assert response.status_code == 403
    assert count_rows(orders, MessageRow) == 0


def test_a_tampered_body_is_refused(twilio, orders):
    params = twilio.params("order 1042")
    signature = twilio.validator.compute_signature(PUBLIC + "/webhooks/twilio", params)
    response = twilio.post({**params, "Body": "order 2001"}, signature=signature)
    assert response.status_code == 403
    assert count_rows(orders, MessageRow) == 0


def test_a_signature_over_another_url_is_refused(twilio):
    response = twilio.post(twilio.params("hi"), url="http://127.0.0.1:8000")
    assert response.status_code == 403


def test_a_signature_made_with_another_token_is_refused(twilio):
    twilio.validator = RequestValidator("someone-elses-token")
    assert twilio.post(twilio.params("hi")).status_code == 403


def test_the_rejection_is_logged_without_the_payload(twilio, caplog):
    with caplog.at_level(logging.WARNING):
        twilio.post(twilio.params(f"order 1042 {JANE}"), signature=None)
    assert "rejected" in caplog.text
    assert JANE not in caplog.text and SHOPPER not in caplog.text


def test_shared_key_hmac_sha256_signatures_are_accepted(twilio_settings, orders, clock):
    settings = twilio_settings.model_copy(update={"twilio_webhook_shared_key": SecretStr(SHARED_KEY)})
    with LiveServer(create_app(settings, engine=orders, clock=clock)) as http:
        twilio = Twilio(http, token=SHARED_KEY)
        params = twilio.params("hello")
        url = PUBLIC + "/webhooks/twilio"
        header = {SIGNATURE_SETTINGS_HEADER: "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
        signature = twilio.validator.compute_signature(url, params, HMAC_SHA256)
        assert twilio.post(params, signature=signature, headers=header).status_code == 200
        sha1_with_shared_key = twilio.validator.compute_signature(url, params)
        assert twilio.post(params, signature=sha1_with_shared_key, headers=header).status_code == 403


def test_a_shared_key_signature_without_a_configured_key_is_refused(twilio):
    params = twilio.params("hello")
    signature = RequestValidator(TOKEN).compute_signature(PUBLIC + "/webhooks/twilio", params, HMAC_SHA256)
    header = {SIGNATURE_SETTINGS_HEADER: "key=webhooks_sharedkey_1,algorithm=HMAC_SHA256"}
    assert twilio.post(params, signature=signature, headers=header).status_code == 403


def test_a_json_body_signed_with_body_sha256_is_accepted(twilio):
    body = json.dumps({"From": SHOPPER, "To": SHOP_NUMBER, "Body": "hello", "MessageSid": "SMjson1"})
    response = twilio.post_json(body)
    assert response.status_code == 200
    assert "order" in messages(response)[0]


def test_a_json_body_that_does_not_match_its_hash_is_refused(twilio):
    body = json.dumps({"From": SHOPPER, "To": SHOP_NUMBER, "Body": "hello"})
    response = twilio.post_json(body, hashed=b"something else")
    assert response.status_code == 403


def test_an_unsigned_json_body_is_refused_before_it_is_read(twilio):
    nested = "[" * 100_000 + "]" * 100_000
    response = twilio.http.post(
        "/webhooks/twilio?bodySHA256=00", content=nested, headers={"content-type": "application/json"}
    )

    assert response.status_code == 403


def test_a_signed_json_body_nested_too_deep_to_read_gets_400(twilio):
    fields = json.dumps({"From": SHOPPER, "To": SHOP_NUMBER, "Body": "hi"})
    body = fields[:-1] + ', "Deep": ' + "[" * 100_000 + "]" * 100_000 + "}"

    response = twilio.post_json(body)

    assert response.status_code == 400


def test_a_redelivery_is_answered_once_and_counts_once(twilio, orders):
    twilio.say("order 1042")
    params = twilio.params("wrong@example.com", MessageSid="SMretried")
    first = twilio.post(params)
    again = twilio.post(params)
    assert len(messages(first)) == 1
    assert messages(again) == []
    assert count_rows(orders, VerificationFailureRow) == 1
    assert count_rows(orders, MessageRow) == 2


def test_the_idempotency_token_dedupes_when_there_is_no_message_sid(twilio, orders):
    params = twilio.params("order 1042")
    del params["MessageSid"]
    headers = {"I-Twilio-Idempotency-Token": "retry-token-1"}
    twilio.post(params, headers=headers)
    twilio.post(params, headers=headers)
    assert count_rows(orders, MessageRow) == 1


@pytest.mark.parametrize(
    "word", ["STOP", "stop", "Unsubscribe", "CANCEL", "end", "QUIT", "STOPALL", "OPTOUT"]
)
def test_an_opt_out_keyword_sends_nothing(twilio, word):
    assert twilio.say(word) == []


def test_an_opted_out_number_gets_no_reply_until_it_opts_in(twilio):
    twilio.say("STOP")
    assert twilio.say("where is order 1042") == []
    assert twilio.say("START") == []
    assert "email" in twilio.say("where is order 1042")[0]


def test_yes_opts_back_in_only_a_number_that_opted_out(twilio):
    twilio.say("STOP")
    assert twilio.say("YES") == []
    assert "email" in twilio.say("where is order 1042")[0]


def test_yes_from_any_other_number_answers_the_offer_of_updates(twilio, orders):
    twilio.say("where is order 1042")
    [answer] = twilio.say(JANE)
    assert answer.endswith("Want me to message you here when it's out for delivery or delivered?")

    [confirmation] = twilio.say("YES")

    assert "reply STOP UPDATES" in confirmation
    assert count_rows(orders, UpdateSubscriptionRow) == 1


def test_cancel_my_order_is_a_request_not_an_opt_out(twilio):
    [reply] = twilio.say("cancel my order")
    assert "cancel your order" in reply


def test_an_sms_escalation_gives_the_reference_and_says_the_team_will_text_back(twilio, orders):
    [reply] = twilio.say("I want a refund")

    [ticket] = list_tickets(orders)
    assert ticket.reference in reply and "by text message" in reply
    assert (
        ticket.channel == "sms"
        and ticket.contact == ticket.contact.strip()
        and ticket.contact.startswith("+")
    )


def test_help_answers_with_the_shop_and_support_contact(twilio):
    [reply] = twilio.say("HELP")
    assert "Acme Outfitters" in reply and "help@acme.example" in reply


def test_a_picture_without_text_gets_a_polite_text_only_reply(twilio):
    [reply] = twilio.say("", NumMedia="1", MediaUrl0="https://api.twilio.com/media/1")
    assert "only read text" in reply


def test_a_picture_with_text_is_answered_from_the_text(twilio):
    [reply] = twilio.say("where is order 1042", NumMedia="1", MediaUrl0="https://api.twilio.com/media/1")
    assert "email" in reply


def test_a_status_callback_is_accepted_and_ignored(twilio, orders):
    params = twilio.params(None, MessageStatus="delivered")
    response = twilio.post(params)
    assert response.status_code == 200
    assert messages(response) == []
    assert count_rows(orders, MessageRow) == 0


@pytest.mark.parametrize(
    ("change", "status"),
    [({"From": ""}, 400), ({"NumMedia": "many"}, 400)],
)
def test_malformed_payloads_get_a_4xx(twilio, change, status):
    params = {**twilio.params("hi"), **change}
    assert twilio.post(params).status_code == status


def test_a_body_that_is_not_a_form_is_refused(twilio):
    response = twilio.http.post("/webhooks/twilio", content=b"<xml/>", headers={"content-type": "text/xml"})
    assert response.status_code == 415


def test_reply_text_is_escaped_in_twiml(twilio):
    [reply] = twilio.say("<b>hi</b> & hello")
    assert reply  # parsed as XML, so any markup in it was escaped


def test_without_a_token_the_route_is_not_served(settings, orders, clock):
    with LiveServer(create_app(settings, engine=orders, clock=clock)) as http:
        assert http.post("/webhooks/twilio", data={"From": SHOPPER}).status_code == 404


def test_the_insecure_development_flag_accepts_unsigned_requests_with_a_warning(
    settings, orders, clock, caplog
):
    insecure = settings.model_copy(update={"twilio_insecure_dev": True})
    with caplog.at_level(logging.WARNING):
        app = create_app(insecure, engine=orders, clock=clock)
    assert "NOT checked" in caplog.text
    with LiveServer(app) as http:
        response = Twilio(http).post(Twilio(http).params("hello"), signature=None)
    assert response.status_code == 200


def test_a_reply_not_ready_in_time_goes_out_through_the_rest_api(
    twilio_settings, orders, clock, provider_api
):
    provider_api.default = (201, {"sid": "SMrest1", "status": "queued"}, {})
    late = twilio_settings.model_copy(update={"twilio_inline_seconds": 0.0})
    with LiveServer(create_app(late, engine=orders, clock=clock)) as http:
        response = Twilio(http).post(Twilio(http).params("where is order 1042"))
        assert messages(response) == []
        [request] = provider_api.wait_for(1)
    assert request.path == f"/2010-04-01/Accounts/{SID}/Messages.json"
    sent = request.form()
    assert sent["To"] == SHOPPER and sent["From"] == SHOP_NUMBER
    assert "email" in sent["Body"]


def test_a_recipient_who_opted_out_at_twilio_is_dropped_quietly(twilio_settings, orders, clock, provider_api):
    provider_api.default = (400, {"code": 21610, "message": "Attempt to send to unsubscribed recipient"}, {})
    late = twilio_settings.model_copy(update={"twilio_inline_seconds": 0.0})
    with LiveServer(create_app(late, engine=orders, clock=clock)) as http:
        Twilio(http).post(Twilio(http).params("hello"))
        provider_api.wait_for(1)
        eventually(lambda: outbound_status(orders) == "dropped")


def outbound_status(engine) -> str | None:
    with engine.connect() as connection:
        return connection.execute(select(OutboundRow.status)).scalar()


def test_twiml_for_nothing_to_say_is_an_empty_response(twilio):
    response = twilio.post(twilio.params("STOP"))
    assert re.search(r"<Response\s*/>", response.text)


def test_non_ascii_text_is_signed_and_read_like_any_other(twilio):
    [reply] = twilio.say("Where is my order 1042? Merci beaucoup, Zo\u00eb")
    assert "email" in reply


def test_a_message_that_cannot_be_stored_is_refused_so_twilio_can_deliver_it_again(
    twilio_settings, unreachable, clock
):
    with LiveServer(create_app(twilio_settings, engine=unreachable, clock=clock)) as http:
        response = Twilio(http).post(Twilio(http).params("where is order 1042"))
    assert response.status_code == 503
    assert response.headers["Retry-After"] == "5"
    assert "could not be stored" in response.json()["detail"]


def test_an_opt_out_that_cannot_be_stored_is_refused_rather_than_forgotten(
    twilio_settings, unreachable, clock
):
    with LiveServer(create_app(twilio_settings, engine=unreachable, clock=clock)) as http:
        response = Twilio(http).post(Twilio(http).params("STOP"))
    assert response.status_code == 503
    assert "could not be stored" in response.json()["detail"]
