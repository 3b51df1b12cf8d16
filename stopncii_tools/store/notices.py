"""Notices, their frozen payloads and send attempts, send leases, and hash-bank pushes.

A run that sends a notice first takes its lease, in the same transaction that moves the notice
to 'sending' (``BEGIN IMMEDIATE``: no other process reads in between). Another run leaves a
notice alone while the lease holder is alive; a lease whose process is gone (killed, crashed)
is taken over by the next ``--resume``. The lease goes when the notice leaves 'sending'.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from platform import node as computer_name
from typing import Any, Final, Literal

from .. import clock as clocks
from .._errors import NotFound, StoreError
from ._database import Database, _iso
from .notice_states import allowed_move, sources
from .rows import NewNotice, NoticePayload, SendAttempt, StoredNotice

_NOTICE_STATE_FIELDS = ("sent_at", "due_at", "attempts", "next_attempt_at", "last_error", "evidence")
# How long a lease from a process this computer cannot check (another computer sharing the file,
# or Windows) is honoured: far longer than one send with all its in-call retries can take.
LEASE_UNCHECKABLE_FOR: Final = timedelta(hours=1)


@dataclass(frozen=True)
class Sender:
    """A process that sends notices: a fingerprint of the computer's name (not the name
    itself), the process id, and when that process started (so a reused id is not mistaken
    for it; empty where the system does not tell)."""

    computer: str
    pid: int
    process_started: str

    @classmethod
    def this_process(cls) -> Sender:
        return cls(_computer(), os.getpid(), _process_started(os.getpid()) or "")

    def running(self) -> bool | None:
        """Whether the process still runs; None when this computer cannot tell."""
        if self.computer != _computer() or os.name == "nt":  # on Windows os.kill would end it
            return None
        if self == Sender.this_process():
            return True
        try:
            os.kill(self.pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass  # it runs, as another user
        except OSError:
            return None
        started = _process_started(self.pid)
        return started is not None and (not self.process_started or started == self.process_started)

    def describe(self) -> str:
        return f"process {self.pid}" + ("" if self.computer == _computer() else " on another computer")


@dataclass(frozen=True)
class Claim:
    """The answer to :meth:`NoticeRecords.claim_notice`.

    ``outcome``: ``claimed`` (this run sends it now: ``attempt_id`` is its open attempt),
    ``busy`` (another live run holds it), ``stopped`` (a stopped run left it in 'sending' and
    resuming was not asked for) or ``moved`` (it is no longer waiting to be sent).
    """

    notice: StoredNotice
    outcome: Literal["claimed", "busy", "stopped", "moved"]
    attempt_id: int = 0
    holder: Sender | None = None


def _computer() -> str:
    return hashlib.sha256(computer_name().encode("utf-8", "replace")).hexdigest()[:16]


def _process_started(pid: int) -> str | None:
    """When process ``pid`` started ('' where unknown); None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
        boot = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    except FileNotFoundError:
        return None if Path("/proc/self/stat").exists() else ""
    except OSError:
        return ""
    fields = stat.rpartition(")")[2].split()  # the name in brackets may hold spaces
    if len(fields) < 20 or fields[0] in ("Z", "X"):  # a zombie is dead, only not yet reaped
        return None
    return f"{boot}:{fields[19]}"


