"""The bank index of region signatures: which protected photos a suspect may show.

:class:`RegionIndex` keeps protected :class:`~.regions.RegionSignature` values under
caller-chosen owners and pre-filters a suspect with their locality-sensitive keys
(:meth:`~.regions.RegionSignature.index_keys`), so only a few candidates get the full
geometric check of :func:`~.regions.compare_regions`.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Hashable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Final, Protocol

import numpy as np

from .._errors import InvalidHash
from ._base import Hit, SignalIndex, SignalValue
from .regions import KEY_BITS, RegionEvidence, RegionSignature, _hit, compare_regions

# pre-filter keys: RegionSignature.index_keys() (table number above 24 sampled bits), as uint32;
# 4 of its 12 tables find as many true matches as all 12 (benchmarks/prefilter.py), in a third of the memory
KEY_TABLES_USED: Final = 4
MAX_CANDIDATES: Final = 4
# a candidate needs CHANCE_FACTOR times the vote of the CHANCE_RANK-th best photo (what
# chance gives this suspect in this bank), and at least MIN_VOTES; calibrated in
# benchmarks/prefilter.py on benchmarks/derivatives.py's pictures
CHANCE_RANK: Final = 8
CHANCE_FACTOR: Final = 1.25
MIN_VOTES: Final = 4.0
# a key held by COMMON_KEY_FACTOR times as many photos as the average key (and by at least
# COMMON_KEY_PHOTOS) is skipped: it says almost nothing (weight 1 / photos) yet, at 40,000 photos,
# such keys were 98% of the postings a suspect read (benchmarks/scale.py)
COMMON_KEY_FACTOR: Final = 16
COMMON_KEY_PHOTOS: Final = 64
_PACK_MAGIC: Final = b"RKP1"
_PACK_HEADER: Final = struct.Struct("<4sB")
ARRAY_NAMES: Final = ("keys", "starts", "rows", "owners", "mirrored")  # what RegionIndex.save writes
_SAVED_FORMAT: Final = b"RIX1"  # the layout save() writes: part of a saved index's fingerprint
_BUILD_CHUNK: Final = 1000  # items whose stored keys are read at a time when a bank is built or fingerprinted
# a bank with more postings is built with one count per possible key (KEY_TABLES_USED << KEY_BITS uint32) instead
# of one sort of all (key, photo) pairs (about 24 bytes a posting at its peak): whichever needs less memory
_DENSE_KEYS: Final = KEY_TABLES_USED << KEY_BITS
_SORTED_BUILD_MAX: Final = _DENSE_KEYS * 4 // 24


def region_keys(signature: RegionSignature) -> np.ndarray:
    """The pre-filter keys of a signature: sorted, distinct uint32 (table << 24 | 24 bits)."""
    return signature.index_keys(KEY_TABLES_USED).astype(np.uint32)


def views(signature: RegionSignature) -> list[RegionSignature]:
    """What the bank indexes of a protected photo: as taken, and its mirror image when it kept one."""
    mirrored = signature.mirror_image()
    return [signature.upright()] if mirrored is None else [signature.upright(), mirrored]


def pack_views(signature: RegionSignature) -> bytes:
    """The stored keys of a protected photo: one :func:`pack_keys` blob per view, end to end."""
    return b"".join(pack_keys(region_keys(view)) for view in views(signature))


def pack_keys(keys: np.ndarray) -> bytes:
    """Sorted distinct keys as a compact blob: a count per table, then 3 bytes a key."""
    keys = np.asarray(keys, dtype=np.uint32)
    tables = int(keys[-1] >> KEY_BITS) + 1 if len(keys) else 0
    counts = np.bincount(keys >> KEY_BITS, minlength=tables).astype("<u4")
    low = (keys & ((1 << KEY_BITS) - 1)).astype(">u4").view(np.uint8).reshape(-1, 4)[:, 1:]
    return _PACK_HEADER.pack(_PACK_MAGIC, tables) + counts.tobytes() + low.tobytes()


def unpack_keys(blob: bytes) -> np.ndarray:
    """Read :func:`pack_keys` output; :class:`InvalidHash` if it is damaged."""
    keys, end = _unpack_at(blob, 0)
    if end != len(blob):
        raise InvalidHash("the stored region pre-filter keys are damaged (wrong length)")
    return keys


def unpack_views(blob: bytes) -> list[np.ndarray]:
    """Read :func:`pack_views` output: the keys of each view."""
    found: list[np.ndarray] = []
    at = 0
    while at < len(blob) or not found:
        keys, at = _unpack_at(blob, at)
        found.append(keys)
    return found


def _unpack_at(blob: bytes, at: int) -> tuple[np.ndarray, int]:
    if len(blob) < at + _PACK_HEADER.size or blob[at : at + 4] != _PACK_MAGIC:
        raise InvalidHash("these are not stored region pre-filter keys (wrong header)")
    tables = _PACK_HEADER.unpack_from(blob, at)[1]
    start = at + _PACK_HEADER.size + 4 * tables
    if len(blob) < start:
        raise InvalidHash("the stored region pre-filter keys are damaged (wrong length)")
    counts = np.frombuffer(blob, "<u4", tables, at + _PACK_HEADER.size).astype(np.int64)
    end = start + 3 * int(counts.sum())
    if len(blob) < end:
        raise InvalidHash("the stored region pre-filter keys are damaged (wrong length)")
    body = memoryview(blob)[start:end]
    wide = np.zeros((len(body) // 3, 4), dtype=np.uint8)
    wide[:, 1:] = np.frombuffer(body, np.uint8).reshape(-1, 3)
    table = np.repeat(np.arange(tables, dtype=np.uint32), counts)
    return (table << KEY_BITS) | wide.view(">u4").ravel().astype(np.uint32), end


class RegionStore(Protocol):
    """What :meth:`RegionIndex.from_store` reads: the case database's protected items
    (:class:`stopncii_tools.store.Store`), seen through three methods."""

    write_refusal: str | None

    def region_postings(self, item_ids: Sequence[int] | None = None) -> list[tuple[int, bytes | None]]:
        """Items with a region signature and their stored keys (None: not stored yet)."""

    def put_region_postings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        """Store the packed keys of these items."""

    def region_signatures(self, item_ids: Sequence[int]) -> dict[int, bytes]:
        """The stored region signatures of these items."""


class RegionIndex:
    """Protected signatures under caller-chosen owners, with a pre-filter for scanning.

    The pre-filter keeps, for each key, the photos holding it (compressed rows: distinct
    uint32 keys, where each key's run starts, uint32 photo numbers), so a suspect costs one
    lookup per key, whatever the bank size. A photo's vote is the number of keys it shares
    with the suspect, each weighted by 1 / the photos holding it; only photos well above what
    unrelated photos reach (:data:`CHANCE_FACTOR` times the :data:`CHANCE_RANK`-th best vote,
    and :data:`MIN_VOTES`) get the full :func:`compare_regions`. Signatures loaded with
    :meth:`from_store` stay in the database and are read only for those few candidates.
    """

    def __init__(self) -> None:
        self._owners: list[Hashable] = []
        self._signatures: list[RegionSignature | None] = []
        self._mirrored: list[bool] = []  # each entry: the photo as taken, or its mirror image
        self._store: RegionStore | None = None
        self._key_parts: list[np.ndarray] = []
        self._part_rows: list[int] = []  # the photo number of each of _key_parts
        self._keys = np.zeros(0, dtype=np.uint32)  # distinct keys, sorted
        self._starts = np.zeros(1, dtype=np.uint32)  # run of key i: _rows[_starts[i]:_starts[i + 1]]
        self._rows = np.zeros(0, dtype=np.uint32)  # photo numbers, by key

    @classmethod
    def from_store(cls, store: RegionStore, owner_ids: Iterable[int] | None = None,
                   signatures: Mapping[int, bytes] | None = None) -> RegionIndex:
        """The index over the region signatures of ``owner_ids`` (default: every protected
        item that has one), from the keys the database keeps. Keys not stored yet (items
        protected since the last load, or before this version) are computed once and stored.
        Candidates' signatures are read from ``store`` when needed, unless given in
        ``signatures`` (then the index works after the store is closed)."""
        index = cls()
        index._store = store
        rows = store.region_postings(None if owner_ids is None else sorted(set(owner_ids)))
        computed = _cut_missing(store, rows)
        given = signatures or {}
        for item, blob in rows:
            shown = views(RegionSignature.from_bytes(given[item])) if item in given else None
            for view, keys in enumerate(unpack_views(computed.get(item) or blob or b"")):
                index._append(item, shown[view] if shown else None, keys, mirrored=view == 1)
        return index

    def save(self, folder: Path) -> None:
        """Write the index's arrays to ``folder`` (owners must be item ids), for :meth:`open`:
        worker processes then share one copy of the bank through the page cache."""
        folder.mkdir(parents=True, exist_ok=True)
        for name, array in self.arrays().items():
            np.save(folder / f"{name}.npy", array)

    @classmethod
    def open(cls, folder: Path, store: RegionStore) -> RegionIndex:
        """The index :meth:`save` wrote, memory-mapped (read-only); signatures come from ``store``."""
        return cls.from_arrays({name: np.load(folder / f"{name}.npy", mmap_mode="r") for name in ARRAY_NAMES}, store)

    @classmethod
    def from_arrays(cls, arrays: Mapping[str, np.ndarray], store: RegionStore) -> RegionIndex:
        """The index of :meth:`arrays` (e.g. sent to another computer); signatures come from ``store``."""
        index = cls()
        index._store = store
        index._keys, index._starts, index._rows = arrays["keys"], arrays["starts"], arrays["rows"]
        index._owners = [int(owner) for owner in arrays["owners"]]
        index._mirrored = [bool(flag) for flag in arrays["mirrored"]]
        index._signatures = [None] * len(index._owners)
        return index

    def arrays(self) -> dict[str, np.ndarray]:
        """Everything the index holds but signatures, as the arrays :meth:`save` writes (owners must be item ids)."""
        self._merge()
        return {"keys": self._keys, "starts": self._starts, "rows": self._rows,
                "owners": np.array(self._owners, dtype=np.uint32), "mirrored": np.array(self._mirrored, dtype=np.bool_)}

    def __len__(self) -> int:
        """How many photos (a photo and its mirror image count once)."""
        return len(self._owners) - sum(self._mirrored)

    @property
    def owners(self) -> set[Hashable]:
        """The owners of the photos indexed."""
        return set(self._owners)

    def add(self, owner: Hashable, signature: RegionSignature) -> None:
        """Index the photo, and its mirror image too when the signature kept one (twice the keys)."""
        for view in views(signature):
            self._append(owner, view, region_keys(view), mirrored=view.mirrored)

    def _append(self, owner: Hashable, signature: RegionSignature | None, keys: np.ndarray, *,
                mirrored: bool = False) -> None:
        self._key_parts.append(keys)
        self._part_rows.append(len(self._owners))
        self._owners.append(owner)
        self._signatures.append(signature)
        self._mirrored.append(mirrored)

    def votes(self, suspect: RegionSignature) -> dict[Hashable, float]:
        """Every protected photo sharing a key with ``suspect``, with its vote."""
        votes = self._votes(suspect)
        best: dict[Hashable, float] = {}
        for i in np.flatnonzero(votes):
            best[self._owners[i]] = max(best.get(self._owners[i], 0.0), float(votes[i]))
        return best

    def candidates(self, suspect: RegionSignature, limit: int = MAX_CANDIDATES) -> list[tuple[Hashable, float]]:
        """Protected photos well above chance, best first, at most ``limit``."""
        return [(self._owners[i], votes) for i, votes in self._ranked(suspect, limit)]

    def search(self, suspect: RegionSignature, limit: int = MAX_CANDIDATES) -> list[tuple[Hashable, RegionEvidence]]:
        """Verified matches among the pre-filtered candidates, strongest first."""
        ranked = [i for i, _ in self._ranked(suspect, limit)]
        found = []
        for i, signature in zip(ranked, self._signatures_of(ranked), strict=True):
            evidence = compare_regions(signature, suspect)
            if evidence is not None:
                found.append((self._owners[i], evidence))
        return sorted(found, key=lambda item: -item[1].score)

    def _signatures_of(self, rows: list[int]) -> list[RegionSignature]:
        unread = [int(self._owners[i]) for i in rows if self._signatures[i] is None]  # type: ignore[call-overload]
        values = self._store.region_signatures(unread) if unread and self._store else {}
        return [sig if (sig := self._signatures[i]) is not None
                else views(RegionSignature.from_bytes(values[self._owners[i]]))[int(self._mirrored[i])]  # type: ignore[index]
                for i in rows]

    def _ranked(self, suspect: RegionSignature, limit: int) -> list[tuple[int, float]]:
        votes = self._votes(suspect)
        above = np.flatnonzero(votes >= max(MIN_VOTES, CHANCE_FACTOR * chance_vote(votes)))
        ranked = above[np.argsort(-votes[above], kind="stable")][:limit]
        return [(int(i), float(votes[i])) for i in ranked]

    def _votes(self, suspect: RegionSignature) -> np.ndarray:
        self._merge()
        if not len(self._keys) or not len(suspect):
            return np.zeros(len(self._owners))
        query = region_keys(suspect)
        at = np.minimum(np.searchsorted(self._keys, query), len(self._keys) - 1)
        at = at[self._keys[at] == query]
        lo, hi = self._starts[at].astype(np.int64), self._starts[at + 1].astype(np.int64)
        common = max(COMMON_KEY_PHOTOS, COMMON_KEY_FACTOR * len(self._rows) / len(self._keys))
        rare = hi - lo <= common
        lo, lengths = lo[rare], (hi - lo)[rare]
        # a key many photos share says little (plain edges, text): weigh each hit by 1 / photos
        weights = np.repeat(1.0 / lengths, lengths)
        return np.bincount(self._rows[_flatten_runs(lo, lengths)], weights=weights, minlength=len(self._owners))

    def _merge(self) -> None:
        if not self._key_parts:
            return
        lengths = [len(part) for part in self._key_parts]
        added = np.concatenate(self._key_parts)
        self._key_parts = []
        # one in-place sort of (key, photo) packed in a uint64: no index array beside the postings
        pairs = np.concatenate([np.repeat(self._keys, np.diff(self._starts)), added]).astype(np.uint64)
        del added
        pairs <<= np.uint64(32)
        pairs |= np.concatenate([self._rows, np.repeat(np.array(self._part_rows, np.uint32), lengths)])
        self._part_rows = []
        pairs.sort()
        self._rows = pairs.astype(np.uint32)  # the low half
        pairs >>= np.uint64(32)
        keys = pairs.astype(np.uint32)
        del pairs
        first = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if len(keys) else np.zeros(0, np.int64)
        self._keys = keys[first]
        self._starts = np.r_[first, len(keys)].astype(np.uint32 if len(keys) < 2**32 else np.int64)


def keep_region_keys(store: RegionStore, owner_ids: Iterable[int] | None = None) -> int:
    """Cut and store the pre-filter keys of protected photos that have none yet (so that scans,
    whose workers open the database read-only, only read them); how many were cut."""
    return len(_cut_missing(store, store.region_postings(None if owner_ids is None else sorted(set(owner_ids)))))


def _cut_missing(store: RegionStore, rows: Sequence[tuple[int, bytes | None]]) -> dict[int, bytes]:
    missing = [item for item, blob in rows if blob is None or not _current(blob)]
    computed: dict[int, bytes] = {}
    for start in range(0, len(missing), 500):  # a bounded number of signatures in memory
        chunk = missing[start : start + 500]
        values = store.region_signatures(chunk)
        computed.update({item: pack_views(RegionSignature.from_bytes(values[item]))
                         for item in chunk if item in values})
        if store.write_refusal is None:
            store.put_region_postings([(item, computed[item]) for item in chunk if item in computed])
    return computed


def stored_keys(store: RegionStore, owner_ids: Iterable[int]) -> Iterator[tuple[int, bytes]]:
    """The stored keys (:func:`pack_views`) of those of ``owner_ids`` that have a region signature,
    by item id, read a chunk at a time; keys not stored yet are cut (and kept when the store allows)."""
    ids = sorted(set(owner_ids))
    for start in range(0, len(ids), _BUILD_CHUNK):
        rows = store.region_postings(ids[start : start + _BUILD_CHUNK])
        computed = _cut_missing(store, rows)
        for item, blob in rows:
            yield item, computed.get(item) or blob or b""


def bank_fingerprint(store: RegionStore, owner_ids: Iterable[int]) -> tuple[str, int]:
    """A digest of these items' ids and stored keys (what a saved index of them holds), and how
    many postings their index has: a saved index whose fingerprint differs is of another bank."""
    digest = _BankDigest()
    for item, blob in stored_keys(store, owner_ids):
        digest.add(item, blob)
    return digest.hexdigest(), digest.postings


def write_index(store: RegionStore, owner_ids: Iterable[int], folder: Path, fingerprint: tuple[str, int],
                *, sort_up_to: int = _SORTED_BUILD_MAX) -> None:
    """Build the index of these items (whose :func:`bank_fingerprint` is ``fingerprint``) straight
    into ``folder``, for :meth:`RegionIndex.open`, in memory bounded whatever the bank size. Up to
    ``sort_up_to`` postings all (key, photo) pairs are sorted at once; a bigger bank's keys are
    counted, then each photo number is written into its place in the file (two reads of the stored
    keys). :class:`InvalidHash` if the bank changed meanwhile (it is never saved under a wrong name)."""
    owner_ids = sorted(set(owner_ids))
    postings = fingerprint[1]
    folder.mkdir(parents=True, exist_ok=True)
    if postings <= sort_up_to:
        index, read = RegionIndex(), _BankDigest()
        for item, blob in stored_keys(store, owner_ids):
            read.add(item, blob)
            for view, keys in enumerate(unpack_views(blob)):
                index._append(item, None, keys, mirrored=view == 1)
        _same_bank(read, fingerprint)
        index.save(folder)
        return
    wide = postings >= 2**32
    slots = np.zeros(_DENSE_KEYS, np.uint32)  # first the photos holding each key, then where the next one goes
    owners: list[int] = []
    mirrored: list[bool] = []
    counted = _BankDigest()
    for item, blob in stored_keys(store, owner_ids):
        counted.add(item, blob)
        for view, keys in enumerate(unpack_views(blob)):
            slots[keys] += 1  # keys are distinct within a view
            owners.append(item)
            mirrored.append(view == 1)
    _same_bank(counted, fingerprint)
    keys = np.flatnonzero(slots).astype(np.uint32)
    starts = np.zeros(len(keys) + 1, np.int64 if wide else np.uint32)
    np.cumsum(slots[keys], out=starts[1:])
    if wide:
        slots = slots.astype(np.int64)
    slots[keys] = starts[:-1]
    rows = np.lib.format.open_memmap(folder / "rows.npy", mode="w+", dtype=np.uint32, shape=(postings,))
    filled = _BankDigest()
    for item, blob in stored_keys(store, owner_ids):
        filled.add(item, blob)
        views_keys = unpack_views(blob)
        if filled.views > len(owners) or owners[filled.views - len(views_keys)] != item:
            raise _changed()
        for row, view_keys in enumerate(views_keys, start=filled.views - len(views_keys)):
            at = slots[view_keys]
            if int(at.max(initial=0)) >= postings:
                raise _changed()
            rows[at] = row
            slots[view_keys] = at + 1
    rows.flush()
    del rows, slots
    _same_bank(filled, fingerprint)
    np.save(folder / "keys.npy", keys)
    np.save(folder / "starts.npy", starts)
    np.save(folder / "owners.npy", np.array(owners, dtype=np.uint32))
    np.save(folder / "mirrored.npy", np.array(mirrored, dtype=np.bool_))


def _changed() -> InvalidHash:
    return InvalidHash("the protected photos changed while their index was being built; run the scan again")


class _BankDigest:
    """The running digest of a bank's stored keys, with how many postings and views they hold."""

    def __init__(self) -> None:
        self._digest = hashlib.blake2b(_SAVED_FORMAT + bytes([KEY_TABLES_USED]), digest_size=20)
        self.postings = 0
        self.views = 0

    def add(self, item: int, blob: bytes) -> None:
        self._digest.update(struct.pack("<QQ", item, len(blob)))
        self._digest.update(blob)
        postings, views = _posting_count(blob)
        self.postings += postings
        self.views += views

    def hexdigest(self) -> str:
        return self._digest.hexdigest()


def _same_bank(read: _BankDigest, fingerprint: tuple[str, int]) -> None:
    if (read.hexdigest(), read.postings) != fingerprint:
        raise _changed()


def _posting_count(blob: bytes) -> tuple[int, int]:
    """How many keys and views a :func:`pack_views` blob holds, from its headers alone."""
    total, views, at = 0, 0, 0
    while at < len(blob) or not views:
        if len(blob) < at + _PACK_HEADER.size or blob[at : at + 4] != _PACK_MAGIC:
            raise InvalidHash("these are not stored region pre-filter keys (wrong header)")
        tables = _PACK_HEADER.unpack_from(blob, at)[1]
        count = int(np.frombuffer(blob, "<u4", tables, at + _PACK_HEADER.size).sum())
        total += count
        views += 1
        at += _PACK_HEADER.size + 4 * tables + 3 * count
    return total, views


def chance_vote(votes: np.ndarray) -> float:
    """The vote of the :data:`CHANCE_RANK`-th best photo: what unrelated photos reach for this
    suspect (0 in a bank of fewer photos)."""
    if len(votes) < CHANCE_RANK:
        return 0.0
    return float(np.partition(votes, len(votes) - CHANCE_RANK)[len(votes) - CHANCE_RANK])


def _current(blob: bytes) -> bool:
    """Whether stored keys were cut with the tables in use now (else they are computed again)."""
    return len(blob) >= _PACK_HEADER.size and blob[:4] == _PACK_MAGIC and blob[4] <= KEY_TABLES_USED


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

    def __init__(self, index: RegionIndex | None = None) -> None:
        self._index = index or RegionIndex()

    @classmethod
    def from_store(cls, store: RegionStore, owner_ids: Iterable[int] | None = None,
                   signatures: Mapping[int, bytes] | None = None) -> RegionSignalIndex:
        """The index over these protected items, from the keys the database keeps."""
        return cls(RegionIndex.from_store(store, owner_ids, signatures))

    def add(self, owner: int, value: SignalValue, variant: int = 0) -> None:
        self._index.add(owner, RegionSignature.from_bytes(value.blob()))

    def __len__(self) -> int:
        return len(self._index)

    def search(self, suspect: SignalValue) -> list[Hit]:
        """The best hit of each photo (as taken or mirrored), surest first."""
        best: dict[int, Hit] = {}
        for owner, evidence in self._index.search(RegionSignature.from_bytes(suspect.blob())):
            hit = _hit(int(owner), evidence)  # type: ignore[call-overload]
            if hit is not None and (hit.owner not in best or _rank(hit) > _rank(best[hit.owner])):
                best[hit.owner] = hit
        return sorted(best.values(), key=_rank, reverse=True)


_CONFIDENCE_RANK: Final = {"low": 0, "medium": 1, "high": 2}


def _rank(hit: Hit) -> tuple[int, int]:
    return _CONFIDENCE_RANK[hit.confidence], int(hit.evidence["score"])


__all__: Sequence[str] = ("ARRAY_NAMES", "MIN_VOTES", "RegionIndex", "RegionSignalIndex", "RegionStore",
                          "bank_fingerprint", "keep_region_keys", "match_all", "pack_keys", "pack_views", "region_keys",
                          "stored_keys", "unpack_keys", "unpack_views", "views", "write_index")
