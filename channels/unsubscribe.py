"""The unsubscribe link of email updates: ``GET|POST /updates/unsubscribe/{token}``, no login needed.

``GET`` shows a small page with one button and changes nothing: mail scanners and link previews open
links, and must not unsubscribe anyone. ``POST`` stops the subscription whose secret ``token`` is in the
path: the button's form, and a mail client's one-click unsubscribe (RFC 8058), which posts
``List-Unsubscribe=One-Click`` as ``multipart/form-data`` or form-encoded. The token is the proof, so the
body is not read. Stopping is idempotent: 200 however often; 404 for a token no subscription has.
"""

from __future__ import annotations

import html
import logging
import re

from fastapi import APIRouter, Response

from lumen_bot.domain.clock import Clock
from lumen_bot.domain.speech import N_, Speech
from lumen_bot.ports import StoreUnavailable, UpdateStore

log = logging.getLogger(__name__)

PATH = "/updates/unsubscribe/{token}"
# The tokens Lumen writes are URL-safe and at most 64 characters (the column's size): anything else is
# answered without asking the database.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
_RETRY_AFTER_SECONDS = 30

_TITLE = N_("Shipping updates")
_ASK = N_("Stop the shipping updates for this order? You can still ask us about your order at any time.")
_BUTTON = N_("Stop updates")
_DONE = N_("Done: you will get no more shipping updates for this order.")
_UNKNOWN = N_("This link is not valid. Please check that it was copied completely.")
_UNAVAILABLE = N_("This can't be done right now. Please try again in a few minutes.")

# The page's own inline style only; its form posts back to itself.
_CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; base-uri 'none'; "
    "frame-ancestors 'none'"
)
_HEADERS = {
    "Content-Security-Policy": _CSP,
    "Cache-Control": "no-store",
    # The token is in the URL: it must not leak to another site, nor be indexed.
    "Referrer-Policy": "no-referrer",
    "X-Robots-Tag": "noindex, nofollow",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
}
_STYLE = (
    "body{margin:0;padding:48px 16px;background:#f4f5f7;font-family:-apple-system,'Segoe UI',Roboto,"
    "Helvetica,Arial,sans-serif;color:#1f2328}main{max-width:480px;margin:0 auto;padding:24px;"
    "background:#fff;border:1px solid #e1e4e8;border-radius:6px;line-height:1.5}h1{font-size:20px;"
    "margin:0 0 12px}button{font:inherit;padding:8px 16px;border:0;border-radius:6px;background:#0b57d0;"
    "color:#fff;cursor:pointer}"
)


def router(updates: UpdateStore, say: Speech, clock: Clock) -> APIRouter:
    """The unsubscribe routes; the page speaks ``say``'s language (the shop's)."""
    api = APIRouter()

    @api.get(PATH, include_in_schema=False)
    async def confirm(token: str) -> Response:
        if not _TOKEN.fullmatch(token):
            return _page(say, say(_UNKNOWN), status=404)
        form = (
            '<form method="post">'
            '<input type="hidden" name="List-Unsubscribe" value="One-Click">'
            f'<button type="submit">{html.escape(say(_BUTTON))}</button></form>'
        )
        return _page(say, say(_ASK), form=form)

    @api.post(PATH, include_in_schema=False)
    async def stop(token: str) -> Response:
        if not _TOKEN.fullmatch(token):
            return _page(say, say(_UNKNOWN), status=404)
        try:
            known = await updates.stop_by_token(token, clock())
        except StoreUnavailable:
            log.warning("unsubscribe not recorded: the store is unavailable")
            # Not 200: a mail client retries the one-click POST, a shopper the button.
            return _page(say, say(_UNAVAILABLE), status=503, retry_after=_RETRY_AFTER_SECONDS)
        if not known:
            log.info("unsubscribe with an unknown token")
            return _page(say, say(_UNKNOWN), status=404)
        log.info("updates stopped through the unsubscribe link")
        return _page(say, say(_DONE))

    return api


def _page(
    say: Speech, text: str, *, form: str = "", status: int = 200, retry_after: int | None = None
) -> Response:
    language = html.escape(say.language)
    title = html.escape(say(_TITLE))
    body = (
        "<!DOCTYPE html>\n"
        f'<html lang="{language}">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="robots" content="noindex, nofollow">\n'
        f"<title>{title}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n<h1>{title}</h1>\n<p>{html.escape(text)}</p>\n{form}\n</main>\n</body>\n</html>\n"
    )
    headers = dict(_HEADERS)
    if retry_after is not None:
        headers["Retry-After"] = str(retry_after)
    return Response(body, status_code=status, media_type="text/html; charset=utf-8", headers=headers)
