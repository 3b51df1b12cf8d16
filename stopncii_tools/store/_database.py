"""The open database file: privacy of the file, migrations on open, transactions, the event log."""

from __future__ import annotations

import errno
import getpass
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any, Self

import sqlite_utils

from .. import clock as clocks
from .._errors import StoreError
from ..paths import default_db_path, private_dir
from .chain import ChainCheck, event_hash
from .migrations import MIGRATIONS
from .notice_states import pairs
from .rows import Event


def _iso(moment: datetime | None = None) -> str:
    """``moment`` (default: now, by the one clock that honours ``STOPNCII_NOW``) as stored."""
    return clocks.iso(moment or clocks.now())



_WAIT_MS = 30_000  # how long a change waits for another writer
_SCRUB_WAIT_MS = 2_000
_LEFT_BEHIND = (
    "it is gone from every list, but {reason}, so traces of it can still be read in the file "
    "until that finishes. Close other stopncii windows and programs that have this file open, "
    "then run 'stopncii case delete --finish'"
)


def explain_database_error(exc: sqlite3.Error) -> str:
    """One plain line for an error from SQLite, saying what happened to the person's data."""
    text = str(exc)
    lowered = text.lower()
    if "disk is full" in lowered or "disk i/o error" in lowered:
        return ("the case database could not be written: the disk is full or a file size limit was reached. "
                "The last change was not saved; everything saved before is kept. Free some space and try again")
    if "readonly" in lowered or "read-only" in lowered:
        return "the case database is read-only, so this change was not saved; reading still works"
    if "locked" in lowered or "busy" in lowered:
        return "another stopncii command is changing the case database; try again when it has finished"
    if "malformed" in lowered or "not a database" in lowered or "corrupt" in lowered:
        return (f"this is not a case database, or it is damaged ({text}); nothing was changed. "
                "Restore it from a backup, or ask for help to rescue what can be read")
    return f"the case database could not be used ({text})"


def _actor() -> str:
    try:
        return os.environ.get("STOPNCII_ACTOR") or getpass.getuser()
    except (KeyError, OSError):
        return "unknown"


