"""The storefront chat widget (``GET /widget.js``) and the demo storefront page (``GET /``)."""

from __future__ import annotations

import html
import json
import secrets
from collections.abc import Mapping
from importlib import resources

from fastapi import APIRouter, Response

from lumen_bot.domain.speech import N_, Speech
from lumen_bot.settings import Settings

QUICK_PROMPTS = (N_("Where's my order?"), N_("Track a package"), N_("Talk to a person"))
# What the widget says itself, before and around the conversation ({title} is filled in by the widget).
_LABELS = {
    "launcher": N_("Chat with us"),
    "open": N_("Open chat"),
    "dialog": N_("Chat with {title}"),
    "close": N_("Close chat"),
    "log": N_("Conversation"),
    "suggestions": N_("Suggestions"),
    "message": N_("Message"),
    "placeholder": N_("Type your message"),
    "send": N_("Send"),
    "retry": N_("Retry"),
    "typing": N_("{title} is typing…"),
    "you": N_("You"),
    "notAnswering": N_("The chat is not answering right now."),
    "offline": N_("Can't reach the chat right now. Check your connection."),
    "slowDown": N_("Too many messages in a short time. Please wait {seconds} seconds and try again."),
}
# What the widget fills in itself, kept as placeholders in its texts.
_WIDGET_VALUES = {"title": "{title}", "seconds": "{seconds}"}
# The page's own resources only; the inline style carries this response's nonce.
_PAGE_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self' 'nonce-{nonce}'; connect-src 'self'; "
    "img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
)
_SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "X-Frame-Options": "DENY",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def _asset(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def widget_texts(say: Speech, shop_name: str) -> dict[str, object]:
    """Everything the widget says in one language: its welcome, quick prompts and labels."""
    welcome = say(
        "Hi! I'm the assistant of {shop}. I can tell you where your order is and share tracking details.",
        shop=shop_name,
    )
    labels = {key: say(label, **_WIDGET_VALUES) for key, label in _LABELS.items()}
    return {"welcome": welcome, "quickPrompts": [say(prompt) for prompt in QUICK_PROMPTS], **labels}


def widget_script(settings: Settings, voices: Mapping[str, Speech]) -> str:
    """widget.js with the shop's settings in it, in every enabled language (the widget picks the
    browser's). JSON with <, > and & escaped is a safe JS literal."""
    config = {
        "shopName": settings.shop_name,
        "languages": {code: widget_texts(say, settings.shop_name) for code, say in voices.items()},
        "defaultLanguage": settings.default_language,
        "maxLength": settings.max_text_length,
    }
    literal = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _asset("widget.js").replace("__LUMEN_CONFIG__", literal, 1)


def router(settings: Settings, voices: Mapping[str, Speech]) -> APIRouter:
    script = widget_script(settings, voices)
    page = _asset("storefront.html").replace("{shop_name}", html.escape(settings.shop_name))
    routes = APIRouter()

    @routes.api_route("/widget.js", methods=["GET", "HEAD"], include_in_schema=False)
    async def widget() -> Response:
        headers = {"Cache-Control": "public, max-age=300", "X-Content-Type-Options": "nosniff"}
        return Response(script, media_type="text/javascript; charset=utf-8", headers=headers)

    @routes.api_route("/", methods=["GET", "HEAD"], include_in_schema=False)
    async def storefront() -> Response:
        nonce = secrets.token_urlsafe(16)
        headers = {**_SECURITY_HEADERS, "Content-Security-Policy": _PAGE_CSP.format(nonce=nonce)}
        return Response(
            page.replace("{nonce}", nonce), media_type="text/html; charset=utf-8", headers=headers
        )

    return routes
