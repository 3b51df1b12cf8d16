"""Matching benchmark: HammingIndex against faiss IndexBinaryFlat and a numpy brute force.

A bank of random 256-bit hashes (PDQ-sized) and queries: half are copies of bank entries with
0-20 bits flipped (each must be found at threshold 31), half random (for 256-bit hashes none
should match: a hit there is a chance collision). Prints one table. From the project root:

    .venv/bin/python benchmarks/matching.py [--bank 1000000] [--queries 10000]
    .venv/bin/python benchmarks/matching.py --bits 64 --threshold 10     # pHash-sized

Needs faiss-cpu for the faiss row (skipped with a note when it is not installed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stopncii_tools.matching.hamming import HammingIndex, hex_to_bytes_array

SEED = 20260519


@dataclass(frozen=True)
class Workload:
    bits: int
    bank: np.ndarray  # (n, bits // 8) uint8
    queries: np.ndarray  # (q, bits // 8) uint8; the first half are planted copies
    planted_source: np.ndarray  # bank row of each planted query
    threshold: int
    max_flips: int
    one_bit_chance: float

    @property
    def n_planted(self) -> int:
        return len(self.planted_source)


@dataclass(frozen=True)
class Row:
    name: str
    build_seconds: float | None
    queries_per_second: float
    cpu_ms_per_query: float
    recall: float
    false_hits: int
    memory_bytes: int
    note: str = ""


def random_hashes(rng: np.random.Generator, n: int, bits: int, one_bit_chance: float) -> np.ndarray:
    """``n`` random hashes whose bits are 1 with the given chance (0.5: uniform, like PDQ)."""
    if one_bit_chance == 0.5:
        return rng.integers(0, 256, size=(n, bits // 8), dtype=np.uint8)
    step = 65536  # bounded memory for the float draws
    return np.concatenate(
        [
            np.packbits(rng.random((min(step, n - start), bits)) < one_bit_chance, axis=1)
            for start in range(0, n, step)
        ]
        or [np.empty((0, bits // 8), dtype=np.uint8)]
    )


def make_workload(
    bits: int, n_bank: int, n_queries: int, threshold: int, max_flips: int, one_bit_chance: float
) -> Workload:
    rng = np.random.default_rng(SEED)
    bank = random_hashes(rng, n_bank, bits, one_bit_chance)
    n_planted = n_queries // 2
    source = rng.choice(n_bank, size=n_planted, replace=False)
    planted_bits = np.unpackbits(bank[source], axis=1)
    for i, flips in enumerate(rng.integers(0, max_flips + 1, size=n_planted)):
        planted_bits[i, rng.choice(bits, size=flips, replace=False)] ^= 1
    planted = np.packbits(planted_bits, axis=1)
    strangers = random_hashes(rng, n_queries - n_planted, bits, one_bit_chance)
    queries = np.concatenate([planted, strangers])
    return Workload(bits, bank, queries, source, threshold, max_flips, one_bit_chance)


def score(
    work: Workload, rows_per_query: list[np.ndarray], n_done: int | None = None
) -> tuple[float, int]:
    """Recall of planted copies and count of hits for random queries, over the first
    ``n_done`` planted and ``n_done`` random queries (all when None)."""
    half = work.n_planted
    done = half if n_done is None else n_done
    found = sum(int(work.planted_source[i] in rows_per_query[i]) for i in range(done))
    false_hits = sum(len(rows_per_query[half + i]) for i in range(done))
    return found / done, false_hits


@dataclass(frozen=True)
class Timing:
    wall: float
    cpu: float  # all threads of this process: fair when other programs share the machine


def timed(action: Callable[[], object]) -> tuple[object, Timing]:
    wall, cpu = time.perf_counter(), time.process_time()
    result = action()
    return result, Timing(time.perf_counter() - wall, time.process_time() - cpu)


def speed(n_queries: int, t: Timing) -> tuple[float, float]:
    return n_queries / t.wall, 1000 * t.cpu / n_queries


def bench_ours(work: Workload) -> tuple[Row, list[list[tuple[int, int]]]]:
    index = HammingIndex(work.bits)

    def build() -> None:
        index.add(np.arange(len(work.bank)), work.bank)
        index.search(work.queries[:1], work.threshold)  # tables are built on first search

    _, build_time = timed(build)
    results, t = timed(lambda: index.search(work.queries, work.threshold))
    assert isinstance(results, list)
    rows = [np.array([i for i, _ in hits], dtype=np.int64) for hits in results]
    recall, false_hits = score(work, rows)
    note = f"{min(4, os.cpu_count() or 1)} threads; memory: hashes, ids and chunk tables"
    row = Row(
        "stopncii HammingIndex",
        build_time.wall,
        *speed(len(work.queries), t),
        recall,
        false_hits,
        index.memory_bytes(),
        note,
    )
    return row, results


def bench_faiss(work: Workload, trial: int) -> tuple[Row, list[np.ndarray] | None]:
    """faiss with whichever of range_search and knn + filter is faster on ``trial`` queries."""
    try:
        import faiss
    except ImportError:
        return Row("faiss IndexBinaryFlat", None, 0, 0, 0, 0, 0, "faiss-cpu not installed"), None
    index = faiss.IndexBinaryFlat(work.bits)
    _, build_time = timed(lambda: index.add(work.bank))

    def by_range(queries: np.ndarray) -> list[np.ndarray]:
        # range_search keeps distances strictly below the radius
        limits, _, labels = index.range_search(queries, work.threshold + 1)
        return [labels[limits[i] : limits[i + 1]] for i in range(len(queries))]

    def by_knn(queries: np.ndarray) -> list[np.ndarray]:
        # the nearest hash only: enough to score this workload, not every match in general
        distances, labels = index.search(queries, 1)
        return [labels[i][distances[i] <= work.threshold] for i in range(len(queries))]

    sample = np.concatenate(
        [work.queries[: trial // 2], work.queries[work.n_planted :][: trial // 2]]
    )
    methods = {"range_search": by_range, "knn k=1 + filter": by_knn}
    trials = {}
    for name, method in methods.items():
        trials[name] = timed(partial(method, sample))[1]
    best = min(trials, key=lambda name: trials[name].cpu)
    other = next(name for name in trials if name != best)
    found, t = timed(lambda: methods[best](work.queries))
    assert isinstance(found, list)
    recall, false_hits = score(work, found)
    note = (
        f"{faiss.omp_get_max_threads()} threads; {best} (faster than {other}: "
        f"{1000 * trials[best].cpu / len(sample):.2f} vs {1000 * trials[other].cpu / len(sample):.2f} "
        f"CPU ms/query on {len(sample)} queries)"
    )
    row = Row(
        f"faiss IndexBinaryFlat {best}",
        build_time.wall,
        *speed(len(work.queries), t),
        recall,
        false_hits,
        index.ntotal * index.code_size,
        note,
    )
    return row, (found if best == "range_search" else None)


def bench_numpy(work: Workload, n_each: int) -> Row:
    """Brute force over the whole bank, on ``n_each`` planted and ``n_each`` random queries."""
    n_each = min(n_each, work.n_planted)
    half = work.n_planted
    sample = np.concatenate([work.queries[:n_each], work.queries[half : half + n_each]])
    bank, queries = as_words(work.bank), as_words(sample)
    block = 16384

    def run() -> list[np.ndarray]:
        out = []
        for q in queries:
            hits = []
            for start in range(0, len(bank), block):
                counts = np.bitwise_count(bank[start : start + block] ^ q)
                distance = counts[:, 0].astype(np.uint16)
                for j in range(1, counts.shape[1]):  # much faster than counts.sum(axis=1)
                    distance += counts[:, j]
                hits.append(np.flatnonzero(distance <= work.threshold) + start)
            out.append(np.concatenate(hits))
        return out

    found, t = timed(run)
    assert isinstance(found, list)
    rows = found[:n_each] + [np.empty(0)] * (half - n_each) + found[n_each:]
    recall, false_hits = score(work, rows, n_done=n_each)
    return Row(
        "numpy brute force",
        None,
        *speed(len(sample), t),
        recall,
        false_hits,
        work.bank.nbytes,
        f"1 thread; measured on {len(sample)} queries, extrapolated",
    )


def as_words(hashes: np.ndarray) -> np.ndarray:
    """uint8 rows zero-padded to whole uint64 words."""
    padded = np.zeros((len(hashes), -(-hashes.shape[1] // 8) * 8), dtype=np.uint8)
    padded[:, : hashes.shape[1]] = hashes
    return padded.view(np.uint64)


def bench_hex_parsing(work: Workload) -> float:
    """Seconds to turn the bank as hex strings (a hash list file's content) into bytes."""
    texts = [row.tobytes().hex() for row in work.bank]
    _, t = timed(lambda: hex_to_bytes_array(texts, work.bits))
    return t.wall


def print_table(rows: list[Row], work: Workload) -> None:
    print()
    print(
        f"bank {len(work.bank):,} x {work.bits}-bit, {len(work.queries):,} queries "
        f"({work.n_planted:,} planted copies with 0-{work.max_flips} bits flipped, the rest random), "
        f"threshold {work.threshold}, bits set with chance {work.one_bit_chance}, seed {SEED}, "
        f"{os.cpu_count()} CPUs"
    )
    header = (
        f"{'method':38} {'build s':>7} {'queries/s':>9} {'CPU ms/q':>8} {'recall':>7} "
        f"{'random hits':>11} {'memory MB':>9}  note"
    )
    print(header)
    print("-" * len(header))
    for r in rows:
        build = "-" if r.build_seconds is None else f"{r.build_seconds:.2f}"
        print(
            f"{r.name:38} {build:>7} {r.queries_per_second:>9,.0f} {r.cpu_ms_per_query:>8.3f} "
            f"{r.recall:>7.1%} {r.false_hits:>11} {r.memory_bytes / 1e6:>9.1f}  {r.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bank", type=int, default=1_000_000, help="hashes in the bank")
    parser.add_argument("--queries", type=int, default=10_000, help="queries, half planted")
    parser.add_argument("--bits", type=int, default=256, help="hash length, a multiple of 8")
    parser.add_argument("--threshold", type=int, default=31)
    parser.add_argument(
        "--max-flips",
        type=int,
        default=None,
        help="most bits flipped in a planted copy (default: 20, at most the threshold)",
    )
    parser.add_argument(
        "--bit-bias",
        type=float,
        default=0.5,
        help="chance of a 1 bit; below 0.5 makes crowded chunk values (skewed banks)",
    )
    parser.add_argument(
        "--brute-queries",
        type=int,
        default=50,
        help="planted and random queries each for the numpy brute force",
    )
    parser.add_argument(
        "--faiss-trial",
        type=int,
        default=1000,
        help="queries used to pick faiss's faster search method",
    )
    args = parser.parse_args()

    max_flips = min(20, args.threshold) if args.max_flips is None else args.max_flips
    work = make_workload(
        args.bits, args.bank, args.queries, args.threshold, max_flips, args.bit_bias
    )
    ours, our_results = bench_ours(work)
    faiss_row, faiss_range = bench_faiss(work, args.faiss_trial)
    rows = [ours, faiss_row, bench_numpy(work, args.brute_queries)]
    print_table(rows, work)
    if faiss_range is not None:
        same = all(
            sorted(i for i, _ in mine) == sorted(theirs.tolist())
            for mine, theirs in zip(our_results, faiss_range, strict=True)
        )
        print(f"\nHammingIndex results identical to faiss range_search for every query: {same}")
    print(
        f"hex_to_bytes_array on the bank as {args.bank:,} hex strings: {bench_hex_parsing(work):.2f} s"
    )


if __name__ == "__main__":
    main()
