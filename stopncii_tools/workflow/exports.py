"""Hash exports for platforms, hash banks and partners: hashes and case numbers, nothing else.

What leaves is what StopNCII itself shares: PDQ for pictures, MD5 for videos, each with the
case numbers (case ids) that hold it. Never a label, file name, path, URL, name or contact
detail. PDQ hashes below quality 50 are left out: a weak hash matches unrelated pictures.

Formats: ``hashlist`` (the plain hash-exchange lines ``pdq <hex>`` and ``md5 <hex>`` that HMA
and ThreatExchange files use), ``stopncii-json`` (records shaped like StopNCII's partner API:
``signalType`` ImagePDQ or VideoMD5, ``hashValue``, ``caseNumbers``), and ``csv``/``json`` rows.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import clock as clocks
from ..signals import is_weak
from ..store import Store
from ..submit import HashBankClient, PushReport

FORMATS = ("hashlist", "stopncii-json", "csv", "json")
TABLE_COLUMNS = ("case", "signal", "hash", "quality")
# our signal -> (StopNCII signalType, HMA signal type)
_NAMES = {"pdq": ("ImagePDQ", "pdq"), "md5": ("VideoMD5", "video_md5")}


@dataclass(frozen=True)
class ExportedHash:
    signal: str  # pdq (pictures) or md5 (videos)
    value: str
    quality: int | None
    case_ids: tuple[str, ...]


@dataclass
class HashExport:
    """The hashes of the chosen cases; ``weak`` counts pictures left out for a weak PDQ."""

    hashes: list[ExportedHash] = field(default_factory=list)
    weak: int = 0

    def hashlist(self) -> str:
        return "".join(f"{h.signal} {h.value}\n" for h in self.hashes)

    def stopncii_records(self) -> list[dict[str, Any]]:
        return [{"signalType": _NAMES[h.signal][0], "hashValue": h.value, "caseNumbers": list(h.case_ids)}
                for h in self.hashes]

    def rows(self) -> list[dict[str, Any]]:
        return [{"case": case, "signal": h.signal, "hash": h.value, "quality": h.quality}
                for h in self.hashes for case in h.case_ids]


def collect_hashes(store: Store, case_ids: Sequence[str]) -> HashExport:
    """PDQ of each protected picture (as taken, not its rotations) and MD5 of each video."""
    merged: dict[tuple[str, str], tuple[int | None, list[str]]] = {}
    export = HashExport()
    for case_id in case_ids:
        kinds = {item.id: item.kind for item in store.protected_items(case_id)}
        for s in store.protected_signals(case_id):
            wanted = (kinds[s.owner_id] == "image" and s.signal == "pdq" and s.variant == 0) or (
                kinds[s.owner_id] == "video" and s.signal == "md5")
            if not wanted:
                continue
            if s.signal == "pdq" and is_weak(s.quality or 0):
                export.weak += 1
                continue
            _, cases = merged.setdefault((s.signal, str(s.value)), (s.quality, []))
            if case_id not in cases:
                cases.append(case_id)
    export.hashes = [ExportedHash(signal, value, quality, tuple(cases))
                     for (signal, value), (quality, cases) in merged.items()]
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
    cases_of = {(_NAMES[h.signal][1], h.value): h.case_ids for h in export.hashes}
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
