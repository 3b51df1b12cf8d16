"""Deadlines, the status board, removal checks and follow-ups, on a clock the tests control."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import write_photos
from stopncii_tools.notices import render_statements
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.scan import ScanOptions, scan_sources
from stopncii_tools.workflow.takedown import plan_notices, save_plan
from tests._casework import (
    PICS_HOST,
    REQUESTER,
    copies_on_site,
    intake_server,
    intake_settings,
    make_case,
    site_server,
    write_intake_platform,
    write_sending,
)

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
RESOLVE = ("--allow-private", "--resolve", f"{PICS_HOST}=127.0.0.1")


def run(*args: str, at: datetime) -> Result:
    return CliRunner().invoke(cli, list(args), env={"STOPNCII_NOW": at.isoformat()})


def records(result: Result) -> list[dict]:  # type: ignore[type-arg]
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines()]


@pytest.fixture()
def sent_case(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Three notices (TAKE IT DOWN, 48 h): no. 1 sent at T0, no. 2 at T0 + 10 h, no. 3 a draft."""
    write_intake_platform()
    with site_server(tmp_path / "site") as port, intake_server() as intake:
        made = make_case(tmp_path, tmp_path / "site", port, count=3)
        write_sending(intake_settings(intake))
        assert run("notice", "send", "1", "--db", str(made.db), at=T0).exit_code == 0
        assert run("notice", "send", "2", "--db", str(made.db), at=T0 + timedelta(hours=10)).exit_code == 0
        yield made


def test_the_board_puts_the_most_urgent_first_as_deadlines_pass(sent_case) -> None:  # type: ignore[no-untyped-def]
    db = str(sent_case.db)
    board = records(run("status", "--db", db, "--json", at=T0 + timedelta(hours=40)))
    assert [(r["notice"], r["state"]) for r in board] == [(1, "due soon"), (3, "to send"), (2, "waiting")]
    assert board[0]["hours_left"] == 8 and board[0]["time_left"] == "8 h left"
    later = records(run("status", "--db", db, "--json", at=T0 + timedelta(hours=50)))
    assert [(r["notice"], r["state"]) for r in later] == [(1, "overdue"), (2, "due soon"), (3, "to send")]
    assert later[0]["time_left"] == "overdue by 2 h"
    assert later[0]["next_step"] == "follow up: stopncii notice follow-up 1"
    run("notice", "mark", "1", "removed", "--db", db, at=T0 + timedelta(hours=51))
    after = records(run("status", "--db", db, "--json", at=T0 + timedelta(hours=51)))
    assert [r["notice"] for r in after] == [2, 3]  # settled notices leave the board
    assert len(records(run("status", "--db", db, "--json", "--all", at=T0 + timedelta(hours=51)))) == 3


def test_check_records_removal_and_replacement_with_the_time_seen(sent_case) -> None:  # type: ignore[no-untyped-def]
    made = sent_case
    db = str(made.db)
    first = records(run("check", "--db", db, *RESOLVE, "--json", at=T0 + timedelta(hours=20)))
    assert [(r["notice"], r["outcome"]) for r in first] == [(1, "present"), (2, "present")]  # the draft is not out
    file_of = {r["notice"]: made.site / r["url"].rsplit("/", 1)[1] for r in first}
    file_of[1].unlink()  # notice 1's picture is taken down
    other = write_photos(made.site.parent / "other", [999])["photo999.jpg"]
    other.save(file_of[2], quality=80)  # notice 2's address now shows something else
    seen = T0 + timedelta(hours=30)
    second = records(run("check", "--db", db, *RESOLVE, "--json", at=seen))
    assert [(r["notice"], r["outcome"], r["http_status"]) for r in second] == [
        (1, "removed", 404), (2, "replaced", 200)]
    assert all(r["checked_at"] == seen.isoformat(timespec="seconds") and r["notice_status"] == "removed"
               for r in second)
    with Store(made.db) as store:
        notice = store.notice(1)
        sighting = store.match(notice.match_ids[0]).sighting_id
        history = [c.outcome for c in store.removal_checks(sighting)]
    assert notice.evidence["removal"]["seen_at"] == seen.isoformat(timespec="seconds")
    assert history == ["present", "removed"]
    third = records(run("check", "--db", db, *RESOLVE, "--json", at=seen + timedelta(hours=1)))
    assert third == []  # removed notices are settled: nothing left to fetch


def test_a_copy_re_encoded_in_place_is_still_there(sent_case) -> None:  # type: ignore[no-untyped-def]
    made = sent_case
    from PIL import Image

    for name in made.copies:
        path = made.site / name
        with Image.open(path) as picture:
            picture.convert("RGB").save(path, quality=60)  # new bytes, same picture
    [one, _] = records(run("check", "--db", str(made.db), *RESOLVE, "--json", at=T0 + timedelta(hours=1)))
    assert one["outcome"] == "present" and "still shows the picture" in one["detail"]
    assert one["notice_status"] == "sent"


