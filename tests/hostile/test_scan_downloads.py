"""Hostile downloads (issue 16, item 6, for the web): what a scan downloads is decoded in a budgeted
worker like a local file, so a CPU or decompression bomb served by a site gets a one-line error
and the scan goes on. Run through the real command against a real server on loopback."""

from __future__ import annotations

import json
from pathlib import Path

from stopncii_tools.media.samples import write_photos
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths

from .._casework import site_server
from .test_local import GB, _tiny_8k_video, png_16bit_bomb, run_capped


def test_bombs_downloaded_by_a_scan_get_one_line_errors_and_the_scan_goes_on(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    photos = write_photos(tmp_path / "mine", [31])
    with Store(db) as store:
        case = store.create_case("Hostile site", "US")
        list(protect_paths(store, case, [tmp_path / "mine"], jobs=1))
    site = tmp_path / "site"
    site.mkdir()
    (site / "slow.mp4").write_bytes(_tiny_8k_video(frames=150))  # seconds of decoding in 100 kB
    (site / "grey16.png").write_bytes(png_16bit_bomb())  # 100 MP of 16-bit samples in 120 kB
    (site / "copy.jpg").write_bytes((tmp_path / "mine" / next(iter(photos))).read_bytes())
    with site_server(site) as port:
        urls = [f"http://127.0.0.1:{port}/{name}" for name in ("slow.mp4", "grey16.png", "copy.jpg")]
        done = run_capped(["scan", "--db", str(db), "--allow-private",
                           "-j", "1", "--json", *urls], tmp_path,
                          env={"STOPNCII_ITEM_SECONDS": "1"}, memory=3 * GB)  # the video takes seconds anywhere
    assert "Traceback" not in done.stderr, done.stderr[-3000:]
    records = [json.loads(line) for line in done.stdout.splitlines()]
    errors = {Path(r["source"]).name: r["error"] for r in records if "error" in r}
    assert "the time limit for this file, and was stopped" in errors["slow.mp4"]
    assert "would need about 3,147 MB of memory" in errors["grey16.png"]
    assert all(len(error.splitlines()) == 1 for error in errors.values())
    assert [Path(r["found_at"]).name for r in records if "match" in r] == ["copy.jpg"]
    assert done.returncode == 1  # some items failed; the others were checked
