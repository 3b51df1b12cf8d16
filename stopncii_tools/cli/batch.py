"""``stopncii batch run FILE.csv``: many reported addresses, scanned, drafted and sent in one go."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from ..notices.platforms import load_directory
from ..store import Store
from ..workflow.batch import BatchOptions, BatchReport, run_batch
from ..workflow.scan import ScanOptions
from . import _output as o
from ._common import host_map, resolve_option, with_store
from .outbox import load_config, render_sends, sending_options, summarise_sends

SUMMARY_COLUMNS = ("case", "title", "new", "rows", "matches", "confirmed", "pending", "notices", "sent", "problems")
SUMMARY_TABLE = ("case", "title", "rows", "matches", "pending", "notices", "sent", "problems")  # fits 80 columns


@click.group(name="batch")
def batch_group() -> None:
    """Work through many reported addresses at once (for caseworkers)."""


@batch_group.command(name="run")
@click.argument("csv_file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--send", is_flag=True, help="Send the notices too (needs --yes).")
@click.option("--yes", "confirm_statements", is_flag=True,
              help="Draft notices, confirming the statements each law needs (you have read them).")
@click.option("--confirm-matches", is_flag=True,
              help="You have checked every address in the file: confirm all their matches.")
@click.option("--refresh", is_flag=True, help="Fetch addresses again even if they were seen before.")
@click.option("--jurisdiction", "-j", metavar="CODE", help="Country for new cases without a jurisdiction column.")
@click.option("--requester-from", metavar="CASE", help="Copy requester details from this case to cases that have none.")
@click.option("--allow-private", is_flag=True,
              help="Allow addresses on private networks and this computer (for testing).")
@click.option("--report", "report_path", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the full report as JSON to this file.")
@click.option("--watches", "run_watches", is_flag=True,
              help="Also check the watched pages of the file's cases that are due (as 'watch run' does).")
@resolve_option
@sending_options
@o.output_options
@with_store
def batch_run(store: Store, csv_file: Path, send: bool, confirm_statements: bool, confirm_matches: bool,
              refresh: bool, jurisdiction: str | None, requester_from: str | None, allow_private: bool,
              report_path: Path | None, run_watches: bool, resolve: tuple[str, ...], channel_config: Path | None,
              default_deadline_hours: int | None, as_json: bool, as_csv: bool) -> None:
    """Scan the addresses in a CSV file, match, draft notices and (with --send) send them.

    Columns: case, url, and optionally platform, framework, jurisdiction, confirmed, note.
    'case' is a case id, or a title (a new title creates a case; the same title later means
    the same case). Matches are confirmed only for rows with confirmed=yes, or for every row
    with --confirm-matches. Running the same file again repeats nothing: seen addresses are
    not fetched again, and nothing is drafted or sent twice. A bad row is reported with its
    line number and skipped. See docs/caseworkers.md.

    \b
    Examples:
      stopncii batch run reports.csv
      stopncii batch run reports.csv --yes --requester-from k7m3qx --send --report run1.json
      stopncii batch run reports.csv --watches
    """
    if send and not confirm_statements:
        raise click.UsageError("--send needs --yes: notices are drafted (with their statements confirmed) first")
    options = BatchOptions(send=send, confirm_matches=confirm_matches, confirm_statements=confirm_statements,
                           refresh=refresh, jurisdiction=jurisdiction, requester_from=requester_from,
                           scan=ScanOptions(allow_private=allow_private, hosts=host_map(resolve)),
                           watches=run_watches)
    config = load_config(channel_config, default_deadline_hours)
    with o.progress("Batch") as bar:
        task = bar.add_task("Batch", total=None)

        def advance(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        report = run_batch(store, csv_file, options, load_directory(), config, progress=advance)
    for row in report.failed_rows:
        o.error_line(row.error or f"line {row.line}: skipped")
    fmt = o.choose_format(as_json, as_csv)
    columns = SUMMARY_TABLE if fmt == "table" else SUMMARY_COLUMNS
    o.render(_summary(report), columns, fmt, title=f"Batch {csv_file.name}")
    if report.sends:
        if fmt == "table":
            _render_new_sends(report)
        summarise_sends(report.sends)
    if report_path is not None:
        report_path.write_text(json.dumps(report.to_json(), indent=2, ensure_ascii=False, default=str) + "\n",
                               encoding="utf-8")
        report_path.chmod(0o600)
        o.status(f"Report written to {report_path}.")
    _render_watches(report, fmt)
    totals = report.to_json()["summary"]
    o.status(f"{totals['rows']} rows, {totals['failed_rows']} could not be done; {totals['matches']} matches, "
             f"{totals['pending_confirmation']} waiting for confirmation; {totals['notices']} notices"
             + ("." if confirm_statements else " (give --yes to draft notices)."))
    if report.failed_rows:
        raise SystemExit(1)


def _render_watches(report: BatchReport, fmt: str) -> None:
    """The watched pages of the file's cases: what their last run found, and which are due."""
    if not report.watches:
        return
    for watch in report.watches:
        for problem in watch["problems"]:
            o.error_line(problem)
    if fmt == "table":
        o.render([{**w, "last run": w["last_run_at"] or "not yet", "new matches": w["new_matches"]}
                  for w in report.watches], ("watch", "case", "url", "last run", "checked", "new matches"), fmt,
                 title="Watched pages of these cases")
    ran = [w for w in report.watches if w["ran"]]
    due = [w for w in report.watches if w["due"] and not w["ran"]]
    if ran:
        o.status(f"{len(ran)} watched pages checked: {sum(w['checked'] for w in ran)} new pictures and videos "
                 f"looked at, {sum(w['new_matches'] for w in ran)} new matches, "
                 f"{sum(w['drafted'] for w in ran)} notices drafted (not sent).")
    if due:
        o.status(f"{len(due)} watched pages of these cases are due for a check: add --watches, "
                 "or run 'stopncii watch run'.")


def _render_new_sends(report: BatchReport) -> None:
    """What was sent, with the by-hand packets of this run's new notices only: packets an earlier
    run printed are named, not printed again."""
    printed_before = [s for s in report.sends if s.outcome == "by_hand" and s.notice.id not in report.first_sent]
    render_sends([s for s in report.sends if s not in printed_before], "table")
    if printed_before:
        ids = ", ".join(str(s.notice.id) for s in printed_before)
        o.status(f"Still to submit by hand: notices {ids} (their packets were printed by an earlier run; "
                 "'stopncii notice show ID --format form' prints one again).")


def _summary(report: BatchReport) -> list[dict[str, Any]]:
    records = []
    for case in report.cases.values():
        rows = [r for r in report.rows if r.case == case.case]
        sent = sum(s.outcome == "sent" for s in report.sends if s.notice.case_id == case.case)
        records.append({"case": case.case, "title": case.title, "new": case.created, "rows": len(rows),
                        "matches": sum(r.matches for r in rows), "confirmed": sum(r.confirmed for r in rows),
                        "pending": sum(r.pending for r in rows), "notices": len(case.notices), "sent": sent,
                        "problems": "; ".join(case.errors) or sum(r.status == "failed" for r in rows) or ""})
    return records
