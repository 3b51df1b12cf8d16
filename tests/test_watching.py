"""Pages where fakes are posted: a Telegram channel read like a reader sees it, and watched.

The channel is a real HTTP server on loopback speaking Telegram's public markup
(tests/telegram_fake.py); the portrait and its "undressed" fake are generated pictures.
"""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner, Result

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import _watermark, body_replaced
from stopncii_tools.notices import render_statements
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.notices.render import render_text
from stopncii_tools.signals._examples import encode, scene
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.takedown import plan_notices, save_plan, save_requester

from ._casework import REQUESTER
from .telegram_fake import CDN, Channel, Post, serve

RESOLVE = ("--resolve", "t.me=127.0.0.1", "--resolve", f"{CDN}=127.0.0.1", "--allow-private")
FAKE_POST = 1022


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def records(result: Result) -> list[dict]:
    return [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]


def _channel(tmp_path: Path) -> tuple[Channel, Path]:
    """A channel of 45 posts over 3 pages: 44 unrelated photos and one fake of the portrait."""
    portrait = scene(7001, (600, 800))
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "portrait.jpg").write_bytes(encode(portrait, quality=92))
    fake = _watermark(body_replaced(portrait, scene(7999, (400, 400))))
    channel = Channel("fakes_chan")
    for n in range(45):
        post = 1000 + n
        if post == FAKE_POST:
            channel.add(Post(post, photos=[encode(fake, quality=70)], text="new one"))
        else:
            channel.add(Post(post, photos=[encode(scene(7100 + n), quality=80)], text=f"post {n}"))
    return channel, mine


def _case(tmp_path: Path, mine: Path) -> tuple[Path, str]:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Portrait", "US")
        assert [o.error for o in protect_paths(store, case, [mine], jobs=1)] == [None]
    return db, case.id


