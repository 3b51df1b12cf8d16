"""The e-mail channel against a real aiosmtpd server on 127.0.0.1, plus secret handling."""

from __future__ import annotations

import base64
import datetime as dt
import ipaddress
import logging
import pickle
import shutil
import socket
import ssl
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import keyring
import keyring.backend
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from stopncii_tools._errors import SecretMissing, SendError, TemporarySendError
from stopncii_tools.submit import Outgoing, Secret, SMTPChannel, SMTPSettings, get_secret

USER, PASSWORD = "caseworker@ngo.example", "correct horse battery staple"


# -- a real SMTP server --------------------------------------------------------------------


@dataclass
class Recorder:
    """aiosmtpd handler: keeps every accepted message; can refuse or hang up on cue."""

    rcpt_reply: str | None = None
    data_reply: str | None = None
    hang_up_after_data: bool = False
    messages: list[EmailMessage] = field(default_factory=list)
    sessions: list[Any] = field(default_factory=list)

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if self.rcpt_reply:
            return self.rcpt_reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.sessions.append(session)
        if self.data_reply:
            return self.data_reply
        self.messages.append(message_from_bytes(envelope.content, _class=EmailMessage))  # type: ignore[arg-type]
        if self.hang_up_after_data:
            self.hang_up_after_data = False
            server.transport.close()  # the message is taken, the "250" never reaches the client
        return "250 2.0.0 Ok: queued as TEST123"


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.login == USER.encode() and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[Any]:
    """Start a server with keyword options; yields (recorder, port). Stopped after the test."""
    started: list[Controller] = []

    def start(**options: Any) -> tuple[Recorder, int]:
        recorder, port = Recorder(), _free_port()
        controller = Controller(recorder, hostname="127.0.0.1", port=port, **options)
        controller.start()
        started.append(controller)
        return recorder, port

    yield start
    for controller in started:
        controller.stop()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (cryptography, else the openssl tool, else skip)."""
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    try:
        _make_cert_with_cryptography(cert, key)
    except ImportError:
        if shutil.which("openssl") is None:
            pytest.skip("neither the cryptography package nor the openssl tool is available")
        subprocess.run(
            ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
             "-keyout", str(key), "-out", str(cert), "-subj", "/CN=127.0.0.1",
             "-addext", "subjectAltName=IP:127.0.0.1"],
            check=True, capture_output=True,
        )
    return cert, key


def _make_cert_with_cryptography(cert: Path, key: Path) -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(private.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1)).not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(private, hashes.SHA256())
    )
    cert.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key.write_bytes(private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))


def _server_tls(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*map(str, certificate))
    return context


class MemoryKeyring(keyring.backend.KeyringBackend):
    """A keyring backend that lives in memory, so tests never touch the person's real keyring."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.entries.pop((service, username), None)


@pytest.fixture(autouse=True)
def memory_keyring(monkeypatch: pytest.MonkeyPatch) -> Iterator[MemoryKeyring]:
    monkeypatch.delenv("STOPNCII_SMTP_PASSWORD", raising=False)
    previous, ring = keyring.get_keyring(), MemoryKeyring()
    keyring.set_keyring(ring)
    yield ring
    keyring.set_keyring(previous)


def _notice(key: str = "notice-7-attempt-key", **headers: str) -> Outgoing:
    message = EmailMessage()
    message["From"] = "Advocate <caseworker@ngo.example>"
    message["To"] = "abuse@platform.example"
    message["Subject"] = "TAKE IT DOWN Act removal request"
    for name, value in headers.items():
        message[name] = value
    message.set_content("Please remove the depiction at https://platform.example/p/1.\n")
    return Outgoing(notice_id="7", idempotency_key=key, payload=message)


# -- tests -------------------------------------------------------------------------------


def test_plain_send_delivers_with_stable_ids(smtp_server: Any) -> None:
    recorder, port = smtp_server()
    channel = SMTPChannel(SMTPSettings("127.0.0.1", port, security="none", timeout=5))
    outgoing = _notice()
    delivery = channel.send(outgoing)

    [received] = recorder.messages
    assert delivery.channel == "smtp" and delivery.notice_id == "7"
    assert delivery.sent_at.tzinfo is not None and delivery.sent_at.utcoffset() == dt.timedelta(0)
    assert delivery.evidence["message_id"] == received["Message-ID"] == "<notice-7-attempt-key@ngo.example>"
    assert received["Idempotency-Key"] == "notice-7-attempt-key"
    assert received["X-StopNCII-Notice-Key"] == "7"
    assert delivery.evidence["recipients"] == ["abuse@platform.example"]
    assert delivery.evidence["server_reply"] == "250 2.0.0 Ok: queued as TEST123"
    assert outgoing.payload["Message-ID"] is None  # the caller's message is left as it was

    # A message rebuilt for a resend gets the same Message-ID from the same key.
    assert channel.send(_notice()).evidence["message_id"] == delivery.evidence["message_id"]


