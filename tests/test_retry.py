"""One retry schedule and one Retry-After reader, and every caller agreeing with them."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopncii_tools.retry import LONGEST_RETRY_AFTER, Backoff, parse_retry_after
from stopncii_tools.submit import HTTPChannel, HTTPSettings, Outgoing, RetryPolicy
from stopncii_tools.submit.config import SendingConfig
from stopncii_tools.web.fetch import Fetcher, FetchLimits

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)

# Values a server might send that are not a wait we can honour, with what each must mean.
HOSTILE: list[tuple[str | None, float | None]] = [
    (None, None),
    ("", None),
    ("   ", None),
    ("²", None),  # str.isdigit() says yes, float() says no
    ("١٢", None),  # Arabic-Indic digits: not ASCII delta-seconds
    ("-1", None),
    ("+5", None),
    ("1e9", None),
    ("1.5", None),
    ("0x10", None),
    ("soon", None),
    ("Mon, 99 Foo 2026", None),
    ("Fri, 31 Dec 99999 23:59:59 GMT", None),
    ("9" * 5000, LONGEST_RETRY_AFTER),  # int() would refuse more than 4300 digits
    ("Fri, 31 Dec 9999 23:59:59 GMT", LONGEST_RETRY_AFTER),
    ("Thu, 01 Jan 1970 00:00:00 GMT", 0.0),
    (" 120 ", 120.0),
    ("007", 7.0),
]


@pytest.mark.parametrize(("value", "seconds"), HOSTILE)
def test_hostile_retry_after_values_have_one_meaning(value: str | None, seconds: float | None) -> None:
    assert parse_retry_after(value, NOW) == seconds


@given(st.one_of(st.none(), st.text(max_size=60)))
def test_retry_after_never_raises_and_stays_in_bounds(value: str | None) -> None:
    seconds = parse_retry_after(value, NOW)
    assert seconds is None or 0.0 <= seconds <= LONGEST_RETRY_AFTER


@given(st.integers(min_value=0, max_value=10**15))
def test_delta_seconds_are_read_as_given_up_to_the_longest_wait(seconds: int) -> None:
    assert parse_retry_after(str(seconds), NOW) == min(float(seconds), LONGEST_RETRY_AFTER)


@given(st.integers(min_value=-10**7, max_value=10**7))
def test_an_http_date_is_the_time_left_until_it(offset: int) -> None:
    when = format_datetime(NOW + timedelta(seconds=offset), usegmt=True)
    assert parse_retry_after(when, NOW) == min(max(0.0, float(offset)), LONGEST_RETRY_AFTER)


def test_a_date_without_a_zone_is_read_as_gmt() -> None:
    assert parse_retry_after("Mon, 01 Jun 2026 09:00:30 -0000", NOW) == 30.0


@given(st.integers(min_value=1, max_value=10**6))
def test_backoff_doubles_up_to_its_cap_and_never_overflows(failures: int) -> None:
    backoff = Backoff(first=2.0, cap=600.0)
    wait = backoff.wait_after(failures)
    assert wait == min(2.0 * 2 ** min(failures - 1, 64), 600.0)
    assert backoff.wait_after(failures, retry_after=42.0) == 42.0


def test_backoff_needs_a_first_wait_within_its_cap() -> None:
    with pytest.raises(ValueError, match="first <= cap"):
        Backoff(first=10.0, cap=1.0)


# -- every caller, on real servers -----------------------------------------------------------


@pytest.fixture
def busy_once() -> Iterator[tuple[str, list[str]]]:
    """A server that answers 503 with the latest Retry-After given, then 200, and so on in turn."""
    retry_after: list[str] = []
    calls: list[int] = []

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:
            pass

        def _answer(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            calls.append(1)
            if len(calls) % 2:
                self.send_response(503)
                self.send_header("Retry-After", retry_after[-1])
            else:
                self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        do_GET = do_POST = _answer

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/x", retry_after
    httpd.shutdown()
    httpd.server_close()


# Header values travel as Latin-1, so the Arabic digits stay in the parser tests above; waits
# past a caller's longest are the next test's.
SENT = [(v, s) for v, s in HOSTILE if v is not None and (v.isascii() or v == "²") and (s is None or s <= 60)]


@pytest.mark.parametrize(("value", "seconds"), SENT)
def test_the_fetcher_and_the_api_channel_wait_alike(
    busy_once: tuple[str, list[str]], value: str, seconds: float | None
) -> None:
    url, retry_after = busy_once
    retry_after.append(value)
    backoff = Backoff(first=1.0, cap=60.0)
    expected = backoff.wait_after(1, seconds)
    fetch_waits: list[float] = []  # each client meets one 503, then a 200
    with Fetcher(FetchLimits(retries=2, backoff=1.0, max_retry_wait=60.0), allow_private=True,
                 sleep=fetch_waits.append, clock=lambda: NOW) as fetcher:
        assert fetcher.get(url).status == 200
    send_waits: list[float] = []
    settings = HTTPSettings(url, keyring_service=None, max_attempts=3, backoff_base=1.0, max_wait=60.0)
    delivery = HTTPChannel(settings, sleep=send_waits.append, clock=lambda: NOW).send(Outgoing("n-1", "k-1", {}))
    assert delivery.evidence["attempts"] == 2
    assert fetch_waits == send_waits == [expected]


def test_a_wait_longer_than_a_caller_allows(busy_once: tuple[str, list[str]]) -> None:
    """The fetcher waits its longest and tries again (a scan must go on); a sender hands the
    notice back to the outbox, which schedules the next run for when the server asked."""
    url, retry_after = busy_once
    retry_after.append("3600")
    waits: list[float] = []
    with Fetcher(FetchLimits(retries=1, max_retry_wait=60.0), allow_private=True, sleep=waits.append) as fetcher:
        assert fetcher.get(url).status == 200
    assert waits == [60.0]
    assert RetryPolicy(max_attempts=5, backoff_base=1.0, max_wait=60.0).wait_before_next(1, 3600.0) is None
    config = SendingConfig(first_retry_seconds=60.0, max_retry_seconds=6 * 3600.0)
    assert config.retry_wait(1, 3600.0) == 3600.0
    assert config.retry_wait(1, None) == 60.0 and config.retry_wait(3, None) == 240.0
    assert config.retry_wait(100, None) == 6 * 3600.0
    assert config.retry_wait(1, 0.0) == 1.0  # "now" still means a later run, never a loop
