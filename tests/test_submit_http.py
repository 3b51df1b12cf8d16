"""The HTTP channel against a real ThreadingHTTPServer on 127.0.0.1; retry, rate limit, manual."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopncii_tools._errors import SecretMissing, SendError, TemporarySendError
from stopncii_tools.submit import (
    Channel,
    HTTPChannel,
    HTTPSettings,
    ManualChannel,
    ManualPacket,
    Outgoing,
    RateLimiter,
    RetryPolicy,
    open_form,
    parse_retry_after,
)

TOKEN = "tok-7f3a9c-very-secret"
NOW = 1_800_000_000.0  # the injected wall clock of these tests
PAYLOAD = {"url": "https://platform.example/p/1", "framework": "take_it_down", "name": "Zoë"}


# -- a real HTTP server with scripted answers ----------------------------------------------


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Script:
    """Per path, the answers to give in turn (the last one repeats); every request is kept."""

    answers: dict[str, list[tuple[int, dict[str, str], str, float]]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def on(self, path: str, *answers: tuple[int, dict[str, str], str, float]) -> str:
        self.answers[path] = list(answers)
        return path

    def requests(self, path: str) -> list[Seen]:
        return [s for s in self.seen if s.path == path]


def answer(
    status: int, body: Any = "", headers: dict[str, str] | None = None, delay: float = 0.0
) -> tuple[int, dict[str, str], str, float]:
    text = body if isinstance(body, str) else json.dumps(body)
    return status, headers or {}, text, delay


@pytest.fixture
def server() -> Iterator[tuple[str, Script]]:
    script = Script()

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            with script.lock:
                script.seen.append(Seen(self.path, dict(self.headers.items()), body))
                queue = script.answers.get(self.path, [answer(404, {"error": "no such endpoint"})])
                status, headers, text, delay = queue.pop(0) if len(queue) > 1 else queue[0]
            time.sleep(delay)
            data = text.encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):  # the client gave up waiting
                pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", script
    httpd.shutdown()
    httpd.server_close()


class Sleeps(list[float]):
    """Records the waits instead of waiting."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _channel(base: str, path: str, sleeps: Sleeps, **settings: Any) -> HTTPChannel:
    options = {"token_env": "PLATFORM_TOKEN", "keyring_service": None, "timeout": 5.0, "max_attempts": 4,
               "backoff_base": 1.0, "max_wait": 60.0} | settings
    return HTTPChannel(HTTPSettings(base + path, **options), sleep=sleeps, clock=lambda: NOW)


def _notice(payload: Any = PAYLOAD) -> Outgoing:
    return Outgoing(notice_id="n-12", idempotency_key="n-12-send-1", payload=payload)


@pytest.fixture(autouse=True)
def _token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PLATFORM_TOKEN", TOKEN)


# -- HTTP channel ------------------------------------------------------------------------------


