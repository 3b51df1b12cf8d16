"""Rendering for the CLI: data to stdout (table, JSON lines, CSV), everything else to stderr."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Iterable, Sequence
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

# rich honours NO_COLOR by itself; status and errors never mix with data on stdout
err = Console(stderr=True, highlight=False, soft_wrap=True)
# piped tables get a wide fixed width instead of wrapping at 80 columns
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)

FORMAT_OPTIONS = ("table", "json", "csv")


def output_options(func: Any) -> Any:
    """Add ``--json`` and ``--csv`` to a command that prints data."""
    func = click.option("--csv", "as_csv", is_flag=True, help="Print CSV rows (for spreadsheets).")(func)
    func = click.option("--json", "as_json", is_flag=True, help="Print one JSON object per line (for scripts).")(func)
    return func


def choose_format(as_json: bool, as_csv: bool) -> str:
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    return "json" if as_json else "csv" if as_csv else "table"


def json_line(record: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
    sys.stdout.flush()


class CSVStream:
    """CSV rows written as they come; the header is written with the first row."""

    def __init__(self, columns: Sequence[str]) -> None:
        self.writer = csv.DictWriter(sys.stdout, fieldnames=list(columns), extrasaction="ignore")
        self.started = False

    def row(self, record: dict[str, Any]) -> None:
        if not self.started:
            self.writer.writeheader()
            self.started = True
        self.writer.writerow({k: ("" if v is None else v) for k, v in record.items()})
        sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    grid = Table(title=title, show_lines=False, header_style="bold")
    for column in columns:
        grid.add_column(column, overflow="fold")
    for row in rows:
        grid.add_row(*("" if v is None else str(v) for v in row))
    out.print(grid)


def render(records: list[dict[str, Any]], columns: Sequence[str], fmt: str, title: str | None = None) -> None:
    """Print a finished list of records in the chosen format."""
    if fmt == "json":
        for record in records:
            json_line(record)
    elif fmt == "csv":
        stream = CSVStream(columns)
        for record in records:
            stream.row(record)
    elif not records:
        status(f"Nothing to show{f' ({title.lower()})' if title else ''}.")
    else:
        table(title, columns, ([r.get(c) for c in columns] for r in records))


def progress(label: str, total: int | None = None) -> Progress:
    """A progress bar on stderr; hidden when stderr is not a terminal."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err,
        transient=True,
        disable=not err.is_terminal,
    )


def escape(text: object) -> str:
    """Make a file name or URL safe to print inside rich markup."""
    from rich.markup import escape as _escape

    return _escape(str(text))


def status(message: str) -> None:
    err.print(Text(message))  # Text: file names and URLs are never read as markup


def warn(message: str) -> None:
    err.print(Text(message, style="yellow"))


def error_line(message: str) -> None:
    err.print(Text(message, style="red"))
