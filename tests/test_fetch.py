"""stopncii_tools.web.fetch against real HTTP servers on loopback (never the internet).

Every Fetcher made here gets a resolver that knows only the test's own names and fails the test
on any other lookup, so a broken guard cannot reach out to a real host.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import socket
import ssl
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from stopncii_tools._errors import (
    BlockedAddress,
    FetchError,
    HTTPStatusError,
    InvalidURL,
    ResponseTooLarge,
)
from stopncii_tools.web.fetch import (
    USER_AGENT,
    FetchedResource,
    Fetcher,
    FetchLimits,
    _unpacked,
    is_public_address,
    resolve_host,
)
from stopncii_tools.web.pages import find_media
from stopncii_tools.web.urls import parse_web_address

ROOT = Path(__file__).resolve().parents[1]


def _encoded(
    fmt: str, size: tuple[int, int] = (48, 32), colour: tuple[int, int, int] = (200, 40, 90)
) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, colour).save(out, fmt)
    return out.getvalue()


JPEG = _encoded("JPEG")
PNG = _encoded("PNG")
PNG_64 = _encoded("PNG", size=(64, 64), colour=(10, 120, 130))  # what the no-disk script serves
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"


def mp4(size: int) -> bytes:
    return (MP4_HEAD + b"\x00" * size)[:size]


def jpeg(size: int) -> bytes:
    return (JPEG + b"\x00" * size)[:size]


# -- a real server --------------------------------------------------------------------------

Route = Callable[["Handler"], None]
MakeFetcher = Callable[..., "Fetcher"]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    site: Site

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        self.site.record(path, self)
        route = self.site.routes.get(path)
        try:
            if route is None:
                reply(self, 404, b"nothing here", "text/plain")
            else:
                route(self)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


def reply(
    handler: BaseHTTPRequestHandler,
    status: int = 200,
    body: bytes = b"",
    content_type: str | None = None,
    headers: dict[str, str] | None = None,
) -> None:
    handler.send_response(status)
    if content_type:
        handler.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


class Site:
    """A ThreadingHTTPServer on loopback whose routes are plain functions."""

    def __init__(self, host: str = "127.0.0.1", ssl_context: ssl.SSLContext | None = None) -> None:
        self.routes: dict[str, Route] = {}
        self.hits: Counter[str] = Counter()
        self.hosts: list[str] = []
        self.user_agents: list[str] = []
        self.lock = threading.Lock()
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        server_class = type("Server", (ThreadingHTTPServer,), {
            "address_family": family, "daemon_threads": True, "block_on_close": False,
        })
        handler = type("BoundHandler", (Handler,), {"site": self})
        self.server = server_class((host, 0), handler)
        if ssl_context is not None:
            self.server.socket = ssl_context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self._thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )
        self._thread.start()

    def record(self, path: str, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.hits[path] += 1
            self.hosts.append(handler.headers.get("Host", ""))
            self.user_agents.append(handler.headers.get("User-Agent", ""))

    def url(self, path: str, host: str = "127.0.0.1", scheme: str = "http") -> str:
        return f"{scheme}://{host}:{self.port}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def site() -> Iterator[Site]:
    server = Site()
    yield server
    server.close()


def only_names(names: dict[str, list[str]]) -> Callable[[str, int], list[str]]:
    """A resolver for the test's own names; any other lookup fails the test (no real DNS)."""

    def resolve(host: str, port: int) -> list[str]:
        if host not in names:
            pytest.fail(f"the fetcher tried to look up {host!r}")
        return names[host]

    return resolve


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make_fetcher(sleeps: list[float]) -> Iterator[MakeFetcher]:
    made: list[Fetcher] = []

    def make(limits: FetchLimits | None = None, **options: Any) -> Fetcher:
        options.setdefault("allow_private", True)
        options.setdefault("resolver", only_names({}))
        options.setdefault("sleep", sleeps.append)
        fetcher = Fetcher(limits or FetchLimits(read_timeout=5, connect_timeout=5), **options)
        made.append(fetcher)
        return fetcher

    yield make
    for fetcher in made:
        fetcher.close()


def fetch_error(fetcher: Fetcher, url: str) -> FetchError:
    with pytest.raises(FetchError) as caught:
        fetcher.get(url)
    assert caught.value.item == url  # every error names the URL it is about
    return caught.value


# -- what comes back -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "claimed", "fmt"),
    [
        (JPEG, "text/html; charset=utf-8", "jpeg"),
        (PNG, "application/octet-stream", "png"),
        (JPEG, "image/png", "jpeg"),
        (PNG, None, "png"),
    ],
)
def test_picture_is_recognised_from_its_bytes_whatever_the_server_claims(
    site: Site, make_fetcher: MakeFetcher, body: bytes, claimed: str | None, fmt: str
) -> None:
    site.routes["/photo"] = lambda h: reply(h, 200, body, claimed)
    url = site.url("/photo")

    got = make_fetcher().get(url)

    assert (got.kind, got.format) == ("image", fmt)
    assert got.content_type == claimed  # recorded as evidence, not trusted
    assert got.body == body and got.size == len(body)
    assert got.sha256 == hashlib.sha256(body).hexdigest()
    assert (got.url, got.final_url, got.status, got.redirects) == (url, url, 200, ())
    assert got.fetched_at.tzinfo is not None and got.fetched_at.utcoffset() == timedelta(0)
    assert got.server_address == "127.0.0.1"
    assert ("content-length", str(len(body))) in got.headers
    assert site.user_agents == [USER_AGENT]
    assert "body" not in repr(got)  # a log line never carries the media itself


