"""Delivery to a platform's HTTP API: POST the notice as JSON, retry politely, keep the receipt.

Every attempt of one send carries the same ``Idempotency-Key`` header, so a receiver that
honours it drops the copy when an answer was lost on the way back and we post again.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx

from .. import clock as clocks
from .._errors import SendError, TemporarySendError
from ..retry import parse_retry_after
from . import Delivery, Outgoing
from ._retry import RateLimiter, RetryPolicy, call_with_retries
from ._secrets import Secret, check_endpoint, get_secret, scrub

log = logging.getLogger(__name__)

USER_AGENT = "stopncii-tools (takedown notices)"
_EXCERPT = 300


@dataclass(frozen=True)
class HTTPSettings:
    """Where to POST notices; the token (if any) is read from ``token_env`` or the keyring."""

    url: str
    token_env: str | None = None
    keyring_service: str | None = "stopncii-tools"
    timeout: float = 30.0
    max_attempts: int = 5
    backoff_base: float = 2.0
    max_wait: float = 300.0


class HTTPChannel:
    """Sends a JSON-able dict payload; 2xx is delivered, 429/5xx/network trouble is retried."""

    kind: ClassVar[str] = "http"

    def __init__(
        self,
        settings: HTTPSettings,
        *,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: clocks.Clock = clocks.now,
    ) -> None:
        self._host = check_endpoint(settings.url, "API", carries_secret=bool(settings.token_env))
        self.settings = settings
        self.policy = RetryPolicy(settings.max_attempts, settings.backoff_base, settings.max_wait)
        self._limiter = limiter
        self._sleep = sleep
        self._clock = clock

    def __repr__(self) -> str:
        return f"HTTPChannel({self.settings.url!r})"

    def send(self, outgoing: Outgoing) -> Delivery:
        payload = outgoing.payload
        if not isinstance(payload, dict):
            raise SendError("an API channel needs the notice as a JSON object", item=outgoing.notice_id)
        try:
            body = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        except (TypeError, ValueError) as exc:
            raise SendError(f"the notice cannot be written as JSON ({exc})", item=outgoing.notice_id) from None
        s = self.settings
        token = get_secret(s.token_env, s.keyring_service) if s.token_env else None
        attempts = 0

        log.info("sending notice %s to %s", outgoing.notice_id, s.url)
        with httpx.Client(timeout=s.timeout, follow_redirects=False) as client:

            def attempt() -> httpx.Response:
                nonlocal attempts
                attempts += 1
                return self._post_once(client, body, outgoing, token)

            try:
                response = call_with_retries(
                    attempt, self.policy, sleep=self._sleep, limiter=self._limiter
                )
            except SendError as exc:
                raise exc.for_item(outgoing.notice_id) from None
        return Delivery(
            outgoing.notice_id,
            self.kind,
            self._clock(),
            {
                "url": s.url,
                "status": response.status_code,
                "response_id": _response_id(response),
                "body_excerpt": _excerpt(response),
                "idempotency_key": outgoing.idempotency_key,
                "attempts": attempts,
            },
        )

    def _post_once(
        self, client: httpx.Client, body: bytes, outgoing: Outgoing, token: Secret | None
    ) -> httpx.Response:
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
            "Idempotency-Key": outgoing.idempotency_key,
            "X-StopNCII-Notice-Key": outgoing.notice_id,
        }
        if token is not None:
            headers["Authorization"] = "Bearer " + token.reveal()
        where = self._host
        try:
            response = client.post(self.settings.url, content=body, headers=headers)
        except httpx.TimeoutException:
            raise TemporarySendError(
                f"{where} did not answer within {self.settings.timeout:g} s; the notice may have "
                "arrived, and a retry carries the same Idempotency-Key"
            ) from None
        except httpx.ConnectError:
            raise TemporarySendError(f"could not reach {where}; nothing was sent") from None
        except httpx.TransportError:
            raise TemporarySendError(
                f"the connection to {where} broke; the notice may have arrived, and a retry "
                "carries the same Idempotency-Key"
            ) from None
        return _judge(response, where, self._clock())


def _judge(response: httpx.Response, where: str, now: datetime) -> httpx.Response:
    """Return a 2xx response; raise a temporary or final :class:`SendError` for the rest."""
    status = response.status_code
    if 200 <= status < 300:
        return response
    said = f"{where} answered HTTP {status}"
    excerpt = _excerpt(response)
    if excerpt:
        said += f": {excerpt}"
    if status == 429 or status >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"), now)
        ask = f"; it asked us to wait {wait:.0f} s" if wait else ""
        raise TemporarySendError(said + ask, retry_after=wait)
    if status in (401, 403):
        said += " (the API token may be missing, wrong or expired)"
    elif 300 <= status < 400:
        said += f" (it points elsewhere: {scrub(response.headers.get('Location', '?'))}; update the address)"
    raise SendError(said)


def _response_id(response: httpx.Response) -> str | None:
    try:
        data: Any = response.json()
    except ValueError:
        return None
    if isinstance(data, dict):
        for key in ("id", "ticket", "reference"):
            if data.get(key) not in (None, ""):
                return scrub(str(data[key]))[:_EXCERPT]
    return None


def _excerpt(response: httpx.Response) -> str:
    text = scrub(" ".join(response.text.split()))
    return text if len(text) <= _EXCERPT else text[: _EXCERPT - 3] + "..."
