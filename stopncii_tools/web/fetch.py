"""Download suspect media and pages: the only module in the package that downloads.

Everything fetched stays in memory: bodies are returned as ``bytes`` for the caller to hash and
drop, and nothing is ever written to disk (no cache, no temporary files).

Each request is bounded (connect, read and total timeouts, the total counted from the first
connection attempt to the last byte, headers included; a size limit enforced while the body
streams in, on the unpacked size when the server compressed it, with at most two layers of
compression; a limit on the bytes all downloads hold at once, per run and per host; at most five
redirects, each followed by hand and checked) and guarded against
server-side request forgery: every address a name resolves to is checked before connecting, and
the connection goes to the address that was checked, so a name cannot answer "public" to the
check and "private" to the connection (DNS rebinding). The Host header and TLS server name stay
those of the URL. Private, loopback, link-local, multicast, reserved, CGNAT and cloud metadata
addresses are refused unless ``allow_private=True``.

The server's Content-Type is recorded but never trusted: what a body is comes from its bytes.
"""

from __future__ import annotations

import functools
import hashlib
import io
import ipaddress
import itertools
import os
import socket
import ssl
import threading
import time
import zlib
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Final, Literal, Self, TypeVar

import httpcore
import httpx

from .. import clock as clocks
from .._errors import BlockedAddress, FetchError, HTTPStatusError, InvalidURL, ResponseTooLarge
from ..media.pictures import kind_of, sniff
from ..retry import Backoff, parse_retry_after
from .urls import join_web_address, parse_web_address

USER_AGENT: Final = "stopncii-tools/0.1 (+https://github.com/stopncii-tools; takedown checker)"

Kind = Literal["image", "video", "html"]
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], Sequence[str]]
"""Turns a host name and port into the IP addresses to try, in order."""
_Number = TypeVar("_Number", int, float)

_HEADERS: Final = {
    "User-Agent": USER_AGENT,
    "Accept": "image/*,video/*,text/html;q=0.9,*/*;q=0.5",
    "Accept-Encoding": "identity",  # media is already compressed; this avoids gzip bombs too
}
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_SNIFF_BYTES: Final = 1024  # enough for every signature in media.sniff and for HTML markers
_HTML_MARKERS: Final = (b"<!doctype html", b"<html", b"<head", b"<body")
_TEXT_CONTROL_BYTES: Final = frozenset(range(32)) - {9, 10, 12, 13, 27}
_MAX_ENCODING_LAYERS: Final = 2  # "gzip" is common, "deflate, gzip" happens; more is only a bomb
_UNPACK_PIECE: Final = 65_536  # the most one step of unpacking may produce, so limits hold mid-chunk
_ZLIB_WINDOWS: Final = {"gzip": 16 + zlib.MAX_WBITS, "x-gzip": 16 + zlib.MAX_WBITS,
                        "deflate": zlib.MAX_WBITS}
_LOOKAHEAD: Final = 1_000  # URLs read ahead from get_many's input to spread the work over hosts
_PRIVATE_REASON: Final = (
    "is on a private network, not the public internet; "
    "the tool refuses it unless --allow-private is given"
)

# Written out rather than left to ipaddress.is_global alone, whose lists change between Python
# releases; is_global is still consulted for anything missed here.
_BLOCKED_NETWORKS: Final[tuple[IPNetwork, ...]] = tuple(
    ipaddress.ip_network(net)
    for net in (
        "0.0.0.0/8", "10.0.0.0/8", "100.64.0.0/10", "127.0.0.0/8", "169.254.0.0/16",
        "172.16.0.0/12", "192.0.0.0/24", "192.0.2.0/24", "192.88.99.0/24", "192.168.0.0/16",
        "198.18.0.0/15", "198.51.100.0/24", "203.0.113.0/24", "224.0.0.0/4", "240.0.0.0/4",
        "::/96", "::ffff:0:0/96", "64:ff9b:1::/48", "100::/64", "2001::/23", "2001:db8::/32",
        "fc00::/7", "fe80::/10", "fec0::/10", "ff00::/8",
    )
)
_NAT64: Final = ipaddress.IPv6Network("64:ff9b::/96")


ENVIRONMENT_PREFIX: Final = "STOPNCII_FETCH_"
"""``STOPNCII_FETCH_<FIELD>`` (e.g. ``STOPNCII_FETCH_TOTAL_TIMEOUT=120``) changes a default."""


def _default(name: str, value: _Number) -> Callable[[], _Number]:
    """A default that ``STOPNCII_FETCH_<NAME>`` can change (read when the limits are made)."""
    def read() -> _Number:
        text = os.environ.get(ENVIRONMENT_PREFIX + name.upper(), "").strip()
        if not text:
            return value
        try:
            return type(value)(float(text))
        except (ValueError, OverflowError):
            raise ValueError(f"{ENVIRONMENT_PREFIX}{name.upper()} must be a number, not {text[:40]!r}") from None
    return read


