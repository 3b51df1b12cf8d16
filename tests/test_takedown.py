"""From confirmed matches to notices: drafting from the case, refusing half-made ones, rendering."""

from __future__ import annotations

import functools
import http.server
import json
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import write_edits, write_photos
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.scan import ScanOptions, scan_sources


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def served(tmp_path: Path) -> Iterator[tuple[Path, int]]:
    folder = tmp_path / "site"
    folder.mkdir()
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield folder, server.server_address[1]
    server.shutdown()
    server.server_close()


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(cli, list(args), input=input)


@pytest.fixture()
def case_with_matches(tmp_path: Path, served: tuple[Path, int]) -> tuple[Path, str]:
    site, port = served
    db = tmp_path / "cases.db"
    photos = write_photos(tmp_path / "mine", [401, 402])
    write_edits(site, photos)
    with Store(db) as store:
        case = store.create_case("Notices", "US")
        list(protect_paths(store, case, [tmp_path / "mine"], jobs=1, store_names=True))
        urls = [f"http://t.me:{port}/photo401-resized.jpg", f"http://vk.com:{port}/photo402-mirrored.jpg",
                f"http://t.me:{port}/photo402-watermarked.jpg"]
        hosts = {"t.me": "127.0.0.1", "vk.com": "127.0.0.1"}
        outcomes = list(scan_sources(store, case, urls, ScanOptions(allow_private=True, hosts=hosts)))
        assert [len(o.matches) for o in outcomes] == [1, 1, 1], [o.error for o in outcomes]
        for outcome in outcomes:
            store.decide_match(outcome.matches[0].id, "confirmed")
    return db, case.id


def _requester(db: Path) -> None:
    result = run("requester", "set", "--db", str(db), "--name", "Jane Doe", "--email", "jane.reports@example.org",
                 "--signature", "/Jane Doe/")
    assert result.exit_code == 0, result.output


