"""Decide which protected items a suspect item matches, with the evidence and a confidence.

Each signal searches its own index (``Signal.index``); the matcher combines their hits by the
signal's ``rule`` (documented for people in docs/matching.md):

- ``exact`` (SHA-256, MD5): the same file, certain;
- ``primary`` (PDQ): within its threshold of any of a protected photo's 8 rotations/mirror
  images, or of the photo as its file stores it, is a copy (a weak, low-detail hash on either
  side counts only with ``vote`` or ``support`` signals agreeing);
- ``vote`` (pHash, dHash, wHash): two or more agreeing is a copy, lower confidence;
- ``support`` (the colour hash): only ever backs up another signal;
- ``own`` (vPDQ, the region signature): the signal's hit gives its own kind and confidence,
  used only when no rule above found the item.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import TYPE_CHECKING, Any

from ..signals import SIGNALS, HashSignal, Hit, Signal, SignalIndex, SignalValue, is_weak
from ..signals.pdq import VARIANT_NAMES
from ..signals.region_index import RegionIndex, RegionSignalIndex
from ..signals.regions import Regions
from ..store import StoredSignal

if TYPE_CHECKING:
    from ..store import Store

Suspect = Mapping[str, SignalValue]  # a suspect item's signals by name, as hashed or as stored


@dataclass
class MatchFound:
    item_id: int
    kind: str
    confidence: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


class CaseMatcher:
    """Every signal's index over one case's protected items, built once per scan or check."""

    def __init__(self, protected: Iterable[StoredSignal]) -> None:
        self._indexes: dict[str, SignalIndex] = {}
        self._values: dict[tuple[str, int], SignalValue] = {}  # (signal, item) -> value as taken
        self._owners: set[int] = set()
        for row in protected:
            if row.signal not in SIGNALS:
                continue  # a signal this version does not know: nothing can compare it
            value = SignalValue(row.signal, row.value, row.quality)
            self._owners.add(row.owner_id)
            if row.variant == 0:
                self._values[(row.signal, row.owner_id)] = value
            for taker in _takers(row.signal):
                if taker.rule == "support":
                    continue  # compared item by item, only to back up another signal
                if taker.name not in self._indexes:
                    self._indexes[taker.name] = taker.index()
                self._indexes[taker.name].add(row.owner_id, value, row.variant)

    @classmethod
    def for_case(cls, store: Store, case_id: str) -> CaseMatcher:
        """The matcher for a case as it is now: every signal its protected items have."""
        return cls.for_cases(store, [case_id])

    @classmethod
    def for_cases(cls, store: Store, case_ids: Iterable[str], region_index: RegionIndex | None = None) -> CaseMatcher:
        """One matcher over the protected items of several cases (item ids say whose they are).

        ``region_index``: the index of their region signatures, built already (a scan's workers
        open the saved one; signatures are then read from its store for the pre-filter's few
        candidates only). Without it, the index is built from the keys the database keeps and
        holds the signatures, so the matcher works after ``store`` is closed."""
        case_ids = list(case_ids)
        if region_index is None:
            items = [item.id for case_id in case_ids for item in store.protected_items(case_id)]
            region_index = RegionIndex.from_store(store, items, store.region_signatures(items))
        whole = (row for case_id in case_ids for row in store.protected_signals(case_id, without=Regions.name))
        return cls.with_regions(whole, region_index)

    @classmethod
    def with_regions(cls, whole: Iterable[StoredSignal], region_index: RegionIndex) -> CaseMatcher:
        """The matcher over stored signals other than region signatures, and a region index of
        photos (whose signatures it reads for candidates only)."""
        matcher = cls(whole)
        if len(region_index):
            matcher._indexes[Regions.name] = RegionSignalIndex(region_index)
            matcher._owners.update(int(owner) for owner in region_index.owners)  # type: ignore[call-overload]
        return matcher

    @property
    def on_request(self) -> tuple[str, ...]:
        """The costly signals this case has: suspects must be hashed with them to be compared
        (pass to :func:`~stopncii_tools.signals.hashing.hash_bytes` as ``on_request``)."""
        return tuple(name for name in self._indexes if SIGNALS[name].on_request)

    def __len__(self) -> int:
        return len(self._owners)

    def match(self, suspect: Suspect) -> list[MatchFound]:
        hits = {name: index.search(suspect[name]) for name, index in self._indexes.items() if name in suspect}
        found: dict[int, MatchFound] = {}
        self._match_exact(hits, found)
        self._match_primary(suspect, hits, found)
        self._match_votes(suspect, hits, found)
        self._match_own(hits, found)
        return sorted(found.values(), key=lambda m: (_RANK[m.confidence], m.item_id))

    # -- the rules ------------------------------------------------------------------------

    def _match_exact(self, hits: dict[str, list[Hit]], found: dict[int, MatchFound]) -> None:
        # the longest digest first: it is the evidence shown for the match
        for signal in sorted(_with_rule("exact", hits), key=lambda s: -getattr(s, "bits", 0)):
            for hit in hits[signal.name]:
                match = found.setdefault(hit.owner, MatchFound(hit.owner, "exact", "certain"))
                match.evidence.append(hit.evidence)

    def _match_primary(self, suspect: Suspect, hits: dict[str, list[Hit]], found: dict[int, MatchFound]) -> None:
        for signal in _with_rule("primary", hits):
            suspect_weak = suspect[signal.name].weak
            for hit in hits[signal.name]:
                weak = suspect_weak or is_weak(hit.quality)
                support = self._support(suspect, hit.owner) if (weak or hit.variant == 0) else []
                if weak and not support:
                    continue  # a low-detail hash alone is not evidence
                evidence = {**hit.evidence, "variant": VARIANT_NAMES[hit.variant]}
                if weak:
                    evidence["note"] = "low-detail picture: confirmed by other signals"
                strong = isinstance(signal, HashSignal) and hit.distance <= signal.strong
                confidence = "high" if (strong or support) and not weak else "medium"
                match = found.setdefault(hit.owner, MatchFound(hit.owner, "copy", confidence))
                match.evidence.append(evidence)
                match.evidence.extend(e for e in support if e not in match.evidence)

    def _support(self, suspect: Suspect, item_id: int) -> list[dict[str, Any]]:
        """The evidence of every voting or supporting signal that agrees for this item."""
        agreeing = []
        for name, signal in SIGNALS.items():
            stored = self._values.get((name, item_id))
            if signal.rule not in ("vote", "support") or stored is None or name not in suspect:
                continue
            hit = signal.compare(stored, suspect[name])
            if hit is not None:
                agreeing.append(hit.evidence)
        return agreeing

    def _match_votes(self, suspect: Suspect, hits: dict[str, list[Hit]], found: dict[int, MatchFound]) -> None:
        votes: Counter[int] = Counter()
        for signal in _with_rule("vote", hits):  # an index search each, not a loop over items
            votes.update(hit.owner for hit in hits[signal.name])
        for item_id, agreeing in votes.items():
            if agreeing >= 2 and item_id not in found:
                found[item_id] = MatchFound(item_id, "copy", "low", self._support(suspect, item_id))

    def _match_own(self, hits: dict[str, list[Hit]], found: dict[int, MatchFound]) -> None:
        for signal in _with_rule("own", hits):
            for hit in hits[signal.name]:
                if hit.owner not in found:  # found by a whole-picture rule already (stronger)
                    found[hit.owner] = MatchFound(hit.owner, hit.kind, hit.confidence, [hit.evidence])


_RANK = {"certain": 0, "high": 1, "medium": 2, "low": 3}


@cache
def _takers(name: str) -> tuple[Signal, ...]:
    """The signals whose index keeps protected values of signal ``name``: itself, and those fed by it."""
    return tuple(s for s in SIGNALS.values() if s.name == name or name in s.feeds)


def _with_rule(rule: str, hits: Mapping[str, list[Hit]]) -> list[Signal]:
    return [SIGNALS[name] for name in hits if SIGNALS[name].rule == rule]
