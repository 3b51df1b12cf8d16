"""Sightings (where suspect content was seen), their matches and the removal checks that followed."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from .._errors import NotFound, StoreError
from ._database import Database, _iso
from .rows import MatchRecord, MediaRecord, RemovalCheck, Sighting, SightingSource, SignalRow, StoredSignal

_SIGHTING_COLUMNS = (
    "id, case_id, source, url, final_url, page_url, http_status, content_type, kind, format, size,"
    " width, height, sha256, platform, first_seen_at, last_seen_at"
)


def _match(row: dict[str, Any]) -> MatchRecord:
    return MatchRecord(**{**row, "evidence": json.loads(row["evidence"])})




class SightingRecords(Database):
    # -- sightings ------------------------------------------------------------------------

    def find_sighting(self, case_id: str, source: str, sha256: str) -> Sighting | None:
        rows = list(self.db.query(
            f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE case_id = ? AND source = ? AND sha256 = ?",
            [case_id, source, sha256]))
        return Sighting(**rows[0]) if rows else None

    def add_sighting(
        self, case_id: str, where: SightingSource, media: MediaRecord | None, signals: Sequence[SignalRow],
    ) -> tuple[Sighting, bool]:
        """Record where suspect content was seen, with its signals. Seen again: only the date moves.

        ``media`` is None for an entry of a hash list: the hash itself is what was seen.
        """
        sha256 = media.sha256 if media else next((str(r.value) for r in signals if r.signal == "sha256"), "")
        seen = _iso(where.seen_at)
        with self.transaction():
            return self._add_sighting(case_id, where, media, signals, sha256, seen)

    def _add_sighting(
        self, case_id: str, where: SightingSource, media: MediaRecord | None,
        signals: Sequence[SignalRow], sha256: str, seen: str,
    ) -> tuple[Sighting, bool]:
        existing = self.find_sighting(case_id, where.source, sha256)
        if existing:
            with self.transaction():
                self.conn.execute(
                    "UPDATE sightings SET last_seen_at = ?, page_url = COALESCE(page_url, ?) WHERE id = ?",
                    (seen, where.page_url, existing.id),
                )
            return self.sighting(existing.id), False
        with self.transaction():
            cursor = self.conn.execute(
                "INSERT INTO sightings (case_id, source, url, final_url, page_url, http_status, content_type,"
                " kind, format, size, width, height, sha256, platform, first_seen_at, last_seen_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, where.source, where.url, where.final_url, where.page_url, where.http_status,
                 where.content_type, media.kind if media else "hash", media.format if media else None,
                 media.size if media else None, media.width if media else None,
                 media.height if media else None, sha256, where.platform, seen, seen),
            )
            sighting_id = int(cursor.lastrowid or 0)
            self.conn.executemany(
                "INSERT INTO sighting_signals (sighting_id, signal, value, quality) VALUES (?, ?, ?, ?)",
                [(sighting_id, r.signal, r.value, r.quality) for r in signals],
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

    def decide_match(self, match_id: int, decision: str, *, rule: str | None = None) -> MatchRecord:
        """Record the person's decision: 'confirmed' (it is them) or 'rejected' (it is not);
        ``rule``: the case's rule decided it for them (the event log keeps the rule's words)."""
        if decision not in ("confirmed", "rejected", "pending"):
            raise StoreError(f"unknown decision {decision!r}")
        record = self.match(match_id)
        with self.transaction():
            self.conn.execute(
                "UPDATE matches SET status = ?, decided_at = ? WHERE id = ?", (decision, _iso(), match_id)
            )
            self.log(record.case_id, f"match.{decision}", match=match_id, **({"rule": rule} if rule else {}))
        return self.match(match_id)

    def confirmed_copies(self, case_id: str) -> tuple[set[int], set[str]]:
        """What the person confirmed in a case: the protected items with a confirmed match, and
        the SHA-256 of the files found at confirmed matches."""
        items = {r[0] for r in self.conn.execute(
            "SELECT DISTINCT item_id FROM matches WHERE case_id = ? AND status = 'confirmed'", (case_id,))}
        files = {r[0] for r in self.conn.execute(
            "SELECT DISTINCT s.sha256 FROM matches m JOIN sightings s ON s.id = m.sighting_id"
            " WHERE m.case_id = ? AND m.status = 'confirmed' AND s.sha256 != ''", (case_id,))}
        return items, files


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
        return self.removal_checks_of([sighting_id]).get(sighting_id, [])

    def removal_checks_of(self, sighting_ids: Sequence[int]) -> dict[int, list[RemovalCheck]]:
        """The removal checks of many sightings, by sighting, each list in order."""
        grouped = self.rows_by("SELECT sighting_id AS key, * FROM removal_checks WHERE sighting_id IN ({keys})"
                               " ORDER BY id", sighting_ids)
        return {key: [RemovalCheck(**r) for r in rows] for key, rows in grouped.items()}


    def iter_sightings(self, case_id: str) -> Iterator[Sighting]:
        """The case's sightings in order, read as they are used (a report of thousands holds one)."""
        cursor = self.conn.execute(
            f"SELECT {_SIGHTING_COLUMNS} FROM sightings WHERE case_id = ? ORDER BY id", (case_id,))
        names = [c[0] for c in cursor.description]
        for row in cursor:
            yield Sighting(**dict(zip(names, row, strict=True)))

    def sighting_matches(self, sighting_id: int) -> list[MatchRecord]:
        return self.matches_of_sightings([sighting_id]).get(sighting_id, [])

    def matches_of_sightings(self, sighting_ids: Sequence[int]) -> dict[int, list[MatchRecord]]:
        """The matches of many sightings, by sighting, each list in order."""
        grouped = self.rows_by("SELECT sighting_id AS key, * FROM matches WHERE sighting_id IN ({keys}) ORDER BY id",
                               sighting_ids)
        return {key: [_match(r) for r in rows] for key, rows in grouped.items()}

    def matches_by_id(self, match_ids: Sequence[int]) -> dict[int, MatchRecord]:
        """Many matches at once, by id (ids with no match are left out)."""
        grouped = self.rows_by("SELECT id AS key, * FROM matches WHERE id IN ({keys})", match_ids)
        return {key: _match(rows[0]) for key, rows in grouped.items()}

    def first_sighting_time(self, case_id: str) -> str | None:
        row = self.conn.execute("SELECT MIN(first_seen_at) FROM sightings WHERE case_id = ?", (case_id,)).fetchone()
        return row[0] if row else None
