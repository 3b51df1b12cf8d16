"""The platform directory: who a URL belongs to, and where and how to ask them to take it down.

The directory is data (``notices/platforms.toml``, then the person's own
``<config dir>/platforms.toml``), loaded and checked here. Each platform lists the host
names that identify it and its reporting channels; each channel says which legal
frameworks a notice sent through it can invoke, and where that fact came from and when it
was checked. A channel without both a source and a date is *unverified*, so that a notice
can tell the person to check the address before relying on it.

``detect`` never raises: any text that is not a known platform's URL lands on the ``other``
entry (the site's own abuse address, its hosting company, the copyright agent directory).
"""

from __future__ import annotations

import argparse
import datetime as dt
import difflib
import fnmatch
import importlib.resources
import re
import sys
import types
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, NoReturn
from urllib.parse import unquote, urlsplit

from .. import paths
from .._errors import DirectoryError, InvalidURL, NotFound
from ..config import check_keys, did_you_mean, parse_toml, read_toml, table, tables
from ..web.urls import parse_web_address, registrable_domain
from .frameworks import framework_ids

CHANNEL_KINDS: tuple[str, ...] = ("email", "api", "web_form", "in_app")  # most preferred first
OTHER_ID: Final = "other"
USER_FILE_NAME: Final = "platforms.toml"
DOMAIN_PLACEHOLDER: Final = "{domain}"

# Second-level labels under which country TLDs sell names (example.co.uk, example.com.au).
_SECOND_LEVEL: Final = frozenset(
    {"ac", "co", "com", "edu", "go", "gob", "gov", "ne", "net", "or", "org"}
)


# -- the data ------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportingChannel:
    """One way to ask a platform to remove content: an address and what it is good for."""

    kind: str  # "email" | "web_form" | "in_app" | "api"
    address: str
    frameworks: tuple[str, ...]
    languages: tuple[str, ...]
    source: str | None
    verified_on: dt.date | None
    note: str = ""

    @property
    def verified(self) -> bool:
        """True when the address was checked against a named source on a known day."""
        return bool(self.source) and self.verified_on is not None

    def address_for(self, url_or_host: str) -> str:
        """The address with ``{domain}`` filled in from a URL or host (``abuse@{domain}``).

        Raises :class:`InvalidURL` when the address needs a domain and the text has none.
        """
        if DOMAIN_PLACEHOLDER not in self.address:
            return self.address
        host = _host_of(url_or_host)
        domain = registrable_domain(host) if host else None
        if domain is None:
            raise InvalidURL("has no website name to send the report to", item=url_or_host)
        return self.address.replace(DOMAIN_PLACEHOLDER, domain)


@dataclass(frozen=True)
class Platform:
    """A platform (or the ``other`` fallback): its hosts, channels and reporting rules."""

    id: str
    name: str
    hosts: tuple[str, ...]
    channels: tuple[ReportingChannel, ...]
    stopncii_partner: bool | None
    stopncii_source: str | None
    one_report_per_item: bool
    deadline_hours: Mapping[str, int] = field(hash=False)
    languages: tuple[str, ...]
    notes: str
    stopncii_verified_on: dt.date | None = None

    @property
    def stopncii_verified(self) -> bool:
        """True when the partner status has a source and a date."""
        return bool(self.stopncii_source) and self.stopncii_verified_on is not None

    def channels_for(self, framework: str) -> tuple[ReportingChannel, ...]:
        """The channels that accept a notice under ``framework``, in directory order."""
        _require_framework(framework)
        return tuple(c for c in self.channels if framework in c.frameworks)

    def preferred_channel(self, framework: str) -> ReportingChannel | None:
        """The best channel for ``framework``: email > api > web_form > in_app, verified first."""
        candidates = self.channels_for(framework)
        if not candidates:
            return None
        return min(candidates, key=lambda c: (CHANNEL_KINDS.index(c.kind), not c.verified))

    def deadline_for(self, framework: str, default: int | None = None) -> int | None:
        """Hours the platform has to act under ``framework``, or ``default`` when unset."""
        _require_framework(framework)
        return self.deadline_hours.get(framework, default)


