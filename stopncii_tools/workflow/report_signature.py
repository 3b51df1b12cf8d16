"""Signing a written report (Ed25519) with a key kept in the system keyring, and checking it.

The signature goes in a file beside the report (``REPORT.sig``, JSON): the SHA-256 of the
report, the public key and its fingerprint, and the signature over both format and hash. One
changed byte in the report, or in the signature file, and the check fails. The private key
never leaves the keyring; it is made the first time a report is signed.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._errors import StopNCIIError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

SIGNATURE_FORMAT = "stopncii-report-signature/1"
KEYRING_SERVICE = "stopncii-tools"
KEYRING_USER = "report-signing-key"
_EXTRA = "pip install 'stopncii-tools[sign]'"


class SigningUnavailable(StopNCIIError):
    """No signing key can be had here (no cryptography, or no keyring that keeps it)."""


class SignatureInvalid(StopNCIIError):
    """A report does not match its signature."""


@dataclass(frozen=True)
class Signed:
    report: Path
    signature: Path
    sha256: str
    fingerprint: str


def signature_path(report: Path) -> Path:
    return report.with_name(report.name + ".sig")


def fingerprint(public: Ed25519PublicKey) -> str:
    """A short name for a public key, to read out or compare: 8 groups of 4 hex digits."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    digest = hashlib.sha256(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).hexdigest()[:32]
    return " ".join(digest[i:i + 4] for i in range(0, 32, 4))


def signing_key() -> Ed25519PrivateKey:
    """This person's signing key from the system keyring, made and stored there on first use."""
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    except ImportError:
        raise SigningUnavailable(f"signing needs the 'sign' extra ({_EXTRA})") from None
    try:
        import keyring
        from keyring.errors import KeyringError
    except ImportError:
        raise SigningUnavailable(f"signing keeps its key in the system keyring, which needs the 'sign' extra "
                                 f"({_EXTRA})") from None
    try:
        stored = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
        if stored is None:
            key = Ed25519PrivateKey.generate()
            keyring.set_password(KEYRING_SERVICE, KEYRING_USER, _private_text(key))
            stored = keyring.get_password(KEYRING_SERVICE, KEYRING_USER)
            if stored is None:  # a keyring that forgets (the "null" backend) would sign with a lost key
                raise SigningUnavailable("the system keyring here does not keep what is stored in it")
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(stored, validate=True))
    except KeyringError as exc:
        raise SigningUnavailable(f"no system keyring is available to keep a signing key ({exc})") from None
    except ValueError:
        raise SigningUnavailable(
            f"the signing key in the keyring ({KEYRING_SERVICE}/{KEYRING_USER}) is damaged") from None


def _private_text(key: Ed25519PrivateKey) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

    return base64.b64encode(key.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())).decode()


def _file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _message(sha256: str) -> bytes:
    return f"{SIGNATURE_FORMAT}\n{sha256}\n".encode()


def sign_report(report: Path, key: Ed25519PrivateKey) -> Signed:
    """Write ``REPORT.sig`` beside ``report``."""
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    sha = _file_sha256(report)
    public = key.public_key()
    record = {
        "format": SIGNATURE_FORMAT, "file": report.name, "sha256": sha, "algorithm": "Ed25519",
        "public_key": base64.b64encode(public.public_bytes(Encoding.Raw, PublicFormat.Raw)).decode(),
        "key_fingerprint": fingerprint(public),
        "signature": base64.b64encode(key.sign(_message(sha))).decode(),
    }
    target = signature_path(report)
    target.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
    return Signed(report, target, sha, record["key_fingerprint"])


def verify_report(report: Path, signature: Path | None = None) -> Signed:
    """Check ``report`` against its signature; :class:`SignatureInvalid` says what does not fit."""
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        raise SigningUnavailable(f"checking a signature needs the 'sign' extra ({_EXTRA})") from None
    signature = signature or signature_path(report)
    item = str(report)
    if not report.is_file():
        raise SignatureInvalid("there is no such file", item)
    try:
        record: dict[str, Any] = json.loads(signature.read_text(encoding="utf-8"))
        public = Ed25519PublicKey.from_public_bytes(base64.b64decode(record["public_key"], validate=True))
        signed = base64.b64decode(record["signature"], validate=True)
        claimed, named = str(record["sha256"]), str(record["key_fingerprint"])
    except FileNotFoundError:
        raise SignatureInvalid(f"no signature beside it (looked for {signature.name})", item) from None
    except (OSError, ValueError, KeyError, TypeError):
        raise SignatureInvalid(f"the signature file {signature.name} is damaged or not a report signature",
                               item) from None
    sha = _file_sha256(report)
    if sha != claimed:
        raise SignatureInvalid("the file was changed after it was signed (its SHA-256 is not the one signed)", item)
    if fingerprint(public) != named:
        raise SignatureInvalid("the signature file names a different key than the one it carries", item)
    try:
        public.verify(signed, _message(sha))
    except InvalidSignature:
        raise SignatureInvalid("the signature does not match: the file or its signature was changed", item) from None
    return Signed(report, signature, sha, named)
