"""The case database schema, as named migrations applied in order when the file is opened.

A migration never changes once released; a schema change is a new migration at the end.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

from .chain import event_hash

Migration = tuple[str, Callable[[sqlite3.Connection], None]]


def run_script(conn: sqlite3.Connection, script: str) -> None:
    """Run statements one by one (``executescript`` would commit the open transaction)."""
    statement = ""
    for line in script.splitlines(keepends=True):
        statement += line
        if sqlite3.complete_statement(statement):
            conn.execute(statement)
            statement = ""
    if statement.strip():
        raise ValueError(f"incomplete SQL statement in a migration: {statement[:60]!r}")


def _cases_and_media(conn: sqlite3.Connection) -> None:
    run_script(conn,
        """
        CREATE TABLE cases (
            id TEXT PRIMARY KEY,
            title TEXT NOT NULL,
            jurisdiction TEXT,
            notes TEXT,
            status TEXT NOT NULL DEFAULT 'open' CHECK (status IN ('open', 'closed')),
            created_at TEXT NOT NULL,
            closed_at TEXT
        );
        CREATE TABLE protected_items (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            label TEXT,
            kind TEXT NOT NULL,
            format TEXT NOT NULL,
            size INTEGER NOT NULL,
            width INTEGER,
            height INTEGER,
            sha256 TEXT NOT NULL,
            frames BLOB,
            created_at TEXT NOT NULL,
            UNIQUE (case_id, sha256)
        );
        CREATE TABLE protected_signals (
            item_id INTEGER NOT NULL REFERENCES protected_items(id) ON DELETE CASCADE,
            signal TEXT NOT NULL,
            variant INTEGER NOT NULL DEFAULT 0,
            value TEXT NOT NULL,
            quality INTEGER,
            PRIMARY KEY (item_id, signal, variant)
        );
        CREATE TABLE sightings (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            source TEXT NOT NULL,
            url TEXT,
            final_url TEXT,
            page_url TEXT,
            http_status INTEGER,
            content_type TEXT,
            kind TEXT,
            format TEXT,
            size INTEGER,
            width INTEGER,
            height INTEGER,
            sha256 TEXT NOT NULL DEFAULT '',
            platform TEXT,
            frames BLOB,
            first_seen_at TEXT NOT NULL,
            last_seen_at TEXT NOT NULL,
            UNIQUE (case_id, source, sha256)
        );
        CREATE TABLE sighting_signals (
            sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
            signal TEXT NOT NULL,
            value TEXT NOT NULL,
            quality INTEGER,
            PRIMARY KEY (sighting_id, signal)
        );
        CREATE TABLE matches (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
            item_id INTEGER NOT NULL REFERENCES protected_items(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('exact', 'copy', 'partial', 'derived')),
            confidence TEXT NOT NULL,
            evidence TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'confirmed', 'rejected')),
            created_at TEXT NOT NULL,
            decided_at TEXT,
            UNIQUE (sighting_id, item_id)
        );
        CREATE TABLE events (
            id INTEGER PRIMARY KEY,
            case_id TEXT REFERENCES cases(id) ON DELETE CASCADE,
            at TEXT NOT NULL,
            actor TEXT NOT NULL,
            action TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        CREATE INDEX protected_signals_value ON protected_signals (signal, value);
        CREATE INDEX sighting_signals_value ON sighting_signals (signal, value);
        CREATE INDEX matches_case ON matches (case_id, status);
        CREATE INDEX events_case ON events (case_id, at);
        """
    )


def _requesters_and_notices(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE requesters (
            case_id TEXT PRIMARY KEY REFERENCES cases(id) ON DELETE CASCADE,
            role TEXT NOT NULL DEFAULT 'self',
            name TEXT NOT NULL DEFAULT '',
            email TEXT NOT NULL DEFAULT '',
            signature TEXT NOT NULL DEFAULT '',
            postal_address TEXT,
            phone TEXT,
            organisation TEXT,
            on_behalf_of TEXT,
            authorisation TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE TABLE notices (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            notice_key TEXT NOT NULL UNIQUE,
            platform TEXT NOT NULL,
            framework TEXT NOT NULL,
            framework_reason TEXT NOT NULL DEFAULT '',
            language TEXT NOT NULL,
            channel_kind TEXT,
            channel_address TEXT,
            confirmed TEXT NOT NULL DEFAULT '[]',
            attach_hashes INTEGER NOT NULL DEFAULT 0,
            context TEXT,
            original_work TEXT,
            status TEXT NOT NULL DEFAULT 'draft' CHECK (status IN
                ('draft', 'queued', 'sending', 'sent', 'acknowledged', 'removed', 'refused', 'withdrawn')),
            created_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            sent_at TEXT,
            due_at TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT,
            last_error TEXT,
            evidence TEXT NOT NULL DEFAULT '{}'
        );
        CREATE TABLE notice_matches (
            notice_id INTEGER NOT NULL REFERENCES notices(id) ON DELETE CASCADE,
            match_id INTEGER NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
            PRIMARY KEY (notice_id, match_id)
        );
        CREATE INDEX notices_case ON notices (case_id, status);
        """,
    )


