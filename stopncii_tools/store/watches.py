"""Watched pages: which page to re-check for which case, how often, and what the last run found."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from typing import Any

from .._errors import NotFound
from ._database import Database, _iso
from .rows import Watch


class WatchRecords(Database):
    def add_watch(self, case_id: str, url: str, every_seconds: int, at: datetime) -> tuple[Watch, bool]:
        """Watch ``url`` for the case, first due now. The same page twice: its interval changes."""
        with self.transaction():
            row = self.conn.execute("SELECT id FROM watches WHERE case_id = ? AND url = ?", (case_id, url)).fetchone()
            if row:
                self.conn.execute("UPDATE watches SET every_seconds = ? WHERE id = ?", (every_seconds, row[0]))
                return self.watch(row[0]), False
            cursor = self.conn.execute(
                "INSERT INTO watches (case_id, url, every_seconds, created_at, next_due_at) VALUES (?, ?, ?, ?, ?)",
                (case_id, url, every_seconds, _iso(at), _iso(at)))
            watch_id = int(cursor.lastrowid or 0)
            self.log(case_id, "watch.added", watch=watch_id, url=url, every_seconds=every_seconds)
        return self.watch(watch_id), True

    def watch(self, watch_id: int) -> Watch:
        rows = list(self.db.query("SELECT * FROM watches WHERE id = ?", [watch_id]))
        if not rows:
            raise NotFound(f"there is no watch {watch_id} (see 'stopncii watch list')")
        return _watch(rows[0])

    def watches(self, case_id: str | None = None, *, due_at: datetime | None = None) -> list[Watch]:
        """Watches of one case or of all, optionally only those due at ``due_at``."""
        clauses: list[str] = []
        args: list[str] = []
        if case_id:
            clauses, args = clauses + ["case_id = ?"], args + [case_id]
        if due_at is not None:
            clauses, args = clauses + ["next_due_at <= ?"], args + [_iso(due_at)]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        return [_watch(r) for r in self.db.query(f"SELECT * FROM watches {where} ORDER BY next_due_at, id", args)]

    def remove_watch(self, watch_id: int) -> Watch:
        watch = self.watch(watch_id)
        with self.transaction():
            self.conn.execute("DELETE FROM watches WHERE id = ?", (watch_id,))
            self.log(watch.case_id, "watch.removed", watch=watch_id, url=watch.url)
        return watch

    def finish_watch_run(
        self, watch_id: int, at: datetime, summary: dict[str, Any], newest_post: int | None,
    ) -> Watch:
        """Record a finished run: when it ran, what it found, and when it is due again."""
        watch = self.watch(watch_id)
        newest = max(filter(None, (watch.newest_post, newest_post)), default=None)
        with self.transaction():
            self.conn.execute(
                "UPDATE watches SET last_run_at = ?, next_due_at = ?, newest_post = ?, last_summary = ? WHERE id = ?",
                (_iso(at), _iso(at + timedelta(seconds=watch.every_seconds)), newest,
                 json.dumps(summary, sort_keys=True), watch_id))
            self.log(watch.case_id, "watch.ran", watch=watch_id, **summary)
        return self.watch(watch_id)


def _watch(row: dict[str, Any]) -> Watch:
    return Watch(**{**row, "last_summary": json.loads(row["last_summary"])})
