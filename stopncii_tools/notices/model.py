"""What a takedown notice is made of: who asks, what is asked about, and where it goes.

A notice carries web addresses, dates, match kinds and (when asked) hashes of content found
online. It has no field for a protected file's name, label, path or bytes, so none can leak.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from .._errors import InvalidHash, NoticeError
from .frameworks import get_framework

if TYPE_CHECKING:
    from .platforms import Platform, ReportingChannel

ROLES = ("self", "representative")

# What the item found online is, relative to the person's own picture. Never mixed up:
# a fake made from an ordinary photo is not "a copy", and platforms must be told which it is.
MATCH_KINDS = ("exact", "copy", "partial", "derived")

ASKS = ("removal", "identical_copies")
DEFAULT_ASKS = ASKS

_HEX64 = re.compile(r"[0-9a-f]{64}")


@dataclass(frozen=True, kw_only=True)  # keywords only: positional mix-ups would go unseen
class Requester:
    """The person sending the notice: the person shown (``self``) or someone acting for them.

    ``signature`` is a typed electronic signature such as ``/Jane Doe/``. A representative also
    gives ``on_behalf_of`` (the person's name, or "the person I represent") and
    ``authorisation`` (one sentence saying the person has authorised them).
    """

    name: str
    email: str
    signature: str = ""
    role: str = "self"
    postal_address: str | None = None
    phone: str | None = None
    organisation: str | None = None
    on_behalf_of: str | None = None
    authorisation: str | None = None

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise NoticeError(
                f"the role {self.role!r} is not one we know; use 'self' (you are the person shown) "
                "or 'representative' (you act for them)"
            )

    @property
    def is_representative(self) -> bool:
        return self.role == "representative"


@dataclass(frozen=True, kw_only=True)
class NoticeItem:
    """One picture or video found online: where it is, when it was seen, and how it matches.

    ``match_kind``: ``exact`` (the same file), ``copy`` (the same picture, resized or re-saved),
    ``partial`` (part of a photo of the person: a crop or a screenshot), ``derived`` (a
    manipulated image made from a photo of the person: a deepfake). ``sha256``/``pdq`` are
    hashes of the content found online, sent only when the notice attaches hashes.
    """

    url: str
    seen_at: datetime
    match_kind: str
    page_url: str | None = None
    sha256: str | None = None
    pdq: str | None = None

    def __post_init__(self) -> None:
        if self.match_kind not in MATCH_KINDS:
            raise NoticeError(
                f"the match kind {self.match_kind!r} is not one we know; use one of "
                + ", ".join(MATCH_KINDS),
                item=self.url,
            )
        if self.seen_at.tzinfo is None:
            # A time without a zone is read as UTC, so every notice states times the same way.
            object.__setattr__(self, "seen_at", self.seen_at.replace(tzinfo=UTC))
        for name in ("sha256", "pdq"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _hex64(name, value, self.url))

    @classmethod
    def from_record(cls, record: Mapping[str, object]) -> NoticeItem:
        """Build an item from a case-database row, taking only the fields a notice may carry.

        Anything else in the row (labels, file names, paths of protected pictures) is ignored
        here, so it can never reach a notice.
        """
        allowed = {f.name for f in fields(cls)}
        values = {k: v for k, v in record.items() if k in allowed}
        where = str(values.get("url") or "found item")
        missing = [k for k in ("url", "seen_at", "match_kind") if not values.get(k)]
        if missing:
            raise NoticeError("a found item needs " + ", ".join(missing), item=where)
        seen = values["seen_at"]
        if isinstance(seen, str):
            try:
                values["seen_at"] = datetime.fromisoformat(seen)
            except ValueError:
                raise NoticeError(f"the time it was seen ({seen!r}) is not a date", item=where) from None
        elif not isinstance(seen, datetime):
            raise NoticeError(f"the time it was seen ({seen!r}) is not a date", item=where)
        return cls(**values)  # type: ignore[arg-type]  # a database row: values are untyped objects


@dataclass(frozen=True)
class FrameworkChoice:
    """Which legal framework a notice uses, and why, in words the person can follow."""

    id: str
    reason: str


@dataclass(frozen=True, kw_only=True)
class Notice:
    """One takedown request to one platform, under one legal framework, in one language.

    ``confirmed`` holds the ids of the statements the person has confirmed as true (see
    :func:`~stopncii_tools.notices.render_statements`); a notice whose framework needs a
    statement that is not confirmed is refused. ``context`` is optional extra information in
    the person's own words; ``original_work`` describes the photo the person took (DMCA only).
    """

    case_ref: str
    jurisdiction: str
    platform: Platform
    channel: ReportingChannel | None
    framework: str
    language: str
    requester: Requester
    items: tuple[NoticeItem, ...]
    created_at: datetime
    asks: tuple[str, ...] = DEFAULT_ASKS
    attach_hashes: bool = False
    confirmed: frozenset[str] = field(default_factory=frozenset)
    context: str | None = None
    original_work: str | None = None

    def __post_init__(self) -> None:
        if self.created_at.tzinfo is None:
            object.__setattr__(self, "created_at", self.created_at.replace(tzinfo=UTC))
        object.__setattr__(self, "items", tuple(self.items))
        object.__setattr__(self, "confirmed", frozenset(self.confirmed))
        unknown = [a for a in self.asks if a not in ASKS]
        if unknown:
            raise NoticeError(
                f"the request {unknown[0]!r} is not one we know; use " + " and ".join(ASKS)
            )

    @property
    def notice_key(self) -> str:
        """A stable id for this request: the same case, platform, address, framework and URLs
        always give the same key, whatever the wording or time of drafting. Use it to make sure
        one request is never sent twice. A notice in another language than English is its own
        request (it is drafted beside the English one, and the person may send both)."""
        channel = [self.channel.kind, self.channel.address] if self.channel is not None else None
        identity = {
            "v": 1,
            "case": self.case_ref,
            "platform": self.platform.id,
            "channel": channel,
            "framework": self.framework,
            "urls": sorted({item.url for item in self.items}),
        }
        if self.language != "en":  # English keys stay as they were before languages were drafted side by side
            identity["language"] = self.language
        canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32]

    @property
    def deadline_hours(self) -> int | None:
        """Hours the platform has to act: the platform directory's value for this framework if it
        sets one, else the law's (48 for TAKE IT DOWN, 24 for an eSafety removal notice), else
        None (the caller's configured default applies)."""
        configured = self.platform.deadline_hours.get(self.framework)
        if configured is not None:
            return int(configured)
        return get_framework(self.framework).deadline_hours

    @property
    def due_at(self) -> datetime | None:
        hours = self.deadline_hours
        return self.created_at + timedelta(hours=hours) if hours is not None else None

    def with_confirmed(self, statement_ids: Iterable[str]) -> Notice:
        """A copy of this notice with these statements confirmed by the person."""
        return replace(self, confirmed=self.confirmed | frozenset(statement_ids))


def _hex64(name: str, value: str, url: str) -> str:
    text = value.strip().lower()
    if not _HEX64.fullmatch(text):
        label = "SHA-256" if name == "sha256" else "PDQ"
        raise InvalidHash(f"a {label} hash is 64 hexadecimal characters; got {value[:20]!r}", item=url)
    return text
