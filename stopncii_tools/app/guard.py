"""Who may use the page: this computer's browser holding the one-time token, and nobody else.

- The server listens on 127.0.0.1 only, and answers only requests whose ``Host`` is that
  address and port (a web page elsewhere cannot reach it through DNS rebinding).
- The URL the browser opens carries a secret token; the first request with it gets a
  session cookie (HttpOnly, SameSite=Strict) and the token is used up.
- Every form carries a CSRF code tied to the session; a POST without it is refused, and so is
  one a browser marks as sent from another site.
- Every answer forbids caching, framing, third-party content and inline scripts.
"""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import urlencode

from starlette.datastructures import URL
from starlette.requests import Request
from starlette.responses import PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
                           "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; "
                           "object-src 'none'")
# the written case report has its own inline styles and no script at all
REPORT_POLICY = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'"
SECURITY_HEADERS = {
    "Cache-Control": "no-store",
    "Pragma": "no-cache",
    "Referrer-Policy": "same-origin",  # no-referrer would make browsers send "Origin: null" on our own forms
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
}
OPEN_PATHS = ("/static/", "/away")  # no secret in them: the neutral page must open whatever happens


@dataclass
class Session:
    """The one browser session: the start token (used once), the cookie and the CSRF code."""

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    cookie_value: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    token_used: bool = False
    last_heard: float = field(default_factory=time.monotonic)

    @property
    def cookie_name(self) -> str:
        return f"stopncii_{self.port}"  # cookies ignore ports: two runs must not overwrite each other

    @property
    def csrf(self) -> str:
        return hmac.new(self.cookie_value.encode(), b"csrf", "sha256").hexdigest()

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        return (f"127.0.0.1:{self.port}", f"localhost:{self.port}")

    def start_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/?{urlencode({'token': self.token})}"

    def holds_cookie(self, request: Request) -> bool:
        return hmac.compare_digest(request.cookies.get(self.cookie_name, ""), self.cookie_value)

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given, self.csrf)


class Guard:
    """ASGI middleware: the Host check, the token and cookie, and the headers on every answer."""

    def __init__(self, app: ASGIApp, session: Session, refused_text: str) -> None:
        self.app = app
        self.session = session
        self.refused_text = refused_text

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self._refusal(request)
        if refusal is not None:
            await self._with_headers(refusal)(scope, receive, send)
            return
        self.session.last_heard = time.monotonic()

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                present = {name.lower() for name, _ in headers}
                for name, value in SECURITY_HEADERS.items():
                    if name.lower().encode() not in present:
                        headers.append((name.lower().encode(), value.encode()))
                if b"content-security-policy" not in present:
                    headers.append((b"content-security-policy", CONTENT_SECURITY_POLICY.encode()))
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _refusal(self, request: Request) -> Response | None:
        session = self.session
        if request.headers.get("host", "") not in session.allowed_hosts:
            return PlainTextResponse(f"This page answers only at http://{session.allowed_hosts[0]}/.", 421)
        if request.method == "POST" and request.headers.get("sec-fetch-site", "same-origin") not in (
                "same-origin", "none"):
            return PlainTextResponse(self.refused_text, 403)
        origin = request.headers.get("origin")
        if request.method == "POST" and origin and origin not in (f"http://{h}" for h in session.allowed_hosts):
            return PlainTextResponse(self.refused_text, 403)
        if request.url.path.startswith(OPEN_PATHS):
            return None
        token = request.query_params.get("token")
        if token is not None:
            return self._exchange(request, token)
        if not session.holds_cookie(request):
            return PlainTextResponse(self.refused_text, 403)
        return None

    def _exchange(self, request: Request, token: str) -> Response:
        """The start URL: swap the token for the cookie, and take the token out of the address bar."""
        session = self.session
        clean = URL(str(request.url)).remove_query_params("token")
        if session.holds_cookie(request):  # the same browser opening the start URL again
            return RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""), 303)
        if session.token_used or not hmac.compare_digest(token, session.token):
            return PlainTextResponse(self.refused_text, 403)
        session.token_used = True
        response = RedirectResponse(clean.path + (f"?{clean.query}" if clean.query else ""), 303)
        response.set_cookie(session.cookie_name, session.cookie_value, httponly=True, samesite="strict", path="/")
        return response

    @staticmethod
    def _with_headers(response: Response) -> Response:
        response.headers.update(SECURITY_HEADERS)
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        return response
