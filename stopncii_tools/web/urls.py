"""What counts as a web address, decided in one place for every part of the tool.

The rule: an ``http://`` or ``https://`` address (any case) with a server name or IP address,
no name or password before an ``@``, no spaces or control characters anywhere, a port that
exists, and at most ``MAX_URL_LENGTH`` characters. International names are accepted and kept
in their ASCII (punycode) form. Whether the address is *public* is a separate question, asked
by the fetcher's guard at connection time.
"""

from __future__ import annotations

import functools
import ipaddress
import re
import unicodedata
from typing import Final

import httpx
import tldextract

from .._errors import InvalidURL

__all__ = [
    "MAX_URL_LENGTH", "host_of", "is_web_address", "join_web_address", "parse_web_address",
    "registrable_domain",
]

MAX_URL_LENGTH: Final = 8192  # RFC 9110 asks for at least 8000; nothing longer is a real link
_LABEL: Final = re.compile(r"[a-z0-9_](?:[a-z0-9_-]{0,61}[a-z0-9_])?", re.ASCII)
_LONGEST_HOST: Final = 253


def parse_web_address(text: str) -> httpx.URL:
    """``text`` as a normalised URL, or :class:`InvalidURL` saying in one line why it is not one.

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
    try:
        url = httpx.URL(cleaned)
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidURL(f"this is not a valid web address ({_first_line(exc)})") from None
    return _checked(url)


def is_web_address(text: str) -> bool:
    """True when :func:`parse_web_address` accepts ``text``."""
    try:
        parse_web_address(text)
    except InvalidURL:
        return False
    return True


def join_web_address(base: httpx.URL, reference: str) -> httpx.URL:
    """Where ``reference`` (a redirect's Location, a link on a page) leads from ``base``."""
    try:
        return parse_web_address(str(base.join(reference.strip())))
    except (httpx.InvalidURL, ValueError) as exc:
        raise InvalidURL(f"this is not a valid web address ({_first_line(exc)})") from None


def host_of(url: httpx.URL) -> str:
    """The server name as sent on the wire (international names in their ASCII form)."""
    return url.raw_host.decode("ascii", "replace")


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
        name = name.encode("idna").decode("ascii")
    except UnicodeError:
        return None
    parts = _public_suffix_list()(name)
    if parts.suffix:
        return parts.top_domain_under_public_suffix or None
    labels = name.split(".")
    return ".".join(labels[-2:]) if len(labels) >= 2 else None


@functools.cache
def _public_suffix_list() -> tldextract.TLDExtract:
    """The list as shipped inside tldextract: never fetched, never cached to disk."""
    return tldextract.TLDExtract(cache_dir=None, suffix_list_urls=(), fallback_to_snapshot=True)


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _checked(url: httpx.URL) -> httpx.URL:
    if url.scheme not in ("http", "https"):
        got = f"it starts with {url.scheme}:" if url.scheme else "it has no http:// or https://"
        raise InvalidURL(f"only http:// and https:// web addresses can be used ({got})")
    if url.userinfo:
        raise InvalidURL(
            "the web address has a name or password before an '@', a common way to disguise "
            "where a link really goes; it is refused"
        )
    host = host_of(url)
    if not host:
        raise InvalidURL("the web address has no server name")
    if not _is_host(host):
        raise InvalidURL(f"{host[:80]!r} is not a valid server name")
    if url.port is not None and not 0 < url.port < 65536:
        raise InvalidURL(f"the port number {url.port} does not exist (ports go up to 65535)")
    return url


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


def _first_line(exc: BaseException) -> str:
    return (str(exc).splitlines() or [type(exc).__name__])[0][:200]
