"""``stopncii demo``: the whole flow on generated sample pictures."""

from __future__ import annotations

import click

from ..store import Store
from ..workflow.demo import run_demo
from . import _output as o
from ._common import with_store
from .cases import match_record


@click.command(name="demo")
@with_store
def demo_command(store: Store) -> None:
    """Show the whole flow on sample pictures the tool makes itself.

    It protects three generated 'photos' in a demo case, scans a folder and a web page
    (served on this computer only) holding edited copies and unrelated pictures, and shows
    what was found. No real picture is used and nothing goes to the internet.

    \b
    Example:
      stopncii demo
    """
    for step in run_demo(store):
        o.out.print(f"\n[bold]{o.escape(step.title)}[/bold]")
        for line in step.lines:
            o.out.print(f"  {o.escape(line)}")
        if step.matches:
            columns = ("kind", "confidence", "found_at", "label", "signal", "distance")  # kind: copy, partial, derived
            o.render([match_record(store, m) for m in step.matches], columns, "table")
        if step.notice_text:
            o.out.print("  [dim]--- the notice, as it would be sent ---[/dim]")
            o.out.print(o.escape(step.notice_text))
