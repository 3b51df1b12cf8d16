"""Protected items and their hashes: what the person asked to protect (never the pictures)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from .._errors import NotFound
from ._database import Database, _iso
from .rows import MediaRecord, ProtectedItem, SignalRow, StoredSignal


class ProtectedRecords(Database):
    # -- protected media ------------------------------------------------------------------

    def add_protected(
        self, case_id: str, media: MediaRecord, signals: Sequence[SignalRow], label: str | None,
    ) -> tuple[ProtectedItem, bool]:
        """Store one protected item and its signals. Returns (item, created).

        The same file again (same SHA-256) keeps its item and adds only the signals it lacks:
        an item protected by an earlier version gains the values this version computes.
        """
        insert = "INSERT {} INTO protected_signals (item_id, signal, variant, value, quality) VALUES (?, ?, ?, ?, ?)"
        with self.transaction():  # the check and the insert together: two runs at once cannot collide
            existing = self.conn.execute(
                "SELECT id FROM protected_items WHERE case_id = ? AND sha256 = ?", (case_id, media.sha256)
            ).fetchone()
            if existing:
                missing = self.conn.executemany(insert.format("OR IGNORE"), [(existing[0], *row) for row in signals])
                added = missing.rowcount
                if added > 0:
                    self.log(case_id, "media.signals_added", item=existing[0], signals=added)
                return self.protected_item(existing[0]), False
            cursor = self.conn.execute(
                "INSERT INTO protected_items (case_id, label, kind, format, size, width, height, sha256,"
                " created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (case_id, label, media.kind, media.format, media.size, media.width, media.height,
                 media.sha256, _iso()),
            )
            item_id = int(cursor.lastrowid or 0)
            self.conn.executemany(insert.format(""), [(item_id, *row) for row in signals])
            self.log(case_id, "media.protected", item=item_id, kind=media.kind, signals=len(signals))
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

    def protected_signals(self, case_id: str, *, without: str | None = None) -> list[StoredSignal]:
        """The stored signals of a case's protected items; ``without`` leaves one signal out
        (a scan's workers read the large region signatures only for the few candidates)."""
        rows = self.conn.execute(
            "SELECT s.item_id, s.signal, s.value, s.quality, s.variant FROM protected_signals s"
            " JOIN protected_items p ON p.id = s.item_id WHERE p.case_id = ? AND s.signal IS NOT ?"
            " ORDER BY s.item_id, s.variant",
            (case_id, without),
        )
        return [StoredSignal(*row) for row in rows]

    def protected_digest(self, case_ids: Sequence[str], *, without: str | None = None) -> str:
        """A digest of the cases' protected items and their stored signals (``without`` one, as in
        :meth:`protected_signals`): it changes whenever what the cases protect changes."""
        digest = hashlib.blake2b(digest_size=20)
        for case_id in case_ids:
            digest.update(case_id.encode() + b"\0")
            rows = self.conn.execute(
                "SELECT s.item_id, s.signal, s.variant, s.value, s.quality FROM protected_signals s"
                " JOIN protected_items p ON p.id = s.item_id WHERE p.case_id = ? AND s.signal IS NOT ?"
                " ORDER BY s.item_id, s.signal, s.variant", (case_id, without))
            for row in rows:
                digest.update(repr(row).encode())
        return digest.hexdigest()

    # -- region pre-filter keys -----------------------------------------------------------

    def region_postings(self, item_ids: Sequence[int] | None = None) -> list[tuple[int, bytes | None]]:
        """Items with a region signature (all, or those of ``item_ids``) and their packed
        pre-filter keys, None where they are not stored yet."""
        sql = ("SELECT s.item_id, r.keys FROM protected_signals s LEFT JOIN region_postings r"
               " ON r.item_id = s.item_id WHERE s.signal = 'regions' AND s.variant = 0")
        if item_ids is None:
            return [(int(i), k) for i, k in self.conn.execute(sql + " ORDER BY s.item_id")]
        found: list[tuple[int, bytes | None]] = []
        for chunk in _chunks(item_ids):
            found += self.conn.execute(f"{sql} AND s.item_id IN ({', '.join('?' * len(chunk))})"
                                       " ORDER BY s.item_id", chunk).fetchall()
        return found

    def put_region_postings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        """Keep the packed pre-filter keys of these items (an item deleted meanwhile is skipped)."""
        with self.transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO region_postings (item_id, keys)"
                " SELECT id, ? FROM protected_items WHERE id = ?", [(keys, item) for item, keys in rows])

    def region_signatures(self, item_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored region signatures of these items."""
        found: dict[int, bytes] = {}
        for chunk in _chunks(item_ids):
            found.update(self.conn.execute(
                "SELECT item_id, value FROM protected_signals WHERE signal = 'regions' AND variant = 0"
                f" AND item_id IN ({', '.join('?' * len(chunk))})", chunk).fetchall())
        return found


def _chunks(ids: Sequence[int], size: int = 500) -> list[list[int]]:
    """Ids in groups small enough for one SQL statement's parameters (old SQLite allows 999)."""
    listed = [int(i) for i in ids]
    return [listed[k : k + size] for k in range(0, len(listed), size)]
