"""Hash exports (hash-exchange lines, StopNCII partner records, tables) and pushes to a hash bank.

An export holds hashes and case numbers only: the tests plant a file name, a case title, the
requester's name and e-mail and a folder path, and look for each of them in every format.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import sqlite3
import time
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from PIL import Image

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import write_photos
from stopncii_tools.signals import SignalValue
from stopncii_tools.signals._examples import scene
from stopncii_tools.signals.hashing import MediaHashes
from stopncii_tools.signals.hashlists import HashEntry, parse_hash_list
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.records import media_record, signal_rows
from stopncii_tools.workflow.takedown import save_requester
from tests._casework import REQUESTER

from .hma_fake import FakeHMA

VIDEO = b"not really a video, only its bytes are hashed here"
SECRETS = ("jane-doe-private", "Jane's own case", REQUESTER.name, REQUESTER.email, "very-private-folder")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


@pytest.fixture()
def two_cases(tmp_path: Path) -> tuple[Path, str, str]:
    """Case A: two photos (one saved under a telling name), a flat grey picture and a video; case B:
    one of the same photos, so that hash is shared by both case numbers."""
    folder = tmp_path / "very-private-folder"
    photos = write_photos(folder, [431, 432])
    (folder / "photo431.jpg").rename(folder / "jane-doe-private.jpg")
    Image.new("RGB", (300, 200), (128, 128, 128)).save(folder / "flat.jpg")
    db = tmp_path / "cases.db"
    with Store(db) as store:
        a = store.create_case("Jane's own case", "US")
        list(protect_paths(store, a, [folder], jobs=1))
        video = MediaHashes(kind="video", format="mp4", size=len(VIDEO), width=None, height=None, signals={
            "md5": SignalValue("md5", hashlib.md5(VIDEO).hexdigest()),
            "sha256": SignalValue("sha256", hashlib.sha256(VIDEO).hexdigest())})
        store.add_protected(a.id, media_record(video), signal_rows(video), "jane-doe-private.mp4")
        save_requester(store, a.id, REQUESTER)
        b = store.create_case("Second person", "DE")
        list(protect_paths(store, b, [folder / "photo432.jpg"], jobs=1))
    assert len(photos) == 2
    return db, a.id, b.id


def test_hashlist_lines_use_the_signal_type_names_of_hma_and_pytx(two_cases: tuple[Path, str, str]) -> None:
    db, a, _ = two_cases
    result = run("export", "--db", str(db), "--case", a)
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert sorted(line.split()[0] for line in lines) == ["pdq", "pdq", "video_md5"]  # two photos and the video
    assert f"video_md5 {hashlib.md5(VIDEO).hexdigest()}" in lines
    entries = list(parse_hash_list(result.stdout))  # and our own scan reads them back
    assert sorted(e.signal for e in entries if isinstance(e, HashEntry)) == ["md5", "pdq", "pdq"]
    assert "1 pictures were left out" in result.stderr  # the flat picture's PDQ is too weak


def test_stopncii_json_is_a_fetch_hashes_envelope_with_every_case_number_of_a_shared_hash(
    two_cases: tuple[Path, str, str],
) -> None:
    db, a, b = two_cases
    response = json.loads(run("export", "--db", str(db), "--format", "stopncii-json").stdout)
    records = response.pop("hashRecords")
    assert response == {"count": 3, "nextPageToken": None, "nextSetTimestamp": max(r["lastModtimestamp"] for r in records),
                        "hasMoreRecords": False}
    assert {r["signalType"] for r in records} == {"ImagePDQ", "VideoMD5"}
    shared = [r for r in records if len(r["caseNumbers"]) == 2]
    assert len(shared) == 1 and shared[0]["caseNumbers"] == {a: "Active", b: "Active"}
    video = next(r for r in records if r["signalType"] == "VideoMD5")
    assert video == {"lastModtimestamp": video["lastModtimestamp"], "signalType": "VideoMD5",
                     "hashValue": hashlib.md5(VIDEO).hexdigest(), "hashStatus": "Active", "caseNumbers": {a: "Active"},
                     "CSPFeedbacks": []}
    assert isinstance(video["lastModtimestamp"], int) and abs(video["lastModtimestamp"] - time.time()) < 600


@pytest.mark.parametrize("fmt", ["hashlist", "stopncii-json", "csv", "json"])
def test_exports_hold_hashes_and_case_numbers_only(two_cases: tuple[Path, str, str], fmt: str) -> None:
    db, _, _ = two_cases
    result = run("export", "--db", str(db), "--format", fmt)
    assert result.exit_code == 0
    for secret in SECRETS:
        assert secret not in result.stdout
    if fmt == "csv":
        rows = list(csv.DictReader(io.StringIO(result.stdout)))
        assert set(rows[0]) == {"case", "signal", "variant", "hash", "quality"} and len(rows) == 4


def test_push_to_a_hash_bank_keeps_the_ids_and_a_second_push_adds_nothing(two_cases: tuple[Path, str, str]) -> None:
    db, a, _ = two_cases
    with FakeHMA() as hma:
        first = run("export", "--db", str(db), "--case", a, "--to-hashbank", hma.url, "--bank", "NGO_CASES",
                    "--create-bank")
        assert first.exit_code == 0, first.output
        pushes = hma.state.sent("POST", "/c/bank/NGO_CASES/signal")
        assert sorted(next(iter(json.loads(p.body))) for p in pushes) == ["pdq", "pdq", "video_md5"]
        assert "3 hashes added to NGO_CASES" in first.stderr
        with Store(db) as store:
            known = store.hashbank_ids([a], hma.url, "NGO_CASES")
        assert sorted(known.values()) == [1, 2, 3]
        again = run("export", "--db", str(db), "--case", a, "--to-hashbank", hma.url, "--bank", "NGO_CASES")
        assert again.exit_code == 0 and "0 hashes added to NGO_CASES, 3 were already there" in again.stderr
        assert len(hma.state.sent("POST", "/c/bank/NGO_CASES/signal")) == 3
        for request in hma.state.requests:
            for secret in SECRETS:
                assert secret.encode() not in request.body


def test_a_push_to_a_missing_bank_says_so_and_sends_no_hash(two_cases: tuple[Path, str, str]) -> None:
    db, a, _ = two_cases
    with FakeHMA() as hma:
        result = run("export", "--db", str(db), "--case", a, "--to-hashbank", hma.url, "--bank", "NO_SUCH_BANK")
        assert result.exit_code == 1 and "no bank called NO_SUCH_BANK; create it first" in result.stderr
        assert hma.state.sent("POST") == []


@pytest.fixture()
def turned_photo(tmp_path: Path) -> tuple[Path, Path, str]:
    """A case holding one phone photo that its EXIF tag turns (8: 270 degrees) and one plain photo."""
    folder = tmp_path / "photos"
    write_photos(folder, [433])
    exif = Image.Exif()
    exif[0x0112] = 8
    scene(434, (1200, 900)).save(folder / "turned.jpg", quality=90, exif=exif)
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Turned", "US")
        list(protect_paths(store, case, [folder], jobs=1))
    return db, folder, case.id


def csv_rows(db: Path, *options: str) -> tuple[list[dict[str, str]], str]:
    result = run("export", "--db", str(db), "--format", "csv", *options)
    assert result.exit_code == 0, result.output
    return list(csv.DictReader(io.StringIO(result.stdout))), result.stderr


def test_variants_choose_which_pdq_values_leave_and_the_count_says_so(turned_photo: tuple[Path, Path, str]) -> None:
    db, _, _ = turned_photo
    rows, status = csv_rows(db)  # --variants stored is the default
    assert sorted(r["variant"] for r in rows) == ["as stored in the file", "original", "original"]
    assert "2 pictures, 0 videos as 3 hashes, 1 as stored in the file exported" in status
    rows, status = csv_rows(db, "--variants", "none")
    assert [r["variant"] for r in rows] == ["original", "original"]
    assert "2 pictures, 0 videos as 2 hashes exported" in status
    rows, status = csv_rows(db, "--variants", "dihedral")
    assert len(rows) == len({r["hash"] for r in rows}) == 17  # 8 each, and the turned photo as stored
    assert {r["variant"] for r in rows} >= {"rotated 90", "mirrored left-right", "as stored in the file"}
    assert "2 pictures, 0 videos as 17 hashes, 1 as stored in the file exported" in status


def test_protecting_the_same_file_again_adds_the_value_an_older_version_did_not_keep(
    turned_photo: tuple[Path, Path, str],
) -> None:
    db, folder, case_id = turned_photo
    with sqlite3.connect(db) as conn:  # as an item protected before the stored variant existed
        conn.execute("DELETE FROM protected_signals WHERE variant = 8")
    assert len(csv_rows(db)[0]) == 2

    with Store(db) as store:
        again = list(protect_paths(store, store.get_case(case_id), [folder / "turned.jpg"], jobs=1))
        assert [o.created for o in again] == [False]  # the same item, not a second one
        assert len(store.protected_items(case_id)) == 2
    rows, _ = csv_rows(db)
    assert sorted(r["variant"] for r in rows) == ["as stored in the file", "original", "original"]


def test_each_variant_is_its_own_hash_bank_item_with_a_note_naming_case_item_and_variant(
    turned_photo: tuple[Path, Path, str],
) -> None:
    db, _, case_id = turned_photo
    with Store(db) as store:
        turned = next(i for i in store.protected_items(case_id) if i.label == "turned.jpg")
    with FakeHMA() as hma:
        result = run("export", "--db", str(db), "--to-hashbank", hma.url, "--bank", "NGO_CASES", "--create-bank")
        assert result.exit_code == 0, result.output
        pushed = [json.loads(p.body) for p in hma.state.sent("POST", "/c/bank/NGO_CASES/signal")]
    assert len(pushed) == 3 and len({p["pdq"] for p in pushed}) == 3
    notes = sorted(p["note"] for p in pushed)
    assert f"stopncii-tools case {case_id} item {turned.id}; variant: as stored in the file" in notes
    assert f"stopncii-tools case {case_id} item {turned.id}; variant: original" in notes
    assert "3 hashes added to NGO_CASES" in result.stderr
