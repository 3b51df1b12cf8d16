"""Sending settings: which mail server and which APIs notices go through, and the default deadline.

Read from ``sending.toml`` in the configuration folder (or a file named on the command line).
The file holds addresses, user names and limits only. A password or token is never written in
it: a key that looks like one is refused, and the secret is read at send time from the
environment or the system keyring (:func:`stopncii_tools.submit.get_secret`).

    default_deadline_hours = 168           # when neither the law nor the platform sets one
    [retry]
    first_wait_seconds = 60                # after a temporary failure; doubles each time
    max_wait_seconds = 21600
    [smtp]
    host = "smtp.mailbox.org"
    port = 587
    security = "starttls"                  # or "tls" (port 465); "none" only for this computer
    username = "cases@ngo.example"         # password: STOPNCII_SMTP_PASSWORD or the keyring
    from = "Help NGO <cases@ngo.example>"  # optional; replies always go to the requester
    min_interval = 2                       # seconds between e-mails
    per_minute = 20
    [[api]]
    address = "https://intake.ngo.example/v1/notices"   # the channel address in the directory
    token_env = "NGO_INTAKE_TOKEN"
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from .. import paths
from .._errors import InputFileError
from ..config import check_keys, read_toml, tables, typed
from ..retry import Backoff
from . import HTTPSettings, RateLimiter, SMTPSettings

FILE_NAME = "sending.toml"
DEFAULT_DEADLINE_HOURS = 7 * 24

# Keys that would hold a secret: refused wherever they appear, with where to put it instead.
_SECRET_WORDS = ("password", "passwd", "token", "secret", "api_key", "apikey", "credential")
_SMTP_KEYS = {
    "host": str, "port": int, "security": str, "username": str, "from": str, "password_env": str,
    "keyring_service": str, "timeout": float, "cafile": str, "insecure_skip_verify": bool,
    "min_interval": float, "per_minute": int,
}
_API_KEYS = {
    "address": str, "url": str, "token_env": str, "keyring_service": str, "timeout": float,
    "max_attempts": int, "backoff_base": float, "max_wait": float, "min_interval": float, "per_minute": int,
}
_RETRY_KEYS = {"first_wait_seconds": float, "max_wait_seconds": float}
_TOP_KEYS = {"default_deadline_hours", "retry", "smtp", "api"}


@dataclass(frozen=True)
class SMTPConfig:
    """The mail server, the From header to use (None: the requester's), and its rate limit."""

    settings: SMTPSettings
    sender: str | None = None
    min_interval: float = 0.0
    per_minute: int | None = None


@dataclass(frozen=True)
class APIConfig:
    """An API channel: the directory's ``address`` for it, and where to POST (``settings.url``)."""

    address: str
    settings: HTTPSettings
    min_interval: float = 0.0
    per_minute: int | None = None


@dataclass(frozen=True)
class SendingConfig:
    smtp: SMTPConfig | None = None
    apis: tuple[APIConfig, ...] = ()
    default_deadline_hours: int = DEFAULT_DEADLINE_HOURS
    first_retry_seconds: float = 60.0
    max_retry_seconds: float = 6 * 3600.0
    source: str | None = None  # the file it came from, for messages
    limiters: dict[str, RateLimiter] = field(default_factory=dict, compare=False, repr=False)

    def api_for(self, address: str) -> APIConfig | None:
        wanted = address.strip().rstrip("/")
        return next((a for a in self.apis if a.address.rstrip("/") == wanted), None)

    def limiter(self, name: str, min_interval: float, per_minute: int | None) -> RateLimiter:
        """One limiter per receiver for the life of this configuration (shared by its sends)."""
        if name not in self.limiters:
            self.limiters[name] = RateLimiter(min_interval, per_minute)
        return self.limiters[name]

    def retry_wait(self, attempts: int, retry_after: float | None) -> float:
        """Seconds until the next try after ``attempts`` failed ones; the receiver's wish wins."""
        backoff = Backoff(min(self.first_retry_seconds, self.max_retry_seconds), self.max_retry_seconds)
        wait = backoff.wait_after(attempts, retry_after)
        return wait if retry_after is None else max(wait, 1.0)  # "0" still means a later run


def default_path() -> Path:
    return paths.config_dir() / FILE_NAME


def load_sending_config(path: Path | None = None, *, default_deadline_hours: int | None = None) -> SendingConfig:
    """The settings in ``path`` (default: ``sending.toml`` in the config folder, if it exists).

    Without a file nothing is configured: e-mails and forms are prepared for sending by hand.
    """
    file = path if path is not None else default_path()
    if not file.is_file():
        if path is not None:
            raise InputFileError("this sending settings file does not exist", item=str(file))
        config = SendingConfig()
    else:
        config = _parse(read_toml(file), str(file))
    if default_deadline_hours is not None:
        config = _with_deadline(config, default_deadline_hours, "--default-deadline-hours")
    return config


def _parse(data: dict[str, Any], label: str) -> SendingConfig:
    _refuse_secrets(data, label)
    check_keys(data, _TOP_KEYS, label)
    retry = typed(data.get("retry", {}), _RETRY_KEYS, f"{label}: [retry]")
    smtp = _smtp(data["smtp"], f"{label}: [smtp]") if "smtp" in data else None
    api_tables = tables(data.get("api", []), f"{label}: api")
    apis = tuple(_api(raw, f"{label}: [[api]] number {n}") for n, raw in enumerate(api_tables, 1))
    config = SendingConfig(
        smtp=smtp, apis=apis, source=label,
        first_retry_seconds=_positive(retry.get("first_wait_seconds", 60.0), f"{label}: [retry] first_wait_seconds"),
        max_retry_seconds=_positive(retry.get("max_wait_seconds", 6 * 3600.0), f"{label}: [retry] max_wait_seconds"),
    )
    if "default_deadline_hours" in data:
        config = _with_deadline(config, data["default_deadline_hours"], f"{label}: default_deadline_hours")
    return config


def _with_deadline(config: SendingConfig, hours: object, where: str) -> SendingConfig:
    if isinstance(hours, bool) or not isinstance(hours, int) or hours <= 0:
        raise InputFileError("should be a whole number of hours above 0", item=where)
    return replace(config, default_deadline_hours=hours)


def _smtp(raw: object, where: str) -> SMTPConfig:
    table = typed(raw, _SMTP_KEYS, where)
    if "host" not in table:
        raise InputFileError("needs 'host' (the mail server's name)", item=where)
    settings = SMTPSettings(
        host=table["host"], port=table.get("port", 587), security=table.get("security", "starttls"),
        username=table.get("username"), password_env=table.get("password_env", "STOPNCII_SMTP_PASSWORD"),
        keyring_service=table.get("keyring_service", "stopncii-tools"), from_addr=None,
        timeout=table.get("timeout", 30.0), cafile=table.get("cafile"),
        insecure_skip_verify=table.get("insecure_skip_verify", False),
    )
    return SMTPConfig(settings, table.get("from"), table.get("min_interval", 0.0), table.get("per_minute"))


def _api(raw: object, where: str) -> APIConfig:
    table = typed(raw, _API_KEYS, where)
    if "address" not in table:
        raise InputFileError("needs 'address' (the API address listed in the platform directory)", item=where)
    settings = HTTPSettings(
        url=table.get("url", table["address"]), token_env=table.get("token_env"),
        keyring_service=table.get("keyring_service", "stopncii-tools"), timeout=table.get("timeout", 30.0),
        max_attempts=table.get("max_attempts", 5), backoff_base=table.get("backoff_base", 2.0),
        max_wait=table.get("max_wait", 300.0),
    )
    return APIConfig(table["address"], settings, table.get("min_interval", 0.0), table.get("per_minute"))


def _refuse_secrets(data: Mapping[str, Any], where: str) -> None:
    for key, value in data.items():
        lowered = key.lower()
        if any(word in lowered for word in _SECRET_WORDS) and not lowered.endswith("_env"):
            # the value is never repeated: it may be the secret itself
            raise InputFileError(
                f"'{key}' looks like a password or token, and they are never kept in files; put it in "
                "an environment variable (name it with password_env or token_env) or the system keyring",
                item=where)
        if isinstance(value, dict):
            _refuse_secrets(value, f"{where}: [{key}]")
        elif isinstance(value, list):
            for entry in value:
                if isinstance(entry, dict):
                    _refuse_secrets(entry, f"{where}: [[{key}]]")


def _positive(value: float, where: str) -> float:
    if value <= 0:
        raise InputFileError("should be above 0", item=where)
    return value


def save_smtp_settings(settings: Mapping[str, str | int], path: Path | None = None) -> Path:
    """Write the ``[smtp]`` table into the sending settings file, keeping what else it holds.

    For the local web page, where a person enters the mail server once. The values are checked
    as a file would be (a password is refused); the file is private to this account.
    """
    file = path if path is not None else default_path()
    data = read_toml(file) if file.is_file() else {}
    data["smtp"] = dict(settings)
    _parse(data, str(file))  # refuses what a hand-written file would be refused for
    partial = file.with_name(file.name + ".part")
    partial.write_text(_toml(data), encoding="utf-8")
    partial.chmod(0o600)
    partial.replace(file)
    return file


def _toml(data: Mapping[str, Any]) -> str:
    """The flat tables this file holds, as TOML (values are strings, numbers and booleans)."""
    def value(v: object) -> str:
        return ("true" if v else "false") if isinstance(v, bool) else json.dumps(v, ensure_ascii=False)

    lines = [f"{k} = {value(v)}" for k, v in data.items() if not isinstance(v, dict | list)]
    for name, table in data.items():
        for entry in [table] if isinstance(table, dict) else table if isinstance(table, list) else []:
            lines += ["", f"[{name}]" if isinstance(table, dict) else f"[[{name}]]"]
            lines += [f"{k} = {value(v)}" for k, v in entry.items()]
    return "\n".join(lines).lstrip("\n") + "\n"