def test_missing_requester_details_refuse_the_notice_with_a_list(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    result = run("notice", "draft", "--db", str(db), "--yes")
    assert result.exit_code == 1 and "set your details first with 'stopncii requester set" in result.stderr
    run("requester", "set", "--db", str(db), "--name", "Jane Doe")
    result = run("notice", "draft", "--db", str(db), "--yes")
    assert result.exit_code == 1
    assert "TAKE IT DOWN Act needs: your e-mail address, your signature" in result.stderr
    with Store(db) as store:
        assert store.notices() == []


def test_declining_one_notice_keeps_the_other_drafts(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    _requester(db)
    run("notice", "draft", "--db", str(db), "--yes")
    again = run("notice", "draft", "--db", str(db), "--platform", "Telegram", input="n\n")
    assert "Left out: the notice to Telegram (en)" in again.stderr
    assert "Left out: the notice to Telegram (ru)" in again.stderr
    with Store(db) as store:
        assert sorted((n.platform, n.language) for n in store.notices()) == [
            ("telegram", "en"), ("telegram", "ru"), ("vk", "en"), ("vk", "ru")]


def test_one_address_without_a_site_name_does_not_block_the_others(case_with_matches: tuple[Path, str],
                                                                      served: tuple[Path, int]) -> None:
    db, _ = case_with_matches
    site, port = served
    _requester(db)
    with Store(db) as store:
        case = store.resolve_case(None)
        [outcome] = scan_sources(store, case, [f"http://127.0.0.1:{port}/photo401-cropped.jpg"],
                                 ScanOptions(allow_private=True))
        store.decide_match(outcome.matches[0].id, "confirmed")
    result = run("notice", "draft", "--db", str(db), "--yes", "--json")
    assert result.exit_code == 0, result.output
    assert {json.loads(line)["platform"] for line in result.stdout.splitlines()} == {"telegram", "vk"}
    assert f"Waiting: http://127.0.0.1:{port}/photo401-cropped.jpg: this address has no site name" in result.stderr
    assert "--to ADDRESS" in result.stderr and "no notice to" not in result.stderr
    # the person gives the hosting provider's abuse desk: the waiting address becomes a notice to it
    given = run("notice", "draft", "--db", str(db), "--yes", "--json", "--to", "abuse@hosting.example")
    assert given.exit_code == 0, given.output
    [other] = [r for r in map(json.loads, given.stdout.splitlines()) if r["platform"] == "other"]
    assert other["address"] == "abuse@hosting.example" and other["channel"] == "email"
    email = run("notice", "show", "--db", str(db), str(other["id"]), "--format", "email").stdout
    assert "To: abuse@hosting.example" in email and f"127.0.0.1:{port}/photo401-cropped.jpg" in email
    assert "Waiting" not in given.stderr
    refused = run("notice", "draft", "--db", str(db), "--yes", "--to", "not an address")
    assert refused.exit_code == 1 and "'not an address' is not an e-mail address" in refused.stderr


def test_unconfirmed_statements_refuse_the_notice(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    _requester(db)
    result = run("notice", "draft", "--db", str(db), "--platform", "telegram", input="n\n")
    assert result.exit_code == 0 and "Left out: the notice to Telegram" in result.stderr
    with Store(db) as store:
        assert store.notices() == []


def test_notices_are_drafted_per_platform_and_rendered_in_every_format(case_with_matches: tuple[Path, str]) -> None:
    db, case_id = case_with_matches
    _requester(db)
    result = run("notice", "draft", "--db", str(db), "--yes", "--json")
    assert result.exit_code == 0, result.output
    by_language = {(r["platform"], r["language"]): r for r in map(json.loads, result.stdout.splitlines())}
    assert set(by_language) == {("telegram", "en"), ("telegram", "ru"), ("vk", "en"), ("vk", "ru")}
    drafted = {platform: r for (platform, language), r in by_language.items() if language == "en"}
    telegram = drafted["telegram"]
    assert telegram["framework"] == "take_it_down" and telegram["address"] == "abuse@telegram.org"
    assert telegram["items"] == 2 and "TAKE IT DOWN" in telegram["why"]
    text = run("notice", "show", "--db", str(db), str(telegram["id"])).stdout
    assert "/photo401-resized.jpg" in text and "/photo402-watermarked.jpg" in text and "Jane Doe" in text
    email = run("notice", "show", "--db", str(db), str(telegram["id"]), "--format", "email").stdout
    assert "To: abuse@telegram.org" in email and "Message-ID:" in email
    document = json.loads(run("notice", "show", "--db", str(db), str(telegram["id"]), "--format", "json").stdout)
    assert {i["url"].rsplit("/", 1)[1] for i in document["items"]} == {
        "photo401-resized.jpg", "photo402-watermarked.jpg"}
    form = run("notice", "show", "--db", str(db), str(drafted["vk"]["id"]), "--format", "form").stdout
    assert "photo402-mirrored.jpg" in form
    for output in (text, email, json.dumps(document), form):
        assert "photo401.jpg" not in output and "photo402.jpg" not in output  # protected labels never leak


def test_drafting_again_does_not_duplicate(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    _requester(db)
    run("notice", "draft", "--db", str(db), "--yes")
    run("notice", "draft", "--db", str(db), "--yes")
    with Store(db) as store:
        notices = store.notices()
        assert len(notices) == 4 and len({n.notice_key for n in notices}) == 4  # 2 platforms, 2 languages


def test_telegram_gets_russian_and_english_side_by_side(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    _requester(db)
    result = run("notice", "draft", "--db", str(db), "--yes", "--platform", "telegram", "--json")
    assert result.exit_code == 0, result.output
    drafted = {r["language"]: r for r in map(json.loads, result.stdout.splitlines())}
    assert set(drafted) == {"en", "ru"} and drafted["en"]["items"] == drafted["ru"]["items"] == 2
    russian = run("notice", "show", "--db", str(db), str(drafted["ru"]["id"])).stdout
    english = run("notice", "show", "--db", str(db), str(drafted["en"]["id"])).stdout
    assert any("\u0400" <= ch <= "\u04ff" for ch in russian) and "TAKE IT DOWN" in english
    # each is its own notice: sending one by hand leaves the other a draft the person may send or not
    run("notice", "mark-sent", "--db", str(db), str(drafted["ru"]["id"]))
    with Store(db) as store:
        assert store.notice(drafted["en"]["id"]).status == "draft"
        assert store.notice(drafted["ru"]["id"]).status == "sent"


def test_a_language_we_do_not_write_exits_non_zero(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    _requester(db)
    result = run("notice", "draft", "--db", str(db), "--yes", "--language", "de")
    assert result.exit_code == 2 and "'de' is not one of 'en', 'ru'" in result.stderr


def test_an_email_address_that_is_not_one_is_refused(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    for wrong in ("not-an-email", "jane@example", "jane doe@example.org", "a@b@example.org", "jane@example..org"):
        result = run("requester", "set", "--db", str(db), "--email", wrong)
        assert result.exit_code == 1 and f"{wrong!r} is not an e-mail address" in result.stderr, wrong
    assert run("requester", "set", "--db", str(db), "--email", "jane.reports@example.org").exit_code == 0
    with Store(db) as store:
        assert store.requester(store.resolve_case(None).id).email == "jane.reports@example.org"


def test_russian_notice_for_telegram(case_with_matches: tuple[Path, str]) -> None:
    db, _ = case_with_matches
    _requester(db)
    run("notice", "draft", "--db", str(db), "--yes", "--platform", "telegram", "--language", "ru")
    with Store(db) as store:
        [notice] = store.notices()
    text = run("notice", "show", "--db", str(db), str(notice.id)).stdout
    assert notice.language == "ru" and any("\u0400" <= ch <= "\u04ff" for ch in text)


def test_export_writes_every_format(case_with_matches: tuple[Path, str], tmp_path: Path) -> None:
    db, _ = case_with_matches
    _requester(db)
    run("notice", "draft", "--db", str(db), "--yes")
    result = run("notice", "export", "--db", str(db), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0
    assert len(list((tmp_path / "out").iterdir())) == 16  # 4 notices (2 platforms, 2 languages), 4 files each
