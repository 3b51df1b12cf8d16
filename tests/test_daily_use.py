"""Daily use on an 80-column screen: short tables that wrap at spaces only, one match explained
in plain words, matches across every open case, and a board that names cases by their title."""

from __future__ import annotations

import csv
import functools
import http.server
import io
import json
import re
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stopncii_tools.cli import cli
from stopncii_tools.cli.cases import MATCH_COLUMNS
from stopncii_tools.media.samples import write_edits, write_photos
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.scan import ScanOptions, scan_sources

WIDTH = 80
DEEP = "uploads/2026/06/01/albums/summer-holiday-collection/originals"  # a long path, as real sites have


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"COLUMNS": str(WIDTH)})


@pytest.fixture()
def two_cases(tmp_path: Path) -> Iterator[tuple[Path, list[str]]]:
    """Two open cases, each with copies found at long addresses on two platforms."""
    site = tmp_path / "site"
    (site / DEEP).mkdir(parents=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    port = server.server_address[1]
    db = tmp_path / "cases.db"
    ids = []
    with Store(db) as store:
        for title, seed in (("Maria Lopez, reported by the helpline in June", 411), ("Second person", 412)):
            photos = write_photos(tmp_path / f"mine{seed}", [seed])
            write_edits(site / DEEP, photos)
            case = store.create_case(title, "US")
            ids.append(case.id)
            list(protect_paths(store, case, [tmp_path / f"mine{seed}"], jobs=1))
            urls = [f"http://t.me:{port}/{DEEP}/photo{seed}-resized.jpg",
                    f"http://vk.com:{port}/{DEEP}/photo{seed}-watermarked.jpg"]
            hosts = {"t.me": "127.0.0.1", "vk.com": "127.0.0.1"}
            outcomes = list(scan_sources(store, case, urls, ScanOptions(allow_private=True, hosts=hosts)))
            assert all(o.matches for o in outcomes), [o.error for o in outcomes]
    yield db, ids
    server.shutdown()
    server.server_close()


def assert_fits(text: str, words: list[str], width: int = WIDTH) -> None:
    """No line is wider than the screen, and each word the person must read is whole on one line."""
    assert text.strip()
    too_long = [line for line in text.splitlines() if len(line) > width]
    assert not too_long, too_long
    for word in words:
        assert re.search(rf"(?<![\w-]){re.escape(word)}(?![\w-])", text), (word, text)


def test_matches_list_every_open_case_in_80_columns(two_cases: tuple[Path, list[str]]) -> None:
    db, ids = two_cases
    result = run("matches", "--db", str(db))  # no --case: every open case, for a caseworker
    assert result.exit_code == 0, result.output
    assert_fits(result.stdout, ["Maria", "Lopez", "Second", "person", "pending", "copy", "(high)",
                                "photo411.jpg", "photo412.jpg", "t.me", "vk.com"])
    assert result.stdout.count("pending") == 4 and "Matches in 2 cases" in result.stdout
    assert "-resized.jpg" in result.stdout and "marked.jpg" in result.stdout  # the end of the address
    only_one = run("matches", "--db", str(db), "--case", ids[1])
    assert "Maria" not in only_one.stdout and only_one.stdout.count("pending") == 2


def test_csv_and_json_keep_every_field(two_cases: tuple[Path, list[str]]) -> None:
    db, _ = two_cases
    rows = list(csv.DictReader(io.StringIO(run("matches", "--db", str(db), "--csv").stdout)))
    assert len(rows) == 4 and tuple(rows[0]) == MATCH_COLUMNS
    # the full address, unshortened (rows come in the order the downloads finished)
    assert any(row["found_at"].endswith(f"/{DEEP}/photo411-resized.jpg") for row in rows)
    assert rows[0]["case_title"] == "Maria Lopez, reported by the helpline in June"
    records = [json.loads(line) for line in run("matches", "--db", str(db), "--json").stdout.splitlines()]
    assert {"found_at", "signal", "distance", "evidence", "item_sha256", "why"} <= set(records[0])


def test_one_match_is_explained_in_plain_words(two_cases: tuple[Path, list[str]]) -> None:
    db, _ = two_cases
    [first] = [json.loads(line) for line in run("matches", "--db", str(db), "--json").stdout.splitlines()][:1]
    result = run("matches", "show", str(first["match"]), "--db", str(db))
    assert result.exit_code == 0, result.output
    text, words = result.stdout, " ".join(result.stdout.split())
    assert f"Match {first['match']}, in case Maria Lopez, reported by the helpline in June" in words
    assert "What was found: a copy of your photo (it may be resized, recompressed or lightly edited)." in words
    assert "PDQ (the fingerprint StopNCII uses): the fingerprints differ in" in words
    assert first['found_at'] in text.split() and "Where:" in text  # the whole address, never broken
    assert f"Next: 'stopncii matches confirm {first['match']}' if this is you" in words
    long_lines = [line for line in text.splitlines() if len(line) > WIDTH and "://" not in line]
    assert not long_lines, long_lines
    missing = run("matches", "show", "999", "--db", str(db))
    assert missing.exit_code == 1 and "there is no match 999" in missing.stderr


def test_a_derived_picture_is_explained_as_made_from_the_photo() -> None:
    from stopncii_tools.matching import explain

    evidence = [{"signal": "regions", "score": 90, "threshold": 12, "coverage": 1.0, "replaced": 0.4,
                 "agreeing": ["90 local features agree under one geometry (shown at 1.00x, turned +0 degrees)",
                              "top-left of your photo matches", "top-right of your photo matches"],
                 "differing": ["middle of your photo was replaced", "bottom of your photo was replaced"]}]
    [line] = explain.explain("derived", evidence)
    assert line.startswith("made from your photo: 90 local features agree")
    assert "top-left of your photo matches" in line and "middle of your photo was replaced" in line
    assert explain.summary("derived").startswith("made from your photo: parts of it agree and a large part was replaced")
    assert explain.explain("partial", evidence)[0].startswith("part of your photo: ")


def test_the_board_names_cases_by_title_in_80_columns(two_cases: tuple[Path, list[str]]) -> None:
    db, ids = two_cases
    for case_id in ids:
        assert run("matches", "confirm", "--db", str(db), *[str(m.id) for m in Store(db).matches(case_id)]).exit_code == 0
        assert run("requester", "set", "--db", str(db), "--case", case_id, "--name", "Jane Doe",
                   "--email", "jane.reports@example.org", "--signature", "/Jane Doe/").exit_code == 0
        assert run("notice", "draft", "--db", str(db), "--case", case_id, "--yes").exit_code == 0
    board = run("status", "--db", str(db))
    assert board.exit_code == 0, board.output
    assert_fits(board.stdout, ["Maria", "Lopez,", "helpline", "Second", "person", "telegram", "vk"])
    assert "Maria Lopez," in board.stdout and "telegram (ru)" in board.stdout
    records = [json.loads(line) for line in run("status", "--db", str(db), "--json").stdout.splitlines()]
    assert {r["case"] for r in records} == set(ids)  # --json keeps the id, and adds the title
    assert {r["case_title"] for r in records} == {"Maria Lopez, reported by the helpline in June", "Second person"}
    notices = run("notice", "list", "--db", str(db), "--all-cases")
    assert_fits(notices.stdout, ["telegram", "vk", "draft", "en", "ru", "abuse@telegram.org"])
    cases = run("case", "list", "--db", str(db))
    assert_fits(cases.stdout, ["Maria", "Lopez,", "Second", "person", "open"])


def test_a_space_in_a_host_name_gets_a_plain_message(tmp_path: Path) -> None:
    db = str(tmp_path / "cases.db")
    run("case", "new", "Spaces", "--db", db)
    for address, words in (("http://my site.example/x.jpg", "has a space or an invisible character in it"),
                           ("http://my%20site.example/x.jpg", "'my%20site.example' is not a valid server name")):
        result = run("scan", "--db", db, address)
        assert result.exit_code == 1 and words in result.stderr, result.stderr
        assert "network interface" not in result.stderr


def test_a_match_is_worded_the_same_in_matches_show_case_show_and_the_report(
        two_cases: tuple[Path, list[str]], tmp_path: Path) -> None:
    db, ids = two_cases
    [first] = [json.loads(line) for line in run("matches", "--db", str(db), "--case", ids[0], "--json").stdout.splitlines()][:1]
    shown = " ".join(run("matches", "show", str(first["match"]), "--db", str(db)).stdout.split())
    out = tmp_path / "report.json"
    assert run("report", "--db", str(db), "--case", ids[0], "--out", str(out)).exit_code == 0
    [line] = [m for s in json.loads(out.read_text())["sightings"] for m in s["matches"] if m["match"] == first["match"]]
    assert line["kind"] == "a copy of your photo (it may be resized, recompressed or lightly edited)"
    assert line["how"] and all(" ".join(how.split()) in shown for how in line["how"])
    case = run("case", "show", "--db", str(db), "--case", ids[0], "--json")
    events = json.loads(case.stdout)["events"]
    found = [e["what"] for e in events if e["action"] == "match.found"]
    assert found and all("a copy of your photo" in what for what in found)
    assert any(e["what"].startswith("Item 1 was protected") for e in events)
