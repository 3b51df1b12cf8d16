"""Scanning once for many cases, in workers, with batched writes: real folders of generated
pictures, real SQLite files, a real run killed half way, and a real Dask cluster on this computer."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from stopncii_tools.cli import cli
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.scan import ScanOptions, count_items, scan_cases

from ._pictures import write_edits, write_photos


@dataclass
class Helpline:
    db: Path
    cases: dict[str, str]  # case title -> id
    suspects: Path
    truth: dict[str, str]  # suspect file name -> title of the case whose photo it copies


@pytest.fixture(scope="module")
def helpline(tmp_path_factory: pytest.TempPathFactory) -> Helpline:
    """Three open cases with one protected photo each; a crawl with copies of the first two
    cases' photos among unrelated pictures (the third case's photo is nowhere)."""
    root = tmp_path_factory.mktemp("helpline")
    db = root / "cases.db"
    suspects = root / "crawl"
    cases: dict[str, str] = {}
    truth: dict[str, str] = {}
    with Store(db) as store:
        for title, seed in (("Anna", 501), ("Beth", 502), ("Cleo", 503)):
            case = store.create_case(title, "US")
            cases[title] = case.id
            photos = write_photos(root / title, [seed])
            list(protect_paths(store, case, [root / title], jobs=1))
            if title != "Cleo":
                truth.update(dict.fromkeys(write_edits(suspects, photos), title))
    write_photos(suspects, [601, 602, 603])  # unrelated
    return Helpline(db, cases, suspects, truth)


def _copy(helpline: Helpline, to: Path) -> Path:
    to.mkdir(parents=True, exist_ok=True)
    shutil.copy(helpline.db, to / "cases.db")
    return to / "cases.db"


def _matched(db: Path) -> set[tuple[str, str, int]]:
    """(case, file name, protected item) of every match stored."""
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT m.case_id, s.source, m.item_id FROM matches m JOIN sightings s ON s.id = m.sighting_id")
        return set(rows)


def test_one_scan_for_all_cases_records_each_match_under_its_case_and_nothing_under_the_others(
        helpline: Helpline, tmp_path: Path) -> None:
    db = _copy(helpline, tmp_path)
    result = CliRunner().invoke(cli, ["scan", "--db", str(db), "--all-cases", "-j", "2", "--json",
                                      str(helpline.suspects)])
    assert result.exit_code == 0, result.output
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    titles = {case_id: title for title, case_id in helpline.cases.items()}
    found = {Path(r["found_at"]).name: titles[r["case"]] for r in lines if "match" in r}
    assert found == helpline.truth
    summaries = {r["case_title"]: r["matched"] for r in lines if "case_summary" in r}
    assert summaries == {"Anna": 6, "Beth": 6, "Cleo": 0}
    assert "15 scanned, 0 failed, 12 matched your protected items in 3 cases" in result.stderr
    with Store(db) as store:
        for title, case_id in helpline.cases.items():
            seen = {s.source for s in store.sightings(case_id)}
            # only the copies of this case's photo: no unrelated file, no other case's copy
            assert seen == {name for name, owner in helpline.truth.items() if owner == title}


def test_two_chosen_cases_leave_the_third_alone(helpline: Helpline, tmp_path: Path) -> None:
    db = _copy(helpline, tmp_path)
    result = CliRunner().invoke(cli, ["scan", "--db", str(db), "--case", helpline.cases["Beth"],
                                      "--case", helpline.cases["Cleo"], "-j", "1", str(helpline.suspects)])
    assert result.exit_code == 0, result.output
    assert {case for case, _, _ in _matched(db)} == {helpline.cases["Beth"]}
    assert len(_matched(db)) == 6


_KILLABLE_SCAN = """
import sys
from stopncii_tools.store import Store
from stopncii_tools.workflow.scan import ScanOptions, count_items, scan_cases
with Store(sys.argv[1]) as store:
    for outcome in scan_cases(store, store.list_cases("open"), [sys.argv[2]], ScanOptions(jobs=1, batch_size=2)):
        pass
"""


def test_a_killed_scan_keeps_its_written_batches_and_a_rerun_finishes_without_duplicates(
        helpline: Helpline, tmp_path: Path) -> None:
    whole = _copy(helpline, tmp_path / "whole")
    killed = _copy(helpline, tmp_path / "killed")
    with Store(whole) as store:
        list(scan_cases(store, store.list_cases("open"), [str(helpline.suspects)], ScanOptions(jobs=1)))

    run = subprocess.Popen([sys.executable, "-c", _KILLABLE_SCAN, str(killed), str(helpline.suspects)])
    deadline = time.monotonic() + 240
    written = 0
    while written < 2 and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
        with sqlite3.connect(f"file:{killed}?mode=ro", uri=True) as conn:
            written = conn.execute("SELECT COUNT(*) FROM matches").fetchone()[0]
    run.send_signal(signal.SIGKILL)
    run.wait()
    kept = _matched(killed)
    assert 2 <= len(kept) < 12  # stopped half way; every batch written before the kill is there
    assert kept <= _matched(whole)

    with Store(killed) as store:
        list(scan_cases(store, store.list_cases("open"), [str(helpline.suspects)], ScanOptions(jobs=1)))
    assert _matched(killed) == _matched(whole)
    with sqlite3.connect(killed) as conn:
        assert conn.execute("SELECT COUNT(*) FROM matches").fetchone()[0] == 12
        assert conn.execute("SELECT COUNT(*), COUNT(DISTINCT case_id || source) FROM sightings").fetchone() == (12, 12)


def test_a_dask_cluster_finds_the_same_matches_as_this_computer(helpline: Helpline, tmp_path: Path) -> None:
    distributed = pytest.importorskip("distributed")
    local = _copy(helpline, tmp_path / "local")
    remote = _copy(helpline, tmp_path / "cluster")
    with Store(local) as store:
        list(scan_cases(store, store.list_cases("open"), [str(helpline.suspects)], ScanOptions(jobs=2)))
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        result = CliRunner().invoke(cli, ["scan", "--db", str(remote), "--all-cases", "--engine", "dask",
                                          "--scheduler", cluster.scheduler_address, str(helpline.suspects)])
    assert result.exit_code == 0, result.output
    assert len(_matched(local)) == 12
    with sqlite3.connect(local) as a, sqlite3.connect(remote) as b:
        query = "SELECT m.case_id, s.source, m.item_id, m.kind, m.confidence FROM matches m JOIN sightings s ON s.id = m.sighting_id"
        assert set(a.execute(query)) == set(b.execute(query))


def test_the_dask_engine_needs_a_scheduler_address(helpline: Helpline, tmp_path: Path) -> None:
    db = _copy(helpline, tmp_path)
    result = CliRunner().invoke(cli, ["scan", "--db", str(db), "--all-cases", "--engine", "dask", str(helpline.suspects)])
    assert result.exit_code != 0
    assert "needs the address of its scheduler (--scheduler)" in result.output


def test_the_progress_estimate_counts_files_and_addresses_without_reading_them(tmp_path: Path) -> None:
    write_photos(tmp_path / "folder" / "inner", [1, 2])
    (tmp_path / "folder" / ".hidden.jpg").write_bytes(b"left out, like the scan leaves it out")
    (tmp_path / "folder" / "notes.txt").write_text("counted: the scan reports it as skipped")
    (tmp_path / "links.txt").write_text("https://example.com/a.jpg\n# a comment\nhttps://example.com/b.jpg\n")
    assert count_items([str(tmp_path / "folder"), f"@{tmp_path / 'links.txt'}"]) == 5
    assert count_items([str(tmp_path / "folder")], include=("*.jpg",)) == 2
