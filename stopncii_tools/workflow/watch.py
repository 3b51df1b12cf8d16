"""Watching pages: re-scan each watched page when it is due, fetching only what is new.

A watch is a page (a Telegram channel, a gallery, a forum thread) kept in the case with an
interval. A run scans every due page like ``scan`` does, but leaves alone the pictures the case
has seen before and the posts up to the newest post of the last finished run, and stops reading
older pages at the first one that holds something a finished run saw (a stopped run may not
have read on, so what only it saw is skipped without stopping there). Sightings and matches are committed
one by one and the watch's cursor moves only when its run finished, so a run stopped at any
point can simply be run again: nothing is lost, and nothing recorded is fetched twice.

A case set to draft (``case edit --draft-watch-matches``) also gets notices drafted, never sent,
for the new matches that meet :data:`DRAFT_RULE`; every other new match waits for the person.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Any

from .. import clock as clocks
from .._errors import InvalidURL, StoreError
from ..notices.platforms import PlatformDirectory, load_directory
from ..store import Case, MatchRecord, Store, Watch
from ..web.pages import public_view
from ..web.urls import parse_web_address
from .scan import PageReport, ScanOptions, ScanOutcome, scan_sources
from .takedown import case_requester, draft_for_matches

DRAFT_RULE = ("a copy of a photo you already confirmed: byte for byte the same file as one you confirmed, "
              "or an exact or high-confidence copy of a protected photo you have confirmed a copy of; "
              "pictures made from your photo, or parts of it, always wait for you")
DEFAULT_EVERY = timedelta(hours=6)
SHORTEST_EVERY = timedelta(minutes=10)  # polite to the sites watched
_INTERVAL = re.compile(r"\s*(\d{1,6})\s*([mhd])\s*", re.IGNORECASE)
_UNIT_SECONDS = {"m": 60, "h": 3600, "d": 86400}


def parse_interval(text: str) -> timedelta:
    """``30m``, ``6h`` or ``2d`` as a time span (at least 10 minutes)."""
    found = _INTERVAL.fullmatch(text)
    if not found:
        raise StoreError(f"{text!r} is not an interval; write it like 30m, 6h or 2d")
    every = timedelta(seconds=int(found.group(1)) * _UNIT_SECONDS[found.group(2).lower()])
    if every < SHORTEST_EVERY:
        raise StoreError(f"{text!r} is too often; pages are checked at most every 10 minutes (10m)")
    return every


def add_watch(
    store: Store, case: Case, url: str, every: timedelta = DEFAULT_EVERY, *, clock: clocks.Clock = clocks.now,
) -> tuple[Watch, bool]:
    """Watch ``url`` for the case, first due now. Telegram channel links are kept as ``t.me/s``."""
    try:
        address = public_view(str(parse_web_address(url)))
    except InvalidURL as exc:
        raise StoreError(f"cannot watch {url[:80]!r}: {exc.reason}") from None
    return store.add_watch(case.id, address, int(every.total_seconds()), clock())


@dataclass(frozen=True)
class WatchRun:
    """One watched page's run: what it found, and the watch as it stands afterwards."""

    watch: Watch
    outcomes: list[ScanOutcome]
    summary: dict[str, Any]

    @property
    def new_matches(self) -> int:
        return int(self.summary["new_matches"])

    @property
    def problems(self) -> list[str]:
        return [o.error for o in self.outcomes if o.error and not o.skipped]


def run_watches(
    store: Store, *, case_id: str | None = None, due_only: bool = True, options: ScanOptions | None = None,
    directory: PlatformDirectory | None = None, clock: clocks.Clock = clocks.now,
) -> Iterator[WatchRun]:
    """Run every watch that is due (or every watch), one page at a time."""
    options = options or ScanOptions()
    watches = store.watches(case_id, due_at=clock() if due_only else None)
    for watch in watches:
        case = store.get_case(watch.case_id)
        scan = replace(options, only_new=True, after_post=watch.newest_post, covered_until=watch.last_run_at)
        outcomes = list(scan_sources(store, case, [watch.url], scan))
        report = next((o.page for o in outcomes if o.page is not None), None)
        summary = _summary(outcomes, report)
        if case.draft_watch_matches:
            summary.update(_draft_by_rule(store, case, outcomes, directory or load_directory()))
        after = store.finish_watch_run(watch.id, clock(), summary, report.newest_post if report else None)
        yield WatchRun(after, outcomes, summary)


def _draft_by_rule(store: Store, case: Case, outcomes: list[ScanOutcome], directory: PlatformDirectory,
                   ) -> dict[str, Any]:
    """Confirm the new matches that meet :data:`DRAFT_RULE` and draft (never send) their notices."""
    items, files = store.confirmed_copies(case.id)
    chosen = [m for o in outcomes if o.new and o.sighting is not None for m in o.matches
              if _meets_rule(m, o.sighting.sha256, items, files)]
    for match in chosen:
        store.decide_match(match.id, "confirmed", rule=DRAFT_RULE)
    if not chosen:
        return {"confirmed_by_rule": 0, "drafted": 0}
    requester = case_requester(store, case.id)
    if requester is None:
        return {"confirmed_by_rule": len(chosen), "drafted": 0,
                "draft_problem": "no notice was drafted: the case has no requester details yet "
                                 f"(set them with 'stopncii requester set --case {case.id}')"}
    drafted, problems = draft_for_matches(store, case, directory, requester, [m.id for m in chosen])
    return {"confirmed_by_rule": len(chosen), "drafted": len(drafted),
            **({"draft_problem": "; ".join(problems)} if problems else {})}


def _meets_rule(match: MatchRecord, sha256: str, confirmed_items: set[int], confirmed_files: set[str]) -> bool:
    if match.status != "pending" or match.kind in ("partial", "derived"):
        return False
    if sha256 in confirmed_files:
        return True
    return match.item_id in confirmed_items and (match.kind == "exact" or match.confidence == "high")


def _summary(outcomes: list[ScanOutcome], report: PageReport | None) -> dict[str, Any]:
    """The counts kept with the watch and shown to the person (no addresses, no hashes)."""
    items = [o for o in outcomes if o.page is None and not o.skipped]
    return {
        "pages_read": report.pages if report else 0,
        "found": report.found if report else 0,
        "checked": sum(1 for o in items if o.sighting is not None),
        "seen_before": report.known if report else 0,
        "failed": sum(1 for o in outcomes if o.error and not o.skipped),
        "new_matches": sum(1 for o in items for m in o.matches if o.new),
        "nothing_checked": bool(report is None or report.nothing_checked),
    }
