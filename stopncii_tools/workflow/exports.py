"""Hash exports for platforms, hash banks and partners: hashes and case numbers, nothing else.

What leaves is what StopNCII itself shares: PDQ for pictures, MD5 for videos, each with the
case numbers (case ids) that hold it. Never a label, file name, path, URL, name or contact
detail. PDQ hashes below quality 50 are left out: a weak hash matches unrelated pictures.

Formats (docs/hashbank.md says which system reads which): ``hashlist``, the lines
``pdq <hex>`` and ``video_md5 <hex>`` that python-threatexchange's local-file exchange loads;
``stopncii-json``, a ``FetchHashesResponse`` envelope of StopNCII hash records as
python-threatexchange's StopNCII client parses them; and ``csv``/``json`` rows. Signal types
carry the names HMA and python-threatexchange use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .. import clock as clocks
from ..signals import is_weak
from ..signals.hashlists import HMA_SIGNAL_TYPES, STOPNCII_SIGNAL_TYPES
from ..store import Store
from ..submit import HashBankClient, PushReport

FORMATS = ("hashlist", "stopncii-json", "csv", "json")
TABLE_COLUMNS = ("case", "signal", "hash", "quality")
# Closing a case ends the casework, not the person's wish to have the pictures blocked; a
# deleted case is never exported. So every exported case number is an active case.
CASE_STATUS = "Active"


@dataclass(frozen=True)
class ExportedHash:
    signal: str  # pdq (pictures) or md5 (videos)
    value: str
    quality: int | None
    case_ids: tuple[str, ...]
    modified: int  # unix seconds: when the newest item holding this hash was protected

    @property
    def signal_type(self) -> str:
        """The name HMA and python-threatexchange give this signal: pdq or video_md5."""
        return HMA_SIGNAL_TYPES[self.signal]


@dataclass
class HashExport:
    """The hashes of the chosen cases; ``weak`` counts pictures left out for a weak PDQ."""

    hashes: list[ExportedHash] = field(default_factory=list)
    weak: int = 0

    def hashlist(self) -> str:
        """``<signal type> <hex>`` lines, as python-threatexchange's local-file exchange reads them."""
        return "".join(f"{h.signal_type} {h.value}\n" for h in self.hashes)

    def stopncii_response(self) -> dict[str, Any]:
        """One ``FetchHashesResponse`` holding every hash, as StopNCII's FetchHashes answers."""
        records = [
            {"lastModtimestamp": h.modified, "signalType": STOPNCII_SIGNAL_TYPES[h.signal], "hashValue": h.value,
             "hashStatus": CASE_STATUS, "caseNumbers": dict.fromkeys(h.case_ids, CASE_STATUS), "CSPFeedbacks": []}
            for h in self.hashes
        ]
        return {"count": len(records), "nextPageToken": None,
                "nextSetTimestamp": max((h.modified for h in self.hashes), default=0),
                "hasMoreRecords": False, "hashRecords": records}

    def rows(self) -> list[dict[str, Any]]:
        return [{"case": case, "signal": h.signal_type, "hash": h.value, "quality": h.quality}
                for h in self.hashes for case in h.case_ids]


def collect_hashes(store: Store, case_ids: Sequence[str]) -> HashExport:
    """PDQ of each protected picture (as taken, not its rotations) and MD5 of each video."""
    merged: dict[tuple[str, str], tuple[int | None, list[str], list[int]]] = {}
    export = HashExport()
    for case_id in case_ids:
        items = {item.id: item for item in store.protected_items(case_id)}
        for s in store.protected_signals(case_id):
            item = items[s.owner_id]
            wanted = (item.kind == "image" and s.signal == "pdq" and s.variant == 0) or (
                item.kind == "video" and s.signal == "md5")
            if not wanted:
                continue
            if s.signal == "pdq" and is_weak(s.quality or 0):
                export.weak += 1
                continue
            _, cases, times = merged.setdefault((s.signal, str(s.value)), (s.quality, [], []))
            if case_id not in cases:
                cases.append(case_id)
            times.append(int(datetime.fromisoformat(item.created_at).timestamp()))
    export.hashes = [ExportedHash(signal, value, quality, tuple(cases), max(times))
                     for (signal, value), (quality, cases, times) in merged.items()]
    return export


def push_to_hashbank(
    store: Store, client: HashBankClient, bank: str, export: HashExport, *, create_bank: bool = False,
    clock: clocks.Clock = clocks.now,
) -> PushReport:
    """Put every exported hash into ``bank`` once; content ids are kept so a re-push skips them."""
    if create_bank:
        client.create_bank(bank)
    case_ids = sorted({c for h in export.hashes for c in h.case_ids})
    known = store.hashbank_ids(case_ids, client.base_url, bank)
    cases_of = {(h.signal_type, h.value): h.case_ids for h in export.hashes}
    results = []
    for pair, cases in cases_of.items():
        # one hash at a time, each id kept at once: a push stopped half-way repeats nothing
        result = client.push_case_hashes(bank, [pair], known).results[0]
        results.append(result)
        if result.content_id is not None and result.outcome in ("added", "already_present"):
            now = clock()
            with store.transaction():
                for case_id in cases:
                    store.record_hashbank_push(case_id, client.base_url, bank, result.signal_type, result.value,
                                               result.content_id, now)
    return PushReport(bank, tuple(results))
