"""Videos in a case: protect a video, find its re-encoded cut; find a protected photo inside a video."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from stopncii_tools import hash_bytes
from stopncii_tools.cli import cli
from stopncii_tools.media.samples import write_photos
from stopncii_tools.signals._examples import scene

pytest.importorskip("av")
from .test_video import make_video  # noqa: E402


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_protected_video_is_found_in_a_shorter_reencoded_copy_and_a_photo_inside_a_video(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    run("case", "new", "Video", "--db", str(db))
    mine = tmp_path / "mine"
    mine.mkdir()
    frames = [scene(800 + i // 10, (320, 240)) for i in range(60)]  # 6 s, a new shot every second
    make_video(mine / "clip.mp4", frames)
    photo = write_photos(mine, [851], size=(320, 240))["photo851.jpg"]
    protected = run("protect", "--db", str(db), "--jobs", "1", "--json", str(mine))
    assert protected.exit_code == 0, protected.output

    reported = tmp_path / "reported"
    reported.mkdir()
    make_video(reported / "cut.mp4", frames[20:], rate=10)  # the last 4 seconds
    make_video(reported / "with-photo.mp4", [scene(900 + i // 10, (320, 240)) for i in range(30)] + [photo] * 30)
    make_video(reported / "other.mp4", [scene(950 + i // 10, (320, 240)) for i in range(40)])
    result = run("scan", "--db", str(db), "--jobs", "1", "--json", str(reported))
    assert result.exit_code == 0, result.output
    found = {(Path(r["found_at"]).name, r["label"]) for r in map(json.loads, result.stdout.splitlines())}
    assert found == {("cut.mp4", "clip.mp4"), ("with-photo.mp4", "photo851.jpg")}


def test_video_gets_exact_hashes_and_frames(tmp_path: Path) -> None:
    data = make_video(tmp_path / "v.mp4", [scene(960 + i // 10, (320, 240)) for i in range(30)])
    hashes = hash_bytes(data)
    assert hashes.kind == "video" and hashes.format == "mp4" and (hashes.width, hashes.height) == (320, 240)
    assert set(hashes.signals) == {"md5", "sha256", "vpdq"} and len(hashes.frames) == 3
    assert set(hashes.to_dict()["signals"]) == {"md5", "sha256"}  # frames are listed on their own