def test_a_fake_posted_in_a_telegram_channel_is_found_with_its_post_link(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        # the link a person copies from the app: t.me/NAME, read through the public t.me/s/NAME
        result = run("scan", "--db", str(db), "--case", case_id, "--json", "--pages", "5", *RESOLVE,
                     f"http://t.me:{channel.port}/fakes_chan")
    assert result.exit_code == 0, result.stderr
    found = [r for r in records(result) if "match" in r]
    # found from its face and background, and "derived": the body, where the portrait had detail, was replaced
    post_link = f"http://t.me:{channel.port}/fakes_chan/{FAKE_POST}"  # https://t.me/... on Telegram itself
    assert [(r["kind"], r["page"]) for r in found] == [("derived", post_link)]
    [summary] = [r["page_summary"] for r in records(result) if "page_summary" in r]
    assert (summary["pages_read"], summary["found"], summary["checked"]) == (3, 45, 45)
    assert "45 pictures and videos found on 3 pages, 45 checked" in result.stderr
    assert channel.requests["/s/fakes_chan"] == 3  # the newest page and two pages of older posts

    with Store(db) as store:
        case = store.get_case(case_id)
        store.decide_match(found[0]["match"], "confirmed")
        plan = plan_notices(store, case, load_directory(), REQUESTER)
    assert sorted(n.language for n, _, _ in plan.notices) == ["en", "ru"]  # side by side for Telegram
    for notice, _, _ in plan.notices:
        notice = notice.with_confirmed(s for s, _ in render_statements(notice))  # the person confirms them
        assert notice.platform.id == "telegram"
        assert post_link in render_text(notice)  # what Telegram asks a report to cite


def test_older_pages_are_read_only_as_far_as_asked(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        result = run("scan", "--db", str(db), "--case", case_id, "--pages", "1", *RESOLVE,
                     f"http://t.me:{channel.port}/s/fakes_chan")
    assert result.exit_code == 0, result.stderr
    assert "20 pictures and videos found, 20 checked (older pages were not read (at most 1; see --pages))" \
        in result.stderr.replace("\n", " ")
    assert channel.requests["/s/fakes_chan"] == 1


def test_watching_a_channel_fetches_only_new_posts_the_second_time(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        added = run("watch", "add", "--db", str(db), "--case", case_id, "--every", "6h",
                    f"http://t.me:{channel.port}/fakes_chan")
        assert added.exit_code == 0 and "Nothing was fetched yet" in added.stderr
        first = run("watch", "run", "--db", str(db), "--json", "--pages", "5", *RESOLVE)
        assert first.exit_code == 3, first.stderr  # a new match waits for the person
        [row] = records(first)
        assert (row["checked"], row["new_matches"], row["newest_post"]) == (45, 1, 1044)
        files_before = sum(n for path, n in channel.requests.items() if path.startswith("/file/"))

        portrait_copy = encode(scene(7001, (600, 800)).resize((450, 600)), quality=75)
        channel.add(Post(1045, photos=[encode(scene(7300), quality=80)]))
        channel.add(Post(1046, photos=[portrait_copy]))
        not_due = run("watch", "run", "--db", str(db), *RESOLVE)
        assert not_due.exit_code == 0 and "No watched page is due" in not_due.stderr
        second = run("watch", "run", "--db", str(db), "--all", "--json", "--pages", "5", *RESOLVE)
    assert second.exit_code == 3, second.stderr
    [row] = records(second)
    assert (row["checked"], row["seen_before"], row["new_matches"], row["newest_post"]) == (2, 18, 1, 1046)
    files_after = sum(n for path, n in channel.requests.items() if path.startswith("/file/"))
    assert files_after - files_before == 2  # only the two new posts' pictures were downloaded
    assert channel.requests["/s/fakes_chan"] == 4  # the newest page again, no older page
    board = run("status", "--db", str(db))
    assert "1 watched page, 0 due for a check now" in board.stderr and "found by the last runs: 1" in board.stderr
    listed = records(run("watch", "list", "--db", str(db), "--json"))
    assert [(w["url"], w["every"], w["newest_post"]) for w in listed] == [
        (f"http://t.me:{channel.port}/s/fakes_chan", "6h", 1046)]


def test_a_page_whose_pictures_are_all_css_backgrounds_is_read(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        fake_url = channel.media_url("gallery-fake.jpg", channel.posts[FAKE_POST - 1000].photos[0])
        channel.files["gallery.html"] = (
            f'<!doctype html><html><body><div class="tile" style="background-image: url(&quot;{fake_url}&quot;)"></div>'
            f'<style>.hero {{ background: url({channel.media_url("hero.jpg", encode(scene(7400)))}) }}</style>'
        ).encode()
        result = run("scan", "--db", str(db), "--case", case_id, "--json", *RESOLVE,
                     f"http://{CDN}:{channel.port}/file/gallery.html")
    assert result.exit_code == 0, result.stderr
    assert [r["found_at"].rsplit("/", 1)[1] for r in records(result) if "match" in r] == ["gallery-fake.jpg?token=t1"]
    assert "2 pictures and videos found, 2 checked" in result.stderr


def test_a_page_that_shows_no_pictures_is_never_reported_as_nothing_found(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    channel.files["login.html"] = b"<html><body><form>Log in to see this post</form></body></html>"
    with serve(channel):
        result = run("scan", "--db", str(db), "--case", case_id, "--json", *RESOLVE,
                     f"http://{CDN}:{channel.port}/file/login.html")
    assert result.exit_code == 1
    [record] = records(result)
    assert "nothing could be checked on this page" in record["error"]
    assert record["page_summary"]["checked"] == 0
    text = result.stderr.replace("\n", " ")
    assert "only after logging in" in text and "0 scanned" in text
    assert "says nothing yet about where your pictures are" in text


def test_a_post_whose_picture_moved_to_a_new_address_is_still_there_until_the_post_is_deleted(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    at = {"STOPNCII_NOW": "2026-06-01T09:00:00+00:00"}
    with serve(channel):
        found = run("scan", "--db", str(db), "--case", case_id, "--json", *RESOLVE, channel.url)
        [match] = [r for r in records(found) if "match" in r]
        with Store(db) as store:
            case = store.get_case(case_id)
            store.decide_match(match["match"], "confirmed")
            save_requester(store, case.id, REQUESTER)
            plan = plan_notices(store, case, load_directory(), REQUESTER)
            plan.notices = [(n.with_confirmed(s for s, _ in render_statements(n)), w, i) for n, w, i in plan.notices]
            save_plan(store, case, plan)
        assert CliRunner().invoke(cli, ["notice", "mark-sent", "1", "--ticket", "T-1", "--db", str(db)],
                                  env=at).exit_code == 0

        channel.token = "t2"  # the post is still up; its picture now comes from a new signed address
        still = records(CliRunner().invoke(cli, ["check", "--db", str(db), "--json", *RESOLVE],
                                           env={"STOPNCII_NOW": "2026-06-01T10:00:00+00:00"}))
        assert [(c["outcome"], c["notice_status"]) for c in still] == [("present", "sent")]
        assert "now from another address" in still[0]["detail"]

        channel.posts = [p for p in channel.posts if p.id != FAKE_POST]  # the channel deletes the post
        gone = records(CliRunner().invoke(cli, ["check", "--db", str(db), "--json", *RESOLVE],
                                          env={"STOPNCII_NOW": "2026-06-01T11:00:00+00:00"}))
    assert [(c["outcome"], c["notice_status"]) for c in gone] == [("gone_from_page", "removed")]


# -- bad input: endless or looping pages, deleted channels, missing pictures, hostile addresses


def _site(channel: Channel, pages: dict[str, str]) -> None:
    """Plain pages served from the channel's CDN host (any site would do)."""
    for name, text in pages.items():
        channel.files[name] = f"<!doctype html><html><body>{text}</body></html>".encode()


def test_an_endless_next_link_stops_at_the_page_limit(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        base = f"http://{CDN}:{channel.port}/file"
        picture = channel.media_url("p.jpg", encode(scene(7500), quality=80))
        _site(channel, {f"page{n}.html": f'<img src="{picture}"><a rel="next" href="{base}/page{n + 1}.html">older</a>'
                        for n in range(50)})
        _site(channel, {"a.html": f'<img src="{picture}"><a rel="next" href="{base}/b.html">b</a>',
                        "b.html": f'<img src="{picture}&v=2"><a rel="next" href="{base}/a.html">a</a>'})
        endless = run("scan", "--db", str(db), "--case", case_id, "--pages", "4", *RESOLVE, f"{base}/page0.html")
        looping = run("scan", "--db", str(db), "--case", case_id, "--pages", "10", *RESOLVE, f"{base}/a.html")
    assert endless.exit_code == 0 and "(older pages were not read (at most 4; see --pages))" in endless.stderr
    assert [channel.requests[f"/file/page{n}.html"] for n in range(6)] == [1, 1, 1, 1, 0, 0]
    assert looping.exit_code == 0, looping.stderr
    assert channel.requests["/file/a.html"] + channel.requests["/file/b.html"] <= 10  # bounded, never endless


def test_a_deleted_channel_and_a_missing_picture_are_each_one_line(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        channel.lost.add("1044-0.jpg")  # the CDN lost the newest post's picture
        gone_channel = run("scan", "--db", str(db), "--case", case_id, *RESOLVE, f"http://t.me:{channel.port}/s/deleted_chan")
        result = run("scan", "--db", str(db), "--case", case_id, "--json", "--pages", "1", *RESOLVE, channel.url)
    assert gone_channel.exit_code == 1 and "deleted_chan" in gone_channel.stderr and "404" in gone_channel.stderr
    assert result.exit_code == 1
    errors = [r for r in records(result) if "error" in r]
    assert len(errors) == 1 and "1044-0.jpg" in errors[0]["error"] and "404" in errors[0]["error"]
    [summary] = [r["page_summary"] for r in records(result) if "page_summary" in r]
    assert (summary["found"], summary["checked"], summary["failed"]) == (20, 19, 1)  # the other 19 were checked


def test_data_addresses_and_broken_css_are_passed_over(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        good = channel.media_url("ok.jpg", encode(scene(7600), quality=80))
        _site(channel, {"odd.html": (
            '<div style="background:url(data:image/png;base64,iVBORw0KGgo=)"></div>'
            '<div style="background-image:url(javascript:alert(1))"></div>'
            f'<style>.x{{background:url("{good}")}} .z{{background: url(</style>'
            '<div style="background: url(\'unclosed"></div>')})
        result = run("scan", "--db", str(db), "--case", case_id, "--json", *RESOLVE,
                     f"http://{CDN}:{channel.port}/file/odd.html")
    assert result.exit_code == 0, result.stderr
    [summary] = [r["page_summary"] for r in records(result) if "page_summary" in r]
    assert (summary["found"], summary["checked"]) == (1, 1)  # the one real picture; nothing else fetched


def test_a_watch_run_killed_half_way_loses_nothing_and_fetches_nothing_recorded_twice(tmp_path: Path) -> None:
    channel, mine = _channel(tmp_path)
    db, case_id = _case(tmp_path, mine)
    with serve(channel):
        assert run("watch", "add", "--db", str(db), "--case", case_id, channel.url).exit_code == 0
        command = [sys.executable, "-m", "stopncii_tools", "watch", "run", "--db", str(db), "--pages", "5", *RESOLVE]
        child = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        recorded: set[str] = set()
        deadline = time.monotonic() + 120
        while len(recorded) < 8 and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
            with sqlite3.connect(db) as conn:
                recorded = {row[0] for row in conn.execute("SELECT url FROM sightings")}
        child.kill()  # as a sleeping laptop or the out-of-memory killer would
        child.wait()
        assert 8 <= len(recorded) < 45, "the run was not stopped half way; make the channel longer"
        with sqlite3.connect(db) as conn:
            recorded = {row[0] for row in conn.execute("SELECT url FROM sightings")}
        again = run("watch", "run", "--db", str(db), "--all", "--json", "--pages", "5", *RESOLVE)
    assert again.exit_code in (0, 3), again.stderr  # 3 when the fake came after the kill
    with Store(db) as store:
        urls = [s.url for s in store.sightings(case_id)]
        assert len(store.matches(case_id)) == 1  # the fake, found once by one of the two runs
        assert store.watches(case_id)[0].newest_post == 1044  # the cursor moved only once a run finished
    assert len(urls) == len(set(urls)) == 45  # every picture once: none lost, none twice
    for url in recorded:
        assert channel.requests[url.split(f":{channel.port}", 1)[1].split("?", 1)[0]] == 1, url