def test_media_gone_from_its_page_counts_as_removed(tmp_path: Path) -> None:
    write_intake_platform()
    site = tmp_path / "site"
    with site_server(site) as port, intake_server() as intake:
        write_sending(intake_settings(intake))
        mine, names = copies_on_site(tmp_path, site, [411])
        (site / "post.html").write_text(f'<!doctype html><html><body><img src="{names[0]}"></body></html>')
        db = tmp_path / "cases.db"
        with Store(db) as store:
            case = store.create_case("Page", "US")
            list(protect_paths(store, case, [mine], jobs=1))
            store.set_requester(case.id, REQUESTER)
            page = f"http://{PICS_HOST}:{port}/post.html"
            options = ScanOptions(allow_private=True, hosts={PICS_HOST: "127.0.0.1"})
            [outcome] = scan_sources(store, case, [page], options)
            store.decide_match(outcome.matches[0].id, "confirmed")
            plan = plan_notices(store, case, load_directory(), REQUESTER)
            plan.notices = [(n.with_confirmed(s for s, _ in render_statements(n)), w, i) for n, w, i in plan.notices]
            save_plan(store, case, plan)
        assert run("notice", "send", "--db", str(db), at=T0).exit_code == 0
        (site / "post.html").write_text("<!doctype html><html><body><p>This post was removed.</p></body></html>")
        [checked] = records(run("check", "--db", str(db), *RESOLVE, "--json", at=T0 + timedelta(hours=5)))
    assert checked["outcome"] == "gone_from_page" and "no longer shows it" in checked["detail"]
    assert checked["notice_status"] == "removed"
    assert (site / names[0]).read_bytes() not in db.read_bytes()  # fetched to compare, never kept


def test_follow_up_for_an_overdue_notice_names_the_request_and_the_ftc(sent_case) -> None:  # type: ignore[no-untyped-def]
    made = sent_case
    db = str(made.db)
    records(run("check", "--db", db, *RESOLVE, "--json", at=T0 + timedelta(hours=49)))
    text = run("notice", "follow-up", "1", "--db", db, at=T0 + timedelta(hours=50)).stdout
    with Store(made.db) as store:
        notice = store.notice(1)
    assert f"reference {notice.notice_key[:12]}" in text and "On 2026-06-01 I asked you" in text
    url = next(u for u in made.urls if u in text)
    assert "that time ended on 2026-06-03 09:00 UTC" in text and f"1. {url} (still online" in text
    assert "still online" in text and "Federal Trade Commission" in text
    assert "passed 2 hours ago" in text
    data = json.loads(run("notice", "follow-up", "1", "--db", db, "--json", at=T0 + timedelta(hours=50)).stdout)
    assert data["overdue"] is True and data["to"] == "https://intake.example/v1/notices"
    early = json.loads(run("notice", "follow-up", "2", "--db", db, "--json", at=T0 + timedelta(hours=50)).stdout)
    assert early["overdue"] is False
    draft = run("notice", "follow-up", "3", "--db", db, at=T0)
    assert draft.exit_code == 1 and "notice 3: it is draft; a follow-up is for a notice that went out" in draft.stderr


@pytest.mark.parametrize(("jurisdiction", "route", "due_hours"), [
    ("DE", "Internal complaint to the platform (EU Digital Services Act, Article 20)", 168),
    ("AU", "Report to the eSafety Commissioner", 24),
])
def test_each_law_has_its_escalation_route_and_deadline(
    tmp_path: Path, jurisdiction: str, route: str, due_hours: int
) -> None:
    with site_server(tmp_path / "site") as port:
        made = make_case(tmp_path, tmp_path / "site", port, count=1, host="t.me", jurisdiction=jurisdiction)
    result = run("notice", "send", "--db", str(made.db), at=T0)  # e-mail or a form: by hand here
    assert result.exit_code == 0, result.output
    assert run("notice", "mark-sent", "1", "--db", str(made.db), "--ticket", "T-1", at=T0).exit_code == 0
    with Store(made.db) as store:
        assert store.notice(1).due_at == (T0 + timedelta(hours=due_hours)).isoformat(timespec="seconds")
    data = json.loads(run("notice", "follow-up", "1", "--db", str(made.db), "--json",
                          at=T0 + timedelta(hours=due_hours + 1)).stdout)
    assert data["overdue"] is True and data["route"].startswith(route)
    assert "ticket T-1" in data["packet"]["Your request"]
