"""E-mail delivery over SMTP (STARTTLS or implicit TLS, AUTH when a user name is set).

The one case no mail client can settle: the connection drops after the message body was sent
but before the server's "250 accepted" reply. The message may or may not have been taken, and
we can never find out. That error is retryable; the resend carries the same Message-ID,
``Idempotency-Key`` and ``X-StopNCII-Notice-Key`` headers, so the receiver can drop the copy.
"""

from __future__ import annotations

import copy
import logging
import smtplib
import ssl
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses
from typing import TYPE_CHECKING, ClassVar, Literal

from .. import clock as clocks
from .._errors import SendError, TemporarySendError
from . import Delivery, Outgoing
from ._retry import RateLimiter
from ._secrets import get_secret, is_loopback, scrub

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer

log = logging.getLogger(__name__)

Security = Literal["starttls", "tls", "none"]


@dataclass(frozen=True)
class SMTPSettings:
    """Where and how to hand e-mail over. The password itself is never stored here.

    ``cafile`` trusts one extra certificate authority (a company relay, or a test server).
    ``insecure_skip_verify`` turns certificate checks off and is refused for anything but
    this computer (127.0.0.1 / localhost): it exists only for tests.
    """

    host: str
    port: int = 587
    security: Security = "starttls"
    username: str | None = None
    password_env: str = "STOPNCII_SMTP_PASSWORD"
    keyring_service: str | None = "stopncii-tools"
    from_addr: str | None = None
    timeout: float = 30.0
    cafile: str | None = None
    insecure_skip_verify: bool = False


class SMTPChannel:
    """Sends an :class:`EmailMessage` payload and returns its Message-ID as evidence.

    One attempt per ``send``: a temporary refusal (greylisting, a busy server) usually needs
    minutes, so the outbox schedules the retry rather than this call waiting.
    """

    kind: ClassVar[str] = "smtp"

    def __init__(
        self,
        settings: SMTPSettings,
        *,
        limiter: RateLimiter | None = None,
        clock: clocks.Clock = clocks.now,
    ) -> None:
        _check_settings(settings)
        self.settings = settings
        self._limiter = limiter
        self._clock = clock

    def __repr__(self) -> str:
        s = self.settings
        return f"SMTPChannel({s.host}:{s.port}, {s.security}, user={s.username!r})"

    def send(self, outgoing: Outgoing) -> Delivery:
        if not isinstance(outgoing.payload, EmailMessage):
            raise SendError("an e-mail channel needs an e-mail message", item=outgoing.notice_id)
        message = _stamped(outgoing.payload, outgoing, self.settings)
        headers = [str(v) for name in ("To", "Cc", "Bcc") for v in message.get_all(name, [])]
        recipients = [addr for _, addr in getaddresses(headers) if addr]
        s = self.settings
        if not recipients or not (s.from_addr or message["From"]):
            missing = "recipient" if not recipients else "sender (From)"
            raise SendError(f"the e-mail has no {missing} address", item=outgoing.notice_id)
        password = get_secret(s.password_env, s.keyring_service, s.username) if s.username else None
        if self._limiter is not None:
            self._limiter.wait()
        log.info("sending notice %s by e-mail via %s:%d", outgoing.notice_id, s.host, s.port)
        connection: _Tracked | None = None
        try:
            connection = self._connect()
            if password is not None:
                connection.login(s.username or "", password.reveal())
            refused = connection.send_message(message, from_addr=s.from_addr)
        except (smtplib.SMTPException, OSError) as exc:  # SMTPException is an OSError too
            started = connection is not None and connection.data_started
            raise _failure(exc, s, started).for_item(outgoing.notice_id) from None
        finally:
            if connection is not None:
                _hang_up(connection)
        evidence = {
            "message_id": message["Message-ID"],
            "idempotency_key": outgoing.idempotency_key,
            "server": f"{s.host}:{s.port}",
            "recipients": [r for r in recipients if r not in refused],
            "server_reply": connection.data_reply,
        }
        if refused:
            evidence["refused"] = {r: f"{code} {_text(text)}" for r, (code, text) in refused.items()}
        return Delivery(
            outgoing.notice_id, self.kind, self._clock(), evidence
        )

    def _connect(self) -> _Tracked:
        s = self.settings
        if s.security == "tls":
            return _TrackedSSL(s.host, s.port, timeout=s.timeout, context=self._tls_context())
        connection = _TrackedPlain(s.host, s.port, timeout=s.timeout)
        if s.security == "starttls":
            try:
                connection.ehlo()
                if not connection.has_extn("starttls"):
                    raise SendError(
                        f"the mail server {s.host}:{s.port} does not offer encryption (STARTTLS); "
                        "nothing was sent. Check the port, or use security 'tls' (usually port 465)"
                    )
                connection.starttls(context=self._tls_context())
                connection.ehlo()
            except BaseException:
                connection.close()
                raise
        return connection

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=self.settings.cafile)
        if self.settings.insecure_skip_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context


