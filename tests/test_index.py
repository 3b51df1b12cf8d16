"""The matcher's index: every hash within the threshold is found, nothing else, at any size."""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stopncii_tools._errors import InvalidHash
from stopncii_tools.matching.hamming import (
    HammingIndex,
    _popcount_lut,
    _probe_plan,
    hex_to_bytes_array,
)


def brute_force(
    ids: list[int], hashes: np.ndarray, queries: np.ndarray, threshold: int
) -> list[list[tuple[int, int]]]:
    """The answer by definition: compare every pair as Python integers."""
    bank = [int.from_bytes(h.tobytes(), "big") for h in hashes]
    out = []
    for q in queries:
        value = int.from_bytes(q.tobytes(), "big")
        best: dict[int, int] = {}
        for i, h in zip(ids, bank, strict=True):
            d = (value ^ h).bit_count()
            if d <= threshold and d < best.get(i, d + 1):
                best[i] = d
        out.append(sorted(best.items(), key=lambda pair: (pair[1], pair[0])))
    return out


def flip_bits(rng: np.random.Generator, row: np.ndarray, count: int) -> np.ndarray:
    bits = np.unpackbits(row)
    where = rng.choice(len(bits), size=count, replace=False)
    bits[where] ^= 1
    return np.packbits(bits)