def _outbox_tracking_hashbank(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE notice_payloads (
            notice_id INTEGER PRIMARY KEY REFERENCES notices(id) ON DELETE CASCADE,
            kind TEXT NOT NULL CHECK (kind IN ('email', 'json', 'form')),
            body BLOB NOT NULL,
            deadline_hours INTEGER,
            queued_at TEXT NOT NULL
        );
        CREATE TABLE send_attempts (
            id INTEGER PRIMARY KEY,
            notice_id INTEGER NOT NULL REFERENCES notices(id) ON DELETE CASCADE,
            number INTEGER NOT NULL,
            channel TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            outcome TEXT NOT NULL DEFAULT 'started'
                CHECK (outcome IN ('started', 'delivered', 'temporary', 'failed', 'interrupted')),
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE removal_checks (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            sighting_id INTEGER NOT NULL REFERENCES sightings(id) ON DELETE CASCADE,
            checked_at TEXT NOT NULL,
            outcome TEXT NOT NULL
                CHECK (outcome IN ('present', 'removed', 'gone_from_page', 'replaced', 'unreachable')),
            http_status INTEGER,
            sha256 TEXT,
            detail TEXT NOT NULL DEFAULT ''
        );
        CREATE TABLE hashbank_pushes (
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            server TEXT NOT NULL,
            bank TEXT NOT NULL,
            signal_type TEXT NOT NULL,
            value TEXT NOT NULL,
            content_id INTEGER NOT NULL,
            pushed_at TEXT NOT NULL,
            PRIMARY KEY (case_id, server, bank, signal_type, value)
        );
        CREATE INDEX send_attempts_notice ON send_attempts (notice_id, number);
        CREATE INDEX removal_checks_sighting ON removal_checks (sighting_id, checked_at);
        """,
    )


def _protected_regions(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE protected_regions (
            item_id INTEGER PRIMARY KEY REFERENCES protected_items(id) ON DELETE CASCADE,
            signature BLOB NOT NULL
        );
        """,
    )


def _watches(conn: sqlite3.Connection) -> None:
    run_script(
        conn,
        """
        CREATE TABLE watches (
            id INTEGER PRIMARY KEY,
            case_id TEXT NOT NULL REFERENCES cases(id) ON DELETE CASCADE,
            url TEXT NOT NULL,
            every_seconds INTEGER NOT NULL CHECK (every_seconds > 0),
            created_at TEXT NOT NULL,
            next_due_at TEXT NOT NULL,
            last_run_at TEXT,
            newest_post INTEGER,
            last_summary TEXT NOT NULL DEFAULT '{}',
            UNIQUE (case_id, url)
        );
        CREATE INDEX watches_due ON watches (next_due_at);
        """,
    )


def _notice_moves(conn: sqlite3.Connection) -> None:
    """The database refuses a status change no allowed move joins (rows filled from the table)."""
    run_script(
        conn,
        """
        CREATE TABLE notice_moves (
            source TEXT NOT NULL,
            target TEXT NOT NULL,
            PRIMARY KEY (source, target)
        );
        CREATE TRIGGER notices_move_only_as_allowed BEFORE UPDATE OF status ON notices
        WHEN NEW.status IS NOT OLD.status AND NOT EXISTS
            (SELECT 1 FROM notice_moves WHERE source = OLD.status AND target = NEW.status)
        BEGIN SELECT RAISE(ABORT, 'a notice cannot move between these two states'); END;
        """,
    )


def _signals_in_one_table(conn: sqlite3.Connection) -> None:
    # video frames and region signatures become signal rows like every other signal (BLOB values);
    # the old columns are emptied, not dropped: DROP COLUMN needs SQLite 3.35, older Pythons have less
    run_script(
        conn,
        """
        INSERT OR IGNORE INTO protected_signals (item_id, signal, variant, value, quality)
            SELECT id, 'vpdq', 0, frames, NULL FROM protected_items WHERE frames IS NOT NULL;
        INSERT OR IGNORE INTO protected_signals (item_id, signal, variant, value, quality)
            SELECT item_id, 'regions', 0, signature, NULL FROM protected_regions;
        INSERT OR IGNORE INTO sighting_signals (sighting_id, signal, value, quality)
            SELECT id, 'vpdq', frames, NULL FROM sightings WHERE frames IS NOT NULL;
        UPDATE protected_items SET frames = NULL WHERE frames IS NOT NULL;
        UPDATE sightings SET frames = NULL WHERE frames IS NOT NULL;
        DROP TABLE protected_regions;
        """,
    )


def _event_chain(conn: sqlite3.Connection) -> None:
    """Chain the events already kept, in the order they were written; none is lost or changed."""
    conn.execute("DROP TRIGGER events_append_only")
    conn.execute("ALTER TABLE events ADD COLUMN prev_hash TEXT")
    conn.execute("ALTER TABLE events ADD COLUMN hash TEXT")
    heads: dict[str | None, str] = {}
    last = 0
    while True:  # in pages, so a long log is never read whole
        rows = conn.execute("SELECT id, case_id, at, actor, action, detail FROM events WHERE id > ?"
                            " ORDER BY id LIMIT 1000", (last,)).fetchall()
        if not rows:
            break
        for event_id, case_id, at, actor, action, detail in rows:
            prev = heads.get(case_id)
            heads[case_id] = event_hash(case_id, at, actor, action, detail, prev)
            conn.execute("UPDATE events SET prev_hash = ?, hash = ? WHERE id = ?", (prev, heads[case_id], event_id))
        last = rows[-1][0]
    run_script(
        conn,
        """
        CREATE TRIGGER events_append_only BEFORE UPDATE ON events
        BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END;
        CREATE INDEX events_chain ON events (case_id, id);
        """,
    )


def _send_lease(conn: sqlite3.Connection) -> None:
    """Which run is sending a notice now: taken in the transaction that moves it to 'sending'."""
    run_script(
        conn,
        """
        CREATE TABLE send_leases (
            notice_id INTEGER PRIMARY KEY REFERENCES notices(id) ON DELETE CASCADE,
            computer TEXT NOT NULL,
            pid INTEGER NOT NULL,
            process_started TEXT NOT NULL,
            taken_at TEXT NOT NULL
        );
        """,
    )


def _case_auto_draft(conn: sqlite3.Connection) -> None:
    """A case can ask 'watch run' to draft notices for new copies of what the person confirmed."""
    run_script(conn, "ALTER TABLE cases ADD COLUMN draft_watch_matches INTEGER NOT NULL DEFAULT 0;")


def _region_postings(conn: sqlite3.Connection) -> None:
    # the region pre-filter's keys of each protected photo (and of its mirror image), packed (3 bytes a key): read at
    # every scan instead of cut again from the signature; filled in when a bank is first loaded
    run_script(
        conn,
        """
        CREATE TABLE region_postings (
            item_id INTEGER PRIMARY KEY REFERENCES protected_items(id) ON DELETE CASCADE,
            keys BLOB NOT NULL
        );
        """,
    )


MIGRATIONS: list[Migration] = [
    ("0001_cases_media_sightings_matches_events", _cases_and_media),
    ("0002_requesters_and_notices", _requesters_and_notices),
    ("0003_outbox_tracking_hashbank", _outbox_tracking_hashbank),
    ("0004_protected_regions", _protected_regions),
    ("0005_notice_moves", _notice_moves),
    ("0006_signals_in_one_table", _signals_in_one_table),
    ("0007_watches", _watches),
    ("0008_event_chain", _event_chain),
    ("0009_send_lease", _send_lease),
    ("0010_case_auto_draft", _case_auto_draft),
    ("0011_region_postings", _region_postings),
]