def test_an_existing_message_id_is_kept_and_stale_keys_replaced(smtp_server: Any) -> None:
    recorder, port = smtp_server()
    channel = SMTPChannel(SMTPSettings("127.0.0.1", port, security="none", timeout=5))
    delivery = channel.send(_notice(**{"Message-ID": "<abc@ngo.example>", "Idempotency-Key": "old"}))
    [received] = recorder.messages
    assert delivery.evidence["message_id"] == received["Message-ID"] == "<abc@ngo.example>"
    assert received.get_all("Idempotency-Key") == ["notice-7-attempt-key"]


def test_starttls_with_login_from_the_environment(
    smtp_server: Any, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("STOPNCII_SMTP_PASSWORD", PASSWORD)
    recorder, port = smtp_server(tls_context=_server_tls(certificate), require_starttls=True,
                                 authenticator=_authenticate, auth_require_tls=True)
    settings = SMTPSettings("127.0.0.1", port, security="starttls", username=USER, cafile=str(certificate[0]),
                            timeout=5)
    delivery = SMTPChannel(settings).send(_notice())

    assert len(recorder.messages) == 1
    [session] = recorder.sessions
    assert session.authenticated and session.ssl is not None
    assert delivery.evidence["message_id"] == recorder.messages[0]["Message-ID"]
    _assert_never_shown(PASSWORD, caplog, repr(settings), repr(delivery))


def test_implicit_tls_with_password_from_the_keyring(
    smtp_server: Any, certificate: tuple[Path, Path], memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("stopncii-tools", USER, PASSWORD)
    # aiosmtpd counts only STARTTLS as "TLS" for auth_require_tls; implicit TLS is encrypted too.
    recorder, port = smtp_server(ssl_context=_server_tls(certificate), authenticator=_authenticate,
                                 auth_require_tls=False)
    settings = SMTPSettings("127.0.0.1", port, security="tls", username=USER, cafile=str(certificate[0]), timeout=5)
    SMTPChannel(settings).send(_notice())
    assert len(recorder.messages) == 1 and recorder.sessions[0].authenticated


def test_wrong_password_is_final_and_never_echoed(
    smtp_server: Any, certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "hunter2-wrong-password"
    monkeypatch.setenv("STOPNCII_SMTP_PASSWORD", wrong)
    recorder, port = smtp_server(tls_context=_server_tls(certificate), require_starttls=True,
                                 authenticator=_authenticate, auth_require_tls=True)
    channel = SMTPChannel(SMTPSettings("127.0.0.1", port, username=USER, cafile=str(certificate[0]), timeout=5))
    with pytest.raises(SendError) as err:
        channel.send(_notice())
    assert not err.value.retryable
    assert str(err.value).startswith("7: the mail server 127.0.0.1:")
    assert ("did not accept the user name 'caseworker@ngo.example' with the password from STOPNCII_SMTP_PASSWORD"
            in str(err.value))
    assert recorder.messages == []
    _assert_never_shown(wrong, caplog, str(err.value), repr(err.value), repr(channel), repr(err.value.__cause__),
                        repr(err.value.__context__))


def test_self_signed_certificate_is_refused_without_cafile(smtp_server: Any, certificate: tuple[Path, Path]) -> None:
    recorder, port = smtp_server(tls_context=_server_tls(certificate), require_starttls=True)
    with pytest.raises(SendError, match="identity certificate .* could not be checked") as err:
        SMTPChannel(SMTPSettings("127.0.0.1", port, timeout=5)).send(_notice())
    assert not err.value.retryable and recorder.messages == []


def test_skipping_certificate_checks_works_only_on_this_computer(
    smtp_server: Any, certificate: tuple[Path, Path]
) -> None:
    recorder, port = smtp_server(tls_context=_server_tls(certificate), require_starttls=True)
    SMTPChannel(SMTPSettings("127.0.0.1", port, insecure_skip_verify=True, timeout=5)).send(_notice())
    assert len(recorder.messages) == 1
    with pytest.raises(SendError, match="only be switched off for a test server on this computer"):
        SMTPChannel(SMTPSettings("smtp.mailhost.example", insecure_skip_verify=True))


def test_server_without_starttls_is_refused_before_sending(smtp_server: Any) -> None:
    recorder, port = smtp_server()
    with pytest.raises(SendError, match="does not offer encryption") as err:
        SMTPChannel(SMTPSettings("127.0.0.1", port, security="starttls", timeout=5)).send(_notice())
    assert not err.value.retryable and recorder.messages == []


def test_password_is_never_sent_unencrypted_to_another_computer() -> None:
    with pytest.raises(SendError, match="would travel unencrypted"):
        SMTPChannel(SMTPSettings("smtp.mailhost.example", 25, security="none", username=USER))


def test_451_is_temporary(smtp_server: Any) -> None:
    recorder, port = smtp_server()
    recorder.rcpt_reply = "451 4.7.1 Greylisted, please try again later"
    with pytest.raises(TemporarySendError) as err:
        SMTPChannel(SMTPSettings("127.0.0.1", port, security="none", timeout=5)).send(_notice())
    assert err.value.retryable
    assert "refused every recipient (abuse@platform.example: 451 4.7.1 Greylisted" in str(err.value)
    assert "usually temporary" in str(err.value)


def test_550_is_final(smtp_server: Any) -> None:
    recorder, port = smtp_server()
    recorder.data_reply = "550 5.7.1 Message rejected as spam"
    with pytest.raises(SendError) as err:
        SMTPChannel(SMTPSettings("127.0.0.1", port, security="none", timeout=5)).send(_notice())
    assert not err.value.retryable and not isinstance(err.value, TemporarySendError)
    assert "refused the e-mail: 550 5.7.1 Message rejected as spam" in str(err.value)


def test_lost_reply_after_data_is_retryable_and_the_resend_is_recognisable(smtp_server: Any) -> None:
    recorder, port = smtp_server()
    recorder.hang_up_after_data = True
    channel = SMTPChannel(SMTPSettings("127.0.0.1", port, security="none", timeout=5))
    with pytest.raises(TemporarySendError, match="may or may not have arrived"):
        channel.send(_notice())
    channel.send(_notice())  # the outbox resumes with the same key
    first, second = recorder.messages
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Idempotency-Key"] == second["Idempotency-Key"] == "notice-7-attempt-key"


def test_no_server_is_temporary_and_nothing_was_sent() -> None:
    with pytest.raises(TemporarySendError, match="could not reach .*connection refused.*nothing was sent"):
        SMTPChannel(SMTPSettings("127.0.0.1", _free_port(), security="none", timeout=2)).send(_notice())


def test_missing_password_names_the_variable_to_set(smtp_server: Any) -> None:
    _, port = smtp_server()
    with pytest.raises(SecretMissing) as err:
        SMTPChannel(SMTPSettings("127.0.0.1", port, username=USER)).send(_notice())
    assert "set the environment variable STOPNCII_SMTP_PASSWORD" in str(err.value)
    assert f"service 'stopncii-tools', user '{USER}'" in str(err.value)
    assert not err.value.retryable


def test_notice_keys_cannot_inject_headers() -> None:
    with pytest.raises(SendError, match="idempotency key"):
        _notice(key="abc\r\nBcc: everyone@example.org")


# -- secrets ---------------------------------------------------------------------------------


def test_secret_prefers_the_environment_then_the_keyring(
    monkeypatch: pytest.MonkeyPatch, memory_keyring: MemoryKeyring
) -> None:
    memory_keyring.set_password("svc", "TOKEN_ENV", "from-keyring")
    assert get_secret("TOKEN_ENV", "svc").reveal() == "from-keyring"
    monkeypatch.setenv("TOKEN_ENV", "from-env")
    assert get_secret("TOKEN_ENV", "svc").reveal() == "from-env"
    with pytest.raises(SecretMissing, match="set the environment variable OTHER_ENV$"):
        get_secret("OTHER_ENV")


def test_a_broken_keyring_still_gives_the_clear_message(monkeypatch: pytest.MonkeyPatch) -> None:
    class Broken(MemoryKeyring):
        def get_password(self, service: str, username: str) -> str | None:
            raise RuntimeError("keyring locked")

    keyring.set_keyring(Broken())
    with pytest.raises(SecretMissing, match="STOPNCII_SMTP_PASSWORD"):
        get_secret("STOPNCII_SMTP_PASSWORD", "stopncii-tools")


def test_secret_never_prints_its_value(caplog: pytest.LogCaptureFixture) -> None:
    secret = Secret(PASSWORD)
    logging.getLogger("stopncii_tools.test").warning("token %s %r %s", secret, secret, {"t": secret})
    shown = [str(secret), repr(secret), f"{secret}", f"{secret!r:>40}", "%s" % secret, str([secret])]  # noqa: UP031 - %-formatting is one way to print it
    _assert_never_shown(PASSWORD, caplog, *shown)
    with pytest.raises(TypeError):
        pickle.dumps(secret)
    assert secret.reveal() == PASSWORD


def _assert_never_shown(secret: str, caplog: pytest.LogCaptureFixture, *texts: str) -> None:
    encoded = base64.b64encode(secret.encode()).decode()
    ours = [r.getMessage() for r in caplog.records if r.name != "mail.log"]  # mail.log is the test server
    for text in [*texts, *ours]:
        assert secret not in text and encoded not in text
