"""Protected items and their hashes: what the person asked to protect (never the pictures)."""

from __future__ import annotations

from .._errors import NotFound
from ..signals.hashing import MediaHashes
from ._database import Database, _iso
from .rows import ProtectedItem, StoredSignal

class ProtectedRecords(Database):
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