def test_200_is_delivered_with_token_key_and_response_id(
    server: tuple[str, Script], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base, script = server
    path = script.on("/notices", answer(201, {"ticket": "T-4471", "status": "received"}))
    sleeps = Sleeps()
    channel = _channel(base, path, sleeps)
    delivery = channel.send(_notice())

    [request] = script.requests(path)
    assert request.headers["Authorization"] == f"Bearer {TOKEN}"
    assert request.headers["Idempotency-Key"] == "n-12-send-1"
    assert request.headers["X-StopNCII-Notice-Key"] == "n-12"
    assert json.loads(request.body) == PAYLOAD
    assert delivery.channel == "http" and delivery.sent_at.timestamp() == NOW
    assert delivery.evidence | {"body_excerpt": None} == {
        "url": base + path, "status": 201, "response_id": "T-4471", "body_excerpt": None,
        "idempotency_key": "n-12-send-1", "attempts": 1,
    }
    assert "T-4471" in delivery.evidence["body_excerpt"]
    assert sleeps == [] and isinstance(channel, Channel)
    assert TOKEN not in caplog.text and TOKEN not in repr(channel)


def test_429_waits_as_told_then_delivers_with_the_same_key(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/busy", answer(429, {"error": "slow down"}, {"Retry-After": "7"}), answer(200, {"id": 99}))
    sleeps = Sleeps()
    delivery = _channel(base, path, sleeps).send(_notice())
    assert sleeps == [7.0]
    assert [r.headers["Idempotency-Key"] for r in script.requests(path)] == ["n-12-send-1"] * 2
    assert (delivery.evidence["response_id"], delivery.evidence["attempts"]) == ("99", 2)


def test_retry_after_as_an_http_date(server: tuple[str, Script]) -> None:
    base, script = server
    when = formatdate(NOW + 30, usegmt=True)
    path = script.on("/dated", answer(503, "", {"Retry-After": when}), answer(200, {"reference": "R1"}))
    sleeps = Sleeps()
    assert _channel(base, path, sleeps).send(_notice()).evidence["response_id"] == "R1"
    assert sleeps == [30.0]


def test_500_then_200_backs_off_once(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/flaky", answer(500, "oops"), answer(200, {}))
    sleeps = Sleeps()
    delivery = _channel(base, path, sleeps, backoff_base=2.0).send(_notice())
    assert sleeps == [2.0] and delivery.evidence["response_id"] is None
    assert len(script.requests(path)) == 2


def test_500_forever_gives_up_with_a_retryable_error(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/down", answer(500, {"error": "database unavailable"}))
    sleeps = Sleeps()
    with pytest.raises(TemporarySendError) as err:
        _channel(base, path, sleeps, max_attempts=3).send(_notice())
    assert err.value.retryable and sleeps == [1.0, 2.0]
    assert len(script.requests(path)) == 3
    assert str(err.value).startswith("n-12: 127.0.0.1 answered HTTP 500")
    assert "database unavailable" in str(err.value) and "after 3 attempts" in str(err.value)


def test_backoff_is_capped(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/down", answer(502, "bad gateway"))
    sleeps = Sleeps()
    with pytest.raises(TemporarySendError):
        _channel(base, path, sleeps, max_attempts=6, backoff_base=4.0, max_wait=10.0).send(_notice())
    assert sleeps == [4.0, 8.0, 10.0, 10.0, 10.0]


def test_a_long_retry_after_hands_back_to_the_outbox(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/later", answer(429, "", {"Retry-After": "3600"}))
    sleeps = Sleeps()
    with pytest.raises(TemporarySendError, match="asked us to wait 3600 s") as err:
        _channel(base, path, sleeps).send(_notice())
    assert err.value.retry_after == 3600 and sleeps == [] and len(script.requests(path)) == 1


def test_400_is_final_with_status_and_excerpt(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/strict", answer(400, {"error": "field 'url' is required " + "x" * 500}))
    with pytest.raises(SendError) as err:
        _channel(base, path, Sleeps()).send(_notice())
    assert not err.value.retryable and len(script.requests(path)) == 1
    message = str(err.value)
    assert "answered HTTP 400" in message and "field 'url' is required" in message
    assert message.endswith("...") and len(message) < 400


def test_401_hints_at_the_token_without_showing_it(
    server: tuple[str, Script], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    base, script = server
    path = script.on("/auth", answer(401, {"error": "invalid token"}))
    with pytest.raises(SendError, match="token may be missing, wrong or expired") as err:
        _channel(base, path, Sleeps()).send(_notice())
    assert TOKEN not in str(err.value) and TOKEN not in caplog.text


def test_slow_server_times_out_and_is_retried(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/slow", answer(200, {"id": 1}, delay=1.0))
    sleeps = Sleeps()
    with pytest.raises(TemporarySendError, match="did not answer within 0.2 s; the notice may have arrived") as err:
        _channel(base, path, sleeps, timeout=0.2, max_attempts=2).send(_notice())
    assert err.value.retryable and sleeps == [1.0]
    assert len(script.requests(path)) == 2


def test_unreachable_server_is_temporary() -> None:
    sleeps = Sleeps()
    channel = _channel("http://127.0.0.1:9", "/x", sleeps, max_attempts=2, timeout=1.0)
    with pytest.raises(TemporarySendError, match="could not reach 127.0.0.1"):
        channel.send(_notice())
    assert sleeps == [1.0]


def test_missing_token_stops_before_any_request(server: tuple[str, Script], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PLATFORM_TOKEN")
    base, script = server
    path = script.on("/notices", answer(200, {}))
    with pytest.raises(SecretMissing, match="set the environment variable PLATFORM_TOKEN"):
        _channel(base, path, Sleeps()).send(_notice())
    assert script.seen == []


def test_no_token_configured_sends_no_authorization(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/open", answer(200, {}))
    _channel(base, path, Sleeps(), token_env=None).send(_notice())
    assert "Authorization" not in script.requests(path)[0].headers


def test_token_is_never_sent_in_clear_to_another_computer() -> None:
    with pytest.raises(SendError, match="would travel unencrypted; use an https:// address"):
        HTTPChannel(HTTPSettings("http://api.platform.example/notices", token_env="PLATFORM_TOKEN"))


def test_payload_must_be_json(server: tuple[str, Script]) -> None:
    base, script = server
    with pytest.raises(SendError, match="cannot be written as JSON"):
        _channel(base, "/x", Sleeps()).send(_notice({"when": object()}))
    assert script.seen == []


def test_redirect_is_not_followed(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/moved", answer(308, "", {"Location": "https://elsewhere.example/notices"}))
    with pytest.raises(SendError, match="points elsewhere: https://elsewhere.example/notices") as err:
        _channel(base, path, Sleeps()).send(_notice())
    assert not err.value.retryable and len(script.seen) == 1


# -- retry helpers -----------------------------------------------------------------------------


@given(st.integers(min_value=0, max_value=10**7))
def test_retry_after_seconds(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == float(seconds)


@given(st.integers(min_value=-10**6, max_value=10**6))
def test_retry_after_date(offset: int) -> None:
    assert parse_retry_after(formatdate(NOW + offset, usegmt=True), NOW) == max(0.0, float(offset))


@pytest.mark.parametrize("value", [None, "", "soon", "-5", "1.5", "Mon, 99 Foo 2026"])
def test_retry_after_garbage_is_ignored(value: str | None) -> None:
    assert parse_retry_after(value, NOW) is None


def test_retry_policy_never_waits_past_max_attempts() -> None:
    policy = RetryPolicy(max_attempts=3, backoff_base=1.0, max_wait=100.0)
    assert [policy.wait_before_next(n, None) for n in (1, 2, 3)] == [1.0, 2.0, None]
    assert policy.wait_before_next(1, 100.0) == 100.0 and policy.wait_before_next(1, 101.0) is None


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_rate_limiter_min_interval() -> None:
    clock = FakeClock()
    limiter = RateLimiter(min_interval=2.0, clock=clock, sleep=clock.sleep)
    assert [limiter.wait() for _ in range(3)] == [0.0, 2.0, 2.0]
    clock.now += 10
    assert limiter.wait() == 0.0


def test_rate_limiter_per_minute() -> None:
    clock = FakeClock()
    limiter = RateLimiter(per_minute=3, clock=clock, sleep=clock.sleep)
    waits = [limiter.wait() for _ in range(7)]
    assert waits == [0.0, 0.0, 0.0, 60.0, 0.0, 0.0, 60.0]
    assert clock.now == 120.0


def test_rate_limiter_paces_http_attempts(server: tuple[str, Script]) -> None:
    base, script = server
    path = script.on("/notices", answer(200, {}))
    clock = FakeClock()
    limiter = RateLimiter(min_interval=5.0, clock=clock, sleep=clock.sleep)
    channel = HTTPChannel(HTTPSettings(base + path), limiter=limiter)
    for _ in range(3):
        channel.send(_notice())
    assert clock.now == 10.0 and len(script.seen) == 3


# -- manual channel ----------------------------------------------------------------------------


def test_manual_delivery_needs_the_ticket() -> None:
    channel = ManualChannel(clock=lambda: NOW)
    packet = ManualPacket("https://platform.example/report", "Please remove https://platform.example/p/1")
    with pytest.raises(SendError, match="sent by hand: open https://platform.example/report") as err:
        channel.send(Outgoing("n-3", "n-3-k", packet))
    assert not err.value.retryable
    delivery = channel.mark_sent("n-3", "  CASE-5521 \n")
    assert (delivery.channel, delivery.evidence, delivery.sent_at.timestamp()) == (
        "manual", {"ticket": "CASE-5521"}, NOW)
    with_ticket = ManualPacket(packet.form_url, packet.text, ticket="CASE-5521")
    assert channel.send(Outgoing("n-3", "n-3-k", with_ticket)).evidence == {
        "ticket": "CASE-5521", "form_url": packet.form_url}
    with pytest.raises(SendError, match="ticket or reference"):
        channel.mark_sent("n-3", "   ")


def test_open_form_only_returns_the_address_unless_asked() -> None:
    assert open_form(" https://platform.example/report ") == "https://platform.example/report"
    for bad in ("javascript:alert(1)", "file:///etc/passwd", "https://", "https://a.example/x y"):
        with pytest.raises(SendError, match="not a web"):
            open_form(bad)