@pytest.mark.parametrize(
    ("body", "claimed", "kind"),
    [
        (b"<!DOCTYPE html><html><body><img src=a.jpg></body></html>", "image/jpeg", "html"),
        (b"\n\n  <HTML><head><title>x</title></head></HTML>", None, "html"),
        (b"just words, no tags at all", "text/html", "html"),
        (b"\x00\x01\x02binary junk", "text/html", None),
        (b'{"not": "a page"}', "application/json", None),
        (mp4(4096), "text/plain", "video"),
    ],
)
def test_pages_and_other_bodies_are_told_apart(
    site: Site, make_fetcher: MakeFetcher, body: bytes, claimed: str | None, kind: str | None
) -> None:
    site.routes["/thing"] = lambda h: reply(h, 200, body, claimed)
    assert make_fetcher().get(site.url("/thing")).kind == kind


def test_the_clock_stamps_each_download(site: Site, make_fetcher: MakeFetcher) -> None:
    moment = datetime(2026, 5, 19, 9, 30, tzinfo=UTC)
    site.routes["/photo"] = lambda h: reply(h, 200, JPEG, "image/jpeg")
    assert make_fetcher(clock=lambda: moment).get(site.url("/photo")).fetched_at == moment


def test_a_page_and_the_media_it_shows(site: Site, make_fetcher: MakeFetcher) -> None:
    page = (
        b"<!doctype html><html><head><meta property='og:image' content='/og.png'></head><body>"
        b"<img src='pics/one.jpg' srcset='pics/one.jpg 1x, pics/one@2x.jpg 2x'>"
        b"<video poster=/poster.png><source src='/clip.mp4'></video>"
        b"<a href='/missing.jpg'>old</a></body></html>"
    )
    site.routes.update({
        "/gallery/page": lambda h: reply(h, 200, page, "text/html"),
        "/og.png": lambda h: reply(h, 200, PNG, "image/png"),
        "/gallery/pics/one.jpg": lambda h: reply(h, 200, JPEG, "text/plain"),
        "/gallery/pics/one@2x.jpg": lambda h: reply(h, 200, JPEG, "image/jpeg"),
        "/poster.png": lambda h: reply(h, 200, PNG, "image/png"),
        "/clip.mp4": lambda h: reply(h, 200, mp4(20_000), "video/mp4"),
    })
    fetcher = make_fetcher()

    fetched_page = fetcher.get(site.url("/gallery/page"))
    links = find_media(fetched_page.body, fetched_page.final_url)
    results = dict(fetcher.get_many(link.url for link in links))

    assert fetched_page.kind == "html"
    assert [link.tag for link in links] == [
        "og:image", "img", "img-srcset", "video-poster", "video-source", "link",
    ]
    kinds = {url.rsplit("/", 1)[1]: getattr(r, "kind", None) for url, r in results.items()}
    assert kinds == {
        "og.png": "image", "one.jpg": "image", "one@2x.jpg": "image", "poster.png": "image",
        "clip.mp4": "video", "missing.jpg": None,
    }
    missing = results[site.url("/missing.jpg")]
    assert isinstance(missing, HTTPStatusError) and missing.status == 404


# -- redirects -------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [301, 302, 303, 307, 308])
@pytest.mark.parametrize("location", ["/final", "../final", "FULL"])
def test_redirects_are_followed_and_recorded(
    site: Site, make_fetcher: MakeFetcher, status: int, location: str
) -> None:
    target = site.url("/final") if location == "FULL" else location
    site.routes["/a/start"] = lambda h: reply(h, status, headers={"Location": target})
    site.routes["/final"] = lambda h: reply(h, 200, PNG, "image/png")

    got = make_fetcher().get(site.url("/a/start"))

    assert (got.final_url, got.redirects, got.kind) == (
        site.url("/final"), (site.url("/a/start"),), "image"
    )


def _chain(site: Site, length: int) -> None:
    """/hop{n} redirects to /hop{n-1}; /hop0 is the picture."""
    site.routes["/hop0"] = lambda h: reply(h, 200, PNG, "image/png")
    for n in range(1, length + 1):
        site.routes[f"/hop{n}"] = _redirect_to(f"/hop{n - 1}")


def _redirect_to(location: str) -> Route:
    return lambda h: reply(h, 302, headers={"Location": location})


def test_five_redirects_are_followed_a_sixth_is_refused(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    _chain(site, 6)
    fetcher = make_fetcher()

    assert len(fetcher.get(site.url("/hop5")).redirects) == 5
    site.hits.clear()
    error = fetch_error(fetcher, site.url("/hop6"))

    assert "redirects more than 5 times" in str(error)
    assert site.hits["/hop0"] == 0  # the sixth redirect was not followed


def test_a_redirect_loop_ends(site: Site, make_fetcher: MakeFetcher) -> None:
    site.routes["/ping"] = lambda h: reply(h, 302, headers={"Location": "/pong"})
    site.routes["/pong"] = lambda h: reply(h, 302, headers={"Location": "/ping"})
    error = fetch_error(make_fetcher(), site.url("/ping"))
    assert "redirects more than 5 times" in str(error)
    assert sum(site.hits.values()) == 6


@pytest.mark.parametrize(
    "location", ["file:///etc/passwd", "ftp://files.example/a.jpg", "javascript:alert(1)",
                 "http://user:secret@files.example/a.jpg", "http://[::1"]
)
def test_a_redirect_to_a_non_web_address_is_refused(
    site: Site, make_fetcher: MakeFetcher, location: str
) -> None:
    site.routes["/jump"] = lambda h: reply(h, 302, headers={"Location": location})
    error = fetch_error(make_fetcher(), site.url("/jump"))
    assert isinstance(error, InvalidURL)
    assert "redirected to" in error.reason


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/secret.jpg",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://[::ffff:169.254.169.254]/",
        "http://[::1]:{port}/photo",
        "http://internal.test/photo",
        "http://localhost:{port}/photo",
    ],
)
def test_a_redirect_from_an_allowed_address_to_a_private_one_is_refused(
    site: Site, make_fetcher: MakeFetcher, target: str
) -> None:
    location = target.format(port=site.port)
    site.routes["/jump"] = lambda h: reply(h, 302, headers={"Location": location})
    site.routes["/photo"] = lambda h: reply(h, 200, PNG, "image/png")
    fetcher = make_fetcher(
        allow_private=False,
        allowed_networks=["127.0.0.1/32"],  # the test server itself, nothing else
        resolver=only_names({"internal.test": ["192.168.1.20"], "localhost": ["::1"]}),
    )

    error = fetch_error(fetcher, site.url("/jump"))

    assert isinstance(error, BlockedAddress)
    assert "--allow-private" in error.reason
    assert site.hits == Counter({"/jump": 1})  # the first hop was fetched, the second never