class _DataPhase(smtplib.SMTP):
    """Remembers whether the message body started to go out, and the server's final reply."""

    data_started = False
    data_reply: str | None = None

    def data(self, msg: ReadableBuffer | str) -> tuple[int, bytes]:
        self.data_started = True
        code, reply = super().data(msg)
        self.data_reply = f"{code} {_text(reply)}"
        return code, reply


class _TrackedPlain(_DataPhase, smtplib.SMTP):
    pass


class _TrackedSSL(_DataPhase, smtplib.SMTP_SSL):
    pass


_Tracked = _TrackedPlain | _TrackedSSL


def _check_settings(s: SMTPSettings) -> None:
    if s.security not in ("starttls", "tls", "none"):
        raise SendError(f"mail security must be 'starttls', 'tls' or 'none', not {s.security!r}")
    if s.insecure_skip_verify and not is_loopback(s.host):
        raise SendError(
            f"certificate checks can only be switched off for a test server on this computer, "
            f"not for {s.host}"
        )
    if s.username and s.security == "none" and not is_loopback(s.host):
        raise SendError(
            f"the password for {s.host} would travel unencrypted; use security 'starttls' or 'tls'"
        )


def _stamped(original: EmailMessage, outgoing: Outgoing, settings: SMTPSettings) -> EmailMessage:
    """A copy of the message with a stable Message-ID and our duplicate-detection headers."""
    message = copy.deepcopy(original)
    if not message["Message-ID"]:
        # Derived from the idempotency key so a rebuilt message still carries the same id.
        domain = _domain(settings.from_addr or str(message.get("From", ""))) or "stopncii.invalid"
        message["Message-ID"] = f"<{_id_part(outgoing.idempotency_key)}@{domain}>"
    for name, value in (
        ("Idempotency-Key", outgoing.idempotency_key),
        ("X-StopNCII-Notice-Key", outgoing.notice_id),
    ):
        del message[name]
        message[name] = value
    return message


def _domain(address: str) -> str | None:
    for _, addr in getaddresses([address]):
        if "@" in addr:
            return addr.rpartition("@")[2] or None
    return None


def _hang_up(connection: _Tracked) -> None:
    # Once the server said 250 the e-mail is theirs: a failed QUIT must not turn into an error.
    try:
        connection.quit()
    except (smtplib.SMTPException, OSError):
        connection.close()


def _id_part(key: str) -> str:
    # Message-ID local parts allow only "atext" and dots; anything else becomes "-".
    return "".join(c if c.isalnum() or c in "!#$%&'*+-/=?^_`{|}~." else "-" for c in key).strip(".")


def _failure(exc: OSError, s: SMTPSettings, data_started: bool) -> SendError:
    """Turn what smtplib raised into one plain sentence, temporary or final."""
    where = f"the mail server {s.host}:{s.port}"
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return _refused(exc.recipients)
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return _by_code(
            exc.smtp_code,
            f"{where} did not accept the user name {s.username!r} with the password from "
            f"{s.password_env} (it answered {exc.smtp_code})",
        )
    if isinstance(exc, smtplib.SMTPResponseException):
        return _by_code(exc.smtp_code, f"{where} refused the e-mail: {exc.smtp_code} {_text(exc.smtp_error)}")
    if isinstance(exc, ssl.SSLCertVerificationError):
        return SendError(
            f"the identity certificate of {where} could not be checked ({exc.verify_message}); "
            "nothing was sent"
        )
    if data_started:
        return TemporarySendError(
            f"the connection to {where} broke while the e-mail was being handed over, so it may "
            "or may not have arrived; a retry carries the same Message-ID so the receiver can "
            "spot a copy"
        )
    if isinstance(exc, smtplib.SMTPException) and not isinstance(exc, smtplib.SMTPServerDisconnected):
        return SendError(f"{where} cannot take the e-mail this way: {scrub(str(exc))}")
    return TemporarySendError(f"could not reach {where} ({_describe(exc)}); nothing was sent")


def _by_code(code: int, reason: str) -> SendError:
    # SMTP 5xx is a final "no"; 4xx (and garbled replies) may pass.
    if 500 <= code < 600:
        return SendError(reason)
    return TemporarySendError(reason + "; this is usually temporary")


def _refused(recipients: dict[str, tuple[int, bytes]]) -> SendError:
    details = "; ".join(f"{r}: {code} {_text(text)}" for r, (code, text) in recipients.items())
    reason = f"the mail server refused every recipient ({details})"
    if all(500 <= code < 600 for code, _ in recipients.values()):
        return SendError(reason)
    return TemporarySendError(reason + "; this is usually temporary")


def _text(reply: bytes | str) -> str:
    """A server's reply as one line, without anything secret it may have echoed."""
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    return scrub(" ".join(text.split()))[:300]


def _describe(exc: BaseException) -> str:
    if isinstance(exc, TimeoutError):
        return "no answer in time"
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    if isinstance(exc, smtplib.SMTPServerDisconnected):
        return "the server closed the connection"
    return scrub(str(exc)) or type(exc).__name__
