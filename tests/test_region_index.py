"""The region bank index: its pre-filter keeps every true match of the region tests, its keys
are kept packed in the case database (through protect, delete, reopen and an old database's
migration), and the fast k-NN finds the neighbours OpenCV finds."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import ImageOps

from stopncii_tools._errors import InvalidHash
from stopncii_tools.cli import cli
from stopncii_tools.matching.case import CaseMatcher
from stopncii_tools.signals._binary_knn import NO_NEIGHBOUR, nearest
from stopncii_tools.signals._examples import encode
from stopncii_tools.signals.hashing import hash_bytes
from stopncii_tools.signals.region_index import (
    KEY_TABLES_USED,
    MAX_CANDIDATES,
    RegionIndex,
    pack_keys,
    region_keys,
    unpack_keys,
    unpack_views,
    views,
)
from stopncii_tools.signals.regions import KEY_BITS, RegionSignature, compute_region_signature
from stopncii_tools.store import Store
from stopncii_tools.store.migrations import MIGRATIONS
from tests.test_regions import PARTIAL_VIEWS, body_replaced, crop, photo, screenshot

cv2 = pytest.importorskip("cv2", reason="the derivatives extra (OpenCV) is not installed")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


@settings(max_examples=80, deadline=None)
@given(st.sets(st.integers(0, (KEY_TABLES_USED << KEY_BITS) - 1), max_size=300))
def test_packed_keys_read_back_exactly(keys: set[int]) -> None:
    ordered = np.array(sorted(keys), dtype=np.uint32)
    blob = pack_keys(ordered)
    assert np.array_equal(unpack_keys(blob), ordered)
    assert unpack_keys(blob).dtype == np.uint32
    tables = int(ordered[-1] >> KEY_BITS) + 1 if len(ordered) else 0
    assert len(blob) == 5 + 4 * tables + 3 * len(ordered)  # 3 bytes a key


@settings(max_examples=40, deadline=None)
@given(st.sets(st.integers(0, (KEY_TABLES_USED << KEY_BITS) - 1), min_size=1, max_size=50), st.integers(1, 3))
def test_damaged_packed_keys_are_refused_plainly(keys: set[int], cut: int) -> None:
    blob = pack_keys(np.array(sorted(keys), dtype=np.uint32))
    with pytest.raises(InvalidHash, match="pre-filter keys are damaged"):
        unpack_keys(blob[:-cut])
    with pytest.raises(InvalidHash, match="not stored region pre-filter keys"):
        unpack_keys(b"XXXX" + blob[4:])


def test_the_pre_filter_keeps_every_true_match_of_the_region_tests() -> None:
    index = RegionIndex()
    for seed in range(1, 9):
        index.add(seed, compute_region_signature(encode(photo(seed))))
    edits = {**PARTIAL_VIEWS, "rotated a quarter": lambda img: img.rotate(90, expand=True),
             "derived": body_replaced,
             "derived, resized to 512": lambda img: ImageOps.contain(body_replaced(img), (512, 512)),
             "derived, cropped 10%": lambda img: crop(body_replaced(img), 0.10)}
    for seed in (1, 5):
        for name, edit in edits.items():
            suspect = compute_region_signature(encode(edit(photo(seed)), quality=70))
            shortlist = index.candidates(suspect)
            assert shortlist[0][0] == seed, name  # the right photo comes first
            assert len(shortlist) <= MAX_CANDIDATES, name
            assert [owner for owner, _ in index.search(suspect)] == [seed], name
    for unrelated in (photo(20), screenshot(photo(21)), body_replaced(photo(22))):
        assert index.search(compute_region_signature(encode(unrelated))) == []
        assert len(index.candidates(compute_region_signature(encode(unrelated)))) <= MAX_CANDIDATES


def test_the_fast_nearest_neighbours_are_those_opencv_finds() -> None:
    protected = compute_region_signature(encode(photo(1)))
    for suspect_picture in (crop(photo(1), 0.15), screenshot(photo(1)), photo(2)):
        suspect = compute_region_signature(encode(suspect_picture, quality=80))
        for k in (2, 4):
            fast = nearest(cv2, suspect.descriptors, protected.descriptors, k=k)
            slow = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(suspect.descriptors, protected.descriptors, k=k)
            assert fast.distances.tolist() == [[m.distance for m in found] for found in slow]
        fast = nearest(cv2, suspect.descriptors, protected.descriptors)
        slow = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(suspect.descriptors, protected.descriptors, k=2)
        kept = [q for q, found in enumerate(slow) if found[0].distance < 0.8 * found[1].distance]
        assert np.flatnonzero(fast.distances[:, 0] < 0.8 * fast.distances[:, 1]).tolist() == kept
        assert fast.rows[kept, 0].tolist() == [slow[q][0].trainIdx for q in kept]


def test_nearest_neighbours_of_too_few_descriptors_say_there_is_none() -> None:
    signature = compute_region_signature(encode(photo(1)))
    few = signature.descriptors[:3]
    found = nearest(cv2, signature.descriptors[:5], few, k=4)
    assert (found.rows[:, 3] == -1).all() and (found.distances[:, 3] == NO_NEIGHBOUR).all()
    assert found.distances[:3, 0].tolist() == [0, 0, 0]  # each of the three finds itself
    assert nearest(cv2, few, few[:0], k=2).rows.tolist() == [[-1, -1]] * 3


def _protect(db: Path, folder: Path, seeds: list[int]) -> None:
    folder.mkdir(exist_ok=True)
    for seed in seeds:
        (folder / f"photo{seed}.jpg").write_bytes(encode(photo(seed), quality=92))
    assert run("protect", "--db", str(db), "--jobs", "1", str(folder)).exit_code == 0


def _scan(db: Path, folder: Path) -> dict[str, str]:
    result = run("scan", "--db", str(db), "--jobs", "1", "--json", str(folder))
    assert result.exit_code == 0, result.output
    return {Path(r["found_at"]).name: r["label"] for r in map(json.loads, result.stdout.splitlines())}


def test_stored_keys_follow_protect_delete_and_reopen(tmp_path: Path) -> None:
    db, mine, reported = tmp_path / "cases.db", tmp_path / "mine", tmp_path / "reported"
    reported.mkdir()
    (reported / "shot3.jpg").write_bytes(encode(screenshot(photo(3)), quality=80))
    (reported / "crop5.jpg").write_bytes(encode(crop(photo(5), 0.15), quality=80))
    assert run("case", "new", "Keys", "--db", str(db)).exit_code == 0
    _protect(db, mine, [1, 2, 3])
    assert _scan(db, reported) == {"shot3.jpg": "photo3.jpg"}
    with Store(db) as store:
        stored = dict(store.region_postings())
        assert len(stored) == 3 and all(stored.values())  # kept by the first scan
        signatures = store.region_signatures(sorted(stored))
        for item, blob in stored.items():
            kept = views(RegionSignature.from_bytes(signatures[item]))
            assert len(kept) == 2  # the photo as taken and its mirror image
            assert all(np.array_equal(keys, region_keys(view)) for keys, view in zip(unpack_views(blob), kept, strict=True))
    _protect(db, mine, [4, 5])  # photos protected since: their keys are added at the next scan
    assert _scan(db, reported) == {"shot3.jpg": "photo3.jpg", "crop5.jpg": "photo5.jpg"}
    with Store(db) as store:
        again = dict(store.region_postings())
        assert len(again) == 5 and all(again.values())
        assert {k: again[k] for k in stored} == stored  # read back, not cut again
        case_id = store.list_cases()[0].id
    assert run("case", "delete", "--case", case_id, "--db", str(db), "--yes").exit_code == 0
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM region_postings").fetchone() == (0,)


def test_an_old_database_gains_the_keys_table_and_still_finds_crops(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    picture = hash_bytes(encode(photo(7), quality=92), on_request=["regions"])
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, apply in MIGRATIONS[:-1]:  # the schema as released before the keys table
        apply(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, '2026-01-01T00:00:00Z')", (name,))
    conn.execute("INSERT INTO cases (id, title, created_at) VALUES ('oldcas', 'Old case', '2026-01-01T00:00:00Z')")
    conn.execute("INSERT INTO protected_items (id, case_id, kind, format, size, width, height, sha256, created_at)"
                 " VALUES (1, 'oldcas', 'image', 'jpeg', 1, 800, 600, ?, '2026-01-01T00:00:00Z')", (picture.sha256,))
    for value in picture.signals.values():
        conn.execute("INSERT INTO protected_signals VALUES (1, ?, 0, ?, ?)", (value.signal, value.value, value.quality))
    conn.close()

    with Store(path) as store:
        assert store.region_postings() == [(1, None)]  # the table is new: nothing kept yet
        matcher = CaseMatcher.for_case(store, "oldcas")
        shot = hash_bytes(encode(screenshot(photo(7))), on_request=matcher.on_request)
        assert [(m.item_id, m.kind) for m in matcher.match(shot.signals)] == [(1, "partial")]
    with Store(path) as store:
        [(item, blob)] = store.region_postings()
        assert item == 1 and blob is not None
        assert np.array_equal(unpack_keys(blob), region_keys(RegionSignature.from_bytes(picture.signals["regions"].value)))


def test_a_saved_index_opens_memory_mapped_and_finds_the_same(tmp_path: Path) -> None:
    db, mine = tmp_path / "cases.db", tmp_path / "mine"
    assert run("case", "new", "Saved", "--db", str(db)).exit_code == 0
    _protect(db, mine, [1, 2, 3, 4])
    suspects = [compute_region_signature(encode(edit, quality=80))
                for edit in (screenshot(photo(2)), crop(photo(4), 0.15), photo(30))]
    with Store(db) as store:
        built = RegionIndex.from_store(store)
        built.save(tmp_path / "bank")
        opened = RegionIndex.open(tmp_path / "bank", store)
        assert isinstance(opened._rows, np.memmap)
        for suspect in suspects:
            assert opened.candidates(suspect) == built.candidates(suspect)
            assert [o for o, _ in opened.search(suspect)] == [o for o, _ in built.search(suspect)]
        labels = {item.id: item.label for item in store.protected_items(store.list_cases()[0].id)}
        found = [[labels[int(o)] for o, _ in opened.search(s)] for s in suspects]
    assert found == [["photo2.jpg"], ["photo4.jpg"], []]


@settings(max_examples=30, deadline=None)
@given(st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=12), st.integers(0, 11), st.integers(1, 11))
def test_votes_are_the_weighted_shared_keys_however_the_bank_was_added(seeds: list[int], query: int, split: int) -> None:
    def signature(seed: int) -> RegionSignature:  # few bits apart from a common base: many shared keys
        rng = np.random.default_rng(seed % 4)
        base = rng.integers(0, 256, (60, 32), dtype=np.uint8)
        flips = np.random.default_rng(seed).integers(0, 2, (60, 32), dtype=np.uint8) << np.uint8(seed % 8)
        return RegionSignature(640, 480, np.zeros((60, 2), np.float32), base ^ flips, np.ones(60, np.uint8))

    bank = [signature(seed) for seed in seeds]
    suspect = signature(seeds[query % len(seeds)] + 1)
    index = RegionIndex()
    for owner, sig in enumerate(bank[:split]):
        index.add(owner, sig)
    index.votes(suspect)  # built once here, then grown
    for owner, sig in enumerate(bank[split:], start=len(bank[:split])):
        index.add(owner, sig)
    keys = [set(region_keys(sig).tolist()) for sig in bank]
    wanted = set(region_keys(suspect).tolist())
    holders = {key: sum(key in held for held in keys) for key in wanted}
    expected = {owner: sum(1 / holders[key] for key in wanted & held) for owner, held in enumerate(keys) if wanted & held}
    got = index.votes(suspect)
    assert got.keys() == expected.keys()
    assert all(abs(got[owner] - expected[owner]) < 1e-9 for owner in expected)
