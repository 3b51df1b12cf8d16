"""Cases and the person who sends their notices."""

from __future__ import annotations

import secrets
from dataclasses import asdict, fields
from typing import Any

from .._errors import CaseChoiceNeeded, NotFound, NoticeError, StoreError
from ..countries import normalise_jurisdiction
from ._database import Database, _iso
from .rows import Case, StoredRequester

_ID_ALPHABET = "23456789abcdefghjkmnpqrstuvwxyz"  # no 0/o, 1/l/i: easy to read aloud


def _country(code: str | None) -> str | None:
    """The two-letter country code, checked now rather than when a notice is drafted."""
    if not code or not code.strip():
        return None
    try:
        return normalise_jurisdiction(code)
    except NoticeError as exc:
        raise StoreError(exc.reason) from None


_REQUESTER_FIELDS = tuple(f.name for f in fields(StoredRequester))


class CaseRecords(Database):
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
        return _case(rows[0])

    def list_cases(self, status: str | None = None) -> list[Case]:
        if status:
            rows = self.db.query("SELECT * FROM cases WHERE status = ? ORDER BY created_at", [status])
        else:
            rows = self.db.query("SELECT * FROM cases ORDER BY created_at")
        return [_case(r) for r in rows]

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
        self, case_id: str, *, title: str | None = None, jurisdiction: str | None = None, notes: str | None = None,
        draft_watch_matches: bool | None = None,
    ) -> Case:
        """Change a case's title, country, notes or drafting rule (only what is given)."""
        case = self.get_case(case_id)
        changes = {"title": title.strip() if title else None,
                   "jurisdiction": _country(jurisdiction), "notes": notes,
                   "draft_watch_matches": None if draft_watch_matches is None else int(draft_watch_matches)}
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

    def delete_case(self, case_id: str) -> str | None:
        """Delete the case and everything stored for it, then rewrite the file so no trace stays.

        Returns None when the rewrite finished, else what is left and how to finish (another
        program reading the database keeps old pages in place until it lets go)."""
        case = self.get_case(case_id)
        with self.transaction():
            self.conn.execute("DELETE FROM cases WHERE id = ?", (case.id,))
            self.log(None, "case.deleted")  # no id, no title: deleting means forgetting
        return self.scrub()

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

    # -- the requester ----------------------------------------------------------------------

    def set_requester(self, case_id: str, requester: StoredRequester) -> None:
        """Store who sends this case's notices (kept in the case, never in hash exports)."""
        values = asdict(requester)
        with self.transaction():
            self.conn.execute(
                f"INSERT OR REPLACE INTO requesters (case_id, {', '.join(values)}, updated_at)"
                f" VALUES (?, {', '.join('?' for _ in values)}, ?)",
                (case_id, *values.values(), _iso()),
            )
            self.log(case_id, "requester.updated", role=requester.role)

    def requester(self, case_id: str) -> StoredRequester | None:
        rows = list(self.db.query(
            f"SELECT {', '.join(_REQUESTER_FIELDS)} FROM requesters WHERE case_id = ?", [case_id]))
        return StoredRequester(**rows[0]) if rows else None

    def cases_titled(self, title: str) -> list[Case]:
        rows = self.db.query("SELECT * FROM cases WHERE title = ? ORDER BY created_at", [title.strip()])
        return [_case(r) for r in rows]


def _case(row: dict[str, Any]) -> Case:
    return Case(**{**row, "draft_watch_matches": bool(row["draft_watch_matches"])})
