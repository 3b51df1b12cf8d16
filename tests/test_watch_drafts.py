"""Issue 11's last pieces: a case that says so gets notices drafted (never sent) by 'watch run'
for new copies of photos the person already confirmed; the batch workflow shows and runs the
due watches of its cases; the case report lists the watched pages and what their runs found.
All on a loopback Telegram channel (tests/telegram_fake.py)."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner, Result
from pypdf import PdfReader

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import _watermark, body_replaced
from stopncii_tools.signals._examples import encode, scene
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.takedown import save_requester

from ._casework import REQUESTER
from .telegram_fake import CDN, Channel, Post, serve

RESOLVE = ("--resolve", "t.me=127.0.0.1", "--resolve", f"{CDN}=127.0.0.1", "--allow-private")
PORTRAIT = scene(7001, (600, 800))


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def records(result: Result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _copy(size: tuple[int, int], quality: int) -> bytes:
    return encode(PORTRAIT.resize(size), quality=quality)


def _fake() -> bytes:
    return encode(_watermark(body_replaced(PORTRAIT, scene(7999, (400, 400)))), quality=70)


def _case(tmp_path: Path, *, requester: bool = True) -> tuple[Path, str]:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "portrait.jpg").write_bytes(encode(PORTRAIT, quality=92))
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Portrait", "US")
        assert [o.error for o in protect_paths(store, case, [mine], jobs=1)] == [None]
        if requester:
            save_requester(store, case.id, REQUESTER)
    return db, case.id


def _channel() -> Channel:
    channel = Channel("fakes_chan")
    for n in range(6):
        channel.add(Post(1000 + n, photos=[encode(scene(7100 + n), quality=80)], text=f"post {n}"))
    channel.add(Post(1006, photos=[_copy((450, 600), 75)], text="reposted"))
    return channel


def _notices(db: Path) -> list[tuple[str, str]]:
    with Store(db) as store:
        return [(n.platform, n.status) for n in store.notices()]


def test_watch_run_drafts_only_for_copies_of_what_was_confirmed_and_only_when_the_case_says_so(
        tmp_path: Path) -> None:
    db, case_id = _case(tmp_path)
    channel = _channel()
    with serve(channel):
        page = f"http://t.me:{channel.port}/fakes_chan"
        assert run("watch", "add", "--db", str(db), "--case", case_id, page).exit_code == 0
        first = run("watch", "run", "--db", str(db), "--json", *RESOLVE)
        assert first.exit_code == 3, first.stderr
        [row] = records(first)
        assert row["new_matches"] == 1 and "drafted" not in row  # the case does not draft: it waits
        assert _notices(db) == []
        [match] = records(run("matches", "--db", str(db), "--json"))
        assert match["kind"] == "copy" and match["confidence"] == "high"
        assert run("matches", "confirm", str(match["match"]), "--db", str(db)).exit_code == 0
        turned_on = run("case", "edit", "--db", str(db), "--case", case_id, "--draft-watch-matches")
        assert turned_on.exit_code == 0 and "never sends them" in turned_on.stderr

        channel.add(Post(1007, photos=[_copy((300, 400), 70)], text="again"))  # a copy of the confirmed photo
        channel.add(Post(1008, photos=[_fake()], text="new one"))  # made from it: always waits
        second = run("watch", "run", "--db", str(db), "--all", "--json", *RESOLVE)
    assert second.exit_code == 3, second.stderr
    [row] = records(second)
    assert (row["new_matches"], row["confirmed_by_rule"]) == (2, 1) and row["drafted"] >= 1
    said = " ".join(second.stderr.split())
    assert "1 of the new matches are copies of photos you already confirmed" in said
    assert "nothing was sent" in said and "See them with 'stopncii matches'" in said  # the fake waits
    notices = _notices(db)
    assert len(notices) == row["drafted"] and {status for _, status in notices} == {"draft"}
    assert {platform for platform, _ in notices} == {"telegram"}
    pending = [m for m in records(run("matches", "--db", str(db), "--json")) if m["status"] == "pending"]
    assert [m["kind"] for m in pending] in (["derived"], ["partial"])
    with Store(db) as store:
        [rule_event] = [e for e in store.events(case_id) if e.action == "match.confirmed" and "rule" in e.detail]
        notice_matches = {m for n in store.notices() for m in n.match_ids}
    assert rule_event.detail["match"] in notice_matches

    # the report lists the watched page and what its last run did, and says who confirmed what
    out = tmp_path / "report.json"
    assert run("report", "--db", str(db), "--case", case_id, "--out", str(out)).exit_code == 0
    report = json.loads(out.read_text())
    [watch] = report["watches"]
    assert watch["page"] == f"http://t.me:{channel.port}/s/fakes_chan"
    assert (watch["pages_read"], watch["pictures_checked"], watch["new_matches"]) == (1, 2, 2)
    assert "2 new ones checked, 2 new matches" in watch["last_result"] and "notices drafted" in watch["last_result"]
    assert any("by the case's drafting rule" in (m["decided_by"] or "")
               for s in report["sightings"] for m in s["matches"])
    pdf = tmp_path / "report.pdf"
    assert run("report", "--db", str(db), "--case", case_id, "--out", str(pdf)).exit_code == 0
    text = " ".join(" ".join(p.extract_text() for p in PdfReader(pdf).pages).split())
    assert "Pages watched" in text and "fakes_chan" in text and "2 new ones checked" in text


def test_a_case_without_requester_details_says_why_nothing_was_drafted(tmp_path: Path) -> None:
    db, case_id = _case(tmp_path, requester=False)
    channel = _channel()
    with serve(channel):
        run("watch", "add", "--db", str(db), "--case", case_id, f"http://t.me:{channel.port}/fakes_chan")
        run("watch", "run", "--db", str(db), *RESOLVE)
        [match] = records(run("matches", "--db", str(db), "--json"))
        run("matches", "confirm", str(match["match"]), "--db", str(db))
        run("case", "edit", "--db", str(db), "--case", case_id, "--draft-watch-matches")
        channel.add(Post(1007, photos=[_copy((300, 400), 70)]))
        again = run("watch", "run", "--db", str(db), "--all", "--json", *RESOLVE)
    [row] = records(again)
    assert (row["confirmed_by_rule"], row["drafted"]) == (1, 0)
    assert "no notice was drafted: the case has no requester details yet" in again.stderr
    assert _notices(db) == []


def test_the_batch_shows_due_watches_and_runs_them_when_asked(tmp_path: Path) -> None:
    db, case_id = _case(tmp_path)
    channel = _channel()
    csv = tmp_path / "reports.csv"
    with serve(channel):
        page = f"http://t.me:{channel.port}/fakes_chan"
        csv.write_text(f"case,url\n{case_id},http://{CDN}:{channel.port}/file/missing.jpg\n")
        assert run("watch", "add", "--db", str(db), "--case", case_id, page).exit_code == 0
        shown = run("batch", "run", str(csv), "--db", str(db), "--report", str(tmp_path / "shown.json"), *RESOLVE)
        assert "1 watched pages of these cases are due for a check: add --watches" in " ".join(shown.stderr.split())
        assert channel.requests["/s/fakes_chan"] == 0  # shown, not fetched
        checked = run("batch", "run", str(csv), "--db", str(db), "--watches",
                      "--report", str(tmp_path / "checked.json"), *RESOLVE)
    said = " ".join(checked.stderr.split())
    assert "1 watched pages checked: 7 new pictures and videos looked at, 1 new matches" in said
    assert channel.requests["/s/fakes_chan"] == 1
    [watch] = json.loads((tmp_path / "checked.json").read_text())["watches"]
    assert (watch["ran"], watch["checked"], watch["new_matches"], watch["case"]) == (True, 7, 1, case_id)
    assert json.loads((tmp_path / "shown.json").read_text())["summary"]["watches_due"] == 1
    board = run("case", "show", "--db", str(db), "--case", case_id, "--json")
    assert [w["url"] for w in json.loads(board.stdout)["watches"]] == [f"http://t.me:{channel.port}/s/fakes_chan"]
