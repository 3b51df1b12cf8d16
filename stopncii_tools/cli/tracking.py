"""``stopncii status`` (the board of deadlines) and ``stopncii check`` (is it gone yet?)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import clock as clocks
from ..store import Store
from ..workflow.tracking import (
    SOON_HOURS,
    BoardRow,
    CheckOptions,
    ItemCheck,
    check_removals,
    status_board,
)
from . import _output as o
from ._common import host_map, resolve_option, with_store
from .outbox import load_config, sending_options

every_case_option = click.option("--case", "case_id", metavar="ID", default=None,
                                 help="Only this case (default: every case).")

# every field for --csv; the table keeps what fits 80 columns
BOARD_COLUMNS = ("state", "notice", "case", "case_title", "platform", "language", "status", "framework", "due_at",
                 "hours_left", "time_left", "sent_at", "next_step")
BOARD_TABLE = ("notice", "case", "platform", "state", "time_left", "next_step")
CHECK_COLUMNS = ("notice", "case", "url", "outcome", "http_status", "checked_at", "detail", "sha256_now", "fetched",
                 "notice_status")
CHECK_TABLE = ("notice", "url", "outcome", "detail")


def _time_left(hours: float | None) -> str:
    if hours is None:
        return ""
    size = abs(hours)
    amount = f"{size:.0f} h" if size < 48 else f"{size / 24:.1f} days"
    return f"overdue by {amount}" if hours < 0 else f"{amount} left"


def board_record(row: BoardRow, case_title: str) -> dict[str, Any]:
    n = row.notice
    return {"state": row.state, "notice": n.id, "case": n.case_id, "case_title": case_title,
            "platform": n.platform, "language": n.language, "status": n.status,
            "framework": n.framework, "due_at": n.due_at, "hours_left": None if row.hours_left is None
            else round(row.hours_left, 2), "time_left": _time_left(row.hours_left), "sent_at": n.sent_at,
            "next_step": row.next_step}


@click.command(name="status")
@every_case_option
@click.option("--soon", "soon_hours", type=click.FloatRange(0), default=SOON_HOURS, show_default=True, metavar="HOURS",
              help="Hours before a deadline that count as 'due soon'.")
@click.option("--all", "include_closed", is_flag=True, help="Also show removed and withdrawn notices.")
@sending_options
@o.output_options
@with_store
def status_command(store: Store, case_id: str | None, soon_hours: float, include_closed: bool,
                   channel_config: Path | None, default_deadline_hours: int | None, as_json: bool,
                   as_csv: bool) -> None:
    """The board: every open notice across your cases, most urgent first.

    Overdue notices come first (the platform's legal time is up: send the follow-up), then
    those due within --soon hours, refused ones (escalate), then what is still to be sent or
    submitted by hand, then notices waiting for their deadline.

    \b
    Examples:
      stopncii status
      stopncii status --case k7m3qx --json
    """
    case = store.get_case(case_id) if case_id else None
    config = load_config(channel_config, default_deadline_hours)
    rows = status_board(store, config, case_id=case.id if case else None, soon_hours=soon_hours,
                        include_closed=include_closed)
    titles = {c.id: c.title for c in store.list_cases(None)}
    records = [board_record(r, titles.get(r.notice.case_id, r.notice.case_id)) for r in rows]
    fmt = o.choose_format(as_json, as_csv)
    if fmt == "table":  # the case by its title: ids are for typing, titles for reading
        o.render([{**r, "case": r["case_title"], "platform": f"{r['platform']} ({r['language']})"} for r in records],
                 BOARD_TABLE, fmt, title="Notices")
    else:
        o.render(records, BOARD_COLUMNS, fmt)
    counts: dict[str, int] = {}
    for row in rows:
        counts[row.state] = counts.get(row.state, 0) + 1
    o.status(", ".join(f"{n} {state}" for state, n in counts.items()) + "." if counts else "No open notices.")
    watches = store.watches(case.id if case else None)
    if watches:
        due = store.watches(case.id if case else None, due_at=clocks.now())
        found = sum(int(w.last_summary.get("new_matches", 0)) for w in watches)
        pages = "1 watched page" if len(watches) == 1 else f"{len(watches)} watched pages"
        o.status(f"{pages}, {len(due)} due for a check now ('stopncii watch run'); "
                 f"new matches found by the last runs: {found}.")


def check_record(item: ItemCheck) -> dict[str, Any]:
    c = item.check
    return {"notice": item.notice.id, "case": item.notice.case_id, "url": item.sighting.location,
            "outcome": c.outcome, "http_status": c.http_status, "checked_at": c.checked_at, "detail": c.detail,
            "sha256_now": c.sha256, "fetched": item.fresh, "notice_status": item.notice.status}


@click.command(name="check")
@every_case_option
@click.option("--allow-private", is_flag=True,
              help="Allow addresses on private networks and this computer (for testing).")
@resolve_option
@o.output_options
@with_store
def check_command(store: Store, case_id: str | None, allow_private: bool, resolve: tuple[str, ...],
                  as_json: bool, as_csv: bool) -> None:
    """See whether what your sent notices asked about is gone, and keep the proof.

    Every address of every notice that went out (and is not yet settled) is fetched again,
    like a scan: in memory, nothing saved. Gone (HTTP 404 or 410), no longer shown on its
    page, or replaced by a different picture is recorded as removed, with the time it was
    seen; a notice whose addresses are all gone becomes 'removed'. Still online is recorded
    too, as evidence for a follow-up.

    \b
    Examples:
      stopncii check
      stopncii check --case k7m3qx --json
    """
    case = store.get_case(case_id) if case_id else None
    options = CheckOptions(allow_private=allow_private, hosts=host_map(resolve))
    items = []
    with o.progress("Checking") as bar:
        task = bar.add_task("Checking", total=None)
        for item in check_removals(store, case_id=case.id if case else None, options=options):
            bar.advance(task)
            items.append(item)
    fmt = o.choose_format(as_json, as_csv)
    o.render([check_record(i) for i in items], CHECK_TABLE if fmt == "table" else CHECK_COLUMNS, fmt, title="Checks",
             cut=("url",))
    gone = sum(i.gone for i in items)
    removed = sorted({i.notice.id for i in items if i.notice.status == "removed"})
    o.status(f"{len(items)} addresses checked: {gone} gone, {len(items) - gone} still there or unreachable."
             + (f" Notices now removed: {', '.join(map(str, removed))}." if removed else ""))
    if not items:
        o.status("Nothing to check: no notice has gone out yet (see 'stopncii status').")
