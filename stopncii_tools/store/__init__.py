"""The case database: one private SQLite file, typed functions, every change one transaction.

Rows hold hashes, URLs, dates and decisions. Never a picture, a thumbnail or a full path.
Each module keeps one kind of record; :class:`Store` is the one handle over all of them, so a
workflow step can change several kinds in one transaction. The store takes and gives only its
own row types; :mod:`.notice_states` is the one table of how a notice may move.
"""

from __future__ import annotations

from ._database import explain_database_error
from .cases import CaseRecords
from .notices import NoticeRecords
from .protected import ProtectedRecords
from .rows import (
    Case,
    Event,
    MatchRecord,
    NewNotice,
    NoticePayload,
    ProtectedItem,
    RemovalCheck,
    SendAttempt,
    Sighting,
    SightingSource,
    StoredNotice,
    StoredRequester,
    StoredSignal,
    Watch,
)
from .sightings import SightingRecords
from .watches import WatchRecords


class Store(CaseRecords, ProtectedRecords, SightingRecords, NoticeRecords, WatchRecords):
    """An open case database. Use as a context manager, or call :meth:`close`."""


__all__ = [
    "Case",
    "Event",
    "MatchRecord",
    "NewNotice",
    "NoticePayload",
    "ProtectedItem",
    "RemovalCheck",
    "SendAttempt",
    "Sighting",
    "SightingSource",
    "Store",
    "StoredNotice",
    "StoredRequester",
    "StoredSignal",
    "Watch",
    "explain_database_error",
]
