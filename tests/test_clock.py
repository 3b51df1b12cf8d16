"""One clock: with ``STOPNCII_NOW`` set, every time the tool records is that time."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

FIXED = "2030-01-02T03:04:05+00:00"


def test_every_recorded_time_is_the_time_set_in_stopncii_now(tmp_path: Path) -> None:
    """The demo scans a page on a local server, sends a notice by hand and checks for removal."""
    env = {**os.environ, "STOPNCII_HOME": str(tmp_path), "STOPNCII_NOW": "2030-01-02T03:04:05"}
    kept = tmp_path / "demo.db"  # the demo's own database, kept to read its times
    run = subprocess.run([sys.executable, "-m", "stopncii_tools", "demo", "--keep", str(kept)], capture_output=True,
                         text=True, timeout=300, env=env)
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(kept) as db:
        assert {row[0] for row in db.execute("SELECT first_seen_at FROM sightings")} == {FIXED}
        assert {row[0] for row in db.execute("SELECT checked_at FROM removal_checks")} == {FIXED}
        assert {row[0] for row in db.execute("SELECT at FROM events")} == {FIXED}
        [(watched_due,)] = db.execute("SELECT next_due_at FROM watches")  # the demo watches its page: 6 h on
        assert datetime.fromisoformat(watched_due) - datetime.fromisoformat(FIXED) == timedelta(hours=6)
        sent, due = db.execute("SELECT sent_at, due_at FROM notices WHERE sent_at IS NOT NULL").fetchone()
        assert sent == FIXED and datetime.fromisoformat(due) - datetime.fromisoformat(FIXED) == timedelta(hours=48)
        times = [
            (table, column, value)
            for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            for column in [c[1] for c in db.execute(f"PRAGMA table_info({table})")]
            if column == "at" or column.endswith("_at") and column not in ("due_at", "next_attempt_at", "next_due_at")
            for (value,) in db.execute(f"SELECT {column} FROM {table}")
            if value is not None
        ]
    assert times and {value for _, _, value in times} == {FIXED}, [t for t in times if t[2] != FIXED]
