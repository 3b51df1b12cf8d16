"""Deadlines, the status board, removal checks and follow-ups, on a clock the tests control."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from stopncii_tools._errors import NoticeError
from stopncii_tools.cli import cli
from stopncii_tools.media.samples import write_photos
from stopncii_tools.notices import (
    Framework,
    NoticeItem,
    Situation,
    Statement,
    choose_framework,
    draft_notices,
    register,
    render_statements,
    unregister,
)
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.scan import ScanOptions, scan_sources
from stopncii_tools.workflow.takedown import plan_notices, save_plan, save_requester
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
    assert [(r["notice"], r["outcome"], r["http_status"]) for r in second] == [(1, "removed", 404), (2, "replaced", 200)]
    assert all(r["checked_at"] == seen.isoformat(timespec="seconds") and r["notice_status"] == "removed" for r in second)
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
            save_requester(store, case.id, REQUESTER)
            page = f"http://{PICS_HOST}:{port}/post.html"
            outcome, summary = scan_sources(store, case, [page], ScanOptions(allow_private=True, hosts={PICS_HOST: "127.0.0.1"}))
            assert summary.page is not None and (summary.page.found, summary.page.checked) == (1, 1)
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
def test_each_law_has_its_escalation_route_and_deadline(tmp_path: Path, jurisdiction: str, route: str, due_hours: int) -> None:
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


# -- follow-ups in the notice's language, and a framework added from outside ------------------

ENGLISH_REMINDER = ("I asked you to remove", "Please remove it now", "known identical copies", "confirm this to me",
                    "The law gives you", "Please act by", "Reminder: takedown request", "no answer recorded")


def _sent_by_hand(made_db: Path, *draft_args: str) -> None:
    if draft_args:
        assert run("notice", "draft", "--db", str(made_db), "--yes", *draft_args, at=T0).exit_code == 0
    assert run("notice", "send", "--db", str(made_db), at=T0).exit_code == 0
    assert run("notice", "mark-sent", "1", "--db", str(made_db), "--ticket", "T-1", at=T0).exit_code == 0


@pytest.mark.parametrize(("jurisdiction", "draft_args", "route_words"), [
    ("RU", (), None),  # Telegram works in Russian and so does the person: Russian by default
    ("US", ("--language", "ru"), "Федеральную торговую комиссию США (FTC): TakeItDown.ftc.gov"),
])
def test_a_russian_notice_gets_its_follow_up_in_russian(
    tmp_path: Path, jurisdiction: str, draft_args: tuple[str, ...], route_words: str | None,
) -> None:
    with site_server(tmp_path / "site") as port:
        made = make_case(tmp_path, tmp_path / "site", port, count=1, host="t.me", jurisdiction=jurisdiction,
                         draft=not draft_args, language=None)
        _sent_by_hand(made.db, *draft_args)
        with Store(made.db) as store:
            assert store.notice(1).language == "ru"
        data = json.loads(run("notice", "follow-up", "1", "--db", str(made.db), "--json",
                              at=T0 + timedelta(hours=200)).stdout)
    reminder, subject = data["reminder"], data["subject"]
    assert subject.startswith("Напоминание: запрос на удаление")
    assert "вам был направлен запрос на удаление" in reminder and "этот срок истёк" in reminder
    assert made.urls[0] in reminder and "с тех пор не проверялось" in reminder
    assert reminder.endswith("/Jane Doe/")
    for english in ENGLISH_REMINDER:
        assert english not in reminder + subject + json.dumps(data["packet"], ensure_ascii=False)
    assert data["packet"]["Запрос"].endswith(f"(номер обращения T-1), номер {subject[-12:]}")
    assert data["packet"]["Ответ платформы"] == "ответ не получен"
    assert (data["route"] is None) == (route_words is None)
    assert route_words is None or route_words in data["route"]


def test_a_deadline_the_law_does_not_set_is_not_called_the_law(tmp_path: Path) -> None:
    with site_server(tmp_path / "site") as port:
        made = make_case(tmp_path, tmp_path / "site", port, count=1, host="t.me", jurisdiction="BR")
    _sent_by_hand(made.db)
    data = json.loads(run("notice", "follow-up", "1", "--db", str(made.db), "--json",
                          at=T0 + timedelta(hours=200)).stdout)
    assert "under Telegram's own rules on non-consensual intimate images" in data["reminder"]
    assert "More than 168 hours have passed since my request: that time ended on 2026-06-08 09:00 UTC" in data["reminder"]
    assert "The law gives you" not in data["reminder"]


TEST_FRAMEWORK_WORDS = """\
{% macro subject() -%}Test Framework Act request (ref. {{ v.ref }}){%- endmacro %}
{% macro reason() -%}Request under the Test Framework Act{%- endmacro %}
{% macro opening() -%}I ask you to remove content from {{ v.platform }} under section 7 of the Test Framework Act.{%- endmacro %}
{% macro kind_term(kind) -%}{%- endmacro %}
{% macro basis() -%}{%- endmacro %}
{% macro deadline() -%}The Act gives you 36 hours.{%- endmacro %}
"""


@pytest.fixture()
def test_framework(tmp_path: Path) -> Iterator[Framework]:
    """The made-up framework, with its English template in a temporary folder, registered."""
    folder = tmp_path / "test-framework-templates"
    (folder / "en" / "frameworks").mkdir(parents=True)
    (folder / "en" / "frameworks" / "test_framework.j2").write_text(TEST_FRAMEWORK_WORDS, encoding="utf-8")

    class TestFramework(Framework):
        """A made-up law for New Zealand, defined here and never in the project."""

        id = "test_framework"
        title = "Test Framework Act (New Zealand)"
        short_name = "Test Framework request"
        citation = "Test Framework Act 2030, section 7"
        jurisdictions = frozenset({"NZ"})
        region = "New Zealand"
        requester_fields = ("name", "email")
        statements = (Statement("not_consensual", "the statement that the images were shared without consent"),)
        deadline_hours = 36
        escalation = "If the platform does not act, complain to the Test Authority (test-authority.example)."
        escalation_route = "Complaint to the Test Authority (test-authority.example/complaint)"
        sources = ("https://test-authority.example/act",)
        templates = folder

        def reason(self, situation: Situation) -> str:
            return f"You are in New Zealand, so the Test Framework Act applies to {situation.platform_name}."

    framework = register(TestFramework())
    try:
        yield framework
    finally:
        unregister(framework.id)


def test_a_framework_registered_from_outside_drafts_and_follows_up(tmp_path: Path, test_framework: Framework) -> None:
    with site_server(tmp_path / "site") as port:
        made = make_case(tmp_path, tmp_path / "site", port, count=1, host="t.me", jurisdiction="NZ")
        with Store(made.db) as store:
            notice = store.notice(1)
            assert notice.framework == "test_framework"
            assert "the Test Framework Act applies to Telegram" in notice.framework_reason
        shown = run("notice", "show", "1", "--db", str(made.db), at=T0)
        assert "Subject: Test Framework Act request" in shown.stdout, shown.output
        assert "section 7 of the Test Framework Act" in shown.stdout
        _sent_by_hand(made.db)
        with Store(made.db) as store:
            assert store.notice(1).due_at == (T0 + timedelta(hours=36)).isoformat(timespec="seconds")
        data = json.loads(run("notice", "follow-up", "1", "--db", str(made.db), "--json",
                              at=T0 + timedelta(hours=40)).stdout)
    assert data["overdue"] is True
    assert data["route"] == "Complaint to the Test Authority (test-authority.example/complaint)"
    assert "under the Test Framework Act (New Zealand) (Test Framework Act 2030, section 7)" in data["reminder"]
    assert "The law gives you 36 hours to act; that time ended on 2026-06-02 21:00 UTC" in data["reminder"]
    assert data["packet"]["Deadline"] == "36 hours; due 2026-06-02 21:00 UTC; passed 4 hours ago"
    assert data["escalation"] == test_framework.escalation


def test_a_registered_framework_is_chosen_and_its_languages_are_checked(test_framework: Framework) -> None:
    telegram = load_directory().get("telegram")
    choice = choose_framework("NZ", telegram)
    assert choice.id == "test_framework" and "Test Framework Act applies to Telegram" in choice.reason
    assert choose_framework("BR", telegram).id == "platform_policy"  # the fallback still comes last
    assert test_framework.languages() == ("en",)
    item = NoticeItem(url="https://t.me/x/1", seen_at=T0, match_kind="exact")
    with pytest.raises(NoticeError, match="Test Framework request: notices can be written in en; not in 'ru'"):
        draft_notices("c1", "NZ", REQUESTER, [item], telegram, language="ru")
    with pytest.raises(NoticeError, match="'test_framework' is already registered"):
        register(test_framework)
