"""Passwords and tokens: read from the environment or the OS keyring, never shown.

A :class:`Secret` prints as ``********`` everywhere (repr, str, f-strings, logging, tracebacks
of containers); the real text comes out only through :meth:`Secret.reveal` at the point of use.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from typing import NoReturn

from .._errors import InvalidURL, SecretMissing, SendError
from ..web.urls import parse_web_address

log = logging.getLogger(__name__)

_MASK = "********"


class Secret:
    """A password or token that cannot be printed by accident."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

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
