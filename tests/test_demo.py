"""The README's main job: ``stopncii demo`` runs the whole flow on the default database:
protect, scan a folder and a page, draft a notice, record it sent, check for removal."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def _demo(home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stopncii_tools", "demo"], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "STOPNCII_HOME": str(home)})


def test_demo_protects_finds_and_drafts_a_notice_and_can_run_again(tmp_path: Path) -> None:
    first = _demo(tmp_path)
    assert first.returncode == 0, first.stderr
    out = first.stdout
    assert "23 items scanned, 20 matched a protected photo" in out
    assert "fake-made-from-a-photo.jpg" in out and "derived" in out and "partial" in out
    assert "6 items scanned, 6 matched a protected photo" in out
    assert "recorded as sent to abuse@photos.example" in out and "must act by" in out
    assert "3 of 6 addresses are gone" in out
    assert "Removal request under the TAKE IT DOWN Act" in out and "photos.example" in out
    assert (tmp_path / "cases.db").exists()
    second = _demo(tmp_path)
    assert second.returncode == 0, second.stderr
    assert "3 protected items, 29 sightings, 26 matches" in second.stdout  # a fresh demo case each time
    assert second.stdout.count("Demo: sample pictures") == first.stdout.count("Demo: sample pictures")
