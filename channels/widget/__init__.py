"""The storefront chat widget (``GET /widget.js``) and the demo storefront page (``GET /``)."""

from __future__ import annotations

import html
import json
import secrets
from importlib import resources

from fastapi import APIRouter, Response

from lumen_bot.settings import Settings

QUICK_PROMPTS = ("Where's my order?", "Track a package", "Talk to a person")
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


def widget_script(settings: Settings) -> str:
    """widget.js with the shop's settings in it. JSON with <, > and & escaped is a safe JS literal."""
    config = {
        "shopName": settings.shop_name,
        "welcome": f"Hi! I'm the assistant of {settings.shop_name}. I can tell you where your order is "
        "and share tracking details.",
        "quickPrompts": list(QUICK_PROMPTS),
        "maxLength": settings.max_text_length,
    }
    literal = json.dumps(config).replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return _asset("widget.js").replace("__LUMEN_CONFIG__", literal, 1)


def router(settings: Settings) -> APIRouter:
    script = widget_script(settings)
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