@dataclass(frozen=True)
class FetchLimits:
    """Every bound on fetching. Times are in seconds, sizes in bytes.

    Each default can be changed with an environment variable ``STOPNCII_FETCH_<FIELD>``.
    """

    connect_timeout: float = field(default_factory=_default("connect_timeout", 10.0))
    read_timeout: float = field(default_factory=_default("read_timeout", 30.0))  # longest silence
    # longest time for one try: connecting, sending, the headers and the whole body
    total_timeout: float = field(default_factory=_default("total_timeout", 600.0))
    # pictures, pages and anything that is not a video (the unpacked size when compressed)
    max_bytes: int = field(default_factory=_default("max_bytes", 50_000_000))
    # when the bytes (or, failing that, the server) say video
    max_video_bytes: int = field(default_factory=_default("max_video_bytes", 500_000_000))
    # bytes all downloads of one Fetcher hold at once, and those from one host
    max_held_bytes: int = field(default_factory=_default("max_held_bytes", 1_000_000_000))
    max_host_held_bytes: int = field(default_factory=_default("max_host_held_bytes", 600_000_000))
    max_redirects: int = 5
    retries: int = 3  # extra tries after a 429, a 5xx or a failed connection
    backoff: float = 1.0  # first wait between tries; doubles each time
    max_retry_wait: float = 60.0  # cap on any single wait, including a server's Retry-After
    per_host: int = 2
    total: int = 8

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout", "max_bytes",
                     "max_video_bytes", "max_held_bytes", "max_host_held_bytes", "per_host",
                     "total"):
            if getattr(self, name) <= 0:
                raise ValueError(f"FetchLimits.{name} must be positive")
        for name in ("max_redirects", "retries", "backoff", "max_retry_wait"):
            if getattr(self, name) < 0:
                raise ValueError(f"FetchLimits.{name} must not be negative")


@dataclass(frozen=True)
class FetchedResource:
    """One successful download, held in memory only.

    ``body`` is the raw bytes (hash them, then drop the object). ``format`` and ``kind`` come
    from sniffing the bytes; ``content_type`` is what the server claimed. ``redirects`` lists
    the addresses that answered with a redirect, in order, starting with ``url``; it is empty
    when ``url`` answered directly. ``headers`` are the final response's headers (names in
    lower case) and ``server_address`` the IP address that sent it: evidence for a notice.
    """

    url: str
    final_url: str
    status: int
    content_type: str | None
    body: bytes = field(repr=False)
    size: int
    sha256: str
    fetched_at: datetime
    redirects: tuple[str, ...]
    format: str | None
    kind: Kind | None
    headers: tuple[tuple[str, str], ...] = field(repr=False)
    server_address: str | None


# -- addresses -----------------------------------------------------------------------------


def is_public_address(address: str | IPAddress) -> bool:
    """True for an address on the public internet; False for private, loopback, link-local,
    multicast, reserved, unspecified, CGNAT and metadata addresses, in any IPv6 disguise."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None and not is_public_address(embedded):
            return False
    if any(ip in network for network in _BLOCKED_NETWORKS):
        return False
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address a NAT64 or 6to4 address leads to (mapped forms are blocked outright)."""
    if ip in _NAT64:
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return ip.sixtofour


def resolve_host(host: str, port: int) -> list[str]:
    """The IP addresses of ``host`` from the system resolver, without repeats."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise FetchError(
            f"the server name {host} could not be found ({_first_line(exc)}); "
            "check the address, or the internet connection"
        ) from None
    return list(dict.fromkeys(str(info[4][0]) for info in infos))


class _AddressGuard:
    """Resolves a host once and checks every address it gets before any is used."""

    def __init__(
        self, resolver: Resolver, allow_private: bool, allowed_networks: tuple[IPNetwork, ...]
    ) -> None:
        self._resolver = resolver
        self._allow_private = allow_private
        self._allowed_networks = allowed_networks

    def addresses(self, host: str, port: int) -> list[str]:
        """Checked IP addresses for ``host``; raises BlockedAddress if any one is refused."""
        try:
            ipaddress.ip_address(host)
            found: Sequence[str] = [host]
        except ValueError:
            found = self._resolver(host, port)
        if not found:
            raise FetchError(f"the server name {host} has no address")
        for address in found:
            self._check(host, address)
        return list(found)

    def _check(self, host: str, address: str) -> None:
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            raise FetchError(
                f"the server name {host} resolved to {address!r}, which is not an address"
            ) from None
        if self._allow_private or any(ip in net for net in self._allowed_networks):
            return
        if not is_public_address(ip):
            where = f"this address ({ip})" if address == host else f"{host} points to {ip}, which"
            raise BlockedAddress(f"{where} {_PRIVATE_REASON}")


_deadline = threading.local()
"""When the current thread's download must be over (``time.monotonic()``); None: no limit."""


