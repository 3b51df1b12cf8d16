"""``stopncii hash`` as a person uses it: files, folders, stdin, formats, bad files, exit codes."""

from __future__ import annotations

import csv
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from stopncii_tools.cli import cli
from stopncii_tools.signals._examples import encode, scene


@pytest.fixture()
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    (folder / "sub").mkdir(parents=True)
    (folder / "a.jpg").write_bytes(encode(scene(41)))
    (folder / "sub" / "b.png").write_bytes(encode(scene(42), "PNG"))
    (folder / "readme.txt").write_text("not a picture")
    (folder / ".hidden.jpg").write_bytes(encode(scene(43)))
    return folder


def _run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_json_lines_for_a_folder(photos: Path) -> None:
    result = _run("hash", "--jobs", "1", "--json", str(photos))
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert sorted(Path(r["path"]).name for r in records) == ["a.jpg", "b.png"]
    for record in records:
        assert record["kind"] == "image" and len(record["pdq"]) == 64
        assert 0 <= record["pdq_quality"] <= 100 and len(record["sha256"]) == 64
        assert {"phash", "dhash", "whash", "colorhash", "md5", "width", "height", "format"} <= record.keys()
    assert "skipped" in result.stderr and "readme.txt" in result.stderr


def test_csv_output_has_a_header_and_a_row_per_file(photos: Path) -> None:
    result = _run("hash", "--jobs", "1", "--csv", str(photos / "a.jpg"))
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert len(rows) == 1 and rows[0]["format"] == "jpeg" and len(rows[0]["pdq"]) == 64


def test_readable_output_on_a_terminal(photos: Path) -> None:
    result = _run("hash", "--jobs", "1", str(photos / "a.jpg"))
    assert "pdq" in result.stdout and "quality" in result.stdout
    assert "Nothing left this computer" in result.stderr


def test_paths_from_stdin_and_patterns(photos: Path) -> None:
    listing = f"{photos / 'a.jpg'}\n# a comment\n\n{photos / 'sub' / 'b.png'}\n"
    result = _run("hash", "--jobs", "1", "--json", "-", input=listing)
    assert len(result.stdout.splitlines()) == 2
    only_png = _run("hash", "--jobs", "1", "--json", "--include", "*.png", str(photos))
    assert [Path(json.loads(line)["path"]).name for line in only_png.stdout.splitlines()] == ["b.png"]
    no_png = _run("hash", "--jobs", "1", "--json", "--exclude", "*.png", str(photos))
    assert [Path(json.loads(line)["path"]).name for line in no_png.stdout.splitlines()] == ["a.jpg"]


def test_a_bad_file_is_reported_and_the_run_goes_on(photos: Path) -> None:
    broken = photos / "broken.jpg"
    broken.write_bytes(encode(scene(44))[:1500])
    result = _run("hash", "--jobs", "1", "--json", str(photos / "a.jpg"), str(broken), str(photos / "sub"))
    assert result.exit_code == 1
    records = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [r for r in records if "error" in r]
    assert len(records) == 3 and len(errors) == 1 and "broken.jpg" in errors[0]["error"]
    assert "broken.jpg" in result.stderr and "2 hashed, 1 could not be read" in result.stderr


def test_explicit_non_picture_is_an_error_not_a_skip(photos: Path) -> None:
    result = _run("hash", "--jobs", "1", str(photos / "readme.txt"))
    assert result.exit_code == 1 and "not a picture or video format" in result.stderr


def test_process_pool_gives_the_same_hashes(photos: Path) -> None:
    serial = _run("hash", "--jobs", "1", "--json", str(photos))
    pooled = _run("hash", "--jobs", "2", "--json", str(photos))
    key = lambda out: sorted(out.stdout.splitlines())  # noqa: E731
    assert key(serial) == key(pooled)


def test_symlink_loop_in_a_folder_is_reported(tmp_path: Path) -> None:
    (tmp_path / "x.jpg").symlink_to(tmp_path / "y.jpg")
    (tmp_path / "y.jpg").symlink_to(tmp_path / "x.jpg")
    (tmp_path / "loop").symlink_to(tmp_path)  # a folder link back to itself is not followed
    (tmp_path / "ok.jpg").write_bytes(encode(scene(45)))
    result = _run("hash", "--jobs", "1", "--json", str(tmp_path))
    assert result.exit_code == 1
    names = {Path(json.loads(line)["path"]).name: json.loads(line) for line in result.stdout.splitlines()}
    assert "pdq" in names["ok.jpg"] and "Too many levels of symbolic links" in names["x.jpg"]["error"]


def test_unreadable_file_says_permission_denied(tmp_path: Path) -> None:
    locked = tmp_path / "locked.jpg"
    locked.write_bytes(encode(scene(46)))
    locked.chmod(0o000)
    command = [sys.executable, "-m", "stopncii_tools", "hash", "--jobs", "1", str(locked)]
    if os.geteuid() == 0:  # root reads everything: drop the capabilities that allow it
        if not shutil.which("setpriv"):
            pytest.skip("running as root without setpriv to drop file-access rights")
        command = ["setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search", *command]
    result = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert result.returncode == 1, result.stderr
    assert "locked.jpg: permission denied" in result.stderr


def test_help_teaches_with_an_example() -> None:
    result = _run("hash", "--help")
    assert "Examples:" in result.output and "stopncii hash photo.jpg" in result.output


def test_ctrl_c_stops_cleanly(tmp_path: Path) -> None:
    import signal

    (tmp_path / "a.jpg").write_bytes(encode(scene(47)))
    process = subprocess.Popen([sys.executable, "-m", "stopncii_tools", "hash", "--jobs", "2", "--json", "-"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write(f"{tmp_path / 'a.jpg'}\n" * 9)  # more than the pool takes in at once
    process.stdin.flush()
    assert '"pdq"' in process.stdout.readline()  # hashing is under way; more paths may still come
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert "Stopped" in err and "Traceback" not in err
