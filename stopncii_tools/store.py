"""The case database: one private SQLite file, typed functions, every change one transaction.

Rows hold hashes, URLs, dates and decisions. Never a picture, a thumbnail or a full path.
"""

from __future__ import annotations

import getpass
import json
import os
import secrets
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import sqlite_utils

from ._errors import CaseChoiceNeeded, NotFound, StoreError
from .hashing import MediaHashes
from .migrations import MIGRATIONS
from ._errors import NoticeError
from .notices.draft import normalise_jurisdiction
from .notices.model import Notice, Requester
from .paths import default_db_path

_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: easy to read aloud


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def _iso(moment: datetime | None = None) -> str:
    return (moment or utcnow()).astimezone(timezone.utc).isoformat(timespec="seconds")


def _country(code: str | None) -> str | None:
    """The two-letter country code, checked now rather than when a notice is drafted."""
    if not code or not code.strip():
        return None
    try:
        return normalise_jurisdiction(code)
    except NoticeError as exc:
        raise StoreError(exc.reason) from None


def _actor() -> str:
    try:
        return os.environ.get("STOPNCII_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


@dataclass(frozen=True)
class Case:
    id: str
    title: str
    jurisdiction: str | None
    notes: str | None
    status: str
    created_at: str
    closed_at: str | None


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
    value: str
    quality: int | None
    variant: int = 0


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


class Store:
    """An open case database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else default_db_path()
        self._open_private_file()
        conn = sqlite3.connect(self.path, isolation_level=None, timeout=30)
        self.conn = conn
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = FULL")  # a committed change survives a power cut
            self._migrate()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(f"this is not a case database, or it is damaged ({exc})", str(self.path)) from None
        self.db = sqlite_utils.Database(conn)
        self._private_sidecars()

    # -- housekeeping ---------------------------------------------------------------------

    def _open_private_file(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            self.path.chmod(0o600)
        except OSError as exc:
            raise StoreError(f"cannot open the case database: {exc.strerror or exc}", str(self.path)) from None

    def _private_sidecars(self) -> None:
        for suffix in ("-wal", "-shm"):
            sidecar = self.path.with_name(self.path.name + suffix)
            if sidecar.exists():
                sidecar.chmod(0o600)

    def _migrate(self) -> None:
        self.conn.execute(
            "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
        )
        done = {row[0] for row in self.conn.execute("SELECT name FROM _migrations")}
        for name, apply in MIGRATIONS:
            if name in done:
                continue
            with self.transaction():
                apply(self.conn)
                self.conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, _iso()))

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT name FROM _migrations ORDER BY name")]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: all of it is committed, or none of it."""
        if self.conn.in_transaction:  # already inside one: join it
            yield self.conn
            return
        self.conn.execute("BEGIN IMMEDIATE")
        try:
            yield self.conn
        except BaseException:
            self.conn.execute("ROLLBACK")
            raise
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "Store":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ---------------------------------------------------------------------------

    def log(self, case_id: str | None, action: str, **detail: Any) -> None:
        """Append to the event log (inside the caller's transaction when there is one)."""
        self.conn.execute(
            "INSERT INTO events (case_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)",
            (case_id, _iso(), _actor(), action, json.dumps(detail, default=str, sort_keys=True)),
        )

    def events(self, case_id: str) -> list[Event]:
        rows = self.db.query("SELECT * FROM events WHERE case_id = ? ORDER BY id", [case_id])
        return [Event(**{**r, "detail": json.loads(r["detail"])}) for r in rows]

    # -- cases ----------------------------------------------------------------------------

    def create_case(self, title: str, jurisdiction: str | None = None, notes: str | None = None) -> Case:
        title = title.strip()
        if not title:
            raise StoreError("a case needs a title (any words that help you recognise it)")
        jurisdiction = _country(jurisdiction)
        with self.transaction():
            case_id = self._new_case_id()
            self.conn.execute(
                "INSERT INTO cases (id, title, jurisdiction, notes, created_at) VALUES (?, ?, ?, ?, ?)",
                (case_id, title, jurisdiction, notes, _iso()),
            )
            self.log(case_id, "case.created", title=title, jurisdiction=jurisdiction)
        return self.get_case(case_id)

    def _new_case_id(self) -> str:
        while True:
            candidate = "".join(secrets.choice(_ID_ALPHABET) for _ in range(6))
            if not self.conn.execute("SELECT 1 FROM cases WHERE id = ?", (candidate,)).fetchone():
                return candidate

    def get_case(self, case_id: str) -> Case:
        rows = list(self.db.query("SELECT * FROM cases WHERE id = ?", [case_id.strip().lower()]))
        if not rows:
            raise NotFound(f"there is no case with id {case_id!r} (see 'stopncii case list')")
        return Case(**rows[0])

    def list_cases(self, status: str | None = None) -> list[Case]:
        if status:
            rows = self.db.query("SELECT * FROM cases WHERE status = ? ORDER BY created_at", [status])
        else:
            rows = self.db.query("SELECT * FROM cases ORDER BY created_at")
        return [Case(**r) for r in rows]

    def resolve_case(self, case_id: str | None) -> Case:
        """The case named, or the only open case when none is named."""
        if case_id:
            return self.get_case(case_id)
        open_cases = self.list_cases("open")
        if len(open_cases) == 1:
            return open_cases[0]
        if not open_cases:
            raise CaseChoiceNeeded("there is no open case yet: create one with 'stopncii case new TITLE'")
        ids = ", ".join(c.id for c in open_cases)
        raise CaseChoiceNeeded(f"there are {len(open_cases)} open cases ({ids}): choose one with --case ID")

    def update_case(
        self, case_id: str, *, title: str | None = None, jurisdiction: str | None = None, notes: str | None = None
    ) -> Case:
        """Change a case's title, country or notes (only what is given)."""
        case = self.get_case(case_id)
        changes = {"title": title.strip() if title else None,
                   "jurisdiction": _country(jurisdiction), "notes": notes}
        changes = {k: v for k, v in changes.items() if v is not None}
        if not changes:
            return case
        with self.transaction():
            self.conn.execute(
                f"UPDATE cases SET {', '.join(f'{k} = ?' for k in changes)} WHERE id = ?", (*changes.values(), case.id)
            )
            self.log(case.id, "case.updated", fields=sorted(changes))
        return self.get_case(case.id)

    def close_case(self, case_id: str) -> Case:
        case = self.get_case(case_id)
        with self.transaction():
            self.conn.execute(
                "UPDATE cases SET status = 'closed', closed_at = ? WHERE id = ?", (_iso(), case.id)
            )
            self.log(case.id, "case.closed")
        return self.get_case(case.id)

    def delete_case(self, case_id: str) -> None:
        """Delete the case and everything stored for it, then rewrite the file so no trace stays."""
        case = self.get_case(case_id)
        with self.transaction():
            self.conn.execute("DELETE FROM cases WHERE id = ?", (case.id,))
            self.log(None, "case.deleted")  # no id, no title: deleting means forgetting
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        self.conn.execute("VACUUM")
        self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")

    def case_counts(self, case_id: str) -> dict[str, int]:
        counts = {}
        for name, sql in (
            ("protected", "SELECT COUNT(*) FROM protected_items WHERE case_id = ?"),
            ("sightings", "SELECT COUNT(*) FROM sightings WHERE case_id = ?"),
            ("matches", "SELECT COUNT(*) FROM matches WHERE case_id = ? AND status != 'rejected'"),
            ("confirmed", "SELECT COUNT(*) FROM matches WHERE case_id = ? AND status = 'confirmed'"),
        ):
            counts[name] = self.conn.execute(sql, (case_id,)).fetchone()[0]
        return counts

    # -- protected media ------------------------------------------------------------------

    def add_protected(self, case_id: str, hashes: MediaHashes, label: str | None) -> tuple[ProtectedItem, bool]:
        """Store one protected item's hashes. Returns (item, created); the same file twice is a no-op."""
        with self.transaction():  # the check and the insert together: two runs at once cannot collide
            existing = self.conn.execute(
                "SELECT id FROM protected_items WHERE case_id = ? AND sha256 = ?", (case_id, hashes.sha256)
            ).fetchone()
            if existing:
                return self.protected_item(existing[0]), False
            cursor = self.conn.execute(
                "INSERT INTO protected_items (case_id, label, kind, format, size, width, height, sha256,"
                " frames, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, label, hashes.kind, hashes.format, hashes.size, hashes.width, hashes.height,
                 hashes.sha256, hashes.frames_blob(), _iso()),
            )
            item_id = int(cursor.lastrowid or 0)
            rows = [(item_id, v.signal, 0, v.value, v.quality) for v in hashes.signals.values()]
            rows += [(item_id, "pdq", i, v.value, v.quality) for i, v in enumerate(hashes.pdq_variants) if i]
            self.conn.executemany(
                "INSERT INTO protected_signals (item_id, signal, variant, value, quality) VALUES (?, ?, ?, ?, ?)",
                rows,
            )
            if hashes.regions:
                self.conn.execute("INSERT INTO protected_regions (item_id, signature) VALUES (?, ?)",
                                  (item_id, hashes.regions))
            self.log(case_id, "media.protected", item=item_id, kind=hashes.kind, signals=len(rows))
        return self.protected_item(item_id), True

    def protected_item(self, item_id: int) -> ProtectedItem:
        rows = list(self.db.query(
            "SELECT id, case_id, label, kind, format, size, width, height, sha256, created_at"
            " FROM protected_items WHERE id = ?", [item_id]))
        if not rows:
            raise NotFound(f"there is no protected item {item_id}")
        return ProtectedItem(**rows[0])

    def protected_items(self, case_id: str) -> list[ProtectedItem]:
        rows = self.db.query(
            "SELECT id, case_id, label, kind, format, size, width, height, sha256, created_at"
            " FROM protected_items WHERE case_id = ? ORDER BY id", [case_id])
        return [ProtectedItem(**r) for r in rows]

    def protected_signals(self, case_id: str) -> list[StoredSignal]:
        rows = self.conn.execute(
            "SELECT s.item_id, s.signal, s.value, s.quality, s.variant FROM protected_signals s"
            " JOIN protected_items p ON p.id = s.item_id WHERE p.case_id = ? ORDER BY s.item_id, s.variant",
            (case_id,),
        )
        return [StoredSignal(*row) for row in rows]

    def protected_regions(self, case_id: str) -> dict[int, bytes]:
        """Region signatures (for crops and derivatives) of the case's protected photos."""
        rows = self.conn.execute(
            "SELECT r.item_id, r.signature FROM protected_regions r JOIN protected_items p ON p.id = r.item_id"
            " WHERE p.case_id = ?", (case_id,))
        return {row[0]: row[1] for row in rows}

    def protected_frames(self, case_id: str) -> dict[int, bytes]:
        rows = self.conn.execute(
            "SELECT id, frames FROM protected_items WHERE case_id = ? AND frames IS NOT NULL", (case_id,)
        )
        return {row[0]: row[1] for row in rows}

    # -- sightings ------------------------------------------------------------------------

    def find_sighting(self, case_id: str, source: str, sha256: str) -> Sighting | None:
        rows = list(self.db.query(
            f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE case_id = ? AND source = ? AND sha256 = ?",
            [case_id, source, sha256]))
        return Sighting(**rows[0]) if rows else None

    def add_sighting(
        self, case_id: str, where: SightingSource, hashes: MediaHashes | None,
        signals: Sequence[tuple[str, str, int | None]] = (),
    ) -> tuple[Sighting, bool]:
        """Record where suspect content was seen, with its hashes. Seen again: only the date moves.

        ``hashes`` is None for entries of a hash list, whose ``signals`` are given directly.
        """
        sha256 = hashes.sha256 if hashes else next((v for s, v, _ in signals if s == "sha256"), "")
        seen = _iso(where.seen_at)
        with self.transaction():
            return self._add_sighting(case_id, where, hashes, signals, sha256, seen)

    def _add_sighting(
        self, case_id: str, where: SightingSource, hashes: MediaHashes | None,
        signals: Sequence[tuple[str, str, int | None]], sha256: str, seen: str,
    ) -> tuple[Sighting, bool]:
        existing = self.find_sighting(case_id, where.source, sha256)
        if existing:
            with self.transaction():
                self.conn.execute(
                    "UPDATE sightings SET last_seen_at = ?, page_url = COALESCE(page_url, ?) WHERE id = ?",
                    (seen, where.page_url, existing.id),
                )
            return self.sighting(existing.id), False
        values = list(signals) if hashes is None else [(v.signal, v.value, v.quality) for v in hashes.signals.values()]
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO sightings (case_id, source, url, final_url, page_url, http_status, content_type,"
                " kind, format, size, width, height, sha256, platform, frames, first_seen_at, last_seen_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, where.source, where.url, where.final_url, where.page_url, where.http_status,
                 where.content_type, hashes.kind if hashes else "hash", hashes.format if hashes else None,
                 hashes.size if hashes else None, hashes.width if hashes else None,
                 hashes.height if hashes else None, sha256, where.platform,
                 hashes.frames_blob() if hashes else None, seen, seen),
            )
            sighting_id = int(cursor.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO sighting_signals (sighting_id, signal, value, quality) VALUES (?, ?, ?, ?)",
                [(sighting_id, s, v, q) for s, v, q in values],
            )
            self.log(case_id, "sighting.recorded", sighting=sighting_id, url=where.url, platform=where.platform)
        return self.sighting(sighting_id), True

    def sighting(self, sighting_id: int) -> Sighting:
        rows = list(self.db.query(f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE id = ?", [sighting_id]))
        if not rows:
            raise NotFound(f"there is no sighting {sighting_id}")
        return Sighting(**rows[0])

    def sightings(self, case_id: str) -> list[Sighting]:
        rows = self.db.query(f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE case_id = ? ORDER BY id", [case_id])
        return [Sighting(**r) for r in rows]

    def sighting_signals(self, sighting_id: int) -> list[StoredSignal]:
        rows = self.conn.execute(
            "SELECT sighting_id, signal, value, quality FROM sighting_signals WHERE sighting_id = ?",
            (sighting_id,),
        )
        return [StoredSignal(*row) for row in rows]

    def sighting_frames(self, sighting_id: int) -> bytes | None:
        row = self.conn.execute("SELECT frames FROM sightings WHERE id = ?", (sighting_id,)).fetchone()
        return row[0] if row else None

    # -- matches --------------------------------------------------------------------------

    def record_match(
        self, case_id: str, sighting_id: int, item_id: int, kind: str, confidence: str,
        evidence: list[dict[str, Any]],
    ) -> tuple[MatchRecord, bool]:
        """Record that a sighting matches a protected item (once per pair)."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT id FROM matches WHERE sighting_id = ? AND item_id = ?", (sighting_id, item_id)
            ).fetchone()
            if row:
                return self.match(row[0]), False
            cursor = self.conn.execute(
                "INSERT INTO matches (case_id, sighting_id, item_id, kind, confidence, evidence, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (case_id, sighting_id, item_id, kind, confidence, json.dumps(evidence), _iso()),
            )
            match_id = int(cursor.lastrowid or 0)
            self.log(case_id, "match.found", match=match_id, kind=kind, confidence=confidence)
        return self.match(match_id), True

    def match(self, match_id: int) -> MatchRecord:
        rows = list(self.db.query("SELECT * FROM matches WHERE id = ?", [match_id]))
        if not rows:
            raise NotFound(f"there is no match {match_id} (see 'stopncii matches')")
        return _match(rows[0])

    def matches(self, case_id: str, status: str | None = None) -> list[MatchRecord]:
        sql, args = "SELECT * FROM matches WHERE case_id = ?", [case_id]
        if status:
            sql, args = sql + " AND status = ?", args + [status]
        return [_match(r) for r in self.db.query(sql + " ORDER BY id", args)]

    def decide_match(self, match_id: int, decision: str) -> MatchRecord:
        """Record the person's decision: 'confirmed' (it is them) or 'rejected' (it is not)."""
        if decision not in ("confirmed", "rejected", "pending"):
            raise StoreError(f"unknown decision {decision!r}")
        record = self.match(match_id)
        with self.transaction():
            self.conn.execute(
                "UPDATE matches SET status = ?, decided_at = ? WHERE id = ?", (decision, _iso(), match_id)
            )
            self.log(record.case_id, f"match.{decision}", match=match_id)
        return self.match(match_id)


    # -- the requester ----------------------------------------------------------------------

    def set_requester(self, case_id: str, requester: Requester) -> None:
        """Store who sends this case's notices (kept in the case, never in hash exports)."""
        values = {f: getattr(requester, f) for f in _REQUESTER_FIELDS}
        with self.transaction():
            self.conn.execute(
                f"INSERT OR REPLACE INTO requesters (case_id, {', '.join(_REQUESTER_FIELDS)}, updated_at)"
                f" VALUES (?, {', '.join('?' for _ in _REQUESTER_FIELDS)}, ?)",
                (case_id, *values.values(), _iso()),
            )
            self.log(case_id, "requester.updated", role=requester.role)

    def requester(self, case_id: str) -> Requester | None:
        rows = list(self.db.query(
            f"SELECT {', '.join(_REQUESTER_FIELDS)} FROM requesters WHERE case_id = ?", [case_id]))
        return Requester(**rows[0]) if rows else None

    # -- notices --------------------------------------------------------------------------

    def save_notice(
        self, case_id: str, notice: Notice, reason: str, match_ids: Sequence[int]
    ) -> tuple[StoredNotice, bool]:
        """Keep a drafted notice. The same request drafted again (same key) is not duplicated;
        one that was withdrawn becomes a draft again."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT id, status FROM notices WHERE notice_key = ?", (notice.notice_key,)).fetchone()
            if row and row[1] == "withdrawn":
                self.conn.execute(
                    "UPDATE notices SET status = 'draft', confirmed = ?, context = ?, updated_at = ? WHERE id = ?",
                    (json.dumps(sorted(notice.confirmed)), notice.context, _iso(), row[0]))
                self.log(case_id, "notice.redrafted", notice=row[0])
                return self.notice(row[0]), True
            if row:
                return self.notice(row[0]), False
            return self._insert_notice(case_id, notice, reason, match_ids), True

    def _insert_notice(self, case_id: str, notice: Notice, reason: str, match_ids: Sequence[int]) -> StoredNotice:
        now = _iso()
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO notices (case_id, notice_key, platform, framework, framework_reason, language,"
                " channel_kind, channel_address, confirmed, attach_hashes, context, original_work,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, notice.notice_key, notice.platform.id, notice.framework, reason, notice.language,
                 notice.channel.kind if notice.channel else None,
                 notice.channel.address if notice.channel else None,
                 json.dumps(sorted(notice.confirmed)), int(notice.attach_hashes), notice.context,
                 notice.original_work, _iso(notice.created_at), now),
            )
            notice_id = int(cursor.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO notice_matches (notice_id, match_id) VALUES (?, ?)",
                [(notice_id, m) for m in match_ids],
            )
            self.log(case_id, "notice.drafted", notice=notice_id, platform=notice.platform.id,
                     framework=notice.framework)
        return self.notice(notice_id)

    def delete_drafts(self, case_id: str, platform: str | None = None) -> int:
        """Remove unsent drafts (before drafting again from the current matches)."""
        sql, args = "DELETE FROM notices WHERE case_id = ? AND status = 'draft'", [case_id]
        if platform:
            sql, args = sql + " AND platform = ?", args + [platform]
        with self.transaction():
            removed = self.conn.execute(sql, args).rowcount
            if removed:
                self.log(case_id, "notice.drafts_replaced", count=removed)
        return removed

    def notice(self, notice_id: int) -> StoredNotice:
        rows = list(self.db.query("SELECT * FROM notices WHERE id = ?", [notice_id]))
        if not rows:
            raise NotFound(f"there is no notice {notice_id} (see 'stopncii notice list')")
        return self._stored_notice(rows[0])

    def notices(self, case_id: str | None = None, status: str | None = None) -> list[StoredNotice]:
        clauses, args = [], []
        if case_id:
            clauses, args = clauses + ["case_id = ?"], args + [case_id]
        if status:
            clauses, args = clauses + ["status = ?"], args + [status]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [self._stored_notice(r) for r in self.db.query(f"SELECT * FROM notices {where} ORDER BY id", args)]

    def notice_match_ids(self, notice_id: int) -> list[int]:
        rows = self.conn.execute("SELECT match_id FROM notice_matches WHERE notice_id = ? ORDER BY match_id", (notice_id,))
        return [r[0] for r in rows]

    def matches_in_notices(self, case_id: str, statuses: Sequence[str]) -> set[int]:
        """Matches already covered by notices in these states (so no URL is requested twice)."""
        marks = ", ".join("?" for _ in statuses)
        rows = self.conn.execute(
            f"SELECT nm.match_id FROM notice_matches nm JOIN notices n ON n.id = nm.notice_id"
            f" WHERE n.case_id = ? AND n.status IN ({marks})", (case_id, *statuses))
        return {r[0] for r in rows}

    def _stored_notice(self, row: dict[str, Any]) -> StoredNotice:
        return StoredNotice(**{
            **row,
            "confirmed": tuple(json.loads(row["confirmed"])),
            "attach_hashes": bool(row["attach_hashes"]),
            "evidence": json.loads(row["evidence"]),
            "match_ids": tuple(self.notice_match_ids(row["id"])),
        })

    # -- outbox, removal checks, hash-bank pushes -------------------------------------------

    def move_notice(
        self, notice_id: int, expected: Sequence[str], status: str, *, at: datetime, action: str,
        detail: dict[str, Any] | None = None, **fields: Any,
    ) -> StoredNotice:
        """Move a notice to ``status`` only if it is in one of ``expected``, in one transaction.

        ``fields`` may set sent_at, due_at, attempts, next_attempt_at, last_error and evidence.
        """
        unknown = set(fields) - set(_NOTICE_STATE_FIELDS)
        if unknown:
            raise StoreError(f"a notice has no state field {min(unknown)!r}")
        values = {"status": status, "updated_at": _iso(at),
                  **{k: json.dumps(v, sort_keys=True) if k == "evidence" else v for k, v in fields.items()}}
        assignments = ", ".join(f"{k} = ?" for k in values)
        marks = ", ".join("?" for _ in expected)
        with self.transaction():
            current = self.notice(notice_id)
            changed = self.conn.execute(
                f"UPDATE notices SET {assignments} WHERE id = ? AND status IN ({marks})",
                (*values.values(), notice_id, *expected),
            ).rowcount
            if not changed:
                raise StoreError(f"notice {notice_id} is {current.status!r} now, so it was left as it is")
            self.log(current.case_id, action, notice=notice_id, **{"from": current.status, "to": status},
                     **(detail or {}))
        return self.notice(notice_id)

    def notice_by_key(self, notice_key: str) -> StoredNotice | None:
        row = self.conn.execute("SELECT id FROM notices WHERE notice_key = ?", (notice_key,)).fetchone()
        return self.notice(row[0]) if row else None

    def save_payload(self, notice_id: int, kind: str, body: bytes, deadline_hours: int | None, at: datetime) -> None:
        """Keep the exact bytes that go out for this notice, so every resend is the same."""
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO notice_payloads (notice_id, kind, body, deadline_hours, queued_at)"
                " VALUES (?, ?, ?, ?, ?)", (notice_id, kind, body, deadline_hours, _iso(at)))

    def notice_payload(self, notice_id: int) -> NoticePayload | None:
        rows = list(self.db.query("SELECT * FROM notice_payloads WHERE notice_id = ?", [notice_id]))
        return NoticePayload(**rows[0]) if rows else None

    def start_attempt(self, notice_id: int, number: int, channel: str, at: datetime) -> int:
        """Record that attempt ``number`` starts; an attempt left open by a stopped run is closed."""
        with self.transaction():
            self.conn.execute(
                "UPDATE send_attempts SET outcome = 'interrupted', finished_at = ?,"
                " detail = 'the program stopped before the answer was recorded'"
                " WHERE notice_id = ? AND outcome = 'started'", (_iso(at), notice_id))
            cursor = self.conn.execute(
                "INSERT INTO send_attempts (notice_id, number, channel, started_at) VALUES (?, ?, ?, ?)",
                (notice_id, number, channel, _iso(at)))
        return int(cursor.lastrowid or 0)

    def finish_attempt(self, attempt_id: int, outcome: str, at: datetime, detail: str = "") -> None:
        with self.transaction():
            self.conn.execute(
                "UPDATE send_attempts SET outcome = ?, finished_at = ?, detail = ? WHERE id = ?",
                (outcome, _iso(at), detail, attempt_id))

    def send_attempts(self, notice_id: int) -> list[SendAttempt]:
        rows = self.db.query("SELECT * FROM send_attempts WHERE notice_id = ? ORDER BY id", [notice_id])
        return [SendAttempt(**r) for r in rows]

    def sightings_at(self, case_id: str, url: str) -> list[Sighting]:
        """Sightings recorded for ``url``: the item itself, or items found on that page."""
        rows = self.db.query(
            f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE case_id = ?"
            " AND (source = ? OR url = ? OR final_url = ? OR page_url = ?) ORDER BY id",
            [case_id, url, url, url, url])
        return [Sighting(**r) for r in rows]

    def set_sighting_platform(self, sighting_id: int, platform: str) -> Sighting:
        sighting = self.sighting(sighting_id)
        if sighting.platform != platform:
            with self.transaction():
                self.conn.execute("UPDATE sightings SET platform = ? WHERE id = ?", (platform, sighting_id))
                self.log(sighting.case_id, "sighting.platform_set", sighting=sighting_id, platform=platform)
        return self.sighting(sighting_id)

    def cases_titled(self, title: str) -> list[Case]:
        rows = self.db.query("SELECT * FROM cases WHERE title = ? ORDER BY created_at", [title.strip()])
        return [Case(**r) for r in rows]

    def record_removal_check(
        self, case_id: str, sighting_id: int, outcome: str, at: datetime, *,
        http_status: int | None = None, sha256: str | None = None, detail: str = "",
    ) -> RemovalCheck:
        """Keep what a re-check of a sighting found (evidence of removal, or that it is still up)."""
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO removal_checks (case_id, sighting_id, checked_at, outcome, http_status, sha256, detail)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)", (case_id, sighting_id, _iso(at), outcome, http_status, sha256, detail))
            self.log(case_id, "sighting.checked", sighting=sighting_id, outcome=outcome, status=http_status)
        rows = list(self.db.query("SELECT * FROM removal_checks WHERE id = ?", [cursor.lastrowid]))
        return RemovalCheck(**rows[0])

    def removal_checks(self, sighting_id: int) -> list[RemovalCheck]:
        rows = self.db.query("SELECT * FROM removal_checks WHERE sighting_id = ? ORDER BY id", [sighting_id])
        return [RemovalCheck(**r) for r in rows]

    def hashbank_ids(self, case_ids: Sequence[str], server: str, bank: str) -> dict[tuple[str, str], int]:
        """Content ids a hash bank gave for these cases' hashes earlier: ``(signal_type, hex) -> id``."""
        marks = ", ".join("?" for _ in case_ids)
        rows = self.conn.execute(
            f"SELECT signal_type, value, content_id FROM hashbank_pushes WHERE server = ? AND bank = ?"
            f" AND case_id IN ({marks})", (server, bank, *case_ids))
        return {(r[0], r[1]): r[2] for r in rows}

    def record_hashbank_push(
        self, case_id: str, server: str, bank: str, signal_type: str, value: str, content_id: int, at: datetime,
    ) -> None:
        with self.transaction():
            self.conn.execute(
                "INSERT OR REPLACE INTO hashbank_pushes (case_id, server, bank, signal_type, value, content_id,"
                " pushed_at) VALUES (?, ?, ?, ?, ?, ?, ?)", (case_id, server, bank, signal_type, value, content_id,
                                                              _iso(at)))


_REQUESTER_FIELDS = ("role", "name", "email", "signature", "postal_address", "phone", "organisation",
                     "on_behalf_of", "authorisation")

_SIGHTING_COLUMNS = (
    "id, case_id, source, url, final_url, page_url, http_status, content_type, kind, format, size,"
    " width, height, sha256, platform, first_seen_at, last_seen_at"
)


def _match(row: dict[str, Any]) -> MatchRecord:
    return MatchRecord(**{**row, "evidence": json.loads(row["evidence"])})



_NOTICE_STATE_FIELDS = ("sent_at", "due_at", "attempts", "next_attempt_at", "last_error", "evidence")


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
