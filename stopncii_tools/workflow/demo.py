"""The whole flow on sample pictures: protect, scan edited copies (folder and web page), match.

Runs on the store it is given (the CLI gives it a database of its own, never the person's
cases), with pictures the package generates and a web page served on this computer only
(127.0.0.1), so nothing goes to the internet. Each step says in plain words what happened;
its detail (hashes, the matches table, the notice) is for ``--verbose``.
"""

from __future__ import annotations

import functools
import http.server
import tempfile
import threading
from collections import Counter
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..media.samples import body_replaced, screenshot, write_edits, write_photos
from ..notices import Requester, render_statements, render_text
from ..notices.frameworks import get_framework
from ..notices.platforms import load_directory
from ..signals._examples import encode
from ..store import Case, MatchRecord, Store, StoredNotice
from ..submit.config import SendingConfig
from .outbox import mark_sent
from .protect import protect_paths
from .report import build_report, write_report
from .scan import ScanOptions, ScanOutcome, scan_sources
from .takedown import load_notice, plan_notices, save_plan, save_requester
from .tracking import CheckOptions, check_removals, status_board
from .watch import add_watch, run_watches

DEMO_TITLE = "Demo: sample pictures"
DEMO_HOST = "photos.example"  # a reserved name (RFC 2606): no real website is involved
SAMPLE_REQUESTER = Requester(name="Sample Person", email="sample.person@example.org", signature="/Sample Person/")
PHOTO_SEEDS = [7, 8, 9]
UNRELATED_SEEDS = [70, 71, 72]


@dataclass
class DemoStep:
    """One step of the demo: a title, what happened in plain words, and the detail behind it."""

    title: str
    summary: list[str]
    detail: list[str] = field(default_factory=list)
    matches: list[MatchRecord] = field(default_factory=list)
    notice_text: str | None = None


def demo_case(store: Store) -> Case:
    """A fresh demo case; an earlier demo case is deleted first, so demos never pile up."""
    for case in store.list_cases():
        if case.title == DEMO_TITLE:
            store.delete_case(case.id)
    return store.create_case(DEMO_TITLE, "US", "Made by 'stopncii demo' from generated sample pictures.")