def _require_framework(framework: str) -> None:
    if framework not in framework_ids():
        raise DirectoryError(
            "is not a legal framework the directory knows; known: " + ", ".join(framework_ids()),
            item=repr(framework),
        )


class PlatformDirectory:
    """All platforms, looked up by id or name, or detected from a URL."""

    def __init__(self, platforms: Iterable[Platform]) -> None:
        self._platforms = list(platforms)
        self._by_id = {p.id: p for p in self._platforms}
        if OTHER_ID not in self._by_id:
            raise DirectoryError(f"the directory has no '{OTHER_ID}' entry for unknown hosts")
        rules = [_HostRule.parse(h, p.id) for p in self._platforms for h in p.hosts]
        # Rules indexed by the top-level label they need, so a lookup scores only a few.
        self._rules_by_tld: dict[str, list[tuple[int, _HostRule]]] = {}
        self._any_tld_rules: list[tuple[int, _HostRule]] = []
        for order, rule in enumerate(rules):
            if rule.any_tld or "*" in rule.labels[-1]:
                self._any_tld_rules.append((order, rule))
            else:
                self._rules_by_tld.setdefault(rule.labels[-1], []).append((order, rule))

    def all(self) -> list[Platform]:
        return list(self._platforms)

    def get(self, name_or_id: str) -> Platform:
        """The platform whose id or name is ``name_or_id`` (any case)."""
        wanted = name_or_id.strip().casefold()
        for platform in self._platforms:
            if wanted in (platform.id.casefold(), platform.name.casefold()):
                return platform
        names = {p.id.casefold(): p.id for p in self._platforms}
        names.update({p.name.casefold(): p.id for p in self._platforms})
        close = dict.fromkeys(names[m] for m in difflib.get_close_matches(wanted, names, n=3))
        hint = (
            "did you mean " + " or ".join(close) + "?"
            if close
            else "known platforms: " + ", ".join(p.id for p in self._platforms)
        )
        raise NotFound(f"no such platform in the directory; {hint}", item=name_or_id)

    def detect(self, url: str) -> Platform:
        """The platform a URL (or bare host) belongs to; ``other`` when none matches."""
        split = _split_url(url)
        if split is None:
            return self._by_id[OTHER_ID]
        return self._best(*split)

    def detect_host(self, host: str) -> Platform:
        """The platform a host name belongs to (patterns that need a path are skipped)."""
        split = _split_url(host)
        if split is None:
            return self._by_id[OTHER_ID]
        return self._best(split[0], None)

    def _best(self, host: str, path: str | None) -> Platform:
        labels = host.split(".")
        candidates = self._rules_by_tld.get(labels[-1], []) + self._any_tld_rules
        scored = ((rule.score(labels, path), -order, rule) for order, rule in candidates)
        best = max(
            ((score, order, rule) for score, order, rule in scored if score),
            default=None,
            key=lambda item: (item[0], item[1]),  # most specific, then first in the directory
        )
        return self._by_id[best[2].platform_id if best else OTHER_ID]


# -- host patterns -------------------------------------------------------------------------


@dataclass(frozen=True)
class _HostRule:
    """One host pattern: labels (``*`` globs inside a label), optional ``{tld}``, path prefix."""

    platform_id: str
    labels: tuple[str, ...]
    any_tld: bool
    path: str

    @classmethod
    def parse(cls, pattern: str, platform_id: str) -> _HostRule:
        host, slash, rest = pattern.partition("/")
        labels = host.split(".")
        any_tld = labels[-1] == "{tld}"
        return cls(platform_id, tuple(labels[:-1] if any_tld else labels), any_tld, slash + rest)

    def score(self, host: list[str], path: str | None) -> tuple[int, int, int] | None:
        """How specifically this rule matches (more labels, then longer path), or None."""
        if self.path and (path is None or not path.startswith(self.path)):
            return None
        tld_sizes = [n for n in (2, 1) if _is_tld(host[-n:])] if self.any_tld else [0]
        for tld_size in tld_sizes:
            end = len(host) - tld_size
            start = end - len(self.labels)
            if start >= 0 and all(
                _label_matches(h, p) for h, p in zip(host[start:end], self.labels, strict=True)
            ):
                literal = sum(len(p.replace("*", "")) for p in self.labels)
                return (len(self.labels) + tld_size, literal, len(self.path))
        return None


