"""``stopncii demo``: the whole flow on generated sample pictures, in a database of its own."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click

from ..paths import default_db_path
from ..store import Store
from ..workflow.demo import DemoStep, run_demo
from . import _output as o
from .cases import match_record


@click.command(name="demo")
@click.option("--verbose", "-v", is_flag=True,
              help="Show each step's detail: hashes, the table of matches and the full notice.")
@click.option("--keep", "keep_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Keep the demo's records in this database file, to look at them with --db FILE "
                   "(default: a temporary database, deleted when the demo ends).")
def demo_command(verbose: bool, keep_path: Path | None) -> None:
    """Show the whole flow on sample pictures the tool makes itself.

    It protects three generated 'photos', scans a folder and a web page (served on this
    computer only) holding edited copies and unrelated pictures, drafts a takedown notice,
    records it as sent and checks whether the copies were removed. No real picture is used,
    nothing goes to the internet, and your own cases are not touched: the demo keeps its
    records in a database of its own, deleted at the end unless you --keep it.

    \b
    Examples:
      stopncii demo
      stopncii demo --verbose
      stopncii demo --keep demo.db && stopncii status --db demo.db
    """
    if keep_path is not None and keep_path.resolve() == default_db_path().resolve():
        raise click.BadParameter("that is your own case database; give the demo a file of its own.",
                                 param_hint="--keep")
    o.out.print("The demo runs on made-up pictures, on this computer only.\nYour own cases are not touched.")
    if keep_path is not None:
        _run(keep_path, verbose)
        o.out.print(f"\nThe demo's records are in {o.escape(str(keep_path))}. Delete the file when done.")
        o.out.print(f"Look at them: stopncii status --db {o.escape(str(keep_path))}")
        return
    with tempfile.TemporaryDirectory(prefix="stopncii-demo-db-") as folder:
        _run(Path(folder) / "demo.db", verbose)
    o.out.print("\nThe demo's records were in a temporary database, now deleted.")
    if not verbose:
        o.out.print("Each step in detail (hashes, matches, the notice): stopncii demo --verbose")
    o.out.print("Start with your own pictures, in a page of your web browser: stopncii app")


def _run(db_path: Path, verbose: bool) -> None:
    with Store(db_path) as store:
        for step in run_demo(store):
            _show(store, step, verbose)


def _show(store: Store, step: DemoStep, verbose: bool) -> None:
    o.out.print(f"\n[bold]{o.escape(step.title)}[/bold]")
    for line in step.summary + (step.detail if verbose else []):
        o.out.print(f"  {o.escape(line)}")
    if verbose and step.matches:
        columns = ("kind", "confidence", "found_at", "label", "signal", "distance")  # kind: copy, partial, derived
        o.render([match_record(store, m) for m in step.matches], columns, "table")
    if verbose and step.notice_text:
        o.out.print("  [dim]--- the notice, as it would be sent ---[/dim]")
        o.out.print(o.escape(step.notice_text))