# -- slow, broken and oversized answers ------------------------------------------------------


def test_a_server_that_goes_silent_times_out_without_retrying(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    def silent(h: Handler) -> None:
        time.sleep(2)
        reply(h, 200, JPEG, "image/jpeg")

    site.routes["/silent"] = silent
    started = time.monotonic()

    error = fetch_error(make_fetcher(FetchLimits(read_timeout=0.3)), site.url("/silent"))

    assert "stopped sending for 0.3 s" in str(error)
    assert time.monotonic() - started < 1.5
    assert site.hits["/silent"] == 1 and sleeps == []


def test_a_body_that_stalls_halfway_times_out(site: Site, make_fetcher: MakeFetcher) -> None:
    def stall(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", str(len(JPEG)))
        h.end_headers()
        h.wfile.write(JPEG[:100])
        h.wfile.flush()
        time.sleep(2)

    site.routes["/stall"] = stall
    error = fetch_error(make_fetcher(FetchLimits(read_timeout=0.3)), site.url("/stall"))
    assert "stopped sending" in str(error)


def test_a_trickling_download_is_stopped_at_the_total_timeout(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    def trickle(h: Handler) -> None:
        h.send_response(200)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        h.wfile.write(JPEG[:64])
        for _ in range(200):
            time.sleep(0.02)
            h.wfile.write(b"\x00")
            h.wfile.flush()

    site.routes["/trickle"] = trickle
    started = time.monotonic()
    error = fetch_error(make_fetcher(FetchLimits(total_timeout=0.4)), site.url("/trickle"))
    assert "took longer than 0.4 s" in str(error)
    assert time.monotonic() - started < 2


def test_a_dropped_connection_is_retried(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    def flaky(h: Handler) -> None:
        if site.hits["/flaky"] == 1:
            h.close_connection = True  # hang up without answering
            return
        reply(h, 200, PNG, "image/png")

    site.routes["/flaky"] = flaky
    assert make_fetcher(FetchLimits(backoff=0.25)).get(site.url("/flaky")).kind == "image"
    assert site.hits["/flaky"] == 2 and sleeps == [0.25]


def test_a_refused_connection_is_retried_then_reported(
    make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    with socket.socket() as placeholder:  # a port that nothing listens on
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]

    fetcher = make_fetcher(FetchLimits(retries=2, backoff=0.5))
    error = fetch_error(fetcher, f"http://127.0.0.1:{port}/a.jpg")

    assert type(error) is FetchError
    assert "refused the connection" in str(error) and "tried 3 times" in str(error)
    assert sleeps == [0.5, 1.0]


def _serve_endless(site: Site, with_length: bool) -> threading.Event:
    """/big sends a JPEG header then zeros until the client hangs up (at most 200 MB)."""
    finished = threading.Event()
    site.routes["/big"] = lambda h: _endless(h, site, with_length, finished)
    return finished


def _endless(h: Handler, site: Site, with_length: bool, finished: threading.Event) -> None:
    total = 200_000_000
    h.send_response(200)
    h.send_header("Content-Type", "image/jpeg")
    if with_length:
        h.send_header("Content-Length", str(total))
    else:
        h.send_header("Connection", "close")
        h.close_connection = True
    h.end_headers()
    sent = 0
    chunk = b"\x00" * 65536
    try:
        h.wfile.write(JPEG[:512])
        while sent < total:
            h.wfile.write(chunk)
            sent += len(chunk)
    finally:
        with site.lock:
            site.hits["bytes sent"] = sent
        finished.set()


def test_an_endless_body_without_content_length_is_cut_at_the_limit(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    finished = _serve_endless(site, with_length=False)

    error = fetch_error(make_fetcher(FetchLimits(max_bytes=1_000_000)), site.url("/big"))

    assert isinstance(error, ResponseTooLarge)
    assert error.reason == (
        "the file is larger than the 1.0 MB limit for pictures and pages; the download was stopped"
    )
    assert finished.wait(5)
    assert site.hits["bytes sent"] < 50_000_000  # the server was cut off, not drained


def test_a_declared_size_over_every_limit_is_refused_before_reading(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    finished = _serve_endless(site, with_length=True)
    limits = FetchLimits(max_bytes=1_000_000, max_video_bytes=5_000_000)

    error = fetch_error(make_fetcher(limits), site.url("/big"))

    assert isinstance(error, ResponseTooLarge)
    assert "the server says the file is 200 MB" in error.reason
    assert finished.wait(5)
    assert site.hits["bytes sent"] < 50_000_000


@pytest.mark.parametrize(
    ("body", "claimed", "with_length", "ok"),
    [
        (mp4(300_000), "video/mp4", True, True),  # a video gets the larger limit
        (mp4(300_000), "image/jpeg", False, True),  # ...because its bytes say video
        (mp4(1_200_000), "video/mp4", False, False),  # but not beyond it
        (mp4(1_200_000), "video/mp4", True, False),
        (jpeg(300_000), "video/mp4", True, False),  # the bytes say picture: the picture limit
        (jpeg(300_000), "image/jpeg", False, False),
        (jpeg(100_000), "image/jpeg", True, True),  # exactly at the limit is fine
        (b"\x47" * 300_000, "video/mp2t", True, True),  # unknown bytes: the server's word decides
    ],
)
def test_size_limits_follow_what_the_bytes_are(
    site: Site, make_fetcher: MakeFetcher, body: bytes, claimed: str,
    with_length: bool, ok: bool,
) -> None:
    def send(h: Handler) -> None:
        if with_length:
            reply(h, 200, body, claimed)
            return
        h.send_response(200)
        h.send_header("Content-Type", claimed)
        h.send_header("Connection", "close")
        h.end_headers()
        h.close_connection = True
        h.wfile.write(body)

    site.routes["/media"] = send
    fetcher = make_fetcher(FetchLimits(max_bytes=100_000, max_video_bytes=1_000_000))
    if ok:
        assert fetcher.get(site.url("/media")).size == len(body)
    else:
        assert isinstance(fetch_error(fetcher, site.url("/media")), ResponseTooLarge)


# -- status codes and retries ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "words"),
    [
        (404, "not found (HTTP 404): the page or file is not there, it may have been removed"),
        (410, "removed for good (HTTP 410)"),
        (403, "refused access (HTTP 403)"),
        (401, "asks for a login (HTTP 401)"),
        (400, "HTTP status 400"),
    ],
)
def test_client_errors_are_reported_at_once(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float], status: int, words: str
) -> None:
    site.routes["/gone"] = lambda h: reply(h, status, b"sorry", "text/html")
    error = fetch_error(make_fetcher(), site.url("/gone"))
    assert isinstance(error, HTTPStatusError) and error.status == status
    assert words in error.reason
    assert site.hits["/gone"] == 1 and sleeps == []


def _fails_then_works(
    site: Site, path: str, failures: int, status: int, headers: dict[str, str]
) -> None:
    def route(h: Handler) -> None:
        if site.hits[path] <= failures:
            reply(h, status, b"busy", "text/plain", headers)
        else:
            reply(h, 200, PNG, "image/png")

    site.routes[path] = route


def test_too_many_requests_waits_as_long_as_the_server_asks(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    _fails_then_works(site, "/busy", 1, 429, {"Retry-After": "2"})
    assert make_fetcher().get(site.url("/busy")).kind == "image"
    assert site.hits["/busy"] == 2 and sleeps == [2.0]


def test_retry_after_as_a_date_is_honoured(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    now = datetime(2026, 5, 19, 12, 0, 0, tzinfo=UTC)
    later = format_datetime(now + timedelta(seconds=7), usegmt=True)
    _fails_then_works(site, "/busy", 1, 503, {"Retry-After": later})
    assert make_fetcher(clock=lambda: now).get(site.url("/busy")).status == 200
    assert sleeps == [7.0]


@pytest.mark.parametrize(
    ("header", "waited"), [("3600", 5.0), ("9" * 5000, 5.0), ("soon", 0.5), ("-3", 0.5)]
)
def test_retry_after_is_capped_and_junk_falls_back_to_backoff(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float], header: str, waited: float
) -> None:
    _fails_then_works(site, "/busy", 1, 429, {"Retry-After": header})
    make_fetcher(FetchLimits(max_retry_wait=5, backoff=0.5)).get(site.url("/busy"))
    assert sleeps == [waited]


def test_a_server_error_is_retried_with_backoff(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    _fails_then_works(site, "/shaky", 2, 500, {})
    assert make_fetcher(FetchLimits(backoff=0.25)).get(site.url("/shaky")).kind == "image"
    assert site.hits["/shaky"] == 3 and sleeps == [0.25, 0.5]


def test_a_server_error_that_never_ends_is_reported_after_the_retries(
    site: Site, make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    site.routes["/down"] = lambda h: reply(h, 502, b"bad gateway", "text/plain")
    error = fetch_error(make_fetcher(FetchLimits(retries=2, backoff=0.1)), site.url("/down"))
    assert isinstance(error, HTTPStatusError) and error.status == 502
    assert error.reason == "the server had an error (HTTP 502) (tried 3 times); try again later"
    assert site.hits["/down"] == 3 and sleeps == [0.1, 0.2]


def test_waits_really_happen_with_the_default_sleep(site: Site) -> None:
    _fails_then_works(site, "/busy", 1, 503, {"Retry-After": "0"})
    _fails_then_works(site, "/shaky", 1, 500, {})
    started = time.monotonic()
    with Fetcher(FetchLimits(backoff=0.2), allow_private=True, resolver=only_names({})) as fetcher:
        fetcher.get(site.url("/busy"))
        fetcher.get(site.url("/shaky"))
    assert 0.2 <= time.monotonic() - started < 2


# -- the private-address guard ---------------------------------------------------------------

BLOCKED = [
    "127.0.0.1", "127.8.9.10", "10.1.2.3", "172.16.0.1", "172.31.255.255", "192.168.1.1",
    "169.254.169.254", "169.254.170.2", "100.64.0.1", "100.100.100.200", "0.0.0.0",
    "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.5",
    "::1", "::", "fe80::1", "fd00:ec2::254", "fc00::1", "ff02::1", "fec0::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
    "64:ff9b::a00:1", "64:ff9b::a9fe:a9fe", "2002:a00:1::1", "2002:7f00:1::", "2001:db8::1",
    "64:ff9b:1::1",
]
PUBLIC = ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2606:4700:4700::1111", "64:ff9b::808:808",
          "2002:808:808::1"]


@pytest.mark.parametrize("address", BLOCKED)
def test_private_and_special_addresses_are_not_public(address: str) -> None:
    assert not is_public_address(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_are_public(address: str) -> None:
    assert is_public_address(address)


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/photo",
        "http://[::1]:{port}/photo",
        "http://[::ffff:127.0.0.1]:{port}/photo",
        "http://0.0.0.0:{port}/photo",
        "http://10.0.0.1/photo.jpg",
        "https://192.168.0.10/photo.jpg",
        "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://100.100.100.200/latest/meta-data/",
        "http://[fe80::1]/",
    ],
)
def test_private_addresses_are_refused_before_connecting(
    site: Site, make_fetcher: MakeFetcher, url: str
) -> None:
    site.routes["/photo"] = lambda h: reply(h, 200, PNG, "image/png")
    url = url.format(port=site.port)
    started = time.monotonic()

    error = fetch_error(make_fetcher(allow_private=False), url)

    assert isinstance(error, BlockedAddress)
    assert error.reason.endswith(
        "is on a private network, not the public internet; "
        "the tool refuses it unless --allow-private is given"
    )
    assert str(error) == f"{url}: {error.reason}"
    assert sum(site.hits.values()) == 0 and time.monotonic() - started < 0.5


@pytest.mark.parametrize("host", ["localhost", "2130706433", "0x7f.1", "127.1"])
def test_names_are_checked_on_what_they_resolve_to(
    site: Site, make_fetcher: MakeFetcher, host: str
) -> None:
    if host != "localhost":  # the system resolver reads these as numbers, with no DNS query
        try:
            socket.getaddrinfo(host, 80, flags=socket.AI_NUMERICHOST)
        except socket.gaierror:
            pytest.skip(f"this system's resolver does not read {host} as a number")
    site.routes["/photo"] = lambda h: reply(h, 200, PNG, "image/png")
    url = site.url("/photo", host=host)

    error = fetch_error(make_fetcher(allow_private=False, resolver=resolve_host), url)

    assert isinstance(error, BlockedAddress)
    assert sum(site.hits.values()) == 0
    assert make_fetcher(allow_private=True, resolver=resolve_host).get(url).kind == "image"


@pytest.mark.parametrize(
    "answers",
    [["10.20.30.40"], ["93.184.216.34", "127.0.0.1"], ["2606:4700:4700::1111", "fd00:ec2::254"],
     ["169.254.169.254"], ["::ffff:192.168.0.1"]],
)
def test_a_name_with_any_private_address_is_refused(
    make_fetcher: MakeFetcher, answers: list[str]
) -> None:
    fetcher = make_fetcher(allow_private=False, resolver=only_names({"mixed.test": answers}))
    error = fetch_error(fetcher, "http://mixed.test/photo.jpg")
    assert isinstance(error, BlockedAddress)
    assert error.reason.startswith("mixed.test points to ")


def test_a_name_that_does_not_resolve_is_reported(make_fetcher: MakeFetcher) -> None:
    def nowhere(host: str, port: int) -> list[str]:
        raise FetchError(f"the server name {host} could not be found")

    error = fetch_error(make_fetcher(resolver=nowhere), "http://nowhere.test/a.jpg")
    assert type(error) is FetchError and "nowhere.test could not be found" in str(error)
    no_answer = make_fetcher(resolver=lambda host, port: [])
    assert isinstance(fetch_error(no_answer, "http://empty.test/"), FetchError)


def test_allow_private_reaches_loopback(site: Site, make_fetcher: MakeFetcher) -> None:
    site.routes["/photo"] = lambda h: reply(h, 200, PNG, "image/png")
    fetcher = make_fetcher(allow_private=True, resolver=only_names({"lan.test": ["127.0.0.1"]}))
    assert fetcher.get(site.url("/photo")).kind == "image"
    assert fetcher.get(site.url("/photo", host="lan.test")).kind == "image"


def test_allow_private_reaches_ipv6_loopback(make_fetcher: MakeFetcher) -> None:
    try:
        server = Site("::1")
    except OSError:
        pytest.skip("IPv6 loopback is not available here")
    try:
        server.routes["/photo"] = lambda h: reply(h, 200, PNG, "image/png")
        url = server.url("/photo", host="[::1]")
        assert make_fetcher(allow_private=True).get(url).server_address == "::1"
        assert isinstance(fetch_error(make_fetcher(allow_private=False), url), BlockedAddress)
    finally:
        server.close()


def test_allowed_networks_open_only_what_they_name(site: Site, make_fetcher: MakeFetcher) -> None:
    site.routes["/photo"] = lambda h: reply(h, 200, PNG, "image/png")
    fetcher = make_fetcher(allow_private=False, allowed_networks=["127.0.0.1/32"])
    assert fetcher.get(site.url("/photo")).kind == "image"
    assert isinstance(fetch_error(fetcher, site.url("/photo", host="127.0.0.2")), BlockedAddress)
    assert isinstance(fetch_error(fetcher, "http://10.0.0.1/a.jpg"), BlockedAddress)


def test_the_connection_goes_to_the_address_that_was_checked(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    """DNS rebinding: a name that answers 'allowed' and then 'private' gets nowhere private."""
    answers = iter([["127.0.0.1"], ["10.0.0.1"]])
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return next(answers)

    site.routes["/once"] = lambda h: reply(h, 200, PNG, "image/png", {"Connection": "close"})
    site.routes["/photo"] = lambda h: reply(h, 200, PNG, "image/png")
    fetcher = make_fetcher(
        allow_private=False, allowed_networks=["127.0.0.1/32"], resolver=rebinding
    )

    first = fetcher.get(site.url("/once", host="rebind.test"))
    error = fetch_error(fetcher, site.url("/photo", host="rebind.test"))

    assert first.kind == "image" and first.server_address == "127.0.0.1"
    assert site.hosts == [f"rebind.test:{site.port}"]  # the Host header keeps the name
    assert lookups == ["rebind.test", "rebind.test"]  # one lookup per new connection
    assert isinstance(error, BlockedAddress) and "10.0.0.1" in error.reason
    assert site.hits["/photo"] == 0


def _tls_files(tmp_path: Path, name: str) -> tuple[Path, Path, bytes]:
    """A throwaway CA and a certificate for ``name`` only (no IP address in it)."""
    crypto = pytest.importorskip("cryptography")
    del crypto
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.now(UTC)

    def certificate(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(days=1))
            .not_valid_after(now + timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = x509.SubjectAlternativeName([x509.DNSName(subject)])
            builder = builder.add_extension(names, critical=False)
        else:
            builder = builder.add_extension(
                x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True,
                              content_commitment=False, key_encipherment=False,
                              data_encipherment=False, key_agreement=False,
                              encipher_only=False, decipher_only=False),
                critical=True,
            )
        return builder.sign(signer, hashes.SHA256())

    ca_key = ec.generate_private_key(ec.SECP256R1())
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    ca = certificate("stopncii test CA", ca_key, "stopncii test CA", ca_key, ca=True)
    leaf = certificate(name, leaf_key, "stopncii test CA", ca_key, ca=False)
    cert_file, key_file = tmp_path / "leaf.pem", tmp_path / "leaf.key"
    cert_file.write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(leaf_key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ))
    return cert_file, key_file, ca.public_bytes(serialization.Encoding.PEM)


def test_tls_uses_the_name_for_sni_and_certificates_while_pinned(
    tmp_path: Path, make_fetcher: MakeFetcher, sleeps: list[float]
) -> None:
    cert_file, key_file, ca_pem = _tls_files(tmp_path, "pinned.test")
    server_context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_context.load_cert_chain(cert_file, key_file)
    names_seen: list[str | None] = []
    server_context.sni_callback = lambda sock, name, ctx: names_seen.append(name)
    server = Site(ssl_context=server_context)
    try:
        server.routes["/photo"] = lambda h: reply(h, 200, JPEG, "image/jpeg")
        trust = ssl.create_default_context(cadata=ca_pem.decode())
        names = {"pinned.test": ["127.0.0.1"], "other.test": ["127.0.0.1"]}
        fetcher = make_fetcher(allow_private=False, allowed_networks=["127.0.0.1/32"],
                               resolver=only_names(names), ssl_context=trust)

        got = fetcher.get(server.url("/photo", host="pinned.test", scheme="https"))
        wrong_name = fetch_error(fetcher, server.url("/photo", host="other.test", scheme="https"))

        assert got.kind == "image" and names_seen[0] == "pinned.test"
        assert "security certificate could not be verified" in wrong_name.reason
        assert sleeps == []  # a certificate problem is not retried
        assert server.hits["/photo"] == 1
    finally:
        server.close()


# -- what is not a web address ---------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "ftp://files.example/a.jpg",
        "file:///etc/passwd",
        "javascript:alert(1)",
        "data:image/png;base64,iVBORw0KGgo=",
        "gopher://files.example/",
        "files.example/a.jpg",
        "",
        "   ",
        "http://",
        "http://user:secret@files.example/a.jpg",
        "http://files.example\\@127.0.0.1/a.jpg",
        "http://@files.example:1@127.0.0.1/",
        "http://[fe80::1%25eth0]/",
        "http://[::1/",
        "http://files.example:99999/",
        "HTTP://XN--/",
    ],
)
def test_non_web_addresses_are_refused(make_fetcher: MakeFetcher, url: str) -> None:
    error = fetch_error(make_fetcher(allow_private=False), url)
    assert isinstance(error, InvalidURL)
    with pytest.raises(InvalidURL):
        parse_web_address(url)


def test_odd_ports_and_names_are_fine(site: Site, make_fetcher: MakeFetcher) -> None:
    site.routes["/a%20b.jpg"] = lambda h: reply(h, 200, JPEG, "image/jpeg")
    assert str(parse_web_address("  HTTP://Files.Example:8443/x  ")) == "http://files.example:8443/x"
    fetcher = make_fetcher(resolver=only_names({"xn--mnchen-3ya.test": ["127.0.0.1"]}))
    got = fetcher.get(f"http://münchen.test:{site.port}/a%20b.jpg")
    assert got.kind == "image"


def test_limits_must_make_sense() -> None:
    with pytest.raises(ValueError, match="max_bytes"):
        FetchLimits(max_bytes=0)
    with pytest.raises(ValueError, match="retries"):
        FetchLimits(retries=-1)


# -- many at once ----------------------------------------------------------------------------


def test_get_many_keeps_to_the_per_host_and_total_limits(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    active: Counter[str] = Counter()
    most: Counter[str] = Counter()

    def hold(h: Handler) -> None:
        host = h.headers["Host"].split(":")[0]
        with site.lock:
            active[host] += 1
            active["all"] += 1
            most[host] = max(most[host], active[host])
            most["all"] = max(most["all"], active["all"])
        time.sleep(0.25)
        with site.lock:
            active[host] -= 1
            active["all"] -= 1
        reply(h, 200, PNG, "image/png")

    site.routes["/hold"] = hold
    hosts = ["a.test", "b.test", "c.test"]
    fetcher = make_fetcher(
        FetchLimits(per_host=2, total=4), resolver=only_names({h: ["127.0.0.1"] for h in hosts})
    )
    urls = [site.url("/hold", host=host) + f"?n={n}" for host in hosts for n in range(4)]

    results = list(fetcher.get_many(urls))

    assert sorted(url for url, _ in results) == sorted(urls)
    assert all(isinstance(r, FetchedResource) for _, r in results)
    assert max(most[h] for h in hosts) == 2
    assert 3 <= most["all"] <= 4


def test_get_many_yields_as_each_finishes_and_never_raises(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    def slow(h: Handler) -> None:
        time.sleep(0.5)
        reply(h, 200, JPEG, "image/jpeg")

    site.routes["/slow"] = slow
    site.routes["/fast"] = lambda h: reply(h, 200, PNG, "image/png")
    urls = [site.url("/slow"), site.url("/fast"), site.url("/gone"), "ftp://x.example/a.jpg",
            "http://10.0.0.1/a.jpg"]
    fetcher = make_fetcher(allow_private=False, allowed_networks=["127.0.0.1/32"])

    results = list(fetcher.get_many(urls))

    assert results[-1][0] == site.url("/slow")
    outcome = {url: type(r).__name__ for url, r in results}
    assert outcome == {
        urls[0]: "FetchedResource", urls[1]: "FetchedResource", urls[2]: "HTTPStatusError",
        urls[3]: "InvalidURL", urls[4]: "BlockedAddress",
    }
    assert all(r.item == url for url, r in results if isinstance(r, FetchError))


def test_stopping_get_many_early_leaves_the_rest_unfetched(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    def hold(h: Handler) -> None:
        time.sleep(0.1)
        reply(h, 200, PNG, "image/png")

    site.routes["/hold"] = hold
    fetcher = make_fetcher(FetchLimits(per_host=1, total=1))
    results = fetcher.get_many(site.url("/hold") + f"?n={n}" for n in range(20))

    _, first = next(results)
    results.close()
    time.sleep(0.3)

    assert isinstance(first, FetchedResource)
    assert site.hits["/hold"] <= 2


# -- nothing on disk -------------------------------------------------------------------------

_NO_DISK_SCRIPT = r"""
import io, json, os, sys, threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from PIL import Image
from stopncii_tools.web.fetch import Fetcher
from stopncii_tools.web.pages import find_media

picture = io.BytesIO()
Image.new("RGB", (64, 64), (10, 120, 130)).save(picture, "PNG")
video = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + bytes(300_000)
bodies = {
    "/": b"<html><body><img src='/p.png'><video src='/v.mp4'></video></body></html>",
    "/p.png": picture.getvalue(),
    "/v.mp4": video,
}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *args): pass
    def do_GET(self):
        body = bodies[self.path]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
base = f"http://127.0.0.1:{server.server_address[1]}"

WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_TRUNC
WATCHED = {"os.mkdir", "os.rename", "os.remove", "os.rmdir", "os.truncate", "os.link",
           "os.symlink", "os.chmod", "os.utime", "shutil.copyfile", "shutil.copytree",
           "tempfile.mkstemp", "tempfile.mkdtemp", "sqlite3.connect", "mmap.__new__"}
events = []

def audit(event, args):
    if event == "open":
        path, mode, flags = args
        if (flags or 0) & WRITE_FLAGS or any(c in (mode or "") for c in "wax+"):
            events.append(f"open {path!r} mode={mode!r} flags={flags!r}")
    elif event in WATCHED and not (event == "mmap.__new__" and args[0] == -1):
        events.append(f"{event} {args!r}")

sys.addaudithook(audit)  # from here on, every file write in this process is seen
with Fetcher(allow_private=True) as fetcher:
    page = fetcher.get(base + "/")
    links = find_media(page.body, page.final_url)
    results = {url: (r.kind, r.size) for url, r in fetcher.get_many(link.url for link in links)}
during_fetch = list(events)
with open(os.devnull, "w"):  # a control: proves the watcher sees a write when there is one
    pass
print(json.dumps({"events": during_fetch, "control": events[len(during_fetch):],
                  "page": page.kind, "results": results}))
"""


def test_nothing_fetched_is_written_to_disk(tmp_path: Path) -> None:
    """Fetch a page, a picture and a video in a fresh process that audits every file write.

    Python's audit hooks see every open() and os.open() with its flags, and every mkdir,
    rename, temporary file and database connection, in every thread; the temporary folder,
    home folder and working folder are empty read-only folders and must stay empty.
    """
    folders = {name: tmp_path / name for name in ("tmp", "home", "cwd")}
    for folder in folders.values():
        folder.mkdir()
        folder.chmod(0o500)
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        "TMPDIR": str(folders["tmp"]),
        "TEMP": str(folders["tmp"]),
        "HOME": str(folders["home"]),
        "STOPNCII_HOME": str(folders["home"] / "stopncii"),
    }
    try:
        done = subprocess.run(
            [sys.executable, "-c", _NO_DISK_SCRIPT], cwd=folders["cwd"], env=env,
            capture_output=True, text=True, timeout=60, check=False,
        )
        assert done.returncode == 0, done.stderr
        report = json.loads(done.stdout)
        leftovers = {name: sorted(os.listdir(folder)) for name, folder in folders.items()}
    finally:
        for folder in folders.values():
            folder.chmod(0o700)

    assert report["page"] == "html"
    assert sorted(report["results"].values()) == [["image", len(PNG_64)], ["video", 300_024]]
    assert report["events"] == []
    assert len(report["control"]) == 1 and repr(os.devnull) in report["control"][0]
    assert leftovers == {"tmp": [], "home": [], "cwd": []}


# -- compressed answers (the server may ignore Accept-Encoding: identity) --------------------


def _raw_deflate(data: bytes) -> bytes:
    packer = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    return packer.compress(data) + packer.flush()


@pytest.mark.parametrize(
    ("encoding", "pack"),
    [
        ("gzip", gzip.compress),
        ("x-gzip", gzip.compress),
        ("deflate", zlib.compress),
        ("deflate", _raw_deflate),  # some servers send the bare stream
        ("gzip, deflate", lambda b: zlib.compress(gzip.compress(b))),
        ("identity", lambda b: b),
        ("gzip", lambda b: gzip.compress(b[:500]) + gzip.compress(b[500:])),  # two gzip members
    ],
    ids=["gzip", "x-gzip", "deflate", "raw-deflate", "two-layers", "identity", "two-members"],
)
def test_a_compressed_answer_is_unpacked_to_the_same_bytes(
    site: Site, make_fetcher: MakeFetcher, encoding: str, pack: Callable[[bytes], bytes]
) -> None:
    site.routes["/photo"] = lambda h: reply(h, 200, pack(JPEG), "image/jpeg", {"Content-Encoding": encoding})

    got = make_fetcher().get(site.url("/photo"))

    assert got.body == JPEG and got.format == "jpeg"
    assert got.sha256 == hashlib.sha256(JPEG).hexdigest()  # the evidence is of the unpacked file


def test_the_size_limit_applies_to_the_unpacked_size(site: Site, make_fetcher: MakeFetcher) -> None:
    packed = gzip.compress(jpeg(3_000_000))
    assert len(packed) < 100_000
    site.routes["/photo"] = lambda h: reply(h, 200, packed, "image/jpeg", {"Content-Encoding": "gzip"})

    error = fetch_error(make_fetcher(FetchLimits(max_bytes=1_000_000)), site.url("/photo"))

    assert error.reason == (
        "the file is larger than the 1.0 MB limit for pictures and pages; the download was stopped"
    )


def test_broken_compressed_data_is_one_line(site: Site, make_fetcher: MakeFetcher) -> None:
    site.routes["/photo"] = lambda h: reply(h, 200, b"\x1f\x8b\x08\x00garbage" * 10, "image/jpeg",
                                            {"Content-Encoding": "gzip"})

    error = fetch_error(make_fetcher(), site.url("/photo"))

    assert error.reason == "the server sent compressed data that could not be unpacked"


@settings(max_examples=60, deadline=None)
@given(data=st.binary(max_size=300_000), cut=st.integers(min_value=1, max_value=70_000),
       layers=st.sampled_from([("gzip",), ("deflate",), ("gzip", "gzip"), ("deflate", "gzip")]))
def test_unpacking_in_pieces_gives_back_the_bytes_and_never_a_big_piece(
    data: bytes, cut: int, layers: tuple[str, ...]
) -> None:
    packed = data
    for name in layers:
        packed = gzip.compress(packed) if name == "gzip" else zlib.compress(packed)
    arriving = [packed[i:i + cut] for i in range(0, len(packed), cut)]

    pieces = list(_unpacked(arriving, layers))

    assert b"".join(pieces) == data
    assert all(len(piece) <= 65_536 for piece in pieces)


# -- bytes held at once -----------------------------------------------------------------------


def test_downloads_at_once_hold_no_more_than_the_shared_limit_and_all_finish(
    site: Site, make_fetcher: MakeFetcher
) -> None:
    size = 3_000_000
    body = mp4(size)
    held_at_once: list[int] = []

    def slow_video(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", "video/mp4")
        h.send_header("Content-Length", str(size))
        h.end_headers()
        for start in range(0, size, 250_000):
            h.wfile.write(body[start:start + 250_000])
            time.sleep(0.01)

    for n in range(6):
        site.routes[f"/v{n}.mp4"] = slow_video
    fetcher = make_fetcher(FetchLimits(per_host=6, total=6, max_held_bytes=4_000_000,
                                       max_host_held_bytes=4_000_000, read_timeout=5))
    held = fetcher._held  # what keeps the limit: sampled while the downloads run
    stop = threading.Event()

    def sample() -> None:
        while not stop.wait(0.002):
            held_at_once.append(held.held)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        results = list(fetcher.get_many(site.url(f"/v{n}.mp4") for n in range(6)))
    finally:
        stop.set()
        sampler.join()
    assert len(results) == 6 and all(not isinstance(r, FetchError) and r.body == body for _, r in results)
    # the limit, plus the one download that may always go on so nothing stalls
    assert max(held_at_once) <= 4_000_000 + size + 65_536
    assert held.held == 0  # everything was let go once the caller took it


def test_fetch_limits_defaults_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPNCII_FETCH_TOTAL_TIMEOUT", "12.5")
    monkeypatch.setenv("STOPNCII_FETCH_MAX_VIDEO_BYTES", "2e6")

    assert FetchLimits().total_timeout == 12.5
    assert FetchLimits().max_video_bytes == 2_000_000
    assert FetchLimits(max_video_bytes=5).max_video_bytes == 5  # an explicit value wins
    monkeypatch.setenv("STOPNCII_FETCH_MAX_BYTES", "lots")
    with pytest.raises(ValueError, match="STOPNCII_FETCH_MAX_BYTES must be a number, not 'lots'"):
        FetchLimits()