class NoticeRecords(Database):
    # -- notices --------------------------------------------------------------------------

    def save_notice(self, case_id: str, notice: NewNotice) -> tuple[StoredNotice, bool]:
        """Keep a drafted notice. The same request drafted again (same key) is not duplicated;
        one that was withdrawn becomes a draft again."""
        with self.transaction():
            row = self.conn.execute(
                "SELECT id, status FROM notices WHERE notice_key = ?", (notice.notice_key,)).fetchone()
            if row and row[1] in sources("redraft"):
                redraft = allowed_move(row[1], "draft", "redraft", item=f"notice {row[0]}")
                self.conn.execute(
                    "UPDATE notices SET status = ?, confirmed = ?, context = ?, updated_at = ? WHERE id = ?",
                    (redraft.target, json.dumps(sorted(notice.confirmed)), notice.context, _iso(), row[0]))
                self.log(case_id, redraft.event, notice=row[0])
                return self.notice(row[0]), True
            if row:
                return self.notice(row[0]), False
            return self._insert_notice(case_id, notice), True

    def _insert_notice(self, case_id: str, notice: NewNotice) -> StoredNotice:
        now = _iso()
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO notices (case_id, notice_key, platform, framework, framework_reason, language,"
                " channel_kind, channel_address, confirmed, attach_hashes, context, original_work,"
                " created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, notice.notice_key, notice.platform, notice.framework, notice.framework_reason,
                 notice.language, notice.channel_kind, notice.channel_address,
                 json.dumps(sorted(notice.confirmed)), int(notice.attach_hashes), notice.context,
                 notice.original_work, _iso(notice.created_at), now),
            )
            notice_id = int(cursor.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO notice_matches (notice_id, match_id) VALUES (?, ?)",
                [(notice_id, m) for m in notice.match_ids],
            )
            self.log(case_id, "notice.drafted", notice=notice_id, platform=notice.platform,
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
        clauses: list[str] = []
        args: list[str] = []
        if case_id:
            clauses, args = clauses + ["case_id = ?"], args + [case_id]
        if status:
            clauses, args = clauses + ["status = ?"], args + [status]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [self._stored_notice(r) for r in self.db.query(f"SELECT * FROM notices {where} ORDER BY id", args)]

    def notice_match_ids(self, notice_id: int) -> list[int]:
        rows = self.conn.execute(
            "SELECT match_id FROM notice_matches WHERE notice_id = ? ORDER BY match_id", (notice_id,))
        return [r[0] for r in rows]

    def matches_in_notices(self, case_id: str, statuses: Sequence[str]) -> set[int]:
        """Matches already covered by notices in these states (so no URL is requested twice)."""
        marks = ", ".join("?" for _ in statuses)
        rows = self.conn.execute(
            f"SELECT nm.match_id FROM notice_matches nm JOIN notices n ON n.id = nm.notice_id"
            f" WHERE n.case_id = ? AND n.status IN ({marks})", (case_id, *statuses))
        return {r[0] for r in rows}

    def _stored_notice(self, row: dict[str, Any], match_ids: Sequence[int] | None = None) -> StoredNotice:
        return StoredNotice(**{
            **row,
            "confirmed": tuple(json.loads(row["confirmed"])),
            "attach_hashes": bool(row["attach_hashes"]),
            "evidence": json.loads(row["evidence"]),
            "match_ids": tuple(self.notice_match_ids(row["id"]) if match_ids is None else match_ids),
        })

    # -- outbox, removal checks, hash-bank pushes -------------------------------------------

    def move_notice(
        self, notice: StoredNotice, status: str, *, step: str, at: datetime,
        detail: dict[str, Any] | None = None, **fields: Any,
    ) -> StoredNotice:
        """Move a notice by ``step`` from the state it had when read (``notice``) to ``status``,
        in one transaction. Refused with a StoreError, changing nothing, when the notice has
        moved on since, or when the state machine has no such move.

        ``fields`` may set sent_at, due_at, attempts, next_attempt_at, last_error and evidence.
        """
        unknown = set(fields) - set(_NOTICE_STATE_FIELDS)
        if unknown:
            raise StoreError(f"a notice has no state field {min(unknown)!r}")
        item = f"notice {notice.id}"
        allowed = allowed_move(notice.status, status, step, item)
        values = {"status": status, "updated_at": _iso(at),
                  **{k: json.dumps(v, sort_keys=True) if k == "evidence" else v for k, v in fields.items()}}
        assignments = ", ".join(f"{k} = ?" for k in values)
        with self.transaction():
            current = self.notice(notice.id)
            changed = self.conn.execute(
                f"UPDATE notices SET {assignments} WHERE id = ? AND status = ?",
                (*values.values(), notice.id, notice.status),
            ).rowcount
            if not changed:
                raise StoreError(f"it is {current.status} now, so it was left as it is", item=item)
            if status != "sending":
                self.conn.execute("DELETE FROM send_leases WHERE notice_id = ?", (notice.id,))
            self.log(current.case_id, allowed.event, notice=notice.id, **{"from": notice.status, "to": status},
                     **(detail or {}))
        return self.notice(notice.id)

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
        return self.notice_payloads([notice_id]).get(notice_id)

    def notice_payloads(self, notice_ids: Sequence[int]) -> dict[int, NoticePayload]:
        """The frozen payloads of the notices that have one, by notice."""
        grouped = self.rows_by("SELECT notice_id AS key, * FROM notice_payloads WHERE notice_id IN ({keys})",
                               notice_ids)
        return {key: NoticePayload(**rows[0]) for key, rows in grouped.items()}

    def claim_notice(
        self, notice_id: int, sender: Sender, *, channel: str, at: datetime, resume: bool,
    ) -> Claim:
        """Take notice ``notice_id`` to send it now, or say why not, in one transaction: check no
        live run holds it, take its lease, move it to 'sending' and open the attempt record.

        ``resume`` takes over a notice a stopped run left in 'sending' (its lease is dead).
        """
        with self.transaction():
            current = self.notice(notice_id)
            if current.status not in sources("claim"):
                return Claim(current, "moved")
            holder = self.sending_now(notice_id, at)
            if holder is not None and holder != sender:
                return Claim(current, "busy", holder=holder)
            if current.status == "sending" and holder is None and not resume:
                return Claim(current, "stopped")
            number = current.attempts + 1
            claimed = self.move_notice(current, "sending", step="claim", at=at, detail={"attempt": number},
                                       attempts=number)
            self.conn.execute(
                "INSERT OR REPLACE INTO send_leases (notice_id, computer, pid, process_started, taken_at)"
                " VALUES (?, ?, ?, ?, ?)", (notice_id, sender.computer, sender.pid, sender.process_started, _iso(at)))
            attempt_id = self.start_attempt(notice_id, number, channel, at)
        return Claim(claimed, "claimed", attempt_id)

    def sending_now(self, notice_id: int, at: datetime) -> Sender | None:
        """The live run holding this notice's lease, if any (a dead holder's lease counts for nothing)."""
        row = self.conn.execute(
            "SELECT computer, pid, process_started, taken_at FROM send_leases WHERE notice_id = ?",
            (notice_id,)).fetchone()
        if row is None:
            return None
        holder = Sender(row[0], row[1], row[2])
        running = holder.running()
        if running is None:
            running = at - clocks.parse_time(row[3], "lease") < LEASE_UNCHECKABLE_FOR
        return holder if running else None

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
        return self.send_attempts_of([notice_id]).get(notice_id, [])

    def send_attempts_of(self, notice_ids: Sequence[int]) -> dict[int, list[SendAttempt]]:
        """The send attempts of many notices, by notice, each list in order."""
        grouped = self.rows_by("SELECT notice_id AS key, * FROM send_attempts WHERE notice_id IN ({keys})"
                               " ORDER BY id", notice_ids)
        return {key: [SendAttempt(**r) for r in rows]
                for key, rows in grouped.items()}

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



    def iter_notices(self, case_id: str) -> Iterator[StoredNotice]:
        """The case's notices in order, read as they are used."""
        cursor = self.conn.execute("SELECT * FROM notices WHERE case_id = ? ORDER BY id", (case_id,))
        names = [c[0] for c in cursor.description]
        while rows := [dict(zip(names, row, strict=True)) for row in cursor.fetchmany(500)]:
            matches = self.rows_by("SELECT notice_id, match_id FROM notice_matches WHERE notice_id IN ({keys})"
                                   " ORDER BY match_id", [r["id"] for r in rows])
            for row in rows:
                yield self._stored_notice(row, [m["match_id"] for m in matches.get(row["id"], [])])

    def sighting_notice_ids(self, sighting_id: int) -> list[int]:
        """The notices that ask about a sighting (through any of its matches)."""
        return self.notice_ids_of_sightings([sighting_id]).get(sighting_id, [])

    def notice_ids_of_sightings(self, sighting_ids: Sequence[int]) -> dict[int, list[int]]:
        """The notices that ask about each of many sightings, by sighting."""
        grouped = self.rows_by(
            "SELECT DISTINCT m.sighting_id, nm.notice_id FROM notice_matches nm JOIN matches m ON m.id = nm.match_id"
            " WHERE m.sighting_id IN ({keys}) ORDER BY nm.notice_id", sighting_ids)
        return {key: [r["notice_id"] for r in rows] for key, rows in grouped.items()}
