"""Hash exports for platforms, hash banks and partners: hashes and case numbers, nothing else.

What leaves is what StopNCII itself shares: PDQ for pictures, MD5 for videos, each with the
case numbers (case ids) that hold it. Never a label, file name, path, URL, name or contact
detail. PDQ hashes below quality 50 are left out: a weak hash matches unrelated pictures.

A picture can leave as more than one PDQ value (``VARIANTS``): the upright picture, and the
picture as its file stores it when a platform's hasher reads it differently (EXIF rotation,
transparency, a palette); optionally also its 8 rotations and mirror images.

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
from ..signals.pdq import STORED_VARIANT, VARIANT_NAMES
from ..store import Store
from ..submit import HashBankClient, PushReport

FORMATS = ("hashlist", "stopncii-json", "csv", "json")
TABLE_COLUMNS = ("case", "signal", "variant", "hash", "quality")
# which PDQ values of each picture an export holds, by --variants choice
VARIANTS: dict[str, frozenset[int]] = {
    "none": frozenset({0}),
    "stored": frozenset({0, STORED_VARIANT}),
    "dihedral": frozenset(range(len(VARIANT_NAMES))),
}
# Closing a case ends the casework, not the person's wish to have the pictures blocked; a
# deleted case is never exported. So every exported case number is an active case.
CASE_STATUS = "Active"


@dataclass(frozen=True)
class ExportedHash:
    """One value to share: ``variant`` says which reading of the picture it is (0 upright;
    see :data:`~stopncii_tools.signals.pdq.VARIANT_NAMES`), ``items`` the protected items that
    hold it as ``(case id, item id)``."""

    signal: str  # pdq (pictures) or md5 (videos)
    value: str
    quality: int | None
    items: tuple[tuple[str, int], ...]
    modified: int  # unix seconds: when the newest item holding this hash was protected
    variant: int = 0

    @property
    def signal_type(self) -> str:
        """The name HMA and python-threatexchange give this signal: pdq or video_md5."""
        return HMA_SIGNAL_TYPES[self.signal]

    @property
    def case_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(case_id for case_id, _ in self.items))

    @property
    def variant_name(self) -> str:
        return VARIANT_NAMES[self.variant]

    def note(self) -> str:
        """What a hash bank keeps beside the value: the case numbers, item ids and variant, nothing else."""
        held = ", ".join(f"case {case_id} item {item_id}" for case_id, item_id in self.items)
        return f"stopncii-tools {held}; variant: {self.variant_name}"


@dataclass
class HashExport:
    """The hashes of the chosen cases, one per distinct value. ``pictures`` and ``videos``
    count the items they come from; ``weak`` counts pictures left out for a weak PDQ."""

    hashes: list[ExportedHash] = field(default_factory=list)
    pictures: int = 0
    videos: int = 0
    weak: int = 0

    @property
    def as_stored(self) -> int:
        """How many values are pictures as their files store them."""
        return sum(h.variant == STORED_VARIANT for h in self.hashes)

    def summary(self) -> str:
        """'N pictures, M videos as K hashes, J as stored': what the counts mean, said plainly."""
        text = f"{self.pictures} pictures, {self.videos} videos as {len(self.hashes)} hashes"
        return text + (f", {self.as_stored} as stored in the file" if self.as_stored else "")

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
        return [{"case": case, "signal": h.signal_type, "variant": h.variant_name, "hash": h.value,
                 "quality": h.quality} for h in self.hashes for case in h.case_ids]


@dataclass
class _Merged:
    quality: int | None
    variant: int
    items: list[tuple[str, int]] = field(default_factory=list)
    times: list[int] = field(default_factory=list)


def collect_hashes(store: Store, case_ids: Sequence[str], variants: str = "stored") -> HashExport:
    """PDQ of each protected picture (the variants named by ``variants``, a key of
    :data:`VARIANTS`) and MD5 of each video; a value held more than once is exported once."""
    wanted_variants = VARIANTS[variants]
    merged: dict[tuple[str, str], _Merged] = {}
    pictures: set[tuple[str, int]] = set()
    videos: set[tuple[str, int]] = set()
    weak: set[tuple[str, int]] = set()
    for case_id in case_ids:
        items = {item.id: item for item in store.protected_items(case_id)}
        for s in store.protected_signals(case_id):
            item = items[s.owner_id]
            key = (case_id, item.id)
            if item.kind == "image" and s.signal == "pdq" and s.variant in wanted_variants:
                if is_weak(s.quality or 0):
                    weak.add(key)
                    continue
                pictures.add(key)
            elif item.kind == "video" and s.signal == "md5":
                videos.add(key)
            else:
                continue
            entry = merged.setdefault((s.signal, str(s.value)), _Merged(s.quality, s.variant))
            entry.variant = min(entry.variant, s.variant)  # the same value upright and rotated: upright
            if key not in entry.items:
                entry.items.append(key)
            entry.times.append(int(datetime.fromisoformat(item.created_at).timestamp()))
    hashes = [ExportedHash(signal, value, m.quality, tuple(m.items), max(m.times), m.variant)
              for (signal, value), m in merged.items()]
    return HashExport(hashes, pictures=len(pictures), videos=len(videos), weak=len(weak - pictures))


def push_to_hashbank(
    store: Store, client: HashBankClient, bank: str, export: HashExport, *, create_bank: bool = False,
    clock: clocks.Clock = clocks.now,
) -> PushReport:
    """Put every exported hash into ``bank`` once, each its own content item with a note naming
    the case numbers, item ids and variant; content ids are kept so a re-push skips them."""
    if create_bank:
        client.create_bank(bank)
    case_ids = sorted({c for h in export.hashes for c in h.case_ids})
    known = store.hashbank_ids(case_ids, client.base_url, bank)
    results = []
    for exported in export.hashes:
        # one hash at a time, each id kept at once: a push stopped half-way repeats nothing
        pair = (exported.signal_type, exported.value)
        result = client.push_case_hashes(bank, [pair], known, notes={pair: exported.note()}).results[0]
        results.append(result)
        if result.content_id is not None and result.outcome in ("added", "already_present"):
            now = clock()
            with store.transaction():
                for case_id in exported.case_ids:
                    store.record_hashbank_push(case_id, client.base_url, bank, result.signal_type, result.value,
                                               result.content_id, now)
    return PushReport(bank, tuple(results))
