"""Exact Hamming search over many hashes: which stored hashes lie within ``threshold`` bits.

Big banks use multi-index hashing (pigeonhole): the hash is cut into 16-bit chunks, each with
an inverted table from chunk value to rows. If two hashes differ in at most ``t`` bits over
``m`` chunks, at least one chunk differs in at most ``t // m`` bits (the generalised rule
below is a little sharper), so probing every chunk's value and its near neighbours finds every
match; each candidate is then checked with a full popcount, so results are exact. Small banks,
wide thresholds and queries that hit crowded chunk values (clustered, non-uniform banks) use a
vectorised brute-force scan instead, which is also exact. Pure numpy; no optional dependency.
"""

from __future__ import annotations

import math
import operator
import os
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .._errors import InvalidHash

CHUNK_BITS = 16
_TABLE_SIZE = 1 << CHUNK_BITS
# relative CPU costs measured with numpy 2 on x86-64 (~15 ns per unit): scanning one stored
# hash in a brute-force pass, checking one candidate (random access), one probed chunk value
_COST_SCAN_ROW = 1.0
_COST_CANDIDATE = 3.0
_COST_PROBE = 3.5
_QUERIES_PER_TASK = 256
_CANDIDATES_PER_STEP = 1 << 16  # keeps temporaries in cache: larger steps are slower, not faster
_SCAN_WORDS_PER_STEP = 1 << 18
_MAX_WORKERS = min(4, os.cpu_count() or 1)
_HEX = re.compile(r"[0-9a-fA-F]*")


def hex_to_bytes_array(hashes: Sequence[str], bits: int) -> np.ndarray:
    """Hex strings to a ``(n, bits // 8)`` uint8 array; :class:`InvalidHash` names a bad one.

    Upper or lower case is accepted, and spaces or a newline around a value are ignored.
    """
    nbytes = _check_bits(bits)
    hashes = list(hashes)
    width = 2 * nbytes
    if all(isinstance(h, str) and len(h) == width for h in hashes):
        try:
            # one join + fromhex is ~50x faster than converting a million strings one by one
            data = bytes.fromhex("".join(hashes))
        except ValueError:
            data = b""
        if len(data) == nbytes * len(hashes):
            return np.frombuffer(data, dtype=np.uint8).reshape(len(hashes), nbytes).copy()
    out = np.empty((len(hashes), nbytes), dtype=np.uint8)
    for i, text in enumerate(hashes):
        out[i] = np.frombuffer(_one_hex(text, bits, i, len(hashes)), dtype=np.uint8)
    return out


