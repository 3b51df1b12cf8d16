"""A case database written before every signal was a signal row still works: its video frames
and region signatures move into the signal tables when it is opened, and still match."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from stopncii_tools.matching import CaseMatcher
from stopncii_tools.media.samples import screenshot
from stopncii_tools.signals._examples import clip, encode, scene
from stopncii_tools.signals.hashing import MediaHashes, hash_bytes
from stopncii_tools.store import Store
from stopncii_tools.store.migrations import MIGRATIONS
from tests.test_regions import photo

pytest.importorskip("cv2", reason="the derivatives extra (OpenCV) is not installed")
pytest.importorskip("av", reason="the video extra (PyAV) is not installed")

NOW = "2026-06-01T09:00:00+00:00"
SCENES = [scene(620 + i // 5, (320, 240)) for i in range(40)]


def _old_item(conn: sqlite3.Connection, item_id: int, hashes: MediaHashes) -> None:
    """A protected item as the code before migration 0005 wrote it."""
    frames = hashes.signals.get("vpdq")
    conn.execute(
        "INSERT INTO protected_items (id, case_id, label, kind, format, size, width, height, sha256, frames,"
        " created_at) VALUES (?, 'oldcas', NULL, ?, ?, ?, ?, ?, ?, ?, ?)",
        (item_id, hashes.kind, hashes.format, hashes.size, hashes.width, hashes.height, hashes.sha256,
         frames.value if frames else None, NOW))
    for v in hashes.hashes.values():
        conn.execute("INSERT INTO protected_signals VALUES (?, ?, 0, ?, ?)", (item_id, v.signal, v.value, v.quality))
    if "regions" in hashes.signals:
        conn.execute("INSERT INTO protected_regions VALUES (?, ?)", (item_id, hashes.signals["regions"].value))


def test_an_old_database_keeps_its_frames_and_region_signatures_and_still_matches(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    picture = hash_bytes(encode(photo(621), quality=92), on_request=["regions"])
    video = hash_bytes(clip(SCENES))
    suspect_video = hash_bytes(clip(SCENES[5:30], crf=30))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, apply in MIGRATIONS[:4]:  # the schema as released before this change
        apply(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, ?)", (name, NOW))
    conn.execute("INSERT INTO cases (id, title, created_at) VALUES ('oldcas', 'Old case', ?)", (NOW,))
    _old_item(conn, 1, picture)
    _old_item(conn, 2, video)
    conn.execute("INSERT INTO sightings (id, case_id, source, kind, sha256, frames, first_seen_at, last_seen_at)"
                 " VALUES (1, 'oldcas', 'clip.mp4', 'video', ?, ?, ?, ?)",
                 (suspect_video.sha256, suspect_video.signals["vpdq"].value, NOW, NOW))
    conn.close()

    with Store(path) as store:
        assert "0006_signals_in_one_table" in store.applied_migrations()
        tables = {row[0] for row in store.conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        assert "protected_regions" not in tables
        matcher = CaseMatcher.for_case(store, "oldcas")
        assert matcher.on_request == ("regions",) and len(matcher) == 2
        shot = hash_bytes(encode(screenshot(photo(621))), on_request=matcher.on_request)
        assert [(m.item_id, m.kind) for m in matcher.match(shot.signals)] == [(1, "partial")]
        [stored_frames] = [s.value for s in store.sighting_signals(1) if s.signal == "vpdq"]
        assert stored_frames == suspect_video.signals["vpdq"].value
        assert [(m.item_id, m.kind) for m in matcher.match(suspect_video.signals)] == [(2, "copy")]


def test_a_batch_rerun_matches_a_stored_screenshot_against_a_photo_protected_since(tmp_path: Path) -> None:
    """The second run fetches nothing: the sighting's stored region signature is matched again."""
    from click.testing import CliRunner

    from stopncii_tools.cli import cli
    from stopncii_tools.workflow.protect import protect_paths
    from tests._casework import PICS_HOST, site_server, write_intake_platform

    write_intake_platform()
    site, first, later, db = tmp_path / "site", tmp_path / "first", tmp_path / "later", tmp_path / "cases.db"
    first.mkdir()
    later.mkdir()
    (first / "a.jpg").write_bytes(encode(photo(631), quality=92))
    (later / "b.jpg").write_bytes(encode(photo(632), quality=92))
    with Store(db) as store:
        case = store.create_case("Batch", "US")
        list(protect_paths(store, case, [first], jobs=1))
    with site_server(site) as port:
        (site / "shot.jpg").write_bytes(encode(screenshot(photo(632))))
        batch = tmp_path / "reports.csv"
        batch.write_text(f"case,url\n{case.id},http://{PICS_HOST}:{port}/shot.jpg\n")
        args = ["batch", "run", str(batch), "--db", str(db), "--allow-private", "--resolve", f"{PICS_HOST}=127.0.0.1"]
        assert CliRunner().invoke(cli, args).exit_code == 0
        with Store(db) as store:
            assert store.matches(case.id) == []  # photo b is not protected yet
            list(protect_paths(store, case, [later], jobs=1))
        (site / "shot.jpg").unlink()  # a rerun does not fetch addresses it has seen
        assert CliRunner().invoke(cli, args).exit_code == 0
    with Store(db) as store:
        [match] = store.matches(case.id)
        assert match.kind == "partial" and store.protected_item(match.item_id).label == "b.jpg"