class Database:
    """An open case database. Use as a context manager, or call :meth:`close`."""

    def __init__(self, path: str | Path | None = None, *, read_only: bool = False) -> None:
        """``read_only``: only read, as a scan's worker processes do while the main process writes."""
        self.path = Path(path) if path else default_db_path()
        # why this file cannot be changed (read-only, or made by a newer version); None: it can
        self.write_refusal: str | None = None
        if not read_only and self._open_private_file():
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=_WAIT_MS / 1000)
        else:
            self.write_refusal = ("the case database is read-only (its file or folder cannot be written), "
                                  "so nothing can be changed in it; reading still works")
            conn = sqlite3.connect(f"{self.path.resolve().as_uri()}?mode=ro{self._unchangeable()}", uri=True,
                                   isolation_level=None, timeout=_WAIT_MS / 1000)
        self.conn = conn
        try:
            conn.execute("PRAGMA foreign_keys = ON")
            conn.execute("PRAGMA secure_delete = ON")  # deleted rows are overwritten, not just unlinked
            if self.write_refusal is None:
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = FULL")  # a committed change survives a power cut
            self._migrate()
            if self.write_refusal is None:
                self._sync_notice_moves()
        except sqlite3.DatabaseError as exc:
            conn.close()
            raise StoreError(explain_database_error(exc), str(self.path)) from None
        except StoreError:
            conn.close()
            raise
        self.db = sqlite_utils.Database(conn)
        self._private_sidecars()

    # -- housekeeping ---------------------------------------------------------------------

    def _open_private_file(self) -> bool:
        """Create the file (private) if it is missing; False when it exists but is read-only."""
        private_dir(self.path.parent)
        if self.path.exists() and not os.access(self.path, os.W_OK):
            return False
        try:
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            self.path.chmod(0o600)
        except OSError as exc:
            if exc.errno == errno.EROFS and self.path.exists():  # a read-only disk or mount
                return False
            raise StoreError(f"cannot open the case database: {exc.strerror or exc}", str(self.path)) from None
        return True

    def _unchangeable(self) -> str:
        """``&immutable=1`` when no program can change the file: its folder cannot be written and it has
        no write-ahead log. SQLite then reads it without the shared-memory file it cannot make there."""
        folder_locked = not os.access(self.path.parent, os.W_OK)
        no_log = not self.path.with_name(self.path.name + "-wal").exists()
        return "&immutable=1" if folder_locked and no_log else ""

    def _private_sidecars(self) -> None:
        for suffix in ("-wal", "-shm"):
            sidecar = self.path.with_name(self.path.name + suffix)
            if sidecar.exists():
                sidecar.chmod(0o600)

    def _migrate(self) -> None:
        if self.write_refusal is None:
            self.conn.execute(
                "CREATE TABLE IF NOT EXISTS _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
            )
        done = {row[0] for row in self.conn.execute("SELECT name FROM _migrations")}
        unknown = sorted(done - {name for name, _ in MIGRATIONS})
        if unknown:
            self.write_refusal = (
                f"this case database was updated by a newer version of stopncii-tools (it has "
                f"{len(unknown)} change{'s' if len(unknown) > 1 else ''} this version does not know, "
                f"such as {unknown[-1]!r}); update stopncii-tools to change it. Reading still works"
            )
            self.conn.execute("PRAGMA query_only = ON")  # a write that slips past transaction() fails too
            return
        pending = [name for name, _ in MIGRATIONS if name not in done]
        if pending and self.write_refusal is not None:
            raise StoreError(f"this case database needs an update to be read by this version, and {self.write_refusal}")
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

    def scrub(self) -> str | None:
        """Rewrite the file so deleted rows leave no trace in it or in its write-ahead log: a
        checkpoint, a VACUUM and a checkpoint, each of which must succeed. Returns None when
        they did, else a plain sentence saying what is left and how to finish."""
        if self.write_refusal is not None:
            raise StoreError(self.write_refusal, str(self.path))
        self.conn.execute(f"PRAGMA busy_timeout = {_SCRUB_WAIT_MS}")  # a reader may let go soon
        try:
            done = self._checkpoint()
            self.conn.execute("VACUUM")
            done = self._checkpoint() and done
        except sqlite3.OperationalError as exc:
            return _LEFT_BEHIND.format(reason=f"the file could not be rewritten ({exc})")
        finally:
            self.conn.execute(f"PRAGMA busy_timeout = {_WAIT_MS}")
        if not done:
            return _LEFT_BEHIND.format(reason="another program is reading the case database")
        return None

    def _checkpoint(self) -> bool:
        busy, _, _ = self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        return busy == 0

    def applied_migrations(self) -> list[str]:
        return [row[0] for row in self.conn.execute("SELECT name FROM _migrations ORDER BY name")]

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """One atomic change: all of it is committed, or none of it."""
        if self.write_refusal is not None:
            raise StoreError(self.write_refusal, str(self.path))
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

    def rows_by(self, sql: str, keys: Sequence[int]) -> dict[int, list[dict[str, Any]]]:
        """The rows of ``sql`` grouped by its first column, each row without it. ``sql`` is a SELECT
        with ``IN ({keys})`` where the keys go: one query for many keys instead of one per key."""
        grouped: dict[int, list[dict[str, Any]]] = {}
        for start in range(0, len(keys), 500):  # SQLite allows 999 parameters in older builds
            part = keys[start:start + 500]
            cursor = self.conn.execute(sql.format(keys=", ".join("?" * len(part))), tuple(part))
            names = [c[0] for c in cursor.description[1:]]
            for key, *row in cursor:
                grouped.setdefault(key, []).append(dict(zip(names, row, strict=True)))
        return grouped

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

    def verify_chain(self, case_id: str, kept_head: str | None = None) -> ChainCheck:
        """Recompute the case's event chain; the first event whose hash or link does not fit is named.

        ``kept_head`` (a head printed earlier, or its first 16 or more hex digits) is looked for
        among the events' hashes: deleting the last events leaves an intact chain, but not one
        that holds a head kept before they were deleted."""
        cursor = self.conn.execute(
            "SELECT id, case_id, at, actor, action, detail, prev_hash, hash FROM events WHERE case_id = ?"
            " ORDER BY id", (case_id,))
        prev: str | None = None
        count = 0
        kept = (kept_head or "").lower()
        kept_event: int | None = None
        after = 0
        for event_id, case, at, actor, action, detail, stored_prev, stored_hash in cursor:
            count += 1
            after += kept_event is not None
            if kept and kept_event is None and stored_hash.startswith(kept):
                kept_event = event_id
            if stored_prev != prev:
                why = ("the event before it was removed or changed" if count > 1 else
                       "it claims an earlier event that is not in the log")
                return ChainCheck(case_id, count, prev, event_id, action, at, why)
            if event_hash(case, at, actor, action, detail, stored_prev) != stored_hash:
                return ChainCheck(case_id, count, prev, event_id, action, at, "it was changed after it was written")
            prev = stored_hash
        return ChainCheck(case_id, count, prev, kept_head=kept_head, kept_head_event=kept_event,
                          events_after_kept=after)
