"""The README's first command: ``stopncii demo`` runs the whole flow (protect, scan a folder and
a page, draft a notice, record it sent, check for removal) in a database of its own, says what
happened in about 30 plain lines, and leaves the person's own cases exactly as they were; it
runs the same without the compiled ``pdqhash``."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stopncii_tools.cli import cli
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.store import Store
from stopncii_tools.submit.config import SendingConfig
from stopncii_tools.workflow.outbox import mark_sent
from tests._casework import PICS_HOST, make_case, site_server

# Run before the package is imported: any import of pdqhash fails, as on a machine where it
# could not be built. The demo must run, and find the same matches, on the numpy PDQ.
WITHOUT_PDQHASH = """
import importlib.abc, sys
class NoPdqhash(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "pdqhash" or name.startswith("pdqhash."):
            raise ModuleNotFoundError("No module named 'pdqhash' (blocked by the test)", name=name)
        return None
sys.meta_path.insert(0, NoPdqhash())
from stopncii_tools.cli import main
from stopncii_tools.signals.pdq import PDQ
assert "pdqhash" not in sys.modules and PDQ().backend_name == "numpy"
sys.argv = ["stopncii", *sys.argv[1:]]
main()
"""


def _demo(*args: str, env: dict[str, str] | None = None, blocked: bool = False) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", WITHOUT_PDQHASH] if blocked else [sys.executable, "-m", "stopncii_tools"]
    return subprocess.run([*command, "demo", *args], capture_output=True, text=True, timeout=300,
                          env={**os.environ, **(env or {})})


def _matches(db: Path) -> list[tuple[str, str, str, str, object]]:
    """Every match the demo recorded: (file name, protected photo, kind, confidence, deciding evidence)."""
    with Store(db) as store:
        [case] = store.list_cases()
        rows = []
        for match in store.matches(case.id):
            found = store.sighting(match.sighting_id).location.rsplit("/", 1)[-1]
            best = match.evidence[0] if match.evidence else {}
            label = store.protected_item(match.item_id).label
            rows.append((found, label, match.kind, match.confidence, (best.get("signal"), best.get("distance"))))
    return sorted(rows, key=repr)


@pytest.fixture(scope="module")
def verbose_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    home = tmp_path_factory.mktemp("demo-home")
    kept = home / "demo.db"
    # a wide page, as on a terminal: at 80 columns the matches table wraps its headings
    return _demo("--verbose", "--keep", str(kept), env={"STOPNCII_HOME": str(home), "COLUMNS": "160"}), kept


def test_the_demo_says_what_happened_in_about_30_plain_lines(tmp_path: Path) -> None:
    result = _demo()
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert len(out.splitlines()) <= 48
    assert max(len(line) for line in out.splitlines()) <= 80
    said = " ".join(out.split())  # the sentences, whatever the line breaks
    assert "Your own cases are not touched." in said
    assert "Found 20 of 23: 18 copies, 1 partial copy and 1 picture made from a photo." in said
    assert "The other 3 did not match any of your photos." in said
    assert "Found 6 of 6: 6 copies." in said
    assert "A notice to abuse@photos.example asks for their removal under the TAKE IT DOWN Act." in said
    assert "3 of the 6 addresses are gone, 3 are still up" in said
    assert "Looked at again: 0 new pictures, 6 seen before were left alone." in said
    assert "8. Write the case report" in said and "'stopncii report'" in said
    assert "temporary database, now deleted" in said and "stopncii demo --verbose" in said
    # no hashes, column names or notice text: those are behind --verbose
    assert not re.search(r"[0-9a-f]{16}", out)
    assert "distance" not in out and "Removal request under" not in out
    assert not (Path(os.environ["STOPNCII_HOME"]) / "cases.db").exists()


def test_verbose_shows_each_step_in_detail_and_keep_keeps_the_records(
    verbose_run: tuple[subprocess.CompletedProcess[str], Path],
) -> None:
    result, kept = verbose_run
    assert result.returncode == 0, result.stderr
    out = result.stdout
    assert "SHA-256" in out and "distance" in out and "fake-made-from-a-photo.jpg" in out
    assert "Removal request under the TAKE IT DOWN Act" in out
    assert "the demo case holds 3 protected items, 29 sightings, 26 matches" in out
    assert f"The demo's records are in {kept}." in out
    status = CliRunner().invoke(cli, ["status", "--db", str(kept)])
    assert "abuse@photos.example" in status.output or "waiting" in status.output


def test_keep_refuses_the_persons_own_database(tmp_path: Path) -> None:
    own = tmp_path / "mine.db"
    result = CliRunner().invoke(cli, ["demo", "--keep", str(own)], env={"STOPNCII_DB": str(own)})
    assert result.exit_code == 2
    assert "that is your own case database" in result.output and not own.exists()


def _on_a_copy(db: Path, args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """Run a command that records what it does (check, batch) on a copy, so looking changes nothing."""
    copy = db.with_name("copy.db")
    copy.write_bytes(db.read_bytes())
    try:
        result = CliRunner().invoke(cli, [*args, "--db", str(copy)], env=env)
        return result.exit_code, result.output
    finally:
        copy.unlink()


def _snapshot(db: Path, batch_csv: Path) -> dict[str, object]:
    """What the person sees of their database: every row, and status, check, matches and batch."""
    with sqlite3.connect(db) as conn:
        seen: dict[str, object] = {"rows": list(conn.iterdump())}
    with Store(db) as store:
        [case] = store.list_cases()
    env = {"STOPNCII_DB": str(db), "STOPNCII_NOW": "2026-06-02T09:00:00+00:00"}
    resolve = ["--allow-private", "--resolve", f"{PICS_HOST}=127.0.0.1"]
    for name, args in {"status": ["status"], "matches": ["matches", "--case", case.id],
                       "cases": ["case", "list", "--all"]}.items():
        result = CliRunner().invoke(cli, args, env=env)
        seen[name] = (result.exit_code, result.output)
    seen["check"] = _on_a_copy(db, ["check", *resolve, "--json"], env)
    code, output = _on_a_copy(db, ["batch", "run", str(batch_csv), *resolve, "-j", "US", "--json"], env)
    # a batch row naming the demo's case title would land in a demo case if one were there
    seen["batch"] = code, [{k: v for k, v in json.loads(line).items() if k != "case"}
                           for line in output.splitlines() if line.startswith("{")]
    return seen


def test_the_demo_leaves_the_persons_database_as_it_was(tmp_path: Path) -> None:
    site = tmp_path / "site"
    with site_server(site) as port:
        made = make_case(tmp_path, site, port, count=2)
        with Store(made.db) as store:
            [notice] = store.notices(made.case_id)
            mark_sent(store, notice.id, SendingConfig(), load_directory())
        batch_csv = tmp_path / "reports.csv"
        batch_csv.write_text(f"case,url\nDemo: sample pictures,http://{PICS_HOST}:{port}/{made.copies[0]}\n")
        before = _snapshot(made.db, batch_csv)
        result = _demo(env={"STOPNCII_DB": str(made.db)})
        assert result.returncode == 0, result.stderr
        after = _snapshot(made.db, batch_csv)
    assert after == before
    assert "Demo" not in str(before["cases"]) and before["batch"][1], before["batch"]


def test_the_demo_finds_the_same_matches_without_pdqhash(
    verbose_run: tuple[subprocess.CompletedProcess[str], Path], tmp_path: Path,
) -> None:
    result, kept = verbose_run
    assert result.returncode == 0, result.stderr
    numpy_db = tmp_path / "numpy.db"
    blocked = _demo("--keep", str(numpy_db), blocked=True)
    assert blocked.returncode == 0, blocked.stderr
    assert "Found 20 of 23" in blocked.stdout
    assert _matches(numpy_db) == _matches(kept)
    assert len(_matches(kept)) == 26
