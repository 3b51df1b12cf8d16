"""What counts as a web address, decided in one place for every part of the tool.

The rule: an ``http://`` or ``https://`` address (any case) with a server name or IP address,
no name or password before an ``@``, no spaces, backslashes or control characters anywhere, a
port that exists, and at most ``MAX_URL_LENGTH`` characters. International names are accepted
and kept in their ASCII (punycode) form, encoded as httpx encodes them. Whether the address is
*public* is a separate question, asked by the fetcher's guard at connection time.

Standard library and ``idna`` only, no httpx: the notice and case code that imports this must
load no network library (``tests/test_privacy.py``). The fetcher parses the normalised text this
returns, which is strict enough that every parser reads it the same way.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final
from urllib.parse import urljoin, urlsplit, urlunsplit

import idna

from .._errors import InvalidURL

if TYPE_CHECKING:
    import tldextract

__all__ = [
    "MAX_URL_LENGTH", "WebAddress", "is_web_address", "join_web_address", "parse_web_address",
    "registrable_domain",
]

MAX_URL_LENGTH: Final = 8192  # RFC 9110 asks for at least 8000; nothing longer is a real link
_LABEL: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)
_LONGEST_HOST: Final = 253
_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


@dataclass(frozen=True)
class WebAddress:
    """A web address that passed the rule: ``url`` is its normalised text."""

    url: str
    scheme: str
    host: str  # lower case, ASCII (punycode); an IPv6 address without brackets

    def __str__(self) -> str:
        return self.url


def parse_web_address(text: str) -> WebAddress:
    """``text`` as a normalised web address, or :class:`InvalidURL` saying in one line why not.

    Spaces around the address are ignored; scheme and server name come back in lower case.
    """
    cleaned = text.strip()
    if not cleaned:
        raise InvalidURL("the web address is empty")
    if len(cleaned) > MAX_URL_LENGTH:
        raise InvalidURL(f"the web address is longer than {MAX_URL_LENGTH} characters")
    if any(char.isspace() or unicodedata.category(char) in ("Cc", "Cf") for char in cleaned):
        raise InvalidURL(
            "the web address has a space or an invisible character in it; "
            "copy it again from the browser's address bar"
        )
    if "\\" in cleaned:  # browsers read it as '/', servers and libraries do not
        raise InvalidURL("the web address has a backslash (\\) in it; it is refused")
    try:
        parts = urlsplit(cleaned)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"this is not a valid web address ({_port_words(str(exc))})") from None
    if parts.scheme not in ("http", "https"):
        got = f"it starts with {parts.scheme}:" if parts.scheme else "it has no http:// or https://"
        raise InvalidURL(f"only http:// and https:// web addresses can be used ({got})")
    if "@" in parts.netloc:
        raise InvalidURL(
            "the web address has a name or password before an '@', a common way to disguise "
            "where a link really goes; it is refused"
        )
    if not parts.hostname:
        raise InvalidURL("the web address has no server name")
    host = _ascii_host(parts.hostname)
    if port is not None and port == 0:
        raise InvalidURL("the port number 0 does not exist")
    netloc = f"[{host}]" if ":" in host else host
    if port is not None and port != _DEFAULT_PORTS[parts.scheme]:
        netloc += f":{port}"
    url = urlunsplit((parts.scheme, netloc, parts.path, parts.query, parts.fragment))
    return WebAddress(url, parts.scheme, host)


def is_web_address(text: str) -> bool:
    """True when :func:`parse_web_address` accepts ``text``."""
    try:
        parse_web_address(text)
    except InvalidURL:
        return False
    return True


def join_web_address(base: str, reference: str) -> WebAddress:
    """Where ``reference`` (a redirect's Location, a link on a page) leads from ``base``.

    Spaces inside it are sent as ``%20``, as a browser does.
    """
    try:
        joined = urljoin(base, reference.strip().replace(" ", "%20"))
    except ValueError as exc:
        raise InvalidURL(f"this is not a valid web address ({exc})") from None
    return parse_web_address(joined)


def registrable_domain(host: str) -> str | None:
    """The name a site registered under a public suffix, from the Public Suffix List.

    ``x.example.gouv.fr`` is ``example.gouv.fr``, ``a.b.co.uk`` is ``b.co.uk``; ``foo.github.io``
    is ``github.io`` (GitHub answers for it). ``None`` for an IP address, a single label such as
    ``localhost``, or a bare suffix (``co.uk``). A top-level name the list does not know counts as
    one label, as the list's own default rule says (``files.example`` stays ``files.example``).
    """
    name = host.strip().strip("[]").rstrip(".").lower()
    if not name or _is_ip(name):
        return None
    try:
        name = _ascii_host(name)
    except InvalidURL:
        return None
    parts = _public_suffix_list()(name)
    if parts.suffix:
        return parts.top_domain_under_public_suffix or None
    labels = name.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else None


@functools.cache
def _public_suffix_list() -> tldextract.TLDExtract:
    """The list as shipped inside tldextract: never fetched, never cached to disk."""
    import tldextract  # here, not above: it loads requests, which the case code must not load

    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _ascii_host(hostname: str) -> str:
    """The server name in ASCII, as httpx would send it; InvalidURL when it is not a name."""
    try:
        host = hostname if hostname.isascii() else idna.encode(hostname).decode("ascii")
    except idna.IDNAError:
        host = hostname
    if not _is_host(host):
        raise InvalidURL(f"{host[:80]!r} is not a valid server name")
    return host


def _port_words(reason: str) -> str:
    return "the port number does not exist (ports go up to 65535)" if "out of range" in reason else reason


def _is_host(host: str) -> bool:
    """An IP address, or a DNS name whose punycode labels decode (``xn--`` checked by IDNA)."""
    if "%" in host:  # an IPv6 zone (a network interface of this computer), or a mangled name
        return False
    if _is_ip(host):  # IPv6 arrives without brackets
        return True
    name = host.removesuffix(".")
    if not name or len(name) > _LONGEST_HOST:
        return False
    if not all(_LABEL.fullmatch(label) for label in name.split(".")):
        return False
    try:
        name.encode("ascii").decode("idna")
    except UnicodeError:
        return False
    return True
