"""The scan engine at scale: workers hold one shared, memory-mapped region index and read the
region signatures of the pre-filter's candidates only; the saved index follows every change of
the bank; worker processes are kept from one scan to the next. Real databases, real processes."""

from __future__ import annotations

import json
import pickle
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from stopncii_tools.cli import cli
from stopncii_tools.matching.case import CaseMatcher
from stopncii_tools.matching.pipeline import BankSource, Checked, ClusterBank, Job, LocalEngine, close_idle_workers
from stopncii_tools.media.files import iter_files
from stopncii_tools.paths import cache_dir
from stopncii_tools.signals._examples import encode
from stopncii_tools.signals.hashing import hash_bytes
from stopncii_tools.signals.region_index import RegionIndex, bank_fingerprint, write_index
from stopncii_tools.signals.regions import compute_region_signature
from stopncii_tools.store import Store
from tests.test_regions import crop, photo, screenshot

pytest.importorskip("cv2", reason="the derivatives extra (OpenCV) is not installed")


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _protect(db: Path, case: str, folder: Path, seeds: list[int]) -> None:
    folder.mkdir(exist_ok=True)
    for seed in seeds:
        (folder / f"photo{seed}.jpg").write_bytes(encode(photo(seed), quality=92))
    result = run("protect", "--db", str(db), "--case", case, "--jobs", "1", *(str(folder / f"photo{s}.jpg") for s in seeds))
    assert result.exit_code == 0, result.output


def _new_case(db: Path, title: str) -> str:
    assert run("case", "new", title, "--db", str(db)).exit_code == 0
    with Store(db) as store:
        return next(c.id for c in store.list_cases() if c.title == title)


def _reported(folder: Path, pictures: dict[str, object]) -> Path:
    folder.mkdir(exist_ok=True)
    for name, picture in pictures.items():
        (folder / name).write_bytes(encode(picture, quality=80))  # type: ignore[arg-type]
    return folder


def _scan_all(db: Path, folder: Path) -> tuple[dict[str, str], list[str]]:
    """(found file -> protected photo's label, errors) of a scan for every open case."""
    result = run("scan", "--db", str(db), "--all-cases", "--jobs", "1", "--json", str(folder))
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    return ({Path(r["found_at"]).name: r["label"] for r in lines if "match" in r},
            [r["error"] for r in lines if "error" in r])


def _saved_indexes() -> list[Path]:
    root = cache_dir() / "region-index"
    return sorted(f for f in root.iterdir() if not f.name.startswith(".")) if root.is_dir() else []


