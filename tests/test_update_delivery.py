"""One update on each channel, by that channel's rules: SMS within 3 GSM-7 segments, WhatsApp free text in
the 24-hour window and an approved template outside it (or skipped), email in the shopper's thread with
one-click unsubscribe. The renderers are pure; the template senders talk to loopback stand-ins of the
providers' APIs, and the email goes through a real SMTP server."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import date
from email import policy
from email.parser import Parser
from typing import Any

import pytest
from pydantic import SecretStr

from channels import twilio, whatsapp_cloud
from channels.app import build_senders
from channels.email.outbound import SmtpSender
from channels.sms_text import is_gsm7, segment_count
from channels.update_delivery import (
    NO_SHOP_NUMBER,
    OUTSIDE_WINDOW,
    TEMPLATE_TEXT_LIMIT,
    CloudWhatsAppUpdates,
    EmailUpdates,
    SmsUpdates,
    TwilioWhatsAppUpdates,
    build_update_renderers,
    template_text,
)
from lumen_bot.domain.messages import Part, Reply, ReplyKind
from lumen_bot.domain.orders import Order, OrderStatus, Shipment
from lumen_bot.domain.update_messages import update_reply
from lumen_bot.domain.updates import Milestone, Reached
from lumen_bot.ports import Outgoing, SendFailed, UpdateNote
from lumen_bot.settings import load_settings
from tests.conftest import ENGLISH, VOICES, ProviderApi, SmtpServer

SHOP_NUMBER = "+14155550100"
SHOPPER = "+14155550123"
PHONE_NUMBER_ID = "106540352242922"
SHOP_EMAIL = "orders@acme.example"
PUBLIC = "https://lumen.acme.example"
TOKEN = "Qx3v9-kLr_7bTzYwF2mNpA8sEoU1cHdJ4gViXyZ0aBk"
CONTENT_SID = "HX" + "0123456789abcdef" * 2
THREAD = "<CAF=shopper-last-mail@mail.example>"
TODAY = date(2026, 12, 1)
ORDER = Order(
    number="1042",
    email="jane@example.com",
    status=OrderStatus.OUT_FOR_DELIVERY,
    shipments=(
        Shipment(
            status=OrderStatus.OUT_FOR_DELIVERY,
            carrier="UPS",
            tracking_number="1Z999AA10123456784",
            tracking_url="https://www.ups.com/track?tracknum=1Z999AA10123456784",
            estimated_delivery=TODAY,
        ),
    ),
)
OUT_FOR_DELIVERY = update_reply(
    ENGLISH, ORDER, Reached("1Z999AA10123456784", Milestone.OUT_FOR_DELIVERY), TODAY
)


def note(channel: str, **changes: Any) -> UpdateNote:
    address = {"sms": SHOPPER, "whatsapp": SHOPPER, "email": "jane@example.com"}[channel]
    shop = {"sms": SHOP_NUMBER, "whatsapp": f"whatsapp:{SHOP_NUMBER}", "email": None}[channel]
    base = UpdateNote(
        subscription_id=7,
        channel=channel,
        address=address,
        shop_address=shop,
        language="en",
        reply=OUT_FOR_DELIVERY,
        milestone=Milestone.OUT_FOR_DELIVERY.value,
        order_number="1042",
        in_session_window=True,
        thread_message_id=None,
        unsubscribe_token=TOKEN,
    )
    return replace(base, **changes)


def rendered(result: Outgoing | str) -> Outgoing:
    assert isinstance(result, Outgoing), f"skipped: {result}"
    return result


def long_reply(line: str, count: int) -> Reply:
    return Reply(ReplyKind.ORDER_UPDATE, tuple(Part(f"{line} {n}.") for n in range(count)))


# --- SMS -------------------------------------------------------------------------------------------------


def test_an_sms_update_goes_from_the_number_the_shopper_wrote_to() -> None:
    sms = rendered(SmsUpdates().render(note("sms")))
    assert (sms.via, sms.sender, sms.recipient) == (twilio.VIA, SHOP_NUMBER, SHOPPER)
    assert "1042" in sms.body and "out for delivery" in sms.body
    assert "1Z999AA10123456784" in sms.body


def test_an_sms_update_is_gsm7_within_three_segments_and_keeps_its_facts() -> None:
    wordy = Reply(
        ReplyKind.ORDER_UPDATE,
        (
            Part("Ihre Bestellung #1042 ist unterwegs — Zustellung heute 🚚", "Bestellung #1042: unterwegs."),
            *(Part("Sehr viele zusätzliche Wörter über die Sendung und ihre Reise. " * 3, optional=True),)
            * 4,
        ),
    )
    sms = rendered(SmsUpdates().render(note("sms", reply=wordy, language="de")))
    assert is_gsm7(sms.body) and segment_count(sms.body) <= 3
    assert "#1042" in sms.body


def test_an_sms_update_without_a_shop_number_is_skipped_with_why() -> None:
    assert SmsUpdates().render(note("sms", shop_address=None)) == NO_SHOP_NUMBER


# --- WhatsApp Cloud API ------------------------------------------------------------------------------------


def test_inside_the_window_a_cloud_update_is_free_text_from_the_business_number() -> None:
    cloud = CloudWhatsAppUpdates("order_update")
    message = rendered(cloud.render(note("whatsapp", shop_address=PHONE_NUMBER_ID)))
    assert (message.via, message.sender) == (whatsapp_cloud.VIA, PHONE_NUMBER_ID)
    assert message.recipient == SHOPPER.removeprefix("+")  # the Graph API's WhatsApp ids are digits
    assert message.body.startswith("Order #1042 is out for delivery.")


def test_outside_the_window_a_cloud_update_is_the_approved_template_with_the_update_as_its_variables() -> (
    None
):
    cloud = CloudWhatsAppUpdates("order_update", "es")
    message = rendered(
        cloud.render(note("whatsapp", shop_address=PHONE_NUMBER_ID, in_session_window=False, language="es"))
    )
    assert (message.via, message.sender, message.recipient) == (
        whatsapp_cloud.TEMPLATE_VIA,
        PHONE_NUMBER_ID,
        "14155550123",
    )
    template = json.loads(message.body)
    assert template["name"] == "order_update"
    assert template["language"] == {"code": "es"}
    [body] = template["components"]
    assert body["type"] == "body"
    number, text = body["parameters"]
    assert number == {"type": "text", "text": "1042"}
    assert text["type"] == "text"
    assert text["text"] == template_text(OUT_FOR_DELIVERY)


def test_without_a_template_language_the_template_is_asked_for_in_the_updates_language() -> None:
    cloud = CloudWhatsAppUpdates("order_update", None)
    message = rendered(
        cloud.render(note("whatsapp", shop_address=PHONE_NUMBER_ID, in_session_window=False, language="pt"))
    )
    assert json.loads(message.body)["language"] == {"code": "pt_BR"}  # WhatsApp has no plain "pt"


def test_outside_the_window_without_a_template_a_cloud_update_is_skipped_with_why() -> None:
    cloud = CloudWhatsAppUpdates(None)
    skipped = cloud.render(note("whatsapp", shop_address=PHONE_NUMBER_ID, in_session_window=False))
    assert skipped == OUTSIDE_WINDOW == "outside the 24-hour window and no template"


def test_a_template_variable_is_one_line_as_whatsapp_requires_and_within_its_limit() -> None:
    text = template_text(OUT_FOR_DELIVERY)
    assert "\n" not in text and "\t" not in text and "     " not in text
    assert text.startswith("Order #1042 is out for delivery.")
    assert "UPS" in text and "1Z999AA10123456784" in text
    long = template_text(long_reply("A long line about the parcel 📦 and its journey across the country", 40))
    assert "\n" not in long
    assert len(long.encode("utf-16-le")) // 2 <= TEMPLATE_TEXT_LIMIT


def test_lines_without_a_closing_mark_are_kept_apart_in_the_one_line() -> None:
    reply = Reply(ReplyKind.ORDER_UPDATE, (Part("Carrier: UPS"), Part("Tracking: 1Z999")))
    assert template_text(reply) == "Carrier: UPS · Tracking: 1Z999"


# --- WhatsApp through Twilio -----------------------------------------------------------------------------


def test_inside_the_window_a_twilio_whatsapp_update_is_free_text_between_whatsapp_addresses() -> None:
    message = rendered(TwilioWhatsAppUpdates(CONTENT_SID).render(note("whatsapp")))
    assert (message.via, message.sender, message.recipient) == (
        twilio.VIA,
        f"whatsapp:{SHOP_NUMBER}",
        f"whatsapp:{SHOPPER}",
    )
    assert "Order #1042 is out for delivery." in message.body


def test_outside_the_window_a_twilio_whatsapp_update_is_the_content_template() -> None:
    message = rendered(TwilioWhatsAppUpdates(CONTENT_SID).render(note("whatsapp", in_session_window=False)))
    assert message.via == twilio.CONTENT_VIA
    assert json.loads(message.body) == {
        "content_sid": CONTENT_SID,
        "content_variables": {"1": "1042", "2": template_text(OUT_FOR_DELIVERY)},
    }


def test_outside_the_window_without_a_content_sid_a_twilio_whatsapp_update_is_skipped() -> None:
    assert TwilioWhatsAppUpdates(None).render(note("whatsapp", in_session_window=False)) == OUTSIDE_WINDOW


def test_a_whatsapp_update_goes_through_the_provider_the_shopper_wrote_to() -> None:
    settings = load_settings(
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=SecretStr("token"),
        whatsapp_access_token=SecretStr("graph-token"),
        whatsapp_phone_number_id=PHONE_NUMBER_ID,
    )
    whatsapp = build_update_renderers(settings)["whatsapp"]
    assert rendered(whatsapp.render(note("whatsapp"))).via == twilio.VIA
    assert rendered(whatsapp.render(note("whatsapp", shop_address="998877"))).via == whatsapp_cloud.VIA
    default = rendered(whatsapp.render(note("whatsapp", shop_address=None)))
    assert (default.via, default.sender) == (whatsapp_cloud.VIA, PHONE_NUMBER_ID)


# --- Email -----------------------------------------------------------------------------------------------


def email_updates(**changes: Any) -> EmailUpdates:
    values: dict[str, Any] = {
        "from_address": SHOP_EMAIL,
        "shop_name": "Acme Outfitters",
        "public_url": PUBLIC + "/",
        "voices": VOICES,
    }
    return EmailUpdates(**{**values, **changes})


def parsed(message: Outgoing) -> Any:
    return Parser(policy=policy.SMTP).parsestr(message.body)


def test_an_email_update_is_a_reply_in_the_shoppers_thread() -> None:
    message = rendered(email_updates().render(note("email", thread_message_id=THREAD)))
    assert (message.via, message.sender, message.recipient) == ("smtp", SHOP_EMAIL, "jane@example.com")
    email = parsed(message)
    assert email["In-Reply-To"] == THREAD
    assert email["References"] == THREAD
    assert email["Subject"] == "Order #1042 is out for delivery."
    assert email["From"].addresses[0].addr_spec == SHOP_EMAIL
    assert email["To"].addresses[0].addr_spec == "jane@example.com"


def test_an_email_update_is_marked_automatic_with_a_one_click_unsubscribe() -> None:
    email = parsed(rendered(email_updates().render(note("email"))))
    assert email["Auto-Submitted"] == "auto-generated"
    assert email["List-Unsubscribe"] == f"<{PUBLIC}/updates/unsubscribe/{TOKEN}>"
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert email["In-Reply-To"] is None and email["References"] is None  # no thread known


def test_the_unsubscribe_header_stays_a_readable_link_however_long() -> None:
    long_base = "https://updates.a-very-long-subdomain-of-the-shop.acme-outfitters.example/lumen"
    message = rendered(email_updates(public_url=long_base).render(note("email")))
    [line] = [line for line in message.body.splitlines() if line.startswith("List-Unsubscribe:")]
    assert line == f"List-Unsubscribe: <{long_base}/updates/unsubscribe/{TOKEN}>"


def test_an_email_update_says_the_update_and_how_to_stop_in_both_parts() -> None:
    email = parsed(rendered(email_updates().render(note("email"))))
    plain = email.get_body(("plain",)).get_content()
    html = email.get_body(("html",)).get_content()
    link = f"{PUBLIC}/updates/unsubscribe/{TOKEN}"
    for body in (plain, html):
        assert "Order #1042 is out for delivery." in body
        assert "1Z999AA10123456784" in body
        assert link in body


class Marked:
    """A voice that shows which language said each sentence."""

    language = "es"

    def __call__(self, message: str, /, **values: object) -> str:
        return "[es] " + message.format(**values)


def test_an_email_update_is_said_in_the_updates_language() -> None:
    updates = email_updates(voices={"es": Marked()})
    email = parsed(rendered(updates.render(note("email", language="es"))))
    assert "[es] To stop these updates, open https://" in email.get_body(("plain",)).get_content()


def test_an_email_update_without_a_public_url_or_mail_settings_is_skipped_with_why() -> None:
    assert "LUMEN_PUBLIC_URL" in email_updates(public_url=None).render(note("email"))
    assert "LUMEN_EMAIL_FROM" in email_updates(from_address=None).render(note("email"))
    assert "address" in email_updates().render(note("email", address="not an address"))


def test_an_email_update_goes_out_as_composed_through_smtp(smtp_server: SmtpServer) -> None:
    message = rendered(email_updates().render(note("email", thread_message_id=THREAD)))
    sender = SmtpSender(
        smtp_server.host, smtp_server.port, username=None, password=None, starttls=False, use_tls=False
    )
    message_id = asyncio.run(sender.send(message.sender, message.recipient, message.body))
    [received] = smtp_server.received
    assert received.rcpt_tos == ("jane@example.com",)
    assert received.message["Message-ID"] == message_id
    assert received.message["In-Reply-To"] == THREAD
    assert received.message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert received.message["Auto-Submitted"] == "auto-generated"


# --- What is configured ----------------------------------------------------------------------------------


def test_there_is_a_renderer_for_every_channel_and_each_says_what_is_missing() -> None:
    renderers = build_update_renderers(load_settings())
    assert set(renderers) == {"sms", "whatsapp", "email"}
    assert "LUMEN_TWILIO_ACCOUNT_SID" in renderers["sms"].render(note("sms"))
    assert "LUMEN_TWILIO_ACCOUNT_SID" in renderers["whatsapp"].render(note("whatsapp"))
    assert "LUMEN_WHATSAPP_ACCESS_TOKEN" in renderers["whatsapp"].render(note("whatsapp", shop_address="42"))
    assert "LUMEN_SMTP_HOST" in renderers["email"].render(note("email"))


def test_the_settings_choose_the_templates_and_the_link_base() -> None:
    settings = load_settings(
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=SecretStr("token"),
        twilio_update_content_sid=CONTENT_SID,
        whatsapp_access_token=SecretStr("graph-token"),
        whatsapp_update_template="order_update",
        whatsapp_update_template_language="pt_BR",
        smtp_host="127.0.0.1",
        email_from=SHOP_EMAIL,
        public_base_url=PUBLIC,
    )
    renderers = build_update_renderers(settings, VOICES)
    outside = {"in_session_window": False}
    cloud = rendered(renderers["whatsapp"].render(note("whatsapp", shop_address="42", **outside)))
    assert json.loads(cloud.body)["name"] == "order_update"
    assert json.loads(cloud.body)["language"] == {"code": "pt_BR"}
    twilio_template = rendered(renderers["whatsapp"].render(note("whatsapp", **outside)))
    assert json.loads(twilio_template.body)["content_sid"] == CONTENT_SID
    email = parsed(rendered(renderers["email"].render(note("email"))))
    assert email["List-Unsubscribe"] == f"<{PUBLIC}/updates/unsubscribe/{TOKEN}>"


# --- The template senders, against the providers' APIs on loopback ------------------------------------------


def test_the_graph_template_sender_posts_metas_documented_template_message(provider_api: ProviderApi) -> None:
    provider_api.default = (200, {"messaging_product": "whatsapp", "messages": [{"id": "wamid.T1"}]}, {})
    sender = whatsapp_cloud.GraphTemplateSender(f"{provider_api.url}/v21.0", "graph-token")
    body = whatsapp_cloud.template_body("order_update", "en_US", ["1042", "Out for delivery today."])

    async def send() -> str | None:
        try:
            return await sender.send(PHONE_NUMBER_ID, "14155550123", body)
        finally:
            await sender.aclose()

    assert asyncio.run(send()) == "wamid.T1"
    [request] = provider_api.requests
    assert request.path == f"/v21.0/{PHONE_NUMBER_ID}/messages"
    assert request.headers["authorization"] == "Bearer graph-token"
    assert request.json() == {
        "messaging_product": "whatsapp",
        "recipient_type": "individual",
        "to": "14155550123",
        "type": "template",
        "template": {
            "name": "order_update",
            "language": {"code": "en_US"},
            "components": [
                {
                    "type": "body",
                    "parameters": [
                        {"type": "text", "text": "1042"},
                        {"type": "text", "text": "Out for delivery today."},
                    ],
                }
            ],
        },
    }


def test_the_graph_text_sender_still_sends_text(provider_api: ProviderApi) -> None:
    provider_api.default = (200, {"messages": [{"id": "wamid.X"}]}, {})
    sender = whatsapp_cloud.GraphSender(provider_api.url, "graph-token")

    async def send() -> str | None:
        try:
            return await sender.send(PHONE_NUMBER_ID, "14155550123", "hello *there*")
        finally:
            await sender.aclose()

    assert asyncio.run(send()) == "wamid.X"
    sent = provider_api.requests[0].json()
    assert sent["type"] == "text" and sent["text"] == {"body": "hello *there*", "preview_url": False}


def test_the_twilio_content_sender_posts_content_sid_and_variables(provider_api: ProviderApi) -> None:
    provider_api.default = (201, {"sid": "MMcontent1", "status": "queued"}, {})
    sid = "AC" + "1" * 32
    sender = twilio.TwilioContentSender(sid, "token", provider_api.url)
    body = twilio.content_body(CONTENT_SID, {"1": "1042", "2": "Zugestellt heute."})

    async def send() -> str | None:
        try:
            return await sender.send(f"whatsapp:{SHOP_NUMBER}", f"whatsapp:{SHOPPER}", body)
        finally:
            await sender.aclose()

    assert asyncio.run(send()) == "MMcontent1"
    [request] = provider_api.requests
    assert request.path == f"/2010-04-01/Accounts/{sid}/Messages.json"
    form = request.form()
    assert form["From"] == f"whatsapp:{SHOP_NUMBER}" and form["To"] == f"whatsapp:{SHOPPER}"
    assert form["ContentSid"] == CONTENT_SID
    assert json.loads(form["ContentVariables"]) == {"1": "1042", "2": "Zugestellt heute."}
    assert "Body" not in form


@pytest.mark.parametrize(
    "body", ["not json", "[]", '{"content_sid": "HX1"}', '{"content_sid": 1, "content_variables": {}}']
)
def test_a_stored_content_template_that_cannot_be_read_fails_for_good(
    provider_api: ProviderApi, body: str
) -> None:
    sender = twilio.TwilioContentSender("AC" + "1" * 32, "token", provider_api.url)
    with pytest.raises(SendFailed) as failure:
        asyncio.run(sender.send(SHOP_NUMBER, SHOPPER, body))
    assert failure.value.permanent
    assert provider_api.requests == []


@pytest.mark.parametrize("body", ["not json", "[]", '{"language": {"code": "en"}}'])
def test_a_stored_message_template_that_cannot_be_read_fails_for_good(
    provider_api: ProviderApi, body: str
) -> None:
    sender = whatsapp_cloud.GraphTemplateSender(provider_api.url, "graph-token")

    async def send() -> None:
        try:
            await sender.send(PHONE_NUMBER_ID, "14155550123", body)
        finally:
            await sender.aclose()

    with pytest.raises(SendFailed) as failure:
        asyncio.run(send())
    assert failure.value.permanent
    assert provider_api.requests == []


def test_a_template_meta_refuses_is_not_retried(provider_api: ProviderApi) -> None:
    refusal = {
        "error": {"message": "(#132001) Template name does not exist in the translation", "code": 132001}
    }
    provider_api.default = (404, refusal, {})
    sender = whatsapp_cloud.GraphTemplateSender(provider_api.url, "graph-token")

    async def send() -> None:
        try:
            await sender.send(
                PHONE_NUMBER_ID, "14155550123", whatsapp_cloud.template_body("nope", "en", ["1"])
            )
        finally:
            await sender.aclose()

    with pytest.raises(SendFailed) as failure:
        asyncio.run(send())
    assert failure.value.permanent and "132001" in str(failure.value)


def test_the_outbox_has_a_template_sender_beside_each_whatsapp_providers_text_sender() -> None:
    settings = load_settings(
        twilio_account_sid="AC" + "0" * 32,
        twilio_auth_token=SecretStr("token"),
        whatsapp_access_token=SecretStr("graph-token"),
    )
    senders = build_senders(settings)
    assert isinstance(senders[twilio.CONTENT_VIA], twilio.TwilioContentSender)
    assert isinstance(senders[whatsapp_cloud.TEMPLATE_VIA], whatsapp_cloud.GraphTemplateSender)
    assert type(senders[twilio.VIA]) is twilio.TwilioRestSender
    assert type(senders[whatsapp_cloud.VIA]) is whatsapp_cloud.GraphSender

    async def close() -> None:
        for sender in senders.values():
            await sender.aclose()

    asyncio.run(close())
