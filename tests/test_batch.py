"""Batch runs from a CSV: cases made or found, rows confirmed only when they say so, bad lines
reported and skipped, re-runs that repeat nothing, and a send at the end."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stopncii_tools._errors import InputFileError
from stopncii_tools.cli import cli
from stopncii_tools.store import Store
from stopncii_tools.workflow.batch import COLUMNS, read_batch
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.takedown import case_requester, save_requester
from tests._casework import (
    PICS_HOST,
    REQUESTER,
    copies_on_site,
    intake_server,
    intake_settings,
    site_server,
    write_intake_platform,
    write_sending,
)

RESOLVE = ("--allow-private", "--resolve", f"{PICS_HOST}=127.0.0.1")


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env={"STOPNCII_NOW": "2026-06-01T09:00:00+00:00"})


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] = COLUMNS) -> Path:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns))
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(buffer.getvalue())
    return path


@pytest.fixture()
def world(tmp_path: Path):  # type: ignore[no-untyped-def]
    """A case with protected photos (no requester yet), their copies on a site, an intake API."""
    write_intake_platform()
    site = tmp_path / "site"
    with site_server(site) as port, intake_server() as intake:
        write_sending(intake_settings(intake))
        mine, names = copies_on_site(tmp_path, site, [421])
        db = tmp_path / "cases.db"
        with Store(db) as store:
            case = store.create_case("Person A", "US")
            list(protect_paths(store, case, [mine], jobs=1))
            template = store.create_case("NGO template", "US")
            save_requester(store, template.id, REQUESTER)
        urls = [f"http://{PICS_HOST}:{port}/{name}" for name in names]
        yield db, case.id, template.id, urls, site, intake


def test_a_batch_reports_bad_lines_confirms_only_what_it_is_told_and_repeats_nothing(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, case_id, _, urls, site, intake = world
    rows = [
        {"case": case_id, "url": urls[0], "confirmed": "yes", "note": "reported by the person"},  # line 2
        {"case": case_id, "url": urls[1]},  # line 3: a match, left for a person to confirm
        {"case": "Person B", "url": urls[2], "jurisdiction": "DE"},  # line 4: a new case
        {"case": case_id, "url": ""},  # line 5
        {"case": case_id, "url": "ftp://files.example/x.jpg"},  # line 6
        {"case": case_id, "url": urls[3], "framework": "gdpr"},  # line 7
        {"case": case_id, "url": urls[3], "confirmed": "maybe"},  # line 8
        {"case": "zz2zzz", "url": urls[3]},  # line 9: looks like a case id, names none
        {"case": case_id, "url": f"http://{PICS_HOST}:{urls[0].split(':')[2].split('/')[0]}/gone.jpg"},  # line 10
        {"case": "Person B", "url": urls[3]},  # line 11: the same new case again
        {"case": "ahuryx", "url": urls[3]},  # line 12: a mistyped id made only of letters
        {"case": "ahuryx", "url": urls[4], "new_case": "yes"},  # line 13: the row says to open it
        {"case": case_id, "url": urls[3], "jurisdiction": "XX"},  # line 14: no such country
    ]
    batch = write_csv(tmp_path / "reports.csv", rows)
    report_path = tmp_path / "report.json"
    result = run("batch", "run", str(batch), "--db", str(db), *RESOLVE, "--report", str(report_path))
    assert result.exit_code == 1
    for line, words in ((5, "the url column is empty"), (6, "is not a web address"), (7, "'gdpr' is not one we know"),
                        (8, "confirmed should be yes or no"), (9, "there is no case with id 'zz2zzz'"),
                        (10, "not found (HTTP 404)"), (12, "there is no case with id 'ahuryx'; check the id"),
                        (14, "'XX' is not the code of a country")):
        assert f"line {line}: " in result.stderr and words in result.stderr, (line, result.stderr)
    report = json.loads(report_path.read_text())
    by_line = {r["line"]: r for r in report["rows"]}
    assert by_line[2]["status"] == "scanned" and by_line[2]["confirmed"] == 1
    assert by_line[3]["matches"] == 1 and by_line[3]["pending"] == 1 and by_line[3]["confirmed"] == 0
    assert by_line[4]["case"] == by_line[11]["case"] != case_id and by_line[4]["matches"] == 0
    assert "new_case=yes" in result.stderr and by_line[13]["status"] == "scanned"
    assert report["summary"]["cases_created"] == 2 and report["summary"]["failed_rows"] == 8
    assert report["summary"]["notices"] == 0  # no --yes: scanned and matched only
    with Store(db) as store:
        assert len(store.cases_titled("Person B")) == 1 and len(store.cases_titled("ahuryx")) == 1
        assert sorted(m.status for m in store.matches(case_id)) == ["confirmed", "pending"]
        assert any(e.action == "batch.note" and e.detail["note"] == "reported by the person" for e in store.events(case_id))
        sightings = len(store.sightings(case_id))
    for picture in site.glob("*.jpg"):
        picture.unlink()  # a second run must not need the site: seen addresses are not fetched again
    again = run("batch", "run", str(batch), "--db", str(db), *RESOLVE, "--json")
    assert again.exit_code == 1
    summary = {r["case"]: r for r in map(json.loads, again.stdout.splitlines())}
    assert summary[case_id]["matches"] == 2
    with Store(db) as store:
        assert len(store.sightings(case_id)) == sightings and len(store.cases_titled("Person B")) == 1
    assert intake.received == []


def test_a_batch_drafts_and_sends_and_a_rerun_sends_nothing_more(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, case_id, template_id, urls, _, intake = world
    batch = write_csv(tmp_path / "reports.csv", [{"case": case_id, "url": u} for u in urls[:3]], ("case", "url"))
    refused = run("batch", "run", str(batch), "--db", str(db), "--send")
    assert refused.exit_code == 2 and "--send needs --yes" in refused.output
    args = ("batch", "run", str(batch), "--db", str(db), *RESOLVE, "--yes", "--confirm-matches", "--send",
            "--requester-from", template_id, "--report", str(tmp_path / "r.json"))
    result = run(*args)
    assert result.exit_code == 0, result.output
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["summary"]["sent"] == 3 and [s["outcome"] for s in report["sends"]] == ["sent"] * 3
    assert len(intake.received) == 3
    with Store(db) as store:
        assert case_requester(store, case_id) == REQUESTER  # copied from the template case
        notices = store.notices(case_id)
    assert {n.status for n in notices} == {"sent"} and len({n.notice_key for n in notices}) == 3
    assert run(*args).exit_code == 0
    assert len(intake.received) == 3  # nothing drafted or sent twice
    with Store(db) as store:
        assert len(store.notices(case_id)) == 3


def test_a_rerun_with_send_prints_web_form_packets_only_for_new_notices(tmp_path: Path) -> None:
    write_intake_platform(kind="web_form", address="https://pics.example/report")
    site = tmp_path / "site"
    with site_server(site) as port:
        mine, names = copies_on_site(tmp_path, site, [421])
        db = tmp_path / "cases.db"
        with Store(db) as store:
            case = store.create_case("Person A", "US")
            list(protect_paths(store, case, [mine], jobs=1))
            save_requester(store, case.id, REQUESTER)
        urls = [f"http://{PICS_HOST}:{port}/{name}" for name in names]
        args = ("batch", "run", "--db", str(db), *RESOLVE, "--yes", "--confirm-matches", "--send")
        first = run(*args, str(write_csv(tmp_path / "a.csv", [{"case": case.id, "url": urls[0]}], ("case", "url"))))
        assert first.exit_code == 0, first.output
        assert first.stdout.count("Notice key:") == 1  # the packet, to paste into the form
        second = run(*args, str(write_csv(tmp_path / "b.csv", [{"case": case.id, "url": u} for u in urls[:2]],
                                          ("case", "url"))))
    assert second.exit_code == 0, second.output
    assert second.stdout.count("Notice key:") == 1  # only the new notice's packet
    assert urls[1] in second.stdout and urls[0] not in second.stdout.split("Sending")[-1]
    assert "Still to submit by hand: notices 1 (their packets were printed by an earlier run" in second.stderr


def test_one_notice_cannot_use_two_laws(world, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    db, case_id, template_id, urls, _, _ = world
    batch = write_csv(tmp_path / "reports.csv", [
        {"case": case_id, "url": urls[0], "framework": "platform_policy", "confirmed": "yes"},
        {"case": case_id, "url": urls[1], "framework": "take_it_down", "confirmed": "yes"},
    ], ("case", "url", "framework", "confirmed"))
    result = run("batch", "run", str(batch), "--db", str(db), *RESOLVE, "--yes", "--requester-from", template_id,
                 "--json")
    assert result.exit_code == 1 and "line 3: line 2 asks for platform_policy" in result.stderr
    with Store(db) as store:
        notices = store.notices(case_id)
        statuses = [m.status for m in store.matches(case_id)]
    assert [n.framework for n in notices] == ["platform_policy"] and sorted(statuses) == ["confirmed", "pending"]


def test_unknown_columns_stop_the_file_with_a_clear_reason(tmp_path: Path) -> None:
    batch = tmp_path / "bad.csv"
    batch.write_text("case,url,confimred\nA,https://example.org/a.jpg,yes\n")
    with pytest.raises(InputFileError, match="unknown column 'confimred'"):
        read_batch(batch)
    batch.write_text("https://example.org/a.jpg\n")
    with pytest.raises(InputFileError, match="must name the columns"):
        read_batch(batch)


_cell = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=30)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.fixed_dictionaries({c: _cell for c in COLUMNS}), max_size=8))
def test_any_rows_are_read_or_reported_by_line_never_crash(tmp_path: Path, rows: list[dict[str, str]]) -> None:
    path = write_csv(tmp_path / "any.csv", rows)
    good, problems = read_batch(path)
    lines = [r.line for r in good] + [p.line for p in problems]
    assert len(lines) == len(set(lines))
    assert all(p.error and p.error.startswith(f"line {p.line}: ") for p in problems)
    assert all(r.url.startswith(("http://", "https://")) and r.case for r in good)
