"""Download suspect media and pages: the only module in the package that downloads.

Everything fetched stays in memory: bodies are returned as ``bytes`` for the caller to hash and
drop, and nothing is ever written to disk (no cache, no temporary files).

Each request is bounded (connect, read and total timeouts; a size limit enforced while the body
streams in; at most five redirects, each followed by hand and checked) and guarded against
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
import socket
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Generator, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Final, Literal, Self

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

_HEADERS: Final = {
    "User-Agent": USER_AGENT,
    "Accept": "image/*,video/*,text/html;q=0.9,*/*;q=0.5",
    "Accept-Encoding": "identity",  # media is already compressed; this avoids gzip bombs too
}
_REDIRECT_STATUSES: Final = frozenset({301, 302, 303, 307, 308})
_SNIFF_BYTES: Final = 1024  # enough for every signature in media.sniff and for HTML markers
_HTML_MARKERS: Final = (b"<!doctype html", b"<html", b"<head", b"<body")
_TEXT_CONTROL_BYTES: Final = frozenset(range(32)) - {9, 10, 12, 13, 27}
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


@dataclass(frozen=True)
class FetchLimits:
    """Every bound on fetching. Times are in seconds, sizes in bytes."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # longest silence while waiting for data
    total_timeout: float = 600.0  # longest time for one response, headers to last byte
    max_bytes: int = 50_000_000  # pictures, pages and anything that is not a video
    max_video_bytes: int = 500_000_000  # when the bytes (or, failing that, the server) say video
    max_redirects: int = 5
    retries: int = 3  # extra tries after a 429, a 5xx or a failed connection
    backoff: float = 1.0  # first wait between tries; doubles each time
    max_retry_wait: float = 60.0  # cap on any single wait, including a server's Retry-After
    per_host: int = 2
    total: int = 8

    def __post_init__(self) -> None:
        for name in ("connect_timeout", "read_timeout", "total_timeout", "max_bytes",
                     "max_video_bytes", "per_host", "total"):
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
                return self._plain.connect_tcp(
                    address, port, timeout, local_address, socket_options
                )
            except (httpcore.ConnectError, httpcore.ConnectTimeout):
                continue  # try the next address, as socket.create_connection does
        return self._plain.connect_tcp(last, port, timeout, local_address, socket_options)

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
        try:
            return self._get(url)
        except FetchError as exc:
            exc.for_item(url)
            raise

    def get_many(
        self, urls: Iterable[str]
    ) -> Generator[tuple[str, FetchedResource | FetchError], None, None]:
        """Fetch many URLs concurrently, yielding ``(url, resource or error)`` as each finishes.

        At most ``limits.total`` run at once and at most ``limits.per_host`` per host; ``urls``
        is read lazily. A failed URL yields its FetchError instead of raising, so one bad URL
        never stops a batch. Stopping the iteration early cancels the URLs not yet started.
        """
        schedule = _HostSchedule(self.limits.per_host)
        source = iter(urls)
        running: dict[Future[FetchedResource | FetchError], tuple[str, str]] = {}
        pool = ThreadPoolExecutor(self.limits.total, thread_name_prefix="stopncii-fetch")
        try:
            while True:
                while schedule.size < _LOOKAHEAD and (url := next(source, None)) is not None:
                    schedule.add(url, _host_key(url))
                while len(running) < self.limits.total and (picked := schedule.take()):
                    running[pool.submit(self._get_or_error, picked[0])] = picked
                if not running:
                    return
                finished, _ = wait(running, return_when=FIRST_COMPLETED)
                for future in finished:
                    url, host = running.pop(future)
                    schedule.done(host)
                    yield url, future.result()
        finally:
            pool.shutdown(wait=False, cancel_futures=True)

    # -- internals ---------------------------------------------------------------------------

    def _get_or_error(self, url: str) -> FetchedResource | FetchError:
        try:
            return self.get(url)
        except FetchError as exc:
            return exc

    @contextmanager
    def _host_slot(self, host: str) -> Iterator[None]:
        with self._host_slots_lock:
            slot = self._host_slots.setdefault(
                host, threading.BoundedSemaphore(self.limits.per_host)
            )
        with slot:
            yield

    def _get(self, url: str) -> FetchedResource:
        current = httpx.URL(parse_web_address(url).url)
        redirects: list[str] = []
        with self._total_slots:
            while True:
                with self._host_slot(_host_name(current)):
                    response, tries = self._send(current)
                    try:
                        location = response.headers.get("location")
                        if response.status_code not in _REDIRECT_STATUSES or location is None:
                            return self._finish(url, response, tries, tuple(redirects))
                    finally:
                        response.close()
                if len(redirects) >= self.limits.max_redirects:
                    raise FetchError(
                        f"the address redirects more than {self.limits.max_redirects} times; "
                        "the tool stopped following it"
                    )
                redirects.append(str(current))
                current = _redirect_target(current, location)

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
                if last_try or not _worth_retrying(exc):
                    raise FetchError(_describe(exc, self.limits, tries)) from None
                self._sleep(self._wait_after(tries, None))
                continue
            response.request = request
            status = response.status_code
            if last_try or not (status == 429 or 500 <= status <= 599):
                return response, tries
            retry_after = parse_retry_after(response.headers.get("retry-after"), self._clock())
            response.close()
            self._sleep(self._wait_after(tries, retry_after))

    def _wait_after(self, tries: int, retry_after: float | None) -> float:
        """The wait before the next try, never longer than ``max_retry_wait``: a scan must go on."""
        cap = self.limits.max_retry_wait
        return min(Backoff(min(self.limits.backoff, cap), cap).wait_after(tries, retry_after), cap)

    def _finish(
        self, url: str, response: httpx.Response, tries: int, redirects: tuple[str, ...]
    ) -> FetchedResource:
        status = response.status_code
        if not 200 <= status <= 299:
            raise HTTPStatusError(_status_reason(status, tries), status=status)
        content_type = response.headers.get("content-type")
        server_address = _server_address(response)  # before the body: the socket may close after
        body, head = self._read_body(response, content_type)
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

    def _read_body(self, response: httpx.Response, content_type: str | None) -> tuple[bytes, bytes]:
        """The whole body and its first bytes, stopping as soon as it is over its limit."""
        declared = _content_length(response)
        largest = max(self.limits.max_bytes, self.limits.max_video_bytes)
        if declared is not None and declared > largest:
            raise ResponseTooLarge(_too_large(largest, "any file", declared))
        deadline = time.monotonic() + self.limits.total_timeout
        body = io.BytesIO()
        head = b""
        limit: tuple[int, str] | None = None
        try:
            for chunk in response.iter_bytes():
                if len(head) < _SNIFF_BYTES:
                    head += chunk[: _SNIFF_BYTES - len(head)]
                body.write(chunk)
                if limit is None and len(head) >= _SNIFF_BYTES:
                    limit = self._limit_for(head, content_type, declared)
                if limit is not None and body.tell() > limit[0]:
                    raise ResponseTooLarge(_too_large(*limit))
                if time.monotonic() > deadline:
                    raise FetchError(
                        f"the download took longer than {self.limits.total_timeout:g} s "
                        "and was stopped"
                    )
        except httpx.HTTPError as exc:
            raise FetchError(_describe(exc, self.limits, 1)) from None
        limit = limit or self._limit_for(head, content_type, declared)
        if body.tell() > limit[0]:
            raise ResponseTooLarge(_too_large(*limit))
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
    if isinstance(exc, httpx.ConnectTimeout):
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
