"""The rows the case database hands out: plain frozen records, no behaviour."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    jurisdiction: str | None
    notes: str | None
    status: str
    created_at: str
    closed_at: str | None
    draft_watch_matches: bool = False  # 'watch run' drafts notices for new copies of what was confirmed


@dataclass(frozen=True)
class ProtectedItem:
    id: int
    case_id: str
    label: str | None
    kind: str
    format: str
    size: int
    width: int | None
    height: int | None
    sha256: str
    created_at: str


@dataclass(frozen=True)
class StoredSignal:
    owner_id: int
    signal: str
    value: str | bytes  # hex text for hashes, bytes for structured signals (video frames, regions)
    quality: int | None
    variant: int = 0


@dataclass(frozen=True)
class MediaRecord:
    """What is kept about one picture or video besides its signals (never its pixels)."""

    kind: str
    format: str
    size: int
    width: int | None
    height: int | None
    sha256: str


class SignalRow(NamedTuple):
    """One signal value to store: ``variant`` numbers a protected photo's rotations (0 as taken)."""

    signal: str
    variant: int
    value: str | bytes
    quality: int | None


@dataclass(frozen=True)
class SightingSource:
    """Where a suspect item was seen. For files ``source`` is the path; for the web, the URL."""

    source: str
    url: str | None = None
    final_url: str | None = None
    page_url: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    platform: str | None = None
    seen_at: datetime | None = None


@dataclass(frozen=True)
class Sighting:
    id: int
    case_id: str
    source: str
    url: str | None
    final_url: str | None
    page_url: str | None
    http_status: int | None
    content_type: str | None
    kind: str | None
    format: str | None
    size: int | None
    width: int | None
    height: int | None
    sha256: str
    platform: str | None
    first_seen_at: str
    last_seen_at: str

    @property
    def location(self) -> str:
        return self.final_url or self.url or self.source


@dataclass(frozen=True)
class MatchRecord:
    id: int
    case_id: str
    sighting_id: int
    item_id: int
    kind: str
    confidence: str
    evidence: list[dict[str, Any]]
    status: str
    created_at: str
    decided_at: str | None


@dataclass(frozen=True, kw_only=True)
class StoredRequester:
    """Who sends a case's notices, as kept in the case (the notices package checks the role)."""

    name: str
    email: str
    signature: str = ""
    role: str = "self"
    postal_address: str | None = None
    phone: str | None = None
    organisation: str | None = None
    on_behalf_of: str | None = None
    authorisation: str | None = None


@dataclass(frozen=True, kw_only=True)
class NewNotice:
    """A drafted notice to keep: what it asks, where it goes, and the matches it covers."""

    notice_key: str
    platform: str
    framework: str
    framework_reason: str
    language: str
    channel_kind: str | None
    channel_address: str | None
    confirmed: tuple[str, ...]
    attach_hashes: bool
    context: str | None
    original_work: str | None
    created_at: datetime
    match_ids: tuple[int, ...]


@dataclass(frozen=True)
class StoredNotice:
    """A notice as kept in the case: what it asks, where it goes, and where it stands."""

    id: int
    case_id: str
    notice_key: str
    platform: str
    framework: str
    framework_reason: str
    language: str
    channel_kind: str | None
    channel_address: str | None
    confirmed: tuple[str, ...]
    attach_hashes: bool
    context: str | None
    original_work: str | None
    status: str
    created_at: str
    updated_at: str
    sent_at: str | None
    due_at: str | None
    attempts: int
    next_attempt_at: str | None
    last_error: str | None
    evidence: dict[str, Any]
    match_ids: tuple[int, ...]


@dataclass(frozen=True)
class Event:
    id: int
    case_id: str | None
    at: str
    actor: str
    action: str
    detail: dict[str, Any]
    prev_hash: str | None  # the hash of the case's event before this one (None for its first)
    hash: str | None  # this event's link in the chain (store/chain.py)


@dataclass(frozen=True)
class NoticePayload:
    """The exact bytes frozen when a notice was queued: an e-mail, JSON, or a form packet."""

    notice_id: int
    kind: str
    body: bytes
    deadline_hours: int | None
    queued_at: str


@dataclass(frozen=True)
class SendAttempt:
    id: int
    notice_id: int
    number: int
    channel: str
    started_at: str
    finished_at: str | None
    outcome: str
    detail: str


@dataclass(frozen=True)
class RemovalCheck:
    id: int
    case_id: str
    sighting_id: int
    checked_at: str
    outcome: str
    http_status: int | None
    sha256: str | None
    detail: str


@dataclass(frozen=True)
class Watch:
    """A page re-checked on a schedule for one case; ``newest_post`` is the newest post id seen."""

    id: int
    case_id: str
    url: str
    every_seconds: int
    created_at: str
    next_due_at: str
    last_run_at: str | None
    newest_post: int | None
    last_summary: dict[str, Any]
