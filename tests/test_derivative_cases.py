"""End to end: protect photos, scan their crops, screenshots and derivatives among distractors;
each is found with its own kind ("part of your photo", "derived from your photo")."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner
from PIL import Image, ImageOps

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import body_replaced, in_front, screenshot, site_watermark, sponsor_wall
from stopncii_tools.signals._examples import encode

pytest.importorskip("cv2", reason="the derivatives extra (OpenCV) is not installed")

PROTECTED = ["q0291.jpg", "q2821.jpg", "pen-and-coaster.png"]
DISTRACTORS = ["q0003.jpg", "q0004.jpg", "q0122.jpg", "q1050.jpg"]


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def _crop(img: Image.Image, share: float) -> Image.Image:
    dx, dy = int(img.width * share), int(img.height * share)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def test_crops_screenshots_and_derivatives_are_found_with_their_kind(shared_testdata: Path, tmp_path: Path) -> None:
    natural = shared_testdata / "pdq" / "natural"
    db = tmp_path / "cases.db"
    run("case", "new", "Derivatives", "--db", str(db))
    mine, reported = tmp_path / "mine", tmp_path / "reported"
    mine.mkdir()
    reported.mkdir()
    filler = Image.open(natural / "q0746.jpg").convert("RGB")
    expected: dict[str, tuple[str, str]] = {}
    for name in PROTECTED:
        (mine / name).write_bytes((natural / name).read_bytes())
        img = Image.open(natural / name).convert("RGB")
        stem = Path(name).stem
        for edit, picture, kind in (("crop15", _crop(img, 0.15), "partial"),
                                    ("screenshot", screenshot(img), "partial"),
                                    ("derived", body_replaced(img, filler), "derived")):
            (reported / f"{stem}-{edit}.jpg").write_bytes(encode(picture, quality=80))
            expected[f"{stem}-{edit}.jpg"] = (name, kind)
    for name in DISTRACTORS:
        (reported / name).write_bytes((natural / name).read_bytes())
    assert run("protect", "--db", str(db), "--jobs", "1", str(mine)).exit_code == 0
    result = run("scan", "--db", str(db), "--jobs", "1", "--json", str(reported))
    assert result.exit_code == 0, result.output
    found = {Path(r["found_at"]).name: (r["label"], r["kind"]) for r in map(json.loads, result.stdout.splitlines())}
    assert found == expected
    listed = [json.loads(line) for line in run("matches", "--db", str(db), "--json").stdout.splitlines()]
    assert all(m["status"] == "pending" for m in listed)  # each waits for the person's confirmation
    ranks = [["certain", "high", "medium", "low"].index(m["confidence"]) for m in listed]
    assert ranks == sorted(ranks) and len(set(ranks)) > 1  # surest first
    derived = next(m for m in listed if m["kind"] == "derived")
    assert "replaced" in json.dumps(derived["evidence"])


def _turned_mirrored_crop(img: Image.Image, degrees: float) -> Image.Image:
    turned = ImageOps.mirror(img).rotate(degrees, Image.Resampling.BICUBIC)
    return _crop(turned, 0.18)


def test_a_shared_watermark_and_backdrop_is_no_match_but_a_mirrored_turned_crop_is(
        shared_testdata: Path, tmp_path: Path) -> None:
    natural = shared_testdata / "pdq" / "natural"
    person, stranger = (Image.open(natural / name).convert("RGB") for name in ("q0291.jpg", "q1050.jpg"))
    mine, reported = tmp_path / "mine", tmp_path / "reported"
    mine.mkdir()
    reported.mkdir()
    # two people photographed at one event, in front of the same sponsor wall, posted by one site
    portrait = site_watermark(in_front(sponsor_wall((900, 700)), person, 0.3))
    other = site_watermark(in_front(sponsor_wall((900, 700), (37, 21), 1.08), stranger, 0.22))
    (mine / "portrait.jpg").write_bytes(encode(portrait, quality=92))
    (reported / "someone-else.jpg").write_bytes(encode(other, quality=80))
    (reported / "mirrored-turned.jpg").write_bytes(encode(_turned_mirrored_crop(portrait, 18), quality=80))
    db = tmp_path / "cases.db"
    run("case", "new", "Event photo", "--db", str(db))
    assert run("protect", "--db", str(db), "--jobs", "1", str(mine)).exit_code == 0
    result = run("scan", "--db", str(db), "--jobs", "1", "--json", str(reported))
    assert result.exit_code == 0, result.output
    found = {Path(r["found_at"]).name: r for r in map(json.loads, result.stdout.splitlines())}
    assert list(found) == ["mirrored-turned.jpg"]
    assert found["mirrored-turned.jpg"]["confidence"] in ("medium", "high")
    assert "mirrored, turned +18 degrees" in json.dumps(found["mirrored-turned.jpg"]["evidence"])