def _label_matches(label: str, pattern: str) -> bool:
    return fnmatch.fnmatchcase(label, pattern) if "*" in pattern else label == pattern


def _is_tld(labels: list[str]) -> bool:
    """True for one alphabetic TLD (com, de, xn--p1ai) or a country pair like co.uk."""
    if len(labels) == 1:
        return bool(re.fullmatch(r"[a-z]{2,63}|xn--[a-z0-9-]{1,59}", labels[0]))
    return (
        len(labels) == 2
        and labels[0] in _SECOND_LEVEL
        and bool(re.fullmatch(r"[a-z]{2}", labels[1]))
    )


_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")
# Schemes that never point at content on a web host (mailto:x@t.me names no Telegram page).
_NOT_WEB = re.compile(
    r"(mailto|tel|sms|javascript|data|file|about|blob|magnet|urn):", re.IGNORECASE
)
_HOST_CHARS = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*")


def _split_url(text: str) -> tuple[str, str] | None:
    """Normalised host and raw path of a URL or bare host, or None if there is no host."""
    text = text.strip().replace("\\", "/")  # browsers read a backslash as a path slash
    if not text or _NOT_WEB.match(text):
        return None
    if not _SCHEME.match(text):
        text = "http://" + text.lstrip("/")
    try:
        parts = urlsplit(text)
    except ValueError:
        return None
    host = _normalise_host(parts.netloc)
    return (host, parts.path or "/") if host else None


def _host_of(text: str) -> str | None:
    split = _split_url(text)
    return split[0] if split else None


def _normalise_host(netloc: str) -> str | None:
    """Lower-case ASCII host from a netloc: no userinfo, port, trailing dot; IDNA applied."""
    host = unquote(netloc.rpartition("@")[2])
    if host.startswith("["):  # IPv6 literal: never a platform host
        return None
    host = host.partition(":")[0].strip().rstrip(".").lower()
    if not host.isascii():
        try:
            host = host.encode("idna").decode("ascii").lower()
        except UnicodeError:
            return None
    return host if _HOST_CHARS.fullmatch(host) else None


# -- loading and checking ------------------------------------------------------------------

_TOP_KEYS: Final = frozenset({"defaults", "shared_channel", "platform"})
_DEFAULTS_KEYS: Final = frozenset({"deadline_hours"})
_PLATFORM_KEYS: Final = frozenset(
    {
        "id", "name", "hosts", "add_hosts", "languages", "one_report_per_item", "notes",
        "deadline_hours", "stopncii", "channel", "add_channel",
    }
)
_STOPNCII_KEYS: Final = frozenset({"partner", "source", "verified_on"})
_CHANNEL_KEYS: Final = frozenset(
    {"kind", "address", "frameworks", "languages", "source", "verified_on", "note"}
)
_ID = re.compile(r"[a-z0-9][a-z0-9_-]*")
_LANGUAGE = re.compile(r"[a-z]{2,3}")
_EMAIL = re.compile(
    r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+"  # local part
    r"@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]{2,63}"  # domain
)
_PATTERN_LABEL = re.compile(r"[a-z0-9*](?:[a-z0-9*-]*[a-z0-9*])?")


