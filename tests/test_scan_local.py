"""Protect, then scan folders and hash lists: edited copies are found, unrelated photos are not."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from stopncii_tools.cli import cli
from stopncii_tools.store import Store

from ._pictures import write_edits, write_photos


def run(*args: str):
    return CliRunner().invoke(cli, ["--help"] if not args else list(args))


def _case(db: Path) -> str:
    result = run("case", "new", "Test", "--jurisdiction", "US", "--db", str(db), "--json")
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)["id"]


def _scanned_edits(tmp_path: Path, seed: int) -> Path:
    """A case with one protected photo and its six edited copies scanned: six pending matches."""
    db = tmp_path / "cases.db"
    _case(db)
    photos = write_photos(tmp_path / "mine", [seed])
    run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    write_edits(tmp_path / "reported", photos)
    run("scan", "--db", str(db), "--jobs", "1", str(tmp_path / "reported"))
    return db


def test_edited_copies_are_matched_to_the_right_photo_and_unrelated_ones_are_not(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    photos = write_photos(tmp_path / "mine", [101, 102, 103])
    protected = run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    assert protected.exit_code == 0, protected.output
    truth = write_edits(tmp_path / "reported", photos)
    write_photos(tmp_path / "reported", [201, 202, 203, 204])  # unrelated photos among the copies
    scanned = run("scan", "--db", str(db), "--jobs", "1", "--json", str(tmp_path / "reported"))
    assert scanned.exit_code == 0, scanned.output
    found: dict[str, set[str]] = {}
    for line in scanned.stdout.splitlines():
        record = json.loads(line)
        found.setdefault(Path(record["found_at"]).name, set()).add(record["label"])
    assert {name: {original} for name, original in truth.items()} == found
    assert "22 scanned, 0 failed, 18 matched" in scanned.stderr


def test_labels_can_be_left_out(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    write_photos(tmp_path / "mine", [105])
    run("protect", "--db", str(db), "--no-names", "--jobs", "1", str(tmp_path / "mine"))
    with Store(db) as store:
        [item] = store.protected_items(store.resolve_case(None).id)
        assert item.label is None
    assert b"photo105" not in db.read_bytes()


def test_protecting_the_same_file_twice_says_so(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    write_photos(tmp_path / "mine", [106])
    run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    again = run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    assert again.exit_code == 0 and "already protected" in again.stderr and "0 added" in again.stderr


def test_hash_list_lines_are_matched_and_bad_lines_named(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    write_photos(tmp_path / "mine", [107])
    hashed = run("hash", "--json", "--jobs", "1", str(tmp_path / "mine" / "photo107.jpg"))
    pdq = json.loads(hashed.stdout)["pdq"]
    run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    near = format(int(pdq, 16) ^ 0b1011, "064x")  # 3 bits away
    listing = tmp_path / "platform-hashes.txt"
    listing.write_text(f"# from a platform\npdq {near}\npdq {'0' * 63}\nsha1 abc\npdq {'f' * 64}\n")
    result = run("scan", "--db", str(db), "--json", str(listing))
    assert result.exit_code == 1  # two bad lines
    assert "platform-hashes.txt, line 3: a pdq hash is 64 hexadecimal characters" in result.stderr
    assert "line 4: unknown signal type 'sha1'" in result.stderr
    matches = [json.loads(line) for line in result.stdout.splitlines() if "match" in json.loads(line)]
    assert len(matches) == 1 and matches[0]["distance"] == 3 and matches[0]["label"] == "photo107.jpg"


def test_csv_hash_list(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    write_photos(tmp_path / "mine", [108])
    run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    sha = json.loads(run("hash", "--json", "--jobs", "1", str(tmp_path / "mine" / "photo108.jpg")).stdout)["sha256"]
    listing = tmp_path / "hashes.csv"
    listing.write_text(f"signal,hash,note\nsha256,{sha},seen on a forum\n")
    result = run("scan", "--db", str(db), "--json", str(listing))
    [match] = [json.loads(line) for line in result.stdout.splitlines()]
    assert match["kind"] == "exact" and match["confidence"] == "certain"


def test_confirm_and_reject(tmp_path: Path) -> None:
    db = _scanned_edits(tmp_path, 109)
    listed = [json.loads(line) for line in run("matches", "--db", str(db), "--json").stdout.splitlines()]
    assert len(listed) == 6 and {m["status"] for m in listed} == {"pending"}
    assert run("matches", "confirm", "--db", str(db), str(listed[0]["match"])).exit_code == 0
    assert run("matches", "reject", "--db", str(db), str(listed[1]["match"])).exit_code == 0
    confirmed = run("matches", "--db", str(db), "--status", "confirmed", "--json").stdout.splitlines()
    assert [json.loads(line)["match"] for line in confirmed] == [listed[0]["match"]]


def test_unknown_source_and_missing_list_are_reported_and_the_rest_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    write_photos(tmp_path / "reported", [110])
    result = run("scan", "--db", str(db), "--jobs", "1", str(tmp_path / "nothere"), "@" + str(tmp_path / "nolist.txt"),
                 str(tmp_path / "reported"))
    assert result.exit_code == 1
    assert "nothere: no such file or folder, and not a web address" in result.stderr
    assert "nolist.txt: could not be read" in result.stderr
    assert "1 scanned, 2 failed" in result.stderr


def test_a_killed_scan_leaves_a_consistent_database_and_a_rerun_completes_it(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    photos = write_photos(tmp_path / "mine", [111, 112])
    run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    write_edits(tmp_path / "reported", photos)
    write_photos(tmp_path / "reported", list(range(300, 330)), size=(640, 480))
    total = len(list((tmp_path / "reported").iterdir()))
    command = [sys.executable, "-m", "stopncii_tools", "scan", "--db", str(db), "--jobs", "1",
               str(tmp_path / "reported")]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while time.time() < deadline:  # kill once some, not all, sightings are in
        with Store(db) as store:
            seen = len(store.sightings(store.resolve_case(None).id))
        if 3 <= seen < total:
            break
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    with Store(db) as store:
        case = store.resolve_case(None)
        partial = len(store.sightings(case.id))
        assert 0 < partial < total
        for sighting in store.sightings(case.id):
            assert store.sighting_signals(sighting.id)  # no sighting without its hashes
    subprocess.run(command, check=True, capture_output=True, timeout=120)
    with Store(db) as store:
        case = store.resolve_case(None)
        sources = [s.source for s in store.sightings(case.id)]
        assert len(sources) == len(set(sources)) == total
        assert len(store.matches(case.id)) == 12


def test_hash_lists_with_commas_semicolons_and_a_commented_csv(tmp_path: Path) -> None:
    from stopncii_tools.signals.hashlists import HashEntry, parse_hash_list

    pdq = "f" * 64
    for text in (f"pdq,{pdq}\n", f"pdq;{pdq}\n", f"# exported list\nsignal,hash\npdq,{pdq}\n"):
        entries = list(parse_hash_list(text))
        assert [(e.signal, e.value) for e in entries if isinstance(e, HashEntry)] == [("pdq", pdq)], entries


def test_two_hash_lists_with_the_same_name_keep_their_own_hashes(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    _case(db)
    write_photos(tmp_path / "mine", [113, 114])
    run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    hashes = {json.loads(line)["path"]: json.loads(line)["pdq"]
              for line in run("hash", "--json", "--jobs", "1", str(tmp_path / "mine")).stdout.splitlines()}
    for week, path in zip(("one", "two"), sorted(hashes), strict=True):
        (tmp_path / week).mkdir()
        (tmp_path / week / "list.txt").write_text(f"pdq {hashes[path]}\n")
        run("scan", "--db", str(db), str(tmp_path / week / "list.txt"))
    with Store(db) as store:
        case = store.resolve_case(None)
        for match in store.matches(case.id):
            [stored] = [s.value for s in store.sighting_signals(match.sighting_id)]
            item_pdq = [s.value for s in store.protected_signals(case.id) if s.owner_id == match.item_id
                        and s.signal == "pdq" and s.variant == 0][0]
            assert stored == item_pdq
        assert len(store.matches(case.id)) == 2


def test_matches_confirm_uses_the_database_given_to_the_group(tmp_path: Path) -> None:
    db = _scanned_edits(tmp_path, 115)
    assert run("matches", "--db", str(db), "confirm", "1").exit_code == 0
    refused = run("matches", "--db", str(db), "confirm", "2", "999")
    assert refused.exit_code == 1 and "no match 999" in refused.stderr
    with Store(db) as store:
        assert [m.id for m in store.matches(store.resolve_case(None).id, "confirmed")] == [1]