def _remaining(timeout: float | None) -> float | None:
    """``timeout`` shortened to what is left of this download; ReadTimeout when nothing is."""
    left = _time_left()
    if left is None:
        return timeout
    if left <= 0:
        raise httpcore.ReadTimeout("the total time for this download ran out")
    return left if timeout is None else min(timeout, left)


class _DeadlineStream(httpcore.NetworkStream):
    """A connection whose every read and write ends by the current try's deadline, so a server
    that trickles its headers (or anything else) one byte at a time is still cut off."""

    def __init__(self, stream: httpcore.NetworkStream) -> None:
        self._stream = stream

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, _remaining(timeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, _remaining(timeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(
        self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        return _DeadlineStream(
            self._stream.start_tls(ssl_context, server_hostname, _remaining(timeout))
        )

    def get_extra_info(self, info: str) -> object:
        return self._stream.get_extra_info(info)


class _PinnedBackend(httpcore.NetworkBackend):
    """Connects to an address the guard has just checked, never to a fresh lookup of the name.

    httpcore still starts TLS with the URL's host name, so certificate checks and SNI are right.
    """

    def __init__(self, guard: _AddressGuard) -> None:
        self._guard = guard
        self._plain = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        *others, last = self._guard.addresses(host, port)
        for address in others:
            try:
                return _DeadlineStream(self._plain.connect_tcp(
                    address, port, _remaining(timeout), local_address, socket_options
                ))
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue  # try the next address, as socket.create_connection does
        return _DeadlineStream(
            self._plain.connect_tcp(last, port, _remaining(timeout), local_address, socket_options)
        )

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)


# httpcore's errors as httpx's, most specific first (what httpx.HTTPTransport does for its own pool)
_HTTPCORE_ERRORS: Final[tuple[tuple[type[Exception], type[httpx.TransportError]], ...]] = (
    (httpcore.ConnectTimeout, httpx.ConnectTimeout),
    (httpcore.ReadTimeout, httpx.ReadTimeout),
    (httpcore.WriteTimeout, httpx.WriteTimeout),
    (httpcore.PoolTimeout, httpx.PoolTimeout),
    (httpcore.TimeoutException, httpx.TimeoutException),
    (httpcore.ConnectError, httpx.ConnectError),
    (httpcore.ReadError, httpx.ReadError),
    (httpcore.WriteError, httpx.WriteError),
    (httpcore.NetworkError, httpx.NetworkError),
    (httpcore.RemoteProtocolError, httpx.RemoteProtocolError),
    (httpcore.LocalProtocolError, httpx.LocalProtocolError),
    (httpcore.UnsupportedProtocol, httpx.UnsupportedProtocol),
    (httpcore.ProtocolError, httpx.ProtocolError),
)


@contextmanager
def _as_httpx_errors() -> Iterator[None]:
    try:
        yield
    except Exception as exc:
        for core_error, httpx_error in _HTTPCORE_ERRORS:
            if isinstance(exc, core_error):
                raise httpx_error(str(exc)) from exc
        raise


class _ResponseStream(httpx.SyncByteStream):
    def __init__(self, stream: Iterable[bytes]) -> None:
        self._stream = stream

    def __iter__(self) -> Iterator[bytes]:
        with _as_httpx_errors():
            yield from self._stream

    def close(self) -> None:
        close = getattr(self._stream, "close", None)
        if close is not None:
            close()


class _GuardedTransport(httpx.BaseTransport):
    """An httpx transport over an httpcore pool whose every connection goes through the guard."""

    def __init__(self, guard: _AddressGuard, ssl_context: ssl.SSLContext, keepalive: int) -> None:
        self._pool = httpcore.ConnectionPool(
            ssl_context=ssl_context,
            max_connections=None,  # the Fetcher's own per-host and total limits apply
            max_keepalive_connections=keepalive,
            network_backend=_PinnedBackend(guard),
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        assert isinstance(request.stream, httpx.SyncByteStream)
        core_request = httpcore.Request(
            method=request.method,
            url=httpcore.URL(
                scheme=request.url.raw_scheme,
                host=request.url.raw_host,
                port=request.url.port,
                target=request.url.raw_path,
            ),
            headers=request.headers.raw,
            content=request.stream,
            extensions=request.extensions,
        )
        with _as_httpx_errors():
            response = self._pool.handle_request(core_request)
        assert isinstance(response.stream, Iterable)
        return httpx.Response(
            status_code=response.status,
            headers=response.headers,
            stream=_ResponseStream(response.stream),
            extensions=response.extensions,
        )

    def close(self) -> None:
        self._pool.close()


# -- URLs ----------------------------------------------------------------------------------


def _redirect_target(current: httpx.URL, location: str) -> httpx.URL:
    try:
        return httpx.URL(join_web_address(str(current), location).url)
    except InvalidURL as exc:
        raise InvalidURL(f"the server redirected to {location[:200]!r}: {exc.reason}") from None


def _host_name(url: httpx.URL) -> str:
    """The host as sent on the wire (international names in their ASCII form)."""
    return url.raw_host.decode("ascii", "replace")


def _host_key(url: str) -> str:
    """The host a URL will be fetched from, for sharing out work ('' when it does not parse)."""
    try:
        return _host_name(httpx.URL(url.strip()))
    except (httpx.InvalidURL, ValueError):
        return ""


# -- the fetcher ---------------------------------------------------------------------------


@functools.cache
def _default_ssl_context() -> ssl.SSLContext:
    """The certifi trust store, loaded once (about 0.1 s) and shared: contexts are thread-safe."""
    return httpcore.default_ssl_context()


class Fetcher:
    """Fetch URLs into memory within :class:`FetchLimits`, behind the private-address guard.

    Use as a context manager (or call :meth:`close`). Thread-safe: :meth:`get` may be called
    from several threads, and :meth:`get_many` runs its own thread pool.

    ``allowed_networks`` lets through specific private networks (e.g. ``"127.0.0.1/32"``)
    while keeping the rest of the guard. ``resolver``, ``sleep`` and ``clock`` are there to be
    replaced in tests; ``ssl_context`` to trust an extra certificate authority.
    """

    def __init__(
        self,
        limits: FetchLimits | None = None,
        *,
        allow_private: bool = False,
        allowed_networks: Iterable[str | IPNetwork] = (),
        user_agent: str = USER_AGENT,
        ssl_context: ssl.SSLContext | None = None,
        resolver: Resolver = resolve_host,
        sleep: Callable[[float], None] = time.sleep,
        clock: clocks.Clock = clocks.now,
    ) -> None:
        self.limits = limits or FetchLimits()
        self.allow_private = allow_private
        guard = _AddressGuard(
            resolver,
            allow_private,
            tuple(ipaddress.ip_network(net, strict=False) for net in allowed_networks),
        )
        # The transport is driven directly, not through httpx.Client: the Client parses each
        # Location header itself (raising on hostile ones) and would honour proxy settings
        # from the environment, which would bypass the guard.
        self._transport = _GuardedTransport(
            guard, ssl_context or _default_ssl_context(), self.limits.total
        )
        self._headers = httpx.Headers({**_HEADERS, "User-Agent": user_agent})
        self._timeouts = httpx.Timeout(
            connect=self.limits.connect_timeout,
            read=self.limits.read_timeout,
            write=self.limits.read_timeout,
            pool=None,
        ).as_dict()
        self._sleep = sleep
        self._clock = clock
        self._total_slots = threading.BoundedSemaphore(self.limits.total)
        self._held = _HeldBytes(self.limits.max_held_bytes, self.limits.max_host_held_bytes)
        self._host_slots: dict[str, threading.BoundedSemaphore] = {}
        self._host_slots_lock = threading.Lock()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections. The Fetcher cannot be used afterwards."""
        self._transport.close()

    def get(self, url: str) -> FetchedResource:
        """Fetch ``url`` (following up to ``max_redirects`` redirects) into memory.

        Raises InvalidURL, BlockedAddress, ResponseTooLarge, HTTPStatusError (4xx/5xx after
        retries) or FetchError (timeouts, refused connections, TLS problems), each with
        ``item=url``.
        """
        hold = self._held.hold(_host_key(url))
        try:
            return self._get(url, hold)
        except FetchError as exc:
            exc.for_item(url)
            raise
        finally:
            hold.release()

    def get_many(
        self, urls: Iterable[str]
    ) -> Generator[tuple[str, FetchedResource | FetchError], None, None]:
        """Fetch many URLs concurrently, yielding ``(url, resource or error)`` as each finishes.

        At most ``limits.total`` run at once and at most ``limits.per_host`` per host; ``urls``
        is read lazily. A failed URL yields its FetchError instead of raising, so one bad URL
        never stops a batch. Stopping the iteration early cancels the URLs not yet started.
        A body counts towards ``max_held_bytes`` until the caller asks for the next result.
        """
        schedule = _HostSchedule(self.limits.per_host)
        source = iter(urls)
        running: dict[Future[FetchedResource | FetchError], tuple[str, str, _Hold]] = {}
        pool = ThreadPoolExecutor(self.limits.total, thread_name_prefix="stopncii-fetch")
        try:
            while True:
                while schedule.size < _LOOKAHEAD and (url := next(source, None)) is not None:
                    schedule.add(url, _host_key(url))
                while len(running) < self.limits.total and (picked := schedule.take()):
                    hold = self._held.hold(picked[1])
                    running[pool.submit(self._get_or_error, picked[0], hold)] = (*picked, hold)
                if not running:
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    url, host, hold = running.pop(future)
                    schedule.done(host)
                    try:
                        yield url, future.result()
                    finally:
                        hold.release()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)
            for future, (_, _, left_over) in running.items():
                future.add_done_callback(left_over.release_with)

    # -- internals ---------------------------------------------------------------------------

    def _get_or_error(self, url: str, hold: _Hold) -> FetchedResource | FetchError:
        try:
            return self._get(url, hold)
        except FetchError as exc:
            exc.for_item(url)
            return exc.with_traceback(None)  # keeps no frame (and no refused body) alive

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        with self._host_slots_lock:
            slot = self._host_slots.setdefault(
                host, threading.BoundedSemaphore(self.limits.per_host)
            )
        with slot:
            yield

    def _get(self, url: str, hold: _Hold) -> FetchedResource:
        current = httpx.URL(parse_web_address(url).url)
        redirects: list[str] = []
        with self._total_slots:
            _deadline.at = time.monotonic() + self.limits.total_timeout
            try:
                while True:
                    with self._host_slot(_host_name(current)):
                        response, tries = self._send(current)
                        try:
                            location = response.headers.get("location")
                            if response.status_code not in _REDIRECT_STATUSES or location is None:
                                return self._finish(url, response, tries, tuple(redirects), hold)
                        finally:
                            response.close()
                    if len(redirects) >= self.limits.max_redirects:
                        raise FetchError(
                            f"the address redirects more than {self.limits.max_redirects} times; "
                            "the tool stopped following it"
                        )
                    redirects.append(str(current))
                    current = _redirect_target(current, location)
            finally:
                _deadline.at = None

    def _send(self, url: httpx.URL) -> tuple[httpx.Response, int]:
        """The response to one GET (body not yet read) and how many tries it took."""
        tries = 0
        while True:
            tries += 1
            last_try = tries > self.limits.retries
            request = httpx.Request(
                "GET", url, headers=self._headers, extensions={"timeout": self._timeouts}
            )
            try:
                response = self._transport.handle_request(request)
            except httpx.HTTPError as exc:
                wait_for = self._wait_after(tries, None)
                if last_try or not _worth_retrying(exc) or not _time_for(wait_for):
                    raise FetchError(_describe(exc, self.limits, tries)) from None
                self._sleep(wait_for)
                continue
            response.request = request
            status = response.status_code
            if last_try or not (status == 429 or 500 <= status <= 599):
                return response, tries
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock())
            wait_for = self._wait_after(tries, retry_after)
            if not _time_for(wait_for):
                return response, tries
            response.close()
            self._sleep(wait_for)

    def _wait_after(self, tries: int, retry_after: float | None) -> float:
        """The wait before the next try, never longer than ``max_retry_wait``: a scan must go on."""
        cap = self.limits.max_retry_wait
        return min(Backoff(min(self.limits.backoff, cap), cap).wait_after(tries, retry_after), cap)

    def _finish(
        self, url: str, response: httpx.Response, tries: int, redirects: tuple[str, ...],
        hold: _Hold,
    ) -> FetchedResource:
        status = response.status_code
        if not 200 <= status <= 299:
            raise HTTPStatusError(_status_reason(status, tries), status=status)
        content_type = response.headers.get("content-type")
        server_address = _server_address(response)  # before the body: the socket may close after
        body, head = self._read_body(response, content_type, hold)
        fmt = sniff(head)
        return FetchedResource(
            url=url,
            final_url=str(response.request.url),
            status=status,
            content_type=content_type,
            body=body,
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            fetched_at=self._clock(),
            redirects=redirects,
            format=fmt,
            kind=_kind(fmt, head, content_type),
            headers=tuple(response.headers.multi_items()),
            server_address=server_address,
        )

    def _read_body(
        self, response: httpx.Response, content_type: str | None, hold: _Hold
    ) -> tuple[bytes, bytes]:
        """The whole body (unpacked) and its first bytes, stopped as soon as it is over its limit.

        A refused body is let go at once, not when the garbage collector gets round to it.
        """
        declared = _content_length(response)
        largest = max(self.limits.max_bytes, self.limits.max_video_bytes)
        if declared is not None and declared > largest:
            raise ResponseTooLarge(_too_large(largest, "any file", declared))
        body = io.BytesIO()
        head = b""
        limit: tuple[int, str] | None = None
        try:
            try:
                for chunk in _unpacked(response.iter_raw(), _content_encodings(response)):
                    if len(head) < _SNIFF_BYTES:
                        head += chunk[: _SNIFF_BYTES - len(head)]
                    hold.take(len(chunk), self.limits.total_timeout)
                    body.write(chunk)
                    if limit is None and len(head) >= _SNIFF_BYTES:
                        limit = self._limit_for(head, content_type, declared)
                    if limit is not None and body.tell() > limit[0]:
                        raise ResponseTooLarge(_too_large(*limit))
            except httpx.HTTPError as exc:
                raise FetchError(_describe(exc, self.limits, 1)) from None
            limit = limit or self._limit_for(head, content_type, declared)
            if body.tell() > limit[0]:
                raise ResponseTooLarge(_too_large(*limit))
        except BaseException:
            body.close()  # frees the buffer now, whoever still refers to this frame
            hold.release()
            raise
        hold.finished()
        return body.getvalue(), head  # getvalue hands over the buffer: no second copy of a video

    def _limit_for(
        self, head: bytes, content_type: str | None, declared: int | None
    ) -> tuple[int, str]:
        """The size limit for this body and its name; refuses a declared size above it."""
        sniffed = kind_of(sniff(head))
        claims_video = sniffed is None and (content_type or "").lower().startswith("video/")
        if sniffed == "video" or claims_video:
            limit = (self.limits.max_video_bytes, "videos")
        else:
            limit = (self.limits.max_bytes, "pictures and pages")
        if declared is not None and declared > limit[0]:
            raise ResponseTooLarge(_too_large(*limit, declared))
        return limit


class _HeldBytes:
    """The bytes downloads hold at once, kept under a limit for the Fetcher and one per host.

    A download that would go over waits for others to finish and be let go. So that a run
    never stalls, the oldest download still in progress goes on anyway once no finished body
    is waiting to be let go: at worst the bytes held are the limit plus that one download.
    """

    def __init__(self, limit: int, host_limit: int) -> None:
        self._limit = limit
        self._host_limit = host_limit
        self._changed = threading.Condition()
        self.held = 0
        self._finished = 0  # bytes of complete bodies the caller has not let go yet
        self._by_host: Counter[str] = Counter()
        self._downloading: dict[int, None] = {}  # tickets in the order the downloads started
        self._tickets = itertools.count()

    def hold(self, host: str) -> _Hold:
        with self._changed:
            ticket = next(self._tickets)
            self._downloading[ticket] = None
        return _Hold(self, ticket, host)

    def _take(self, hold: _Hold, size: int, total_timeout: float) -> None:
        with self._changed:
            while not self._may_take(hold, size):
                left = _time_left()
                if left is not None and left <= 0:
                    raise FetchError(
                        f"the download took longer than {total_timeout:g} s (it waited for "
                        "other downloads to finish) and was stopped"
                    )
                self._changed.wait(left)
            self.held += size
            self._by_host[hold.host] += size

    def _may_take(self, hold: _Hold, size: int) -> bool:
        if (self.held + size <= self._limit
                and self._by_host[hold.host] + size <= self._host_limit):
            return True
        return self._finished == 0 and next(iter(self._downloading), None) == hold.ticket

    def _finish(self, hold: _Hold) -> None:
        with self._changed:
            self._downloading.pop(hold.ticket, None)
            self._finished += hold.size
            self._changed.notify_all()

    def _let_go(self, hold: _Hold, was_finished: bool) -> None:
        with self._changed:
            self._downloading.pop(hold.ticket, None)
            self.held -= hold.size
            self._finished -= hold.size if was_finished else 0
            self._by_host[hold.host] -= hold.size
            if not self._by_host[hold.host]:
                del self._by_host[hold.host]
            self._changed.notify_all()


class _Hold:
    """One download's share of :class:`_HeldBytes`."""

    def __init__(self, held: _HeldBytes, ticket: int, host: str) -> None:
        self._held = held
        self.ticket = ticket
        self.host = host
        self.size = 0
        self._finished = False

    def take(self, size: int, total_timeout: float) -> None:
        """Count ``size`` more bytes as held, waiting while that would go over a limit."""
        self._held._take(self, size, total_timeout)
        self.size += size

    def finished(self) -> None:
        """The body is complete: it keeps its bytes until the caller lets it go."""
        self._held._finish(self)
        self._finished = True

    def release(self) -> None:
        """The body was let go (or refused): its bytes no longer count. Safe to call twice."""
        self._held._let_go(self, self._finished)
        self.size = 0
        self._finished = False

    def release_with(self, _: object) -> None:
        """:meth:`release`, as a callback for a download left running when the caller stopped."""
        self.release()


class _HostSchedule:
    """URLs waiting to be fetched, handed out so that no host gets more than ``per_host`` at once.

    Hosts with waiting URLs and a free slot sit in ``_ready`` (each at most once), so handing
    out the next URL costs the same with ten hosts as with ten thousand.
    """

    def __init__(self, per_host: int) -> None:
        self._per_host = per_host
        self._waiting: dict[str, deque[str]] = {}
        self._busy: Counter[str] = Counter()
        self._ready: deque[str] = deque()
        self.size = 0

    def add(self, url: str, host: str) -> None:
        queue = self._waiting.setdefault(host, deque())
        if not queue and self._busy[host] < self._per_host:
            self._ready.append(host)
        queue.append(url)
        self.size += 1

    def take(self) -> tuple[str, str] | None:
        if not self._ready:
            return None
        host = self._ready.popleft()
        queue = self._waiting[host]
        url = queue.popleft()
        self.size -= 1
        self._busy[host] += 1
        if not queue:
            del self._waiting[host]
        elif self._busy[host] < self._per_host:
            self._ready.append(host)
        return url, host

    def done(self, host: str) -> None:
        self._busy[host] -= 1
        if host in self._waiting and self._busy[host] == self._per_host - 1:
            self._ready.append(host)  # it was full; now it has a free slot again


# -- small helpers -------------------------------------------------------------------------


def _kind(fmt: str | None, head: bytes, content_type: str | None) -> Kind | None:
    kind = kind_of(fmt)
    if kind == "image":
        return "image"
    if kind == "video":
        return "video"
    start = head[:_SNIFF_BYTES].lower()
    if any(marker in start for marker in _HTML_MARKERS):
        return "html"
    media_type = (content_type or "").split(";", 1)[0].strip().lower()
    if media_type == "text/html" and start and not _TEXT_CONTROL_BYTES.intersection(start):
        return "html"
    return None


def _time_left() -> float | None:
    """Seconds left for the current thread's download, or None outside one."""
    until: float | None = getattr(_deadline, "at", None)
    return None if until is None else until - time.monotonic()


def _time_for(wait: float) -> bool:
    """Whether waiting ``wait`` seconds still leaves time for another try."""
    left = _time_left()
    return left is None or wait < left


def _content_encodings(response: httpx.Response) -> list[str]:
    """The layers of compression, outermost last; refuses unknown ones and more than two."""
    names = [name.strip().lower() for name in
             response.headers.get_list("content-encoding", split_commas=True)]
    layers = [name for name in names if name not in ("", "identity")]
    if len(layers) > _MAX_ENCODING_LAYERS:
        raise FetchError(
            f"the server packed the file in {len(layers)} layers of compression; the tool "
            f"unpacks at most {_MAX_ENCODING_LAYERS} (more is a known trick to exhaust memory)"
        )
    for name in layers:
        if name not in _ZLIB_WINDOWS:
            raise FetchError(
                f"the server packed the file with {name[:40]!r}, which the tool does not "
                "unpack (it asked for no compression)"
            )
    return layers


def _unpacked(raw: Iterable[bytes], layers: Sequence[str]) -> Iterator[bytes]:
    """The body with every layer of compression undone, in pieces of bounded size."""
    pieces: Iterable[bytes] = raw
    for name in reversed(layers):  # the last coding listed was applied last
        pieces = _Unpacker(name).unpack(pieces)
    return iter(pieces)


class _Unpacker:
    """Undoes one layer of gzip or deflate, never producing more than ``_UNPACK_PIECE`` bytes
    per step: a few kilobytes that unpack to gigabytes are stopped at the size limit, not
    after they were unpacked."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._decoder: zlib._Decompress | None = None
        self._more_waiting = False  # the last step stopped at the piece size, not for lack of input
        self._start = b""  # the first byte of a "deflate" body, kept until its header can be read

    def unpack(self, pieces: Iterable[bytes]) -> Iterator[bytes]:
        for data in pieces:
            yield from self._feed(data, last=False)
        yield from self._feed(b"", last=True)  # what zlib still holds

    def _feed(self, data: bytes, last: bool) -> Iterator[bytes]:
        data, self._start = self._start + data, b""
        while data or self._more_waiting:
            decoder = self._decoder
            if decoder is None or decoder.eof:
                if not data or (decoder is not None and not self._another_member(data)):
                    return  # nothing yet, or padding after the end (ignored, as browsers do)
                if decoder is None and len(data) < 2 and not last:
                    self._start = data
                    return
                decoder = self._decoder = zlib.decompressobj(self._window(data))
            try:
                out = decoder.decompress(data, _UNPACK_PIECE)
            except zlib.error:
                raise FetchError(
                    "the server sent compressed data that could not be unpacked"
                ) from None
            self._more_waiting = len(out) == _UNPACK_PIECE and not decoder.eof
            if out:
                yield out
            data = decoder.unused_data if decoder.eof else decoder.unconsumed_tail

    def _another_member(self, data: bytes) -> bool:
        # gzip allows several members one after another; anything else after the end is padding
        return self._name != "deflate" and data.startswith(b"\x1f\x8b")

    def _window(self, data: bytes) -> int:
        if self._name != "deflate":
            return _ZLIB_WINDOWS[self._name]
        # "deflate" should have a zlib header; some servers send the bare stream
        wrapped = len(data) >= 2 and data[0] & 0x0F == 8 and ((data[0] << 8) | data[1]) % 31 == 0
        return zlib.MAX_WBITS if wrapped else -zlib.MAX_WBITS


def _content_length(response: httpx.Response) -> int | None:
    value = response.headers.get("content-length", "").strip()
    if not (value.isascii() and value.isdigit()):
        return None
    return int(value) if len(value) <= 18 else 10**18  # int() refuses over 4300 digits


def _server_address(response: httpx.Response) -> str | None:
    stream = response.extensions.get("network_stream")
    try:
        address = stream.get_extra_info("server_addr") if stream is not None else None
    except OSError:  # the connection is already gone
        return None
    return str(address[0]) if address else None


def _megabytes(size: int) -> str:
    return f"{size / 1_000_000:,.1f} MB" if size < 10_000_000 else f"{size / 1_000_000:,.0f} MB"


def _too_large(limit: int, what: str, declared: int | None = None) -> str:
    if declared is not None:
        return (
            f"the server says the file is {_megabytes(declared)}, above the "
            f"{_megabytes(limit)} limit for {what}; it was not downloaded"
        )
    return (
        f"the file is larger than the {_megabytes(limit)} limit for {what}; "
        "the download was stopped"
    )


def _status_reason(status: int, tries: int) -> str:
    after = f" (tried {tries} times)" if tries > 1 else ""
    if status in (404, 410):
        gone = "removed for good" if status == 410 else "not found"
        return f"{gone} (HTTP {status}): the page or file is not there, it may have been removed"
    if status == 401:
        return "the server asks for a login (HTTP 401); the tool cannot see this page"
    if status == 403:
        return "the server refused access (HTTP 403); it may block automated checks"
    if status == 429:
        return f"the server says too many requests (HTTP 429){after}; try again later"
    if status >= 500:
        return f"the server had an error (HTTP {status}){after}; try again later"
    return f"the server answered with HTTP status {status} instead of the file"


def _worth_retrying(exc: httpx.HTTPError) -> bool:
    """Connection failures are retried; slow servers and certificate problems are not."""
    if isinstance(_root_cause(exc), ssl.SSLError):
        return False
    return isinstance(
        exc,
        (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout, httpx.ReadError,
         httpx.WriteError, httpx.RemoteProtocolError),
    )


def _describe(exc: httpx.HTTPError, limits: FetchLimits, tries: int) -> str:
    """One plain line for a failed connection or download."""
    cause = _root_cause(exc)
    left = _time_left()
    if isinstance(exc, httpx.TimeoutException) and left is not None and left <= 0:
        reason = (f"the server took longer than {limits.total_timeout:g} s in all and was "
                  "stopped (it may be sending very slowly on purpose)")
    elif isinstance(exc, httpx.ConnectTimeout):
        reason = f"the server did not answer within {limits.connect_timeout:g} s"
    elif isinstance(exc, httpx.ReadTimeout):
        reason = f"the server stopped sending for {limits.read_timeout:g} s (timed out)"
    elif isinstance(exc, httpx.TimeoutException):
        reason = "the server took too long to answer"
    elif isinstance(cause, ssl.SSLCertVerificationError):
        reason = f"the site's security certificate could not be verified ({cause.verify_message})"
    elif isinstance(cause, ssl.SSLError):
        detail = cause.reason or _first_line(cause)
        reason = f"a secure (TLS) connection could not be set up ({detail})"
    elif isinstance(cause, ConnectionRefusedError):
        reason = "the server refused the connection (nothing is answering at that address)"
    elif isinstance(exc, httpx.ConnectError):
        reason = f"could not connect to the server ({_first_line(cause)})"
    elif isinstance(exc, httpx.RemoteProtocolError):
        reason = f"the server's answer was broken or cut short ({_first_line(exc)})"
    elif isinstance(exc, httpx.DecodingError):
        reason = "the server sent compressed data that could not be unpacked"
    else:
        reason = f"the connection failed ({_first_line(cause)})"
    return reason + (f" (tried {tries} times)" if tries > 1 else "")


def _root_cause(exc: BaseException) -> BaseException:
    """The innermost exception behind ``exc`` (httpcore keeps the OS error in its args)."""
    seen = {id(exc)}
    while True:
        wrapped = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        inner = exc.__cause__ or wrapped or exc.__context__
        if inner is None or id(inner) in seen:
            return exc
        exc = inner
        seen.add(id(exc))


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
