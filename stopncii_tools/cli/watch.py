"""``stopncii watch``: pages re-checked on a schedule, fetching only what is new."""

from __future__ import annotations

from typing import Any

import click

from ..store import Store, Watch
from ..workflow.scan import DEFAULT_MAX_PAGES, ScanOptions
from ..workflow.watch import add_watch, parse_interval, run_watches
from . import _output as o
from ._common import case_option, host_map, resolve_option, with_store

WATCH_COLUMNS = ("watch", "case", "url", "every", "next_due_at", "last_run_at", "last_found")
NEW_MATCHES_EXIT = 3  # for schedulers: something new waits for the person's eyes


def _every(seconds: int) -> str:
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def watch_record(watch: Watch) -> dict[str, Any]:
    last = watch.last_summary
    found = (f"{last.get('checked', 0)} new checked, {last.get('new_matches', 0)} new matches"
             if watch.last_run_at else "not run yet")
    return {"watch": watch.id, "case": watch.case_id, "url": watch.url, "every": _every(watch.every_seconds),
            "next_due_at": watch.next_due_at, "last_run_at": watch.last_run_at, "last_found": found,
            "newest_post": watch.newest_post, "last_summary": last}


@click.group(name="watch")
def watch_group() -> None:
    """Re-check pages where pictures get posted (channels, galleries, forums) on a schedule.

    A watched page is scanned again when it is due; only posts and pictures not seen before
    are fetched, and new matches wait for you in 'stopncii matches'. Run 'stopncii watch run'
    from cron, a systemd timer or the Windows Task Scheduler (see docs/watching.md).

    \b
    Examples:
      stopncii watch add https://t.me/somechannel --every 6h
      stopncii watch run
    """


@watch_group.command(name="add")
@click.argument("url")
@case_option
@click.option("--every", "every_text", default="6h", show_default=True, metavar="INTERVAL",
              help="How often to check it: 30m, 6h, 2d (at least 10m).")
@with_store
def watch_add(store: Store, url: str, case_id: str | None, every_text: str) -> None:
    """Watch a page for a case: it is checked at the next 'watch run', then every INTERVAL.

    \b
    Examples:
      stopncii watch add https://t.me/somechannel
      stopncii watch add https://forum.example/thread/42 --case k7m3qx --every 1d
    """
    case = store.resolve_case(case_id)
    watch, created = add_watch(store, case, url, parse_interval(every_text))
    o.status(f"{'Watching' if created else 'Already watching'} {watch.url} for case {case.id} "
             f"({case.title}), every {_every(watch.every_seconds)}. Nothing was fetched yet.")


@watch_group.command(name="list")
@click.option("--case", "case_id", metavar="ID", default=None, help="Only this case (default: every case).")
@o.output_options
@with_store
def watch_list(store: Store, case_id: str | None, as_json: bool, as_csv: bool) -> None:
    """The watched pages, next due first.

    \b
    Examples:
      stopncii watch list
      stopncii watch list --case k7m3qx --json
    """
    case = store.get_case(case_id) if case_id else None
    watches = store.watches(case.id if case else None)
    o.render([watch_record(w) for w in watches], WATCH_COLUMNS, o.choose_format(as_json, as_csv), title="Watches")
    if not watches:
        o.status("No page is watched yet: stopncii watch add URL")


@watch_group.command(name="remove")
@click.argument("watch_id", type=int)
@with_store
def watch_remove(store: Store, watch_id: int) -> None:
    """Stop watching a page (what was found there stays in the case).

    \b
    Example:
      stopncii watch remove 3
    """
    watch = store.remove_watch(watch_id)
    o.status(f"No longer watching {watch.url}. Its sightings and matches stay in case {watch.case_id}.")


@watch_group.command(name="run")
@click.option("--case", "case_id", metavar="ID", default=None, help="Only this case's watches (default: every case).")
@click.option("--all", "run_all", is_flag=True, help="Check every watched page now, due or not.")
@click.option("--pages", "max_pages", type=click.IntRange(1, 1000), default=DEFAULT_MAX_PAGES, show_default=True,
              help="How many pages of older posts to read at most, per watched page.")
@click.option("--allow-private", is_flag=True,
              help="Allow addresses on private networks and this computer (for testing).")
@resolve_option
@o.output_options
@with_store
def watch_run(store: Store, case_id: str | None, run_all: bool, max_pages: int, allow_private: bool,
              resolve: tuple[str, ...], as_json: bool, as_csv: bool) -> None:
    """Check the watched pages that are due, fetching only what is new since the last run.

    Pictures are hashed in memory and thrown away, as in 'scan'. The exit status tells a
    scheduler what happened: 0 nothing new matched, 3 new matches wait in 'stopncii matches',
    1 a page could not be checked.

    \b
    Examples:
      stopncii watch run
      stopncii watch run --all --json
    """
    case = store.get_case(case_id) if case_id else None
    options = ScanOptions(allow_private=allow_private, max_pages=max_pages, hosts=host_map(resolve))
    fmt = o.choose_format(as_json, as_csv)
    runs = []
    with o.progress("Watching") as bar:
        task = bar.add_task("Watching", total=None)
        for run in run_watches(store, case_id=case.id if case else None, due_only=not run_all, options=options):
            bar.advance(task)
            runs.append(run)
            for problem in run.problems:
                o.error_line(problem)
            if run.summary.get("draft_problem"):
                o.error_line(f"Case {run.watch.case_id}: {run.summary['draft_problem']}")
    o.render([{**watch_record(r.watch), **r.summary} for r in runs],
             ("watch", "case", "url", "checked", "seen_before", "new_matches", "failed"), fmt, title="Watch run")
    if not runs:
        o.status("No watched page is due." + ("" if run_all else " ('--all' checks them all now.)"))
        return
    new = sum(r.new_matches for r in runs)
    checked = sum(r.summary["checked"] for r in runs)
    o.status(f"{len(runs)} pages checked: {checked} new pictures and videos looked at, {new} new matches. "
             "Nothing downloaded was saved.")
    drafted = sum(int(r.summary.get("drafted", 0)) for r in runs)
    by_rule = sum(int(r.summary.get("confirmed_by_rule", 0)) for r in runs)
    if by_rule:
        o.status(f"{by_rule} of the new matches are copies of photos you already confirmed: "
                 f"{drafted} notices were drafted for them, and nothing was sent. "
                 "Read them with 'stopncii notice list'.")
    if new > by_rule:
        o.status("See them with 'stopncii matches', then confirm each one that is you.")
    if any(r.summary["nothing_checked"] or r.problems for r in runs):
        raise SystemExit(1)
    if new:
        raise SystemExit(NEW_MATCHES_EXIT)