@dataclass(frozen=True)
class _ChannelSpec:
    """A channel as written; its languages default to the platform's once those are known."""

    kind: str
    address: str
    frameworks: tuple[str, ...]
    languages: tuple[str, ...] | None
    source: str | None
    verified_on: dt.date | None
    note: str

    def build(self, platform_languages: tuple[str, ...]) -> ReportingChannel:
        return ReportingChannel(
            self.kind, self.address, self.frameworks, self.languages or platform_languages,
            self.source, self.verified_on, self.note,
        )


@dataclass(frozen=True)
class _Source:
    """One parsed directory file: its label for messages, defaults, shared channels, entries."""

    label: str
    deadline_hours: dict[str, int]
    shared_channels: list[_ChannelSpec]
    entries: list[dict[str, Any]]


def load_directory(override: Path | None = None) -> PlatformDirectory:
    """The packaged directory, updated by the person's ``platforms.toml`` (or ``override``).

    A user entry whose id is already known changes only the fields it gives (``add_hosts``
    and ``add_channel`` append instead of replacing); an entry with a new id adds a platform.
    Any bad entry raises :class:`DirectoryError` naming the file, the entry and the reason.
    """
    sources = [_packaged_source()]
    if override is not None:
        if not override.is_file():
            raise DirectoryError("this platform directory file does not exist", item=str(override))
        sources.append(_parse_file(override))
    else:
        user_file = paths.config_dir() / USER_FILE_NAME
        if user_file.is_file():
            sources.append(_parse_file(user_file))
    return _build(sources)


def _packaged_source() -> _Source:
    resource = importlib.resources.files("stopncii_tools.notices") / USER_FILE_NAME
    return _parse_text(resource.read_text(encoding="utf-8"), USER_FILE_NAME)


def _parse_file(path: Path) -> _Source:
    return _parse_tables(read_toml(path, error=DirectoryError), str(path))


def _parse_text(text: str, label: str) -> _Source:
    return _parse_tables(parse_toml(text, label, error=DirectoryError), label)


def _parse_tables(table: dict[str, Any], label: str) -> _Source:
    _check_keys(table, _TOP_KEYS, label)
    defaults = _table(table.get("defaults", {}), f"{label}: [defaults]")
    _check_keys(defaults, _DEFAULTS_KEYS, f"{label}: [defaults]")
    shared_raw = _array(table.get("shared_channel", []), f"{label}: shared_channel")
    shared = [_channel(raw, f"{label}: shared channel {n}") for n, raw in enumerate(shared_raw, 1)]
    entries = [
        _entry(raw, label, n)
        for n, raw in enumerate(_array(table.get("platform", []), f"{label}: platform"), 1)
    ]
    seen: set[str] = set()
    for entry in entries:
        if entry["id"] in seen:
            _fail(f"{label}: entry '{entry['id']}'", "this id appears twice in the file")
        seen.add(entry["id"])
    return _Source(
        label,
        _deadlines(defaults.get("deadline_hours", {}), f"{label}: [defaults]"),
        shared,
        entries,
    )


def _entry(raw: object, label: str, number: int) -> dict[str, Any]:
    """Check one ``[[platform]]`` table and return the fields it gives, parsed."""
    table = _table(raw, f"{label}: platform {number}")
    entry_id = table.get("id")
    if not isinstance(entry_id, str) or not _ID.fullmatch(entry_id):
        _fail(
            f"{label}: platform {number}",
            "needs an 'id' of lower-case letters, digits, '-' or '_' (like id = \"telegram\")",
        )
    where = f"{label}: entry '{entry_id}'"
    _check_keys(table, _PLATFORM_KEYS, where)
    entry: dict[str, Any] = {"id": entry_id, "label": label}
    if "name" in table:
        entry["name"] = _text(table["name"], where, "name")
    for key in ("hosts", "add_hosts"):
        if key in table:
            entry[key] = tuple(_host_pattern(h, where) for h in _strings(table[key], where, key))
    if "languages" in table:
        entry["languages"] = _languages(table["languages"], where)
    if "one_report_per_item" in table:
        entry["one_report_per_item"] = _bool(
            table["one_report_per_item"], where, "one_report_per_item"
        )
    if "notes" in table:
        entry["notes"] = _text(table["notes"], where, "notes", allow_empty=True)
    if "deadline_hours" in table:
        entry["deadline_hours"] = _deadlines(table["deadline_hours"], where)
    if "stopncii" in table:
        entry["stopncii"] = _stopncii(table["stopncii"], where)
    for key, noun in (("channel", "channel"), ("add_channel", "added channel")):
        if key in table:
            entry[key] = [
                _channel(c, f"{where}, {noun} {n}")
                for n, c in enumerate(_array(table[key], f"{where}: {key}"), 1)
            ]
    return entry


