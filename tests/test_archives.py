"""Pictures inside zip archives are protected and found, in memory, with the limits of any input:
too many files, too large, nested too deep, zip bombs and damaged archives are refused by name,
and the other files go on. Pictures inside PDF documents are found page by page."""

from __future__ import annotations

import io
import json
import os
import zipfile
from pathlib import Path

from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stopncii_tools.cli import cli
from stopncii_tools.media.archives import MAX_DEPTH, MAX_MEMBERS, archive_members
from stopncii_tools.media.files import iter_files
from stopncii_tools.media.samples import write_edits, write_photos
from stopncii_tools.signals.hashing import hash_files


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def zip_of(files: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def everything_under(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*")}


def test_pictures_in_a_zip_are_protected_and_found_without_unpacking_to_disk(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos", [431, 432])
    edits = tmp_path / "edits"
    write_edits(edits, photos)
    mine = tmp_path / "mine.zip"
    nested = zip_of({"deeper/photo432.jpg": (tmp_path / "photos" / "photo432.jpg").read_bytes()})
    mine.write_bytes(zip_of({"holiday/photo431.jpg": (tmp_path / "photos" / "photo431.jpg").read_bytes(),
                             "more.zip": nested, "readme.txt": b"my photos"}))
    reported = tmp_path / "reported"
    reported.mkdir()
    (reported / "download.zip").write_bytes(zip_of({"a/photo431-resized.jpg": (edits / "photo431-resized.jpg").read_bytes(),
                                                   "photo432-mirrored.jpg": (edits / "photo432-mirrored.jpg").read_bytes()}))
    before = everything_under(tmp_path)
    db = str(tmp_path / "cases.db")
    assert run("case", "new", "Archives", "--db", db).exit_code == 0
    protected = run("protect", "--db", db, "--jobs", "1", "--json", str(mine))
    assert protected.exit_code == 0, protected.output
    records = [json.loads(line) for line in protected.stdout.splitlines()]
    assert {r["path"] for r in records} == {f"{mine}!holiday/photo431.jpg", f"{mine}!more.zip!deeper/photo432.jpg"}
    assert {r["status"] for r in records} == {"added"}
    assert f"skipped {mine}!readme.txt" in protected.stderr  # passed over in words, like a text file in a folder
    scanned = run("scan", "--db", db, "--jobs", "1", "--json", str(reported))
    assert scanned.exit_code == 0, scanned.output
    found = {json.loads(line)["source"]: json.loads(line)["label"] for line in scanned.stdout.splitlines()}
    assert found == {"download.zip!a/photo431-resized.jpg": "photo431.jpg",  # where it was seen, without the folders
                     "download.zip!photo432-mirrored.jpg": "photo432.jpg"}
    assert everything_under(tmp_path) - before == {tmp_path / "cases.db"}  # nothing was unpacked to disk


def test_archive_limits_refuse_by_name_and_the_rest_goes_on(tmp_path: Path) -> None:
    photo = (next(iter(write_photos(tmp_path / "p", [433]))), )
    picture = (tmp_path / "p" / photo[0]).read_bytes()
    bomb = b"\0" * (20 * 1024 * 1024)  # 20 MB of zeros packs into about 20 KB
    deep = zip_of({"photo.jpg": picture})
    for _ in range(MAX_DEPTH + 1):
        deep = zip_of({"inner.zip": deep})
    cases = {
        "bomb.zip": zip_of({"bomb.bin": bomb, "photo.jpg": picture}),
        "deep.zip": deep,
        "many.zip": zip_of({f"f{i}.txt": b"" for i in range(MAX_MEMBERS + 1)}, zipfile.ZIP_STORED),
        "broken.zip": zip_of({"photo.jpg": picture})[:-30],
    }
    for name, data in cases.items():
        (tmp_path / name).write_bytes(data)
    outcomes = {o.path: o for o in hash_files(iter_files([tmp_path / n for n in cases]), jobs=1)}
    bomb_file = f"{tmp_path / 'bomb.zip'}!bomb.bin"
    assert "compressed more than 100 to 1, the mark of a zip bomb" in (outcomes[bomb_file].error or "")
    assert outcomes[f"{tmp_path / 'bomb.zip'}!photo.jpg"].hashes is not None  # the other file still counts
    too_deep = [o for path, o in outcomes.items() if path.startswith(str(tmp_path / "deep.zip"))]
    assert [o.error for o in too_deep] == [
        f"{too_deep[0].path}: archives nested more than {MAX_DEPTH} deep are not opened"]
    assert f"holds {MAX_MEMBERS + 1} files; at most {MAX_MEMBERS} are read" in (outcomes[str(tmp_path / 'many.zip')].error or "")
    assert "this zip archive is damaged or incomplete" in (outcomes[str(tmp_path / "broken.zip")].error or "")
    assert all(not o.skipped for o in (outcomes[bomb_file], *too_deep))  # refusals are errors, never quiet


def test_a_size_that_lies_is_refused(tmp_path: Path) -> None:
    data = bytearray(zip_of({"photo.jpg": b"x" * 4000}, zipfile.ZIP_STORED))
    # the declared unpacked size, in the central directory, says 2000 bytes where 4000 are stored
    central = data.rindex(b"PK\x01\x02")
    data[central + 24:central + 28] = (2000).to_bytes(4, "little")
    (tmp_path / "lying.zip").write_bytes(bytes(data))
    [member] = archive_members(tmp_path / "lying.zip")
    assert member.data is None and member.problem is not None
    assert member.problem.startswith("its content does not match what the archive says; the archive is damaged")


def _pdf_of(*pictures: Image.Image) -> bytes:
    """A PDF document with one picture per page, as a scanner or a 'save as PDF' makes it."""
    buffer = io.BytesIO()
    pictures[0].save(buffer, "PDF", save_all=True, append_images=list(pictures[1:]))
    return buffer.getvalue()


def test_pictures_inside_a_pdf_are_found_page_by_page(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "photos", [441, 442])
    db = str(tmp_path / "cases.db")
    assert run("case", "new", "Documents", "--db", db).exit_code == 0
    assert run("protect", "--db", db, "--jobs", "1", str(tmp_path / "photos")).exit_code == 0
    reported = tmp_path / "reported"
    reported.mkdir()
    other = write_photos(tmp_path / "other", [443])["photo443.jpg"]
    (reported / "dossier.pdf").write_bytes(_pdf_of(other, photos["photo442.jpg"].resize((640, 480))))
    (reported / "letters.zip").write_bytes(zip_of({"in/scan.pdf": _pdf_of(photos["photo441.jpg"])}))
    before = everything_under(tmp_path)
    result = run("scan", "--db", db, "--jobs", "1", "--json", str(reported))
    assert result.exit_code == 0, result.output
    found = sorted((r["source"], r["label"]) for r in map(json.loads, result.stdout.splitlines()) if "match" in r)
    assert [(source.endswith(("dossier.pdf!page 2/image.jpg", "letters.zip!in/scan.pdf!page 1/image.jpg")), label)
            for source, label in found] == [(True, "photo442.jpg"), (True, "photo441.jpg")]
    assert everything_under(tmp_path) == before  # nothing unpacked to disk


def test_a_damaged_or_empty_pdf_is_one_line_and_the_rest_goes_on(tmp_path: Path) -> None:
    folder = tmp_path / "reported"
    folder.mkdir()
    (folder / "cut.pdf").write_bytes(_pdf_of(Image.new("RGB", (300, 200), (90, 20, 20)))[:200])
    (folder / "text-only.pdf").write_bytes(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n")
    write_photos(folder, [444])
    db = str(tmp_path / "cases.db")
    assert run("case", "new", "Documents", "--db", db).exit_code == 0
    result = run("scan", "--db", db, "--jobs", "1", str(folder))
    assert result.exit_code == 1
    lines = [line for line in result.stderr.splitlines() if ".pdf" in line]
    assert any("cut.pdf" in line and "damaged or could not be read" in line for line in lines), result.stderr
    assert any("text-only.pdf" in line for line in lines), result.stderr
    assert "1 scanned, 2 failed" in result.stderr  # the photo beside them was still checked


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.tuples(st.integers(0, 400), st.integers(0, 255)), min_size=1, max_size=8))
def test_a_damaged_archive_never_crashes_and_every_item_has_an_outcome(tmp_path: Path, damage: list[tuple[int, int]]) -> None:
    data = bytearray(zip_of({"a.jpg": os.urandom(300), "b/c.txt": b"hello" * 50, "d.zip": zip_of({"e.txt": b"x"})}))
    for offset, value in damage:
        data[offset % len(data)] = value
    path = tmp_path / "damaged.zip"
    path.write_bytes(bytes(data))
    for outcome in hash_files(iter_files([path]), jobs=1):
        assert outcome.hashes is not None or outcome.error
