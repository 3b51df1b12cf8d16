"""The bank index of region signatures: which protected photos a suspect may show.

:class:`RegionIndex` keeps protected :class:`~.regions.RegionSignature` values under
caller-chosen owners and pre-filters a suspect with their locality-sensitive keys
(:meth:`~.regions.RegionSignature.index_keys`), so only a few candidates get the full
geometric check of :func:`~.regions.compare_regions`.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Sequence
from typing import Final

import numpy as np

from ._base import Hit, SignalIndex, SignalValue
from .regions import RegionEvidence, RegionSignature, _hit, compare_regions


class RegionIndex:
    """Protected signatures under caller-chosen keys, with a fast pre-filter for scanning.

    ``search`` counts shared :meth:`RegionSignature.index_keys` per protected photo (one sorted
    numpy array, so the cost grows with the number of keys, not photos), then runs the full
    :func:`compare_regions` on the best few candidates only.
    """

    def __init__(self) -> None:
        self._owners: list[Hashable] = []
        self._signatures: list[RegionSignature] = []
        self._key_parts: list[np.ndarray] = []
        self._owner_parts: list[np.ndarray] = []
        self._keys = np.zeros(0, dtype=np.int64)
        self._key_owner = np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self._owners)

    def add(self, owner: Hashable, signature: RegionSignature) -> None:
        keys = signature.index_keys()
        self._key_parts.append(keys)
        self._owner_parts.append(np.full(len(keys), len(self._owners), dtype=np.int64))
        self._owners.append(owner)
        self._signatures.append(signature)

    def candidates(self, suspect: RegionSignature, limit: int = 8) -> list[tuple[Hashable, float]]:
        """Protected photos sharing the most keys (each weighted by 1 / the photos holding it),
        best first, at least :data:`MIN_SHARED_KEYS` in weight."""
        return [(self._owners[i], votes) for i, votes in self._ranked(suspect, limit)]

    def search(self, suspect: RegionSignature, limit: int = 8) -> list[tuple[Hashable, RegionEvidence]]:
        """Verified matches among the pre-filtered candidates, strongest first."""
        found = []
        for i, _ in self._ranked(suspect, limit):
            evidence = compare_regions(self._signatures[i], suspect)
            if evidence is not None:
                found.append((self._owners[i], evidence))
        return sorted(found, key=lambda item: -item[1].score)

    def _ranked(self, suspect: RegionSignature, limit: int) -> list[tuple[int, float]]:
        self._merge()
        if not len(self._keys) or not len(suspect):
            return []
        query = suspect.index_keys()
        lo = np.searchsorted(self._keys, query, "left")
        hi = np.searchsorted(self._keys, query, "right")
        lengths = hi - lo
        rows = _flatten_runs(lo, lengths)
        # a key many photos share says little (plain edges, text): weigh each hit by 1 / photos
        weights = np.repeat(1.0 / np.maximum(lengths, 1), lengths)
        votes = np.bincount(self._key_owner[rows], weights=weights, minlength=len(self._owners))
        ranked = np.argsort(-votes, kind="stable")[:limit]
        return [(int(i), float(votes[i])) for i in ranked if votes[i] >= MIN_SHARED_KEYS]

    def _merge(self) -> None:
        if not self._key_parts:
            return
        keys = np.concatenate([self._keys, *self._key_parts])
        owners = np.concatenate([self._key_owner, *self._owner_parts])
        order = np.argsort(keys, kind="stable")
        self._keys, self._key_owner = keys[order], owners[order]
        self._key_parts, self._owner_parts = [], []


MIN_SHARED_KEYS: Final = 2.0


def _flatten_runs(starts: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """All indices of the runs ``[start, start + length)``, concatenated."""
    before = np.cumsum(lengths) - lengths
    return np.repeat(starts - before, lengths) + np.arange(int(lengths.sum()))


def match_all(
    protected: Iterable[tuple[Hashable, RegionSignature]], suspect: RegionSignature
) -> list[tuple[Hashable, RegionEvidence]]:
    """Compare ``suspect`` with every protected signature (no pre-filter): for small banks."""
    found = [(owner, ev) for owner, sig in protected if (ev := compare_regions(sig, suspect))]
    return sorted(found, key=lambda item: -item[1].score)


class RegionSignalIndex(SignalIndex):
    """The ``regions`` signal's index over a case: :class:`RegionIndex` with the signal's hits."""

    def __init__(self) -> None:
        self._index = RegionIndex()

    def add(self, owner: int, value: SignalValue, variant: int = 0) -> None:
        self._index.add(owner, RegionSignature.from_bytes(value.blob()))

    def __len__(self) -> int:
        return len(self._index)

    def search(self, suspect: SignalValue) -> list[Hit]:
        found = self._index.search(RegionSignature.from_bytes(suspect.blob()))
        return [hit for owner, evidence in found if (hit := _hit(int(owner), evidence))]  # type: ignore[call-overload]


__all__: Sequence[str] = ("MIN_SHARED_KEYS", "RegionIndex", "RegionSignalIndex", "match_all")
