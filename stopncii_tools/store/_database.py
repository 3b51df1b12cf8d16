"""The open database file: privacy of the file, migrations on open, transactions, the event log."""

from __future__ import annotations

import getpass
import json
import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from .. import clock as clocks
from .._errors import StoreError
from ..paths import default_db_path
from .chain import ChainCheck, event_hash
from .migrations import MIGRATIONS
from .notice_states import pairs
from .rows import Event


def _iso(moment: datetime | None = None) -> str:
    """``moment`` (default: now, by the one clock that honours ``STOPNCII_NOW``) as stored."""
    return clocks.iso(moment or clocks.now())



def _actor() -> str:
    try:
        return os.environ.get("STOPNCII_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Database:
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
            self._sync_notice_moves()
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

    def _sync_notice_moves(self) -> None:
        """Give the database the allowed notice moves of this version (written only when they differ)."""
        allowed = pairs()
        if set(self.conn.execute("SELECT source, target FROM notice_moves")) == allowed:
            return
        with self.transaction():
            self.conn.execute("DELETE FROM notice_moves")
            self.conn.executemany("INSERT INTO notice_moves (source, target) VALUES (?, ?)", sorted(allowed))

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

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- events ---------------------------------------------------------------------------

    def log(self, case_id: str | None, action: str, **detail: Any) -> None:
        """Append to the event log, chained to the case's last event (inside the caller's
        transaction when there is one: the write lock keeps two writers from forking the chain)."""
        text = json.dumps(detail, default=str, sort_keys=True)
        at, actor = _iso(), _actor()
        with self.transaction():
            prev = self._chain_head(case_id)
            self.conn.execute(
                "INSERT INTO events (case_id, at, actor, action, detail, prev_hash, hash)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (case_id, at, actor, action, text, prev, event_hash(case_id, at, actor, action, text, prev)),
            )

    def _chain_head(self, case_id: str | None) -> str | None:
        row = self.conn.execute(
            "SELECT hash FROM events WHERE case_id IS ? ORDER BY id DESC LIMIT 1", (case_id,)).fetchone()
        return row[0] if row else None

    def last_event_time(self, case_id: str) -> str | None:
        row = self.conn.execute(
            "SELECT at FROM events WHERE case_id = ? ORDER BY id DESC LIMIT 1", (case_id,)).fetchone()
        return row[0] if row else None

    def events(self, case_id: str) -> list[Event]:
        return list(self.iter_events(case_id))

    def iter_events(self, case_id: str, action: str | None = None) -> Iterator[Event]:
        """The case's events (or those of one ``action``) in order, read as they are used."""
        cursor = self.conn.execute(
            "SELECT id, case_id, at, actor, action, detail, prev_hash, hash FROM events WHERE case_id = ?"
            " AND (? IS NULL OR action = ?) ORDER BY id", (case_id, action, action))
        for event_id, case, at, actor, action, detail, prev_hash, chained in cursor:
            yield Event(event_id, case, at, actor, action, json.loads(detail), prev_hash, chained)

    def verify_chain(self, case_id: str) -> ChainCheck:
        """Recompute the case's event chain; the first event whose hash or link does not fit is named."""
        cursor = self.conn.execute(
            "SELECT id, case_id, at, actor, action, detail, prev_hash, hash FROM events WHERE case_id = ?"
            " ORDER BY id", (case_id,))
        prev: str | None = None
        count = 0
        for event_id, case, at, actor, action, detail, stored_prev, stored_hash in cursor:
            count += 1
            if stored_prev != prev:
                why = ("the event before it was removed or changed" if count > 1 else
                       "it claims an earlier event that is not in the log")
                return ChainCheck(case_id, count, prev, event_id, action, at, why)
            if event_hash(case, at, actor, action, detail, stored_prev) != stored_hash:
                return ChainCheck(case_id, count, prev, event_id, action, at, "it was changed after it was written")
            prev = stored_hash
        return ChainCheck(case_id, count, prev)