@contextmanager
def _local_web_page(folder: Path, pictures: list[str]) -> Iterator[str]:
    """Serve a page showing ``pictures`` on 127.0.0.1; yields the page URL."""
    # the first as a CSS background, as Telegram and many galleries show photos
    body = "".join(f'<div class="photo" style="background-image:url(\'{name}\')"></div>' if n == 0 else
                   f'<p><img src="{name}" alt="post"></p>' for n, name in enumerate(pictures))
    (folder / "post.html").write_text(
        f"<!doctype html><html><head><title>A post</title></head><body>{body}</body></html>")
    handler = functools.partial(_QuietHandler, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{DEMO_HOST}:{server.server_address[1]}/post.html"
    finally:
        server.shutdown()
        server.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the demo prints its own story
        pass


def run_demo(store: Store, jobs: int | None = 1) -> Iterator[DemoStep]:
    case = demo_case(store)
    with tempfile.TemporaryDirectory(prefix="stopncii-demo-") as tmp:
        root = Path(tmp)
        photos = write_photos(root / "my-photos", PHOTO_SEEDS, size=(1200, 900))
        yield _protect_step(store, case, root / "my-photos", len(photos), jobs)

        truth = write_edits(root / "reported", photos)
        unrelated = write_photos(root / "reported", UNRELATED_SEEDS)
        first, second = sorted(photos)[:2]
        (root / "reported" / "screenshot.jpg").write_bytes(encode(screenshot(photos[first]), quality=80))
        fake = body_replaced(photos[second], next(iter(unrelated.values())))
        (root / "reported" / "fake-made-from-a-photo.jpg").write_bytes(encode(fake, quality=80))
        outcomes = list(scan_sources(store, case, [str(root / "reported")], ScanOptions(jobs=jobs)))
        yield _scan_step("2. Scan a folder of pictures someone sent you", [
            f"The folder held {len(outcomes)} pictures: {len(truth)} edited copies (resized, re-saved, cropped,",
            "mirrored, rotated, watermarked), a screenshot of one photo, a fake made from",
            f"another (body replaced, as 'undressing' bots do) and {len(unrelated)} unrelated pictures.",
        ], outcomes)

        on_page = [name for name in sorted(truth) if "mirrored" in name or "watermarked" in name]
        with _local_web_page(root / "reported", on_page) as page_url:
            options = ScanOptions(allow_private=True, hosts={DEMO_HOST: "127.0.0.1"})
            outcomes = list(scan_sources(store, case, [page_url], options))
            yield _scan_step("3. Scan a web page", [
                f"A page on {DEMO_HOST} (a made-up site, served by this computer to itself)",
                f"showed {len(on_page)} copies. They were checked in memory and not saved; the case",
                "keeps only each address, the date and the file's fingerprint (SHA-256).",
            ], outcomes, page_url)
            notice = yield from _draft_step(store, case, [m for o in outcomes for m in o.matches])
            if notice is None:
                return
            yield _sent_step(store, notice)
            for name in on_page[: len(on_page) // 2]:
                (root / "reported" / name).unlink()  # the site takes half of the pictures down
            yield _check_step(store, case)
            yield _watch_step(store, case, page_url)
        yield _report_step(store, case, root)
    store.close_case(case.id)  # closed, so nothing of the person's lands in it by default


def _watch_step(store: Store, case: Case, page_url: str) -> DemoStep:
    add_watch(store, case, page_url)
    [run] = run_watches(store, case_id=case.id,
                        options=ScanOptions(allow_private=True, hosts={DEMO_HOST: "127.0.0.1"}))
    summary = run.summary
    return DemoStep("7. Keep watching the page", [
        f"Looked at again: {summary['checked']} new pictures, {summary['seen_before']} seen before were left alone.",
        "In your own case, 'stopncii watch add URL' does this on a schedule.",
    ], [f"watch {run.watch.id}: {run.watch.url}; next check {run.watch.next_due_at}"])


def _report_step(store: Store, case: Case, folder: Path) -> DemoStep:
    out = write_report(build_report(store, case.id), "html", folder / "case-report.html")
    chain = store.verify_chain(case.id)
    return DemoStep("8. Write the case report", [
        "For a lawyer, the police or a regulator: every address, date, notice and check",
        f"({out.stat().st_size // 1024} KB as a web page; PDF too). In your own case: 'stopncii report'.",
    ], [f"{chain.events} events in the case's record, each chained to the one before; head {chain.head}"])


def _protect_step(store: Store, case: Case, folder: Path, count: int, jobs: int | None) -> DemoStep:
    detail, notes = [f"case {case.id} ({case.title}) in {store.path}"], {}
    for outcome in protect_paths(store, case, [folder], jobs=jobs):
        if outcome.item is not None:
            state = "hashed and stored" if outcome.created else "already protected"
            detail.append(f"{Path(outcome.path).name}: {state}; SHA-256 {outcome.item.sha256[:16]}...")
            notes.update(dict.fromkeys(outcome.notes))
    detail += [f"note: {note}" for note in notes]
    detail.append("Stored: hashes (PDQ and its 8 rotations/mirrors, pHash, dHash, wHash, colour hash,")
    detail.append("MD5, SHA-256), size and file name. Not stored: the pictures, thumbnails or folders.")
    return DemoStep("1. Protect your photos", [
        f"{count} made-up 'photos' stand in for yours. Each was turned into hashes",
        "(fingerprints) on this computer; only the hashes were kept, not the pictures.",
    ], detail)


_KIND_WORDS = {  # a match's kind in words, singular and plural, in the order they are listed
    "copy": ("copy", "copies"),
    "partial": ("partial copy", "partial copies"),
    "derived": ("picture made from a photo", "pictures made from a photo"),
}


def _found(matches: list[MatchRecord], scanned: int) -> str:
    """'Found 20 of 23: 18 copies, 1 partial copy and 1 picture made from a photo.'"""
    by_kind = Counter(m.kind for m in matches)
    order = [*_KIND_WORDS, *sorted(set(by_kind) - set(_KIND_WORDS))]
    parts = [f"{by_kind[k]} {_KIND_WORDS.get(k, (k, k))[by_kind[k] != 1]}" for k in order if by_kind[k]]
    listed = ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else "".join(parts)
    found = len({m.sighting_id for m in matches})
    return f"Found {found} of {scanned}" + (f": {listed}." if parts else ".")


def _scan_step(
    title: str, summary: list[str], outcomes: list[ScanOutcome], page_url: str | None = None
) -> DemoStep:
    outcomes = [o for o in outcomes if o.page is None]  # a page's summary is not an item it showed
    matched = [m for o in outcomes for m in o.matches]
    failed = [o.error for o in outcomes if o.error and not o.skipped]
    lines = [_found(matched, len(outcomes))]
    unmatched = len(outcomes) - len({m.sighting_id for m in matched}) - len(failed)
    if unmatched:
        lines.append(f"The other {unmatched} did not match any of your photos.")
    low = sum(m.confidence == "low" for m in matched)
    if low:
        lines.append(f"{low} of them with low confidence: in your own case, look at those first.")
    lines += [f"Could not scan: {e}" for e in failed]
    detail = [f"{len(outcomes)} items scanned, {len({m.sighting_id for m in matched})} matched a protected photo"]
    detail += [f"page: {page_url}"] if page_url else []
    return DemoStep(title, summary + lines, detail, matched)


def _draft_step(
    store: Store, case: Case, web_matches: list[MatchRecord]
) -> Generator[DemoStep, None, StoredNotice | None]:
    for match in web_matches:
        store.decide_match(match.id, "confirmed")
    save_requester(store, case.id, SAMPLE_REQUESTER)
    directory = load_directory()
    plan = plan_notices(store, case, directory, SAMPLE_REQUESTER)
    plan.notices = [(n.with_confirmed(sid for sid, _ in render_statements(n)), why, ids)
                    for n, why, ids in plan.notices]
    saved = save_plan(store, case, plan)
    if not saved:
        yield DemoStep("4. Draft the takedown notice", ["No notice could be drafted."])
        return None
    stored = saved[0][0]
    notice = load_notice(store, stored, directory)
    step = DemoStep("4. Draft the takedown notice", [
        f"The {len(web_matches)} copies on the web page were confirmed as the sample person",
        "(in your own case, you check and confirm each one yourself). A notice to",
        f"{stored.channel_address} asks for their removal under the {get_framework(stored.framework).short_name}.",
    ], [f"Why this law: {plan.notices[0][1]}",
        "The statements the law needs were confirmed for the sample person; you confirm them yourself."])
    step.notice_text = render_text(notice)
    yield step
    return stored


def _sent_step(store: Store, stored: StoredNotice) -> DemoStep:
    sent = mark_sent(store, stored.id, SendingConfig(), load_directory())
    due = sent.due_at[:16].replace("T", " ") + " UTC" if sent.due_at else "no fixed date"
    return DemoStep("5. Send it and start the clock", [
        f"Recorded as sent; nothing really went out ({DEMO_HOST} is not a real site).",
        f"The site must act by {due}.",
        "With your own mail set up, 'stopncii notice send' sends it for real.",
    ], [f"notice {sent.id} to {sent.channel_address}; due {sent.due_at}",
        "With your mail server set up (docs/sending.md), 'stopncii notice send' sends it and keeps",
        "the server's receipt as evidence."])


def _check_step(store: Store, case: Case) -> DemoStep:
    options = CheckOptions(allow_private=True, hosts={DEMO_HOST: "127.0.0.1"})
    checks = list(check_removals(store, case_id=case.id, options=options))
    gone = [c for c in checks if c.gone]
    board = status_board(store, SendingConfig(), case_id=case.id)
    summary = [f"The site removed some pictures: {len(gone)} of the {len(checks)} addresses are gone,",
               f"{len(checks) - len(gone)} are still up. In your own case, 'stopncii status' shows what is",
               "due and 'stopncii check' looks again."]
    detail = [f"gone: {c.sighting.location} ({c.check.detail})" for c in gone]
    detail += [f"status board: notice {row.notice.id} {row.state}; next: {row.next_step}" for row in board]
    counts = store.case_counts(case.id)
    detail.append(f"the demo case holds {counts['protected']} protected items, {counts['sightings']} sightings,"
                  f" {counts['matches']} matches")
    return DemoStep("6. Check whether it was taken down", summary, detail)
