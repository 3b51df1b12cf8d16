"""The whole flow on sample pictures: protect, scan edited copies (folder and web page), match.

Runs on the default case database in a case of its own, with pictures the package generates,
and a web page served on this computer only (127.0.0.1), so nothing goes to the internet.
"""

from __future__ import annotations

import functools
import http.server
import tempfile
import threading
from collections.abc import Generator, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..media.samples import body_replaced, screenshot, write_edits, write_photos
from ..notices import Requester, render_statements, render_text
from ..notices.platforms import load_directory
from ..signals._examples import encode
from ..store import Case, MatchRecord, Store, StoredNotice
from ..submit.config import SendingConfig
from .outbox import mark_sent
from .protect import protect_paths
from .scan import ScanOptions, ScanOutcome, scan_sources
from .takedown import load_notice, plan_notices, save_plan, save_requester
from .tracking import CheckOptions, check_removals, status_board

DEMO_TITLE = "Demo: sample pictures"
DEMO_HOST = "photos.example"  # a reserved name (RFC 2606): no real website is involved
SAMPLE_REQUESTER = Requester(name="Sample Person", email="sample.person@example.org", signature="/Sample Person/")
PHOTO_SEEDS = [7, 8, 9]
UNRELATED_SEEDS = [70, 71, 72]


@dataclass
class DemoStep:
    """One step of the demo, for the CLI to show: a title, lines of detail, rows of data."""

    title: str
    lines: list[str] = field(default_factory=list)
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
    body = "".join(f'<p><img src="{name}" alt="post"></p>' for name in pictures)
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
        yield DemoStep(
            f"1. Sample pictures: {len(photos)} generated 'photos' stand in for yours",
            [f"case {case.id} ({case.title}) in {store.path}"],
        )
        lines, notes = [], {}
        for outcome in protect_paths(store, case, [root / "my-photos"], jobs=jobs):
            if outcome.item is not None:
                state = "hashed and stored" if outcome.created else "already protected"
                lines.append(f"{Path(outcome.path).name}: {state}; SHA-256 {outcome.item.sha256[:16]}...")
                notes.update(dict.fromkeys(outcome.notes))
        lines += [f"note: {note}" for note in notes]
        lines.append("Stored: hashes (PDQ and its 8 rotations/mirrors, pHash, dHash, wHash, colour hash,")
        lines.append("MD5, SHA-256), size and file name. Not stored: the pictures, thumbnails or folders.")
        yield DemoStep("2. Protect: pictures hashed on this computer; only hashes kept", lines)

        truth = write_edits(root / "reported", photos)
        unrelated = write_photos(root / "reported", UNRELATED_SEEDS)
        first, second = sorted(photos)[:2]
        (root / "reported" / "screenshot.jpg").write_bytes(encode(screenshot(photos[first]), quality=80))
        fake = body_replaced(photos[second], next(iter(unrelated.values())))
        (root / "reported" / "fake-made-from-a-photo.jpg").write_bytes(encode(fake, quality=80))
        outcomes = list(scan_sources(store, case, [str(root / "reported")], ScanOptions(jobs=jobs)))
        yield _scan_step(
            f"3. Scan a folder: {len(truth)} edited copies (resized, re-encoded, cropped, mirrored,"
            f" rotated, watermarked), a screenshot of {first}, a fake made from {second} (body"
            f" replaced, as 'undressing' bots do) and {len(UNRELATED_SEEDS)} unrelated pictures", outcomes)

        on_page = [name for name in sorted(truth) if "mirrored" in name or "watermarked" in name]
        with _local_web_page(root / "reported", on_page) as page_url:
            options = ScanOptions(allow_private=True, hosts={DEMO_HOST: "127.0.0.1"})
            outcomes = list(scan_sources(store, case, [page_url], options))
            yield _scan_step(
                f"4. Scan a web page ({page_url}, served by this computer to itself)", outcomes,
                extra=["Downloaded pictures were hashed in memory and thrown away; the case keeps the",
                       "address, the date and the file's SHA-256 as evidence."])
            notice = yield from _draft_step(store, case, [m for o in outcomes for m in o.matches])
            if notice is None:
                return
            yield _sent_step(store, notice)
            for name in on_page[: len(on_page) // 2]:
                (root / "reported" / name).unlink()  # the site takes half of the pictures down
            yield _check_step(store, case)
    store.close_case(case.id)  # closed, so your own pictures never land in it by default
    counts = store.case_counts(case.id)
    yield DemoStep("8. What the case holds now (the demo case is closed; your own case starts empty)", [
        f"{counts['protected']} protected items, {counts['sightings']} sightings, {counts['matches']} matches",
        f"Look: stopncii matches --case {case.id}   and   stopncii status",
        f"Remove the demo case for good: stopncii case delete --case {case.id}",
    ])


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
        yield DemoStep("5. Draft the takedown notice", ["No notice could be drafted."])
        return None
    stored = saved[0][0]
    step = DemoStep("5. Draft the takedown notice", [
        f"{len(web_matches)} web matches confirmed (in your own case, you check and confirm each one).",
        f"Why this law: {plan.notices[0][1]}",
        "The statements the law needs were confirmed for the sample person; you confirm them yourself.",
    ])
    step.notice_text = render_text(load_notice(store, stored, directory))
    yield step
    return stored


def _sent_step(store: Store, stored: StoredNotice) -> DemoStep:
    sent = mark_sent(store, stored.id, SendingConfig(), load_directory())
    return DemoStep("6. Send it and start the clock", [
        f"Notice {sent.id} recorded as sent to {sent.channel_address} (photos.example is not a real",
        "website, so nothing was sent). With your mail server set up (docs/sending.md),",
        "'stopncii notice send' sends it and keeps the server's receipt as evidence.",
        f"The platform must act by {sent.due_at} (48 hours under the TAKE IT DOWN Act).",
    ])


def _check_step(store: Store, case: Case) -> DemoStep:
    options = CheckOptions(allow_private=True, hosts={DEMO_HOST: "127.0.0.1"})
    checks = list(check_removals(store, case_id=case.id, options=options))
    gone = [c for c in checks if c.gone]
    lines = [f"{len(gone)} of {len(checks)} addresses are gone; the rest are still up."]
    lines += [f"gone: {c.sighting.location} ({c.check.detail})" for c in gone]
    board = status_board(store, SendingConfig(), case_id=case.id)
    lines += [f"status board: notice {row.notice.id} {row.state}; next: {row.next_step}" for row in board]
    return DemoStep("7. Check whether it was taken down (the site removed some pictures)", lines)


def _scan_step(title: str, outcomes: list[ScanOutcome], extra: list[str] | None = None) -> DemoStep:
    items = [o for o in outcomes if o.page is None]  # a page's summary is not an item
    matched = [m for o in items for m in o.matches]
    failed = [o.error for o in outcomes if o.error and not o.skipped]
    lines = [f"{len(items)} items scanned, {len({m.sighting_id for m in matched})} matched a protected photo"]
    lines += [f"could not scan: {e}" for e in failed]
    return DemoStep(title, lines + (extra or []), matched)
