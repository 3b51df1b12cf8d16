"""Delivery channels: how a finished notice (or a list of hashes) leaves the computer.

Every channel has a ``kind`` and ``send(outgoing) -> Delivery``. A channel either returns a
:class:`Delivery` (the receiver accepted it) or raises :class:`~stopncii_tools._errors.SendError`;
``error.retryable`` tells the outbox whether trying again later can help. Channels keep no
state between sends: the outbox in the case database decides what is sent when.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from typing import Any, ClassVar, Protocol, runtime_checkable

from .._errors import SendError


@dataclass(frozen=True)
class ManualPacket:
    """What a person pastes into a platform's web form; ``ticket`` once they have one."""

    form_url: str
    text: str
    ticket: str | None = None


Payload = EmailMessage | dict[str, Any] | ManualPacket


@dataclass(frozen=True)
class Outgoing:
    """One notice ready to go: the same ``idempotency_key`` on every attempt of the same send."""

    notice_id: str
    idempotency_key: str
    payload: Payload

    def __post_init__(self) -> None:
        for label, value in (("notice id", self.notice_id), ("idempotency key", self.idempotency_key)):
            # Both travel in mail and HTTP headers: a line break there would forge headers.
            if not _HEADER_TOKEN.fullmatch(value):
                raise SendError(
                    f"the {label} {value[:40]!r} must be 1 to 200 visible characters without spaces"
                )


@dataclass(frozen=True)
class Delivery:
    """Proof that a channel handed the notice over: when (aware UTC) and what the receiver said."""

    notice_id: str
    channel: str
    sent_at: datetime
    evidence: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Channel(Protocol):
    """A way to deliver a notice: SMTP e-mail, an HTTP API, or a person filling in a form."""

    kind: ClassVar[str]

    def send(self, outgoing: Outgoing) -> Delivery: ...


_HEADER_TOKEN = re.compile(r"[\x21-\x7e]{1,200}")

# Imported last because each channel module imports the types above from this package.
from ._retry import RateLimiter, RetryPolicy  # noqa: E402
from ._secrets import Secret, get_secret  # noqa: E402
from .hashbank import BankMatch, HashBankClient, PushReport, PushResult  # noqa: E402
from .http import HTTPChannel, HTTPSettings  # noqa: E402
from .manual import ManualChannel, open_form  # noqa: E402
from .smtp import SMTPChannel, SMTPSettings  # noqa: E402

__all__ = [
    "BankMatch",
    "Channel",
    "Delivery",
    "HTTPChannel",
    "HTTPSettings",
    "HashBankClient",
    "ManualChannel",
    "ManualPacket",
    "Outgoing",
    "Payload",
    "PushReport",
    "PushResult",
    "RateLimiter",
    "RetryPolicy",
    "SMTPChannel",
    "SMTPSettings",
    "Secret",
    "get_secret",
    "open_form",
]
