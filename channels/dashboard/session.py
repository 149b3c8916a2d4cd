"""The dashboard's login: the admin token exchanged for a signed, expiring session cookie, and the CSRF
secret every form of the session carries.

The cookie holds only a random CSRF secret, signed (itsdangerous) with a key derived from the admin token:
nothing in it is secret from its holder, nothing in it can be forged, and a new token ends every session.
The login form has its own short-lived signed cookie, so it is protected against CSRF before there is a
session (a forged login would sign the owner in as whoever sent it).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from itsdangerous import BadSignature, URLSafeTimedSerializer

SESSION_COOKIE = "lumen_admin"
LOGIN_COOKIE = "lumen_admin_login"
SESSION_SECONDS = 12 * 3600
LOGIN_FORM_SECONDS = 30 * 60
COOKIE_PATH = "/admin"


class Sessions:
    def __init__(self, admin_token: str) -> None:
        # Digests have one length whatever was sent, so the comparison takes the same time for any guess.
        self._expected = hashlib.sha256(admin_token.encode()).digest()
        key = hmac.new(admin_token.encode(), b"lumen dashboard session", hashlib.sha256).hexdigest()
        self._sessions = URLSafeTimedSerializer(key, salt="lumen-admin-session")
        self._login_forms = URLSafeTimedSerializer(key, salt="lumen-admin-login")

    def token_matches(self, offered: str) -> bool:
        return hmac.compare_digest(hashlib.sha256(offered.strip().encode()).digest(), self._expected)

    def new_session(self) -> tuple[str, str]:
        """A session cookie's value and the CSRF secret it holds."""
        csrf = secrets.token_urlsafe(24)
        return self._sessions.dumps(csrf), csrf

    def session_csrf(self, cookie: str | None, max_age: int = SESSION_SECONDS) -> str | None:
        """The CSRF secret of a valid, unexpired session cookie; ``None`` otherwise."""
        return _read(self._sessions, cookie, max_age)

    def new_login_form(self) -> tuple[str, str]:
        """The login form's cookie value and the CSRF secret its form carries."""
        csrf = secrets.token_urlsafe(24)
        return self._login_forms.dumps(csrf), csrf

    def login_form_csrf(self, cookie: str | None, max_age: int = LOGIN_FORM_SECONDS) -> str | None:
        return _read(self._login_forms, cookie, max_age)


def _read(serializer: URLSafeTimedSerializer, cookie: str | None, max_age: int) -> str | None:
    if not cookie or len(cookie) > 512:
        return None
    try:
        value = serializer.loads(cookie, max_age=max_age)
    except BadSignature:  # SignatureExpired is one
        return None
    return value if isinstance(value, str) else None


def same_secret(expected: str | None, offered: str | None) -> bool:
    """Whether a form's CSRF field matches its session's secret (both present)."""
    return bool(expected and offered) and hmac.compare_digest(str(expected), str(offered))