def test_workers_read_the_region_signatures_of_candidates_only(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    case = _new_case(db, "Only candidates")
    _protect(db, case, tmp_path / "mine", list(range(1, 11)))
    shot = screenshot(photo(1))
    reported = _reported(tmp_path / "reported", {"shot1.jpg": shot})
    assert _scan_all(db, reported) == ({"shot1.jpg": "photo1.jpg"}, [])
    with Store(db) as store:
        items = [item.id for item in store.protected_items(case)]
        index = RegionIndex.from_store(store, items)
        candidates = {owner for owner, _ in index.candidates(compute_region_signature(encode(shot, quality=80)))}
    others = sorted(set(items) - candidates)
    assert len(others) >= 8
    with sqlite3.connect(db) as conn:  # signatures no pre-filter picks are never read: damaged, the scan is the same
        conn.executemany("UPDATE protected_signals SET value = X'00' WHERE signal = 'regions' AND item_id = ?",
                         [(item,) for item in others])
    assert _scan_all(db, reported) == ({"shot1.jpg": "photo1.jpg"}, [])


def test_a_saved_index_is_never_used_for_a_changed_bank(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    first, second = _new_case(db, "First"), _new_case(db, "Second")
    _protect(db, first, tmp_path / "a", [1])
    _protect(db, second, tmp_path / "b", [2])
    reported = _reported(tmp_path / "reported", {"crop2.jpg": crop(photo(2), 0.15), "crop3.jpg": crop(photo(3), 0.15)})
    assert _scan_all(db, reported) == ({"crop2.jpg": "photo2.jpg"}, [])
    with Store(db) as store:
        deleted = next(item.id for item in store.protected_items(second))
    assert run("case", "delete", "--case", second, "--db", str(db), "--yes").exit_code == 0
    _protect(db, first, tmp_path / "a", [3])  # takes the deleted photo's item number: the same ids, another bank
    with Store(db) as store:
        assert max(item.id for item in store.protected_items(first)) == deleted
    assert _scan_all(db, reported) == ({"crop3.jpg": "photo3.jpg"}, [])
    assert len(_saved_indexes()) == 2  # one per bank state; the older is removed once more have been made


def test_a_damaged_saved_index_is_built_again_and_the_scan_still_finds_the_copy(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    case = _new_case(db, "Damaged cache")
    _protect(db, case, tmp_path / "mine", [1, 2])
    reported = _reported(tmp_path / "reported", {"crop1.jpg": crop(photo(1), 0.15)})
    assert _scan_all(db, reported) == ({"crop1.jpg": "photo1.jpg"}, [])
    (saved,) = _saved_indexes()
    close_idle_workers()  # the next scan is another command: its workers open the saved files afresh
    for name in ("rows.npy", "keys.npy"):  # cut short, as a disk error or a stray program would leave them
        (saved / name).write_bytes((saved / name).read_bytes()[:40])
    assert _scan_all(db, reported) == ({"crop1.jpg": "photo1.jpg"}, [])


def test_two_scans_in_one_process_keep_their_workers_which_share_one_mapped_index(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    case = _new_case(db, "Kept workers")
    _protect(db, case, tmp_path / "mine", [4, 5])
    reported = _reported(tmp_path / "reported", {"shot6.jpg": screenshot(photo(6)), "crop5.jpg": crop(photo(5), 0.15)})

    def scan() -> tuple[dict[str, list[int]], list[int], BankSource]:
        with Store(db) as store:
            items = [item.id for item in store.protected_items(case)]
            bank = BankSource.of(store, [case], items)
        engine = LocalEngine(bank, jobs=2)
        try:
            jobs = (Job(key, found) for key, found in enumerate(iter_files([str(reported)])))
            found = {Path(c.name).name: [m.item_id for m in c.matches] for c in engine.run(jobs)
                     if isinstance(c, Checked)}
            return found, sorted(engine.worker_pids), bank
        finally:
            engine.close()

    found, workers, bank = scan()
    assert [name for name, matches in found.items() if matches] == ["crop5.jpg"]
    assert len(workers) == 2
    if sys.platform.startswith("linux"):  # both map the same saved arrays: one copy in memory
        assert bank.region_index is not None
        for pid in workers:
            maps = Path(f"/proc/{pid}/maps").read_text()
            assert str(Path(bank.region_index) / "rows.npy") in maps

    _protect(db, case, tmp_path / "mine", [6])
    found_again, workers_again, bank_again = scan()
    assert workers_again == workers  # the same processes, now serving the new bank
    assert bank_again != bank
    assert sorted(name for name, matches in found_again.items() if matches) == ["crop5.jpg", "shot6.jpg"]


def test_a_big_bank_built_by_counting_is_the_index_a_sort_builds(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    case = _new_case(db, "Two builds")
    _protect(db, case, tmp_path / "mine", [7, 8, 9])
    with Store(db) as store:
        items = [item.id for item in store.protected_items(case)]
        fingerprint = bank_fingerprint(store, items)
        write_index(store, items, tmp_path / "sorted", fingerprint)
        write_index(store, items, tmp_path / "counted", fingerprint, sort_up_to=0)
    for name in ("keys", "starts", "rows", "owners", "mirrored"):
        sorted_array, counted = (np.load(tmp_path / build / f"{name}.npy") for build in ("sorted", "counted"))
        assert sorted_array.dtype == counted.dtype and np.array_equal(sorted_array, counted), name


def test_the_compact_bank_sent_to_a_cluster_matches_as_the_database_does(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    case = _new_case(db, "Compact")
    _protect(db, case, tmp_path / "mine", [11, 12, 13])
    suspects = [hash_bytes(encode(picture, quality=80), on_request=["regions"]).signals
                for picture in (crop(photo(12), 0.15), screenshot(photo(13)), photo(11), photo(41))]
    with Store(db) as store:
        items = [item.id for item in store.protected_items(case)]
        local = CaseMatcher.for_case(store, case)
        expected = [[(m.item_id, m.kind, m.confidence) for m in local.match(s)] for s in suspects]
        packed = [ClusterBank.of(store, [case], items), ClusterBank.from_signals(store.protected_signals(case))]
    assert [len(found) for found in expected] == [1, 1, 1, 0]
    for bank in packed:  # the database is closed: the cluster's copy holds all it needs
        remote = pickle.loads(pickle.dumps(bank)).matcher()
        assert [[(m.item_id, m.kind, m.confidence) for m in remote.match(s)] for s in suspects] == expected