def _build(sources: list[_Source]) -> PlatformDirectory:
    """Merge the sources in order, then add shared channels and defaults to every platform."""
    merged: dict[str, dict[str, Any]] = {}
    for source in sources:
        for entry in source.entries:
            target = merged.setdefault(entry["id"], {"id": entry["id"]})
            _merge(target, entry)
    deadlines: dict[str, int] = {}
    shared: list[_ChannelSpec] = []
    for source in sources:
        deadlines.update(source.deadline_hours)
        shared.extend(source.shared_channels)
    platforms = [_platform(entry, deadlines, shared) for entry in merged.values()]
    _check_hosts_unique(platforms, merged)
    platforms.sort(key=lambda p: p.id == OTHER_ID)  # the fallback lists last
    return PlatformDirectory(platforms)


def _merge(target: dict[str, Any], entry: dict[str, Any]) -> None:
    """Apply one file's entry: given fields replace, ``add_*`` append, deadlines merge by key."""
    target["label"] = entry["label"]
    for key, value in entry.items():
        if key == "add_hosts":
            target["hosts"] = target.get("hosts", ()) + value
            target["hosts_label"] = entry["label"]
        elif key == "add_channel":
            target["channel"] = target.get("channel", []) + value
        elif key == "deadline_hours":
            target["deadline_hours"] = {**target.get("deadline_hours", {}), **value}
        elif key not in ("id", "label"):
            target[key] = value
            if key == "hosts":
                target["hosts_label"] = entry["label"]


def _platform(
    entry: dict[str, Any], default_deadlines: dict[str, int], shared: list[_ChannelSpec]
) -> Platform:
    where = f"{entry['label']}: entry '{entry['id']}'"
    for key in ("name", "hosts", "channel"):
        if key not in entry:
            _fail(where, f"a new platform needs '{key}'")
    if not entry["hosts"] and entry["id"] != OTHER_ID:
        _fail(where, "needs at least one host name, or the directory cannot recognise it")
    if not entry["channel"]:
        _fail(where, "needs at least one reporting channel")
    languages = entry.get("languages", ("en",))
    partner, source, verified_on = entry.get("stopncii", (None, None, None))
    return Platform(
        id=entry["id"],
        name=entry["name"],
        hosts=tuple(dict.fromkeys(entry["hosts"])),
        channels=tuple(c.build(languages) for c in [*entry["channel"], *shared]),
        stopncii_partner=partner,
        stopncii_source=source,
        one_report_per_item=entry.get("one_report_per_item", False),
        deadline_hours=types.MappingProxyType(
            {**default_deadlines, **entry.get("deadline_hours", {})}
        ),
        languages=languages,
        notes=entry.get("notes", ""),
        stopncii_verified_on=verified_on,
    )


def _check_hosts_unique(platforms: list[Platform], merged: dict[str, dict[str, Any]]) -> None:
    owner: dict[str, str] = {}
    for platform in platforms:
        for host in platform.hosts:
            if owner.setdefault(host, platform.id) != platform.id:
                label = merged[platform.id].get("hosts_label", merged[platform.id]["label"])
                _fail(
                    f"{label}: entry '{platform.id}'",
                    f"host '{host}' is already claimed by entry '{owner[host]}'",
                )


# -- field checks --------------------------------------------------------------------------