def bank_and_queries(
    seed: int, bits: int, n: int, n_queries: int, max_flips: int
) -> tuple[np.ndarray, np.ndarray]:
    """Random bank; half the queries are copies of bank entries with up to ``max_flips`` bits
    flipped, the other half random."""
    rng = np.random.default_rng(seed)
    bank = rng.integers(0, 256, size=(n, bits // 8), dtype=np.uint8)
    queries = rng.integers(0, 256, size=(n_queries, bits // 8), dtype=np.uint8)
    for i in range(0, n_queries, 2):
        if n:
            row = bank[rng.integers(n)]
            queries[i] = flip_bits(rng, row, int(rng.integers(0, min(max_flips, bits) + 1)))
    return bank, queries


# Sizes where the index probes its chunk tables, and where it scans every hash instead.
PROBING = [(8, 300, 0), (24, 300, 2), (64, 800, 8), (128, 400, 7), (256, 1200, 31)]
SCANNING = [(8, 300, 3), (64, 100, 10), (256, 300, 31), (256, 1200, 80), (64, 50, 64)]


@pytest.mark.parametrize(("bits", "n", "threshold"), PROBING)
def test_these_sizes_probe_the_chunk_tables(bits: int, n: int, threshold: int) -> None:
    assert _probe_plan(bits // 8, n, threshold) is not None


@pytest.mark.parametrize(("bits", "n", "threshold"), SCANNING)
def test_these_sizes_scan_every_hash(bits: int, n: int, threshold: int) -> None:
    assert _probe_plan(bits // 8, n, threshold) is None


@pytest.mark.parametrize(("bits", "n", "threshold"), PROBING + SCANNING)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(seed=st.integers(0, 2**32 - 1))
def test_search_finds_exactly_what_brute_force_finds(
    bits: int, n: int, threshold: int, seed: int
) -> None:
    bank, queries = bank_and_queries(seed, bits, n, 12, max_flips=threshold + 3)
    ids = np.random.default_rng(seed).integers(0, n // 2 + 1, size=n).tolist()  # some shared
    index = HammingIndex(bits)
    index.add(ids, bank)
    assert index.search(queries, threshold) == brute_force(ids, bank, queries, threshold)


@settings(max_examples=60, deadline=None)
@given(
    bits=st.sampled_from([8, 16, 24, 40, 64, 128, 256]),
    n=st.integers(0, 150),
    threshold_fraction=st.floats(0, 1),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_bit_length_size_and_threshold_matches_brute_force(
    bits: int, n: int, threshold_fraction: float, seed: int
) -> None:
    threshold = int(threshold_fraction * bits)
    bank, queries = bank_and_queries(seed, bits, n, 6, max_flips=threshold + 2)
    index = HammingIndex(bits)
    index.add(list(range(n)), bank)
    assert index.search(queries, threshold) == brute_force(list(range(n)), bank, queries, threshold)


def test_crowded_chunk_values_in_a_clustered_bank_lose_nothing() -> None:
    # real banks are not uniform: here 3,000 hashes share their first 48 bits
    rng = np.random.default_rng(7)
    bank = rng.integers(0, 256, size=(4000, 32), dtype=np.uint8)
    bank[:3000, :6] = bank[0, :6]
    queries = np.stack([flip_bits(rng, bank[i], 25) for i in (0, 10, 3500)] + [bank[5].copy()])
    queries[3, 6:] = rng.integers(0, 256, size=26, dtype=np.uint8)  # shares the crowded part only
    ids = list(range(len(bank)))
    index = HammingIndex(256)
    index.add(ids, bank)
    assert _probe_plan(32, len(bank), 31) is not None
    assert index.search(queries, 31) == brute_force(ids, bank, queries, 31)


def test_pdq_near_copies_are_found_and_random_hashes_are_not() -> None:
    bank, _ = bank_and_queries(1, 256, 20_000, 0, 0)
    rng = np.random.default_rng(2)
    rows = rng.choice(len(bank), size=64, replace=False)
    copies = np.stack([flip_bits(rng, bank[r], k % 32) for k, r in enumerate(rows)])
    strangers = rng.integers(0, 256, size=(64, 32), dtype=np.uint8)
    too_far = np.stack([flip_bits(rng, bank[r], 32) for r in rows[:8]])
    index = HammingIndex(256)
    index.add(range(len(bank)), bank)

    found = index.search(copies, 31)
    assert [hits[0] for hits in found] == [(int(r), k % 32) for k, r in enumerate(rows)]
    assert index.search(strangers, 31) == [[] for _ in strangers]
    assert index.search(too_far, 31) == [[] for _ in too_far]


def test_hex_strings_and_byte_arrays_give_the_same_answer() -> None:
    bank, queries = bank_and_queries(3, 64, 500, 20, 6)
    from_hex = HammingIndex(64)
    from_hex.add(range(500), [row.tobytes().hex() for row in bank])
    from_bytes = HammingIndex(64)
    from_bytes.add(range(500), bank)
    hex_queries = [q.tobytes().hex().upper() for q in queries]

    assert from_hex.search(hex_queries, 6) == from_bytes.search(queries, 6)
    assert from_hex.search_one(f"  {hex_queries[0]}\n", 6) == from_bytes.search(queries[:1], 6)[0]


def test_an_id_shared_by_several_hashes_is_reported_once_at_its_nearest() -> None:
    index = HammingIndex(64)
    photo, other = 7, 9
    index.add([photo, photo, other], ["00000000000000ff", "0000000000000001", "000000000000000f"])
    assert index.search_one("0000000000000000", 10) == [(photo, 1), (other, 4)]


def test_ties_are_ordered_by_id() -> None:
    index = HammingIndex(8)
    index.add([30, 10, 20], ["01", "02", "04"])
    assert index.search_one("00", 1) == [(10, 1), (20, 1), (30, 1)]


def test_adding_in_pieces_finds_the_later_pieces_too() -> None:
    bank, queries = bank_and_queries(4, 256, 3000, 10, 31)
    index = HammingIndex(256)
    expected_after = []
    for start in range(0, 3000, 1000):
        index.add(range(start, start + 1000), bank[start : start + 1000])
        ids = list(range(start + 1000))
        expected_after.append(brute_force(ids, bank[: start + 1000], queries, 31))
        assert index.search(queries, 31) == expected_after[-1]
    assert len(index) == 3000


def test_many_queries_in_parallel_threads_agree() -> None:
    bank, queries = bank_and_queries(5, 256, 5000, 600, 31)
    index = HammingIndex(256)
    index.add(range(5000), bank)
    results: list[list[list[tuple[int, int]]]] = []
    threads = [
        threading.Thread(target=lambda: results.append(index.search(queries, 31))) for _ in range(3)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    expected = brute_force(list(range(5000)), bank, queries[:40], 31)
    assert all(r[:40] == expected for r in results) and len(results) == 3
    assert all(r == results[0] for r in results)


def test_memory_report_counts_hashes_ids_and_tables() -> None:
    bank, _ = bank_and_queries(8, 256, 5000, 0, 0)
    index = HammingIndex(256)
    index.add(range(5000), bank)
    stored = 5000 * (32 + 8)
    assert index.memory_bytes() == stored  # tables are built by the first search that needs them
    index.search(bank[:1], 31)
    tables = 16 * 5000 * 4 + 16 * 65537 * 4  # int32 row lists and offsets per 16-bit chunk
    assert index.memory_bytes() == stored + tables


def test_empty_index_and_empty_query_list() -> None:
    index = HammingIndex()
    assert len(index) == 0
    assert index.search(["ab" * 32, "cd" * 32], 31) == [[], []]
    index.add([1], ["ab" * 32])
    assert index.search([], 31) == []
    assert index.search_one("ab" * 32, 0) == [(1, 0)]


def test_a_bad_hash_is_named_with_its_position_and_what_was_expected() -> None:
    index = HammingIndex(256)
    with pytest.raises(InvalidHash) as caught:
        index.add([1, 2, 3], ["ab" * 32, "not a hash", "cd" * 32])
    assert str(caught.value) == (
        "hash 2 of 3: a 256-bit hash is 64 hexadecimal characters (0-9, a-f); "
        "got 'not a hash' (10 characters)"
    )
    with pytest.raises(InvalidHash, match="hash 1 of 1: .* got 'abababababababababab..."):
        index.search(["ab" * 31 + "zz"], 31)
    with pytest.raises(InvalidHash, match="hash 1 of 1"):
        index.search(["ab " * 21 + "a"], 31)  # right length, spaces inside


def test_a_wrongly_shaped_array_is_refused() -> None:
    with pytest.raises(InvalidHash, match=r"uint8 with shape \(n, 8\)"):
        HammingIndex(64).add([1], np.zeros((1, 32), dtype=np.uint8))


def test_misuse_of_the_api_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="multiple of 8"):
        HammingIndex(42)
    with pytest.raises(ValueError, match="2 ids for 1 hashes"):
        HammingIndex(8).add([1, 2], ["00"])
    with pytest.raises(ValueError, match="threshold"):
        HammingIndex(8).search(["00"], -1)
    with pytest.raises(TypeError):
        HammingIndex(8).search(["00"], 2.5)  # type: ignore[arg-type]


def test_hex_to_bytes_array() -> None:
    array = hex_to_bytes_array(["00ff", "A001", " 0102\n"], 16)
    assert array.dtype == np.uint8
    assert array.tolist() == [[0, 255], [160, 1], [1, 2]]
    assert hex_to_bytes_array([], 256).shape == (0, 32)


def test_lookup_table_popcount_for_numpy_1_agrees() -> None:
    values = np.random.default_rng(6).integers(0, 2**63, size=(100, 4), dtype=np.uint64)
    expected = [[int(v).bit_count() for v in row] for row in values]
    assert _popcount_lut(values).tolist() == expected