class HammingIndex:
    """Hashes of one bit length with an integer id each; finds those near a query, exactly.

    Several hashes may share an id (say the 8 rotations and mirror images of one photo): a
    search then reports that id once, at its smallest distance. Safe to share between
    threads: a search sees the hashes added before it began.
    """

    def __init__(self, bits: int = 256) -> None:
        self.bits = bits
        self._nbytes = _check_bits(bits)
        self._words_per_hash = -(-self._nbytes // 8)
        self._pending_words: list[np.ndarray] = []
        self._pending_ids: list[np.ndarray] = []
        self._words = np.empty((0, self._words_per_hash), dtype=np.uint64)
        self._ids = np.empty(0, dtype=np.int64)
        self._tables: _ChunkTables | None = None
        self._lock = threading.Lock()

    def add(self, ids: Sequence[int] | np.ndarray, hashes: Sequence[str] | np.ndarray) -> None:
        """Store ``hashes`` (hex strings, or uint8 rows of ``bits // 8`` bytes) under ``ids``."""
        id_array = np.asarray(ids, dtype=np.int64).reshape(-1)
        words = self._to_words(hashes)
        if len(id_array) != len(words):
            raise ValueError(f"add() got {len(id_array)} ids for {len(words)} hashes")
        with self._lock:
            self._pending_words.append(words)
            self._pending_ids.append(id_array)

    def __len__(self) -> int:
        return len(self._ids) + sum(len(ids) for ids in self._pending_ids)

    def memory_bytes(self) -> int:
        """Bytes held by the stored hashes, ids and lookup tables built so far."""
        with self._lock:
            self._merge_pending()
            tables = self._tables.nbytes if self._tables is not None else 0
            return self._words.nbytes + self._ids.nbytes + tables

    def search(
        self, queries: Sequence[str] | np.ndarray, threshold: int
    ) -> list[list[tuple[int, int]]]:
        """For each query, ``(id, distance)`` of stored hashes at most ``threshold`` bits away,
        nearest first (ties by id)."""
        threshold = operator.index(threshold)
        if threshold < 0:
            raise ValueError(f"threshold must be 0 or more, got {threshold}")
        query_words = self._to_words(queries)
        n_queries = len(query_words)
        with self._lock:
            self._merge_pending()
            words, ids = self._words, self._ids
            probes = _probe_plan(self._nbytes, len(words), threshold)
            tables = self._ensure_tables() if probes is not None else None
        if n_queries == 0 or len(words) == 0:
            return [[] for _ in range(n_queries)]
        starts = range(0, n_queries, _QUERIES_PER_TASK)

        def run(start: int) -> _Hits:
            block = query_words[start : start + _QUERIES_PER_TASK]
            if tables is None or probes is None:
                hits = _scan(words, block, threshold)
            else:
                hits = _probe(tables, probes, words, block, self._nbytes, threshold)
            return _Hits(hits.query + start, hits.row, hits.distance)

        if len(starts) > 1 and _MAX_WORKERS > 1:
            # numpy releases the GIL in the heavy steps, so threads use the other cores
            with ThreadPoolExecutor(_MAX_WORKERS) as pool:
                parts = list(pool.map(run, starts))
        else:
            parts = [run(start) for start in starts]
        return _group(_Hits.concat(parts), ids, n_queries)

    def search_one(self, query: str, threshold: int) -> list[tuple[int, int]]:
        """:meth:`search` for a single hex query."""
        return self.search([query], threshold)[0]

    def _to_words(self, hashes: Sequence[str] | np.ndarray) -> np.ndarray:
        if isinstance(hashes, np.ndarray):
            if hashes.dtype != np.uint8 or hashes.ndim != 2 or hashes.shape[1] != self._nbytes:
                raise InvalidHash(
                    f"hash arrays for {self.bits}-bit hashes must be uint8 with shape "
                    f"(n, {self._nbytes}); got {hashes.dtype} with shape {hashes.shape}"
                )
            raw = hashes
        else:
            raw = hex_to_bytes_array(hashes, self.bits)
        # zero padding to whole 64-bit words: equal in every hash, so distances are unchanged
        padded = np.zeros((len(raw), 8 * self._words_per_hash), dtype=np.uint8)
        padded[:, : self._nbytes] = raw
        return padded.view(np.uint64)

    def _merge_pending(self) -> None:
        if not self._pending_ids:
            return
        self._words = np.concatenate([self._words, *self._pending_words])
        self._ids = np.concatenate([self._ids, *self._pending_ids])
        self._pending_words.clear()
        self._pending_ids.clear()
        self._tables = None

    def _ensure_tables(self) -> _ChunkTables:
        # built on the first search that needs them, so many small adds cost one build
        if self._tables is None:
            self._tables = _ChunkTables.build(self._words, self._nbytes)
        return self._tables


@dataclass(frozen=True)
class _Hits:
    """Matches found so far: query number, bank row and distance, one entry per pair."""

    query: np.ndarray
    row: np.ndarray
    distance: np.ndarray

    @staticmethod
    def concat(parts: list[_Hits]) -> _Hits:
        if not parts:
            return _Hits(*(np.empty(0, dtype=np.intp) for _ in range(3)))
        return _Hits(
            np.concatenate([p.query for p in parts]),
            np.concatenate([p.row for p in parts]),
            np.concatenate([p.distance for p in parts]),
        )


@dataclass(frozen=True)
class _ChunkTables:
    """Per 16-bit chunk, bank rows grouped by chunk value: the inverted lists to probe.

    ``offsets[c, v]`` to ``offsets[c, v + 1]`` is the slice of ``postings`` holding the rows
    whose chunk ``c`` equals ``v``; chunk ``c``'s rows occupy ``postings[c * n:(c + 1) * n]``.
    """

    offsets: np.ndarray
    postings: np.ndarray

    @property
    def nbytes(self) -> int:
        return self.offsets.nbytes + self.postings.nbytes

    @staticmethod
    def build(words: np.ndarray, nbytes: int) -> _ChunkTables:
        keys = _chunk_keys(words, nbytes)
        n, n_chunks = keys.shape
        position = np.int32 if n * n_chunks < 2**31 else np.int64  # half the memory when it fits
        postings = np.empty(n * n_chunks, dtype=position)
        offsets = np.empty((n_chunks, _TABLE_SIZE + 1), dtype=position)
        for c in range(n_chunks):
            key = np.ascontiguousarray(keys[:, c])
            postings[c * n : (c + 1) * n] = np.argsort(key, kind="stable")  # radix sort
            offsets[c, 0] = 0
            np.cumsum(np.bincount(key, minlength=_TABLE_SIZE), out=offsets[c, 1:])
            offsets[c] += c * n
        return _ChunkTables(offsets, postings)


@dataclass(frozen=True)
class _Probes:
    """The chunk values to look up for one threshold: chunk number and bits flipped in it."""

    chunk: np.ndarray
    mask: np.ndarray


@lru_cache(maxsize=32)
def _probe_plan(nbytes: int, n_rows: int, threshold: int) -> _Probes | None:
    """Probes that cannot miss a match within ``threshold``, or None when a scan is cheaper.

    Generalised pigeonhole: with ``m`` chunks and ``threshold = r * m + a`` (``a < m``), a
    match has one of the first ``a + 1`` chunks within ``r`` bits or another chunk within
    ``r - 1`` bits (else it would differ in ``(a + 1)(r + 1) + (m - a - 1) r > threshold``).
    """
    widths = _chunk_widths(nbytes)
    r, a = divmod(threshold, len(widths))
    radii = [min(r if c <= a else r - 1, w) for c, w in enumerate(widths)]
    counts = [sum(math.comb(w, k) for k in range(radius + 1)) for w, radius in zip(widths, radii, strict=True)]
    expected_candidates = sum(count * n_rows / 2**w for count, w in zip(counts, widths, strict=True))
    probe_cost = sum(counts) * _COST_PROBE + expected_candidates * _COST_CANDIDATE
    if probe_cost >= n_rows * _COST_SCAN_ROW:
        return None
    masks = [_masks(w, radius) for w, radius in zip(widths, radii, strict=True) if radius >= 0]
    chunks = [c for c, radius in enumerate(radii) if radius >= 0]
    return _Probes(
        np.repeat(np.array(chunks, dtype=np.intp), [len(m) for m in masks]),
        np.concatenate(masks),
    )


def _probe(
    tables: _ChunkTables,
    probes: _Probes,
    words: np.ndarray,
    queries: np.ndarray,
    nbytes: int,
    threshold: int,
) -> _Hits:
    """Matches of ``queries`` found through the chunk tables (crowded queries are scanned)."""
    keys = _chunk_keys(queries, nbytes)[:, probes.chunk].astype(np.intp)
    lookup = (keys ^ probes.mask) + probes.chunk * (_TABLE_SIZE + 1)
    flat_offsets = tables.offsets.reshape(-1)
    starts = flat_offsets[lookup]
    lengths = flat_offsets[lookup + 1] - starts
    per_query = lengths.sum(axis=1)
    # a query landing in crowded buckets (clustered bank) costs less as a plain scan
    crowded = per_query * _COST_CANDIDATE > len(words) * _COST_SCAN_ROW
    parts = []
    if crowded.any():
        scanned = _scan(words, queries[crowded], threshold)
        parts.append(_Hits(np.flatnonzero(crowded)[scanned.query], scanned.row, scanned.distance))
        per_query = np.where(crowded, 0, per_query)
        lengths[crowded] = 0
    ends = np.cumsum(per_query)
    step_of_query = (ends - per_query) // _CANDIDATES_PER_STEP
    bounds = np.flatnonzero(np.diff(step_of_query)) + 1
    for first, stop in zip(np.r_[0, bounds], np.r_[bounds, len(queries)], strict=True):
        step_lengths = lengths[first:stop].reshape(-1)
        total = int(step_lengths.sum())
        if total == 0:
            continue
        query = np.repeat(np.arange(first, stop), per_query[first:stop])
        # expand each [start, start + length) slice of postings into positions, vectorised
        before = np.cumsum(step_lengths) - step_lengths
        positions = np.repeat(starts[first:stop].reshape(-1) - before, step_lengths)
        positions += np.arange(total)
        rows = np.take(tables.postings, positions).astype(np.intp)
        diff = np.take(words, rows, axis=0)
        diff ^= np.take(queries, query, axis=0)
        distance = _row_popcount(diff)
        keep = distance <= threshold
        # a row reached through several chunks appears more than once; _group keeps one
        parts.append(_Hits(query[keep], rows[keep], distance[keep]))
    return _Hits.concat(parts)


def _scan(words: np.ndarray, queries: np.ndarray, threshold: int) -> _Hits:
    """Matches of ``queries`` by comparing them with every stored hash, block by block."""
    n_rows, n_words = words.shape
    query_step = max(1, _SCAN_WORDS_PER_STEP // (n_words * min(n_rows, 16384)))
    row_step = max(1, _SCAN_WORDS_PER_STEP // (n_words * query_step))
    parts = []
    for q0 in range(0, len(queries), query_step):
        block = queries[q0 : q0 + query_step, None, :]
        for r0 in range(0, n_rows, row_step):
            distance = _row_popcount(words[None, r0 : r0 + row_step, :] ^ block)
            query, row = np.nonzero(distance <= threshold)
            parts.append(_Hits(query + q0, row + r0, distance[query, row]))
    return _Hits.concat(parts)


def _group(hits: _Hits, ids: np.ndarray, n_queries: int) -> list[list[tuple[int, int]]]:
    """Per query, one ``(id, distance)`` per id at its smallest distance, nearest first."""
    hit_ids = ids[hits.row]
    by_id = np.lexsort((hits.distance, hit_ids, hits.query))
    query, hit_ids, distance = hits.query[by_id], hit_ids[by_id], hits.distance[by_id]
    first = np.ones(len(query), dtype=bool)
    first[1:] = (query[1:] != query[:-1]) | (hit_ids[1:] != hit_ids[:-1])
    query, hit_ids, distance = query[first], hit_ids[first], distance[first]
    order = np.lexsort((hit_ids, distance, query))
    pairs = list(zip(hit_ids[order].tolist(), distance[order].tolist(), strict=True))
    out: list[list[tuple[int, int]]] = []
    start = 0
    for count in np.bincount(query, minlength=n_queries).tolist():
        out.append(pairs[start : start + count])
        start += count
    return out


def _chunk_widths(nbytes: int) -> list[int]:
    return [CHUNK_BITS] * (nbytes // 2) + [8] * (nbytes % 2)


def _chunk_keys(words: np.ndarray, nbytes: int) -> np.ndarray:
    """``(n, chunks)`` uint16 chunk values: big-endian byte pairs, an odd last byte alone."""
    n_chunks = len(_chunk_widths(nbytes))
    keys = words.view(np.uint8).view(">u2")[:, :n_chunks].astype(np.uint16)
    if nbytes % 2:
        keys[:, -1] >>= 8  # its partner byte is zero padding
    return keys


@lru_cache(maxsize=64)
def _masks(width: int, radius: int) -> np.ndarray:
    """Every value of ``width`` bits with at most ``radius`` bits set."""
    values = np.arange(1 << width, dtype=np.intp)
    return values[_popcount(values.astype(np.uint64)) <= radius]


_LUT16 = np.array([v.bit_count() for v in range(1 << 16)], dtype=np.uint8)


def _popcount(x: np.ndarray) -> np.ndarray:
    """Bits set in each uint64 element (uint8 counts)."""
    if hasattr(np, "bitwise_count"):  # numpy >= 2
        counts: np.ndarray = np.bitwise_count(x)
        return counts
    return _popcount_lut(x)


def _popcount_lut(x: np.ndarray) -> np.ndarray:
    """:func:`_popcount` for numpy 1.x, from a 16-bit lookup table."""
    halves = _LUT16[x.view(np.uint16)].reshape(*x.shape, 4)
    counts: np.ndarray = halves.sum(axis=-1, dtype=np.uint8)
    return counts


def _row_popcount(x: np.ndarray) -> np.ndarray:
    """Hamming weight along the last axis (the words of one hash), as uint16."""
    counts = _popcount(x)
    total = counts[..., 0].astype(np.uint16)  # enough: bits < 65,536 is checked
    for j in range(1, counts.shape[-1]):
        total += counts[..., j]
    return total


def _check_bits(bits: int) -> int:
    if bits <= 0 or bits % 8 or bits >= 1 << 16:
        raise ValueError(f"bits must be a positive multiple of 8 below 65,536, got {bits}")
    return bits // 8


def _one_hex(text: object, bits: int, i: int, n: int) -> bytes:
    value = text.strip() if isinstance(text, str) else ""
    if len(value) != bits // 4 or not _HEX.fullmatch(value):
        shown = (
            repr(text) if not isinstance(text, str) or len(text) <= 24 else repr(text[:21] + "...")
        )
        length = f" ({len(text)} characters)" if isinstance(text, str) else ""
        raise InvalidHash(
            f"a {bits}-bit hash is {bits // 4} hexadecimal characters (0-9, a-f); "
            f"got {shown}{length}",
            item=f"hash {i + 1} of {n}",
        )
    return bytes.fromhex(value)