def _fail(where: str, reason: str) -> NoReturn:
    raise DirectoryError(reason, item=where)


def _check_keys(values: Mapping[str, object], allowed: frozenset[str], where: str) -> None:
    check_keys(values, allowed, where, error=DirectoryError)


def _table(value: object, where: str) -> dict[str, Any]:
    return table(value, where, error=DirectoryError)


def _array(value: object, where: str) -> list[object]:
    return tables(value, where, error=DirectoryError)


def _text(value: object, where: str, key: str, *, allow_empty: bool = False) -> str:
    if not isinstance(value, str) or not (allow_empty or value.strip()):
        _fail(where, f"'{key}' should be a piece of text")
    return value.strip()


def _bool(value: object, where: str, key: str) -> bool:
    if not isinstance(value, bool):
        _fail(where, f"'{key}' should be true or false")
    return value


def _strings(value: object, where: str, key: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        _fail(where, f"'{key}' should be a list of texts, like [\"a\", \"b\"]")
    return value


def _languages(value: object, where: str) -> tuple[str, ...]:
    languages = _strings(value, where, "languages")
    for language in languages:
        if not _LANGUAGE.fullmatch(language):
            _fail(where, f"language '{language}' should be a 2- or 3-letter code like 'en' or 'ru'")
    if not languages:
        _fail(where, "'languages' should name at least one language")
    return tuple(languages)


def _frameworks(value: object, where: str) -> tuple[str, ...]:
    frameworks = _strings(value, where, "frameworks")
    for framework in frameworks:
        if framework not in framework_ids():
            hint = did_you_mean(framework, framework_ids())
            _fail(where, f"unknown framework '{framework}'{hint}")
    if not frameworks:
        _fail(where, "'frameworks' should name at least one legal framework")
    return tuple(dict.fromkeys(frameworks))


def _deadlines(value: object, where: str) -> dict[str, int]:
    table = _table(value, f"{where}: deadline_hours")
    for framework, hours in table.items():
        if framework not in framework_ids():
            _fail(where, f"deadline for unknown framework '{framework}'")
        if isinstance(hours, bool) or not isinstance(hours, int) or hours <= 0:
            _fail(where, f"deadline for '{framework}' should be a whole number of hours above 0")
    return dict(table)


def _date(value: object, where: str) -> dt.date:
    if isinstance(value, str):
        try:
            value = dt.date.fromisoformat(value)
        except ValueError:
            _fail(where, f"bad date '{value}' (write it as YYYY-MM-DD)")
    if isinstance(value, dt.datetime) or not isinstance(value, dt.date):
        _fail(where, f"bad date '{value}' (write it as YYYY-MM-DD, without a time)")
    if value > dt.date.today():  # the real date, not STOPNCII_NOW: a rehearsal set in the past still loads
        _fail(where, f"date {value.isoformat()} is in the future")
    return value


def _sourcing(table: Mapping[str, object], where: str) -> tuple[str | None, dt.date | None]:
    source = _text(table["source"], where, "source") if "source" in table else None
    verified_on = _date(table["verified_on"], where) if "verified_on" in table else None
    if verified_on is not None and not source:
        _fail(where, "'verified_on' needs a 'source' saying what was checked")
    return source, verified_on


def _stopncii(raw: object, where: str) -> tuple[bool, str | None, dt.date | None]:
    here = f"{where}, stopncii"
    table = _table(raw, here)
    _check_keys(table, _STOPNCII_KEYS, here)
    if "partner" not in table:
        _fail(here, "missing 'partner' (true or false)")
    return (_bool(table["partner"], here, "partner"), *_sourcing(table, here))


def _channel(raw: object, where: str) -> _ChannelSpec:
    table = _table(raw, where)
    _check_keys(table, _CHANNEL_KEYS, where)
    for key in ("kind", "address", "frameworks"):
        if key not in table:
            _fail(where, f"missing '{key}'")
    kind = table["kind"]
    if kind not in CHANNEL_KINDS:
        _fail(where, f"unknown channel kind '{kind}' (use one of: {', '.join(CHANNEL_KINDS)})")
    address = _text(table["address"], where, "address")
    _check_address(kind, address, where)
    languages = _languages(table["languages"], where) if "languages" in table else None
    source, verified_on = _sourcing(table, where)
    note = _text(table.get("note", ""), where, "note", allow_empty=True)
    return _ChannelSpec(
        kind, address, _frameworks(table["frameworks"], where), languages, source, verified_on, note
    )


def _check_address(kind: str, address: str, where: str) -> None:
    if kind == "email":
        example = address.replace(DOMAIN_PLACEHOLDER, "example.org")
        if not _EMAIL.fullmatch(example):
            _fail(where, f"'{address}' is not an e-mail address")
    elif kind in ("web_form", "api"):
        try:
            parse_web_address(address)
        except InvalidURL as exc:
            _fail(where, f"'{address}' is not a web address: {exc.reason}")
    elif address.startswith(("http://", "https://")):
        _fail(
            where,
            "an in_app channel describes where to tap in the app; "
            'use kind = "web_form" for a web address',
        )


def _host_pattern(text: str, where: str) -> str:
    """A host pattern in canonical form: lower case, no scheme, no trailing dot."""
    pattern = text.strip().lower().rstrip(".")
    host, slash, path = pattern.partition("/")
    labels = host.split(".")
    tld = labels[-1] == "{tld}"
    plain = labels[:-1] if tld else labels
    well_formed = plain and all(_PATTERN_LABEL.fullmatch(label) for label in plain)
    if "://" in text or ":" in host or not well_formed:
        _fail(
            where,
            f"host '{text}' should be a host name like 'example.com', 'cdn*.example.com', "
            "'google.{tld}' or 'example.com/path'",
        )
    name_label = plain[-1] if tld else plain[-2] if len(plain) >= 2 else None
    if name_label is None or "*" in name_label:
        _fail(where, f"host '{text}' would match far too many sites; write out the site's name")
    return f"{host}{slash}{path}"


# -- documentation -------------------------------------------------------------------------


def markdown_table(directory: PlatformDirectory) -> str:
    """A Markdown table of every platform and channel, with verification status."""
    rows = [
        "| Platform | StopNCII partner | Channel | Address | Frameworks | Verified |",
        "|---|---|---|---|---|---|",
    ]
    platforms = directory.all()
    # Channels every platform has (the shared ones) are listed once, at the end.
    shared = [c for c in platforms[0].channels if all(c in p.channels for p in platforms)]
    for platform in platforms:
        partner = {True: "yes", False: "no", None: "-"}[platform.stopncii_partner]
        if platform.stopncii_partner is not None and not platform.stopncii_verified:
            partner += " (unverified)"
        own = [c for c in platform.channels if c not in shared]
        rows.extend(_md_rows(f"**{platform.name}** (`{platform.id}`)", partner, own))
    rows.extend(_md_rows("**Every platform** (shared)", "", shared))
    return "\n".join(rows) + "\n"


def _md_rows(first: str, partner: str, channels: list[ReportingChannel]) -> list[str]:
    rows = []
    for channel in channels:
        checked = channel.verified_on if channel.verified else None
        verified = checked.isoformat() if checked else "**unverified**"
        rows.append(
            f"| {first} | {partner} | {channel.kind} | {_md(channel.address)} "
            f"| {', '.join(channel.frameworks)} | {verified} |"
        )
        first = partner = ""
    return rows


def _md(text: str) -> str:
    return text.replace("|", "\\|")


def _main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m stopncii_tools.notices.platforms",
        description="Print the built-in platform directory.",
    )
    parser.add_argument("--markdown", action="store_true", help="print the docs table")
    args = parser.parse_args(argv)
    if not args.markdown:
        parser.print_help()
        return 2
    sys.stdout.write(markdown_table(_build([_packaged_source()])))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())
