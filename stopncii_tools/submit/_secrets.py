"""Passwords and tokens: read from the environment or the OS keyring, never shown.

A :class:`Secret` prints as ``********`` everywhere (repr, str, f-strings, logging, tracebacks
of containers); the real text comes out only through :meth:`Secret.reveal` at the point of use.

What a server says back passes through :func:`scrub` where it enters the program (the HTTP,
hash-bank and SMTP replies and errors), so a receiver that echoes our ``Authorization`` header
cannot put the token into the case database, the status board or ``--json`` output.
"""

from __future__ import annotations

import ipaddress
import logging
import os
import re
from typing import Final, NoReturn

from .._errors import InvalidURL, SecretMissing, SendError
from ..web.urls import parse_web_address

log = logging.getLogger(__name__)

_MASK = "********"
_SHORTEST_KNOWN: Final = 4  # shorter values would blank out ordinary words; patterns still apply
_known: set[str] = set()  # every secret this process has read, to blank out wherever it echoes back

# A credential after its name, as headers, JSON, form fields and query strings write it.
_NAMED = re.compile(
    r"""(?ix)
    (\b(?:proxy-)?authori[sz]ation|\b(?:set-)?cookie|\bx-api-key|\bapi[-_]?key|\b(?:x-)?auth[-_]?token
     |\b(?:access|refresh|id|session)[-_]?token|\btoken|\bpass(?:word|wd)?|\b(?:client[-_]?)?secret)
    (["']?\s*[:=]\s*["']?)
    [^"'\r\n,;&}]+
    """
)
# Credentials recognisable by their shape wherever they stand.
_SHAPED = re.compile(
    r"""(?x)
    \b(?:Bearer|Basic|Digest|Token)\s+[A-Za-z0-9._~+/=-]{6,}          # an Authorization value
    | \beyJ[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]{6,}\.[A-Za-z0-9_-]*          # a JSON Web Token
    | \b(?:ghp|gho|ghs|ghu|github_pat|glpat|sk|pk|rk|xox[abpr])[-_][A-Za-z0-9_-]{16,}  # vendor keys
    """
)


def scrub(text: str) -> str:
    """``text`` with every known secret and every credential-shaped value replaced by ``********``.

    Call it on anything a server sends back before it is kept, shown or raised.
    """
    for value in sorted(_known, key=len, reverse=True):
        text = text.replace(value, _MASK)
    text = _NAMED.sub(lambda m: m.group(1) + m.group(2) + _MASK, text)
    return _SHAPED.sub(_MASK, text)


class Secret:
    """A password or token that cannot be printed by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if len(value) >= _SHORTEST_KNOWN:
            _known.add(value)

    def reveal(self) -> str:
        """The real text: call this only where it is handed to the server."""
        return self._value

    def __repr__(self) -> str:
        return f"Secret({_MASK!r})"

    def __str__(self) -> str:
        return _MASK

    def __format__(self, spec: str) -> str:
        return _MASK

    def __reduce__(self) -> NoReturn:
        # Pickling would write the value to disk or a queue; nothing here needs it.
        raise TypeError("a Secret cannot be pickled")


def get_secret(
    env_var: str, keyring_service: str | None = None, keyring_user: str | None = None
) -> Secret:
    """The secret from ``env_var``, else from the OS keyring, else :class:`SecretMissing`.

    The keyring entry is looked up under ``keyring_service`` and ``keyring_user`` (which
    defaults to the name of the environment variable).
    """
    value = os.environ.get(env_var)
    if value:
        return Secret(value)
    user = keyring_user or env_var
    if keyring_service:
        value = _from_keyring(keyring_service, user)
        if value:
            return Secret(value)
    where = f" or store it in the system keyring (service {keyring_service!r}, user {user!r})"
    raise SecretMissing(
        f"no password or token found: set the environment variable {env_var}"
        + (where if keyring_service else "")
    )


def _from_keyring(service: str, user: str) -> str | None:
    try:
        import keyring
    except ImportError:
        return None
    try:
        return keyring.get_password(service, user)
    except Exception as exc:  # a broken or locked keyring backend must not hide the clear message
        log.debug("keyring lookup for %s/%s failed: %s", service, user, type(exc).__name__)
        return None


def is_loopback(host: str) -> bool:
    """True for this computer (localhost, 127.0.0.0/8, ::1): the only place cleartext is allowed."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_endpoint(url: str, what: str, carries_secret: bool) -> str:
    """Return the host of an http(s) ``url``; refuse a token or password sent unencrypted."""
    try:
        parsed = parse_web_address(url)
    except InvalidURL as exc:
        raise SendError(f"the {what} address {url!r} is not a web address: {exc.reason}") from None
    host = parsed.host
    if carries_secret and parsed.scheme == "http" and not is_loopback(host):
        raise SendError(f"the token for {host} would travel unencrypted; use an https:// address")
    return host
