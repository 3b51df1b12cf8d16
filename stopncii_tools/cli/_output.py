"""Rendering for the CLI: data to stdout (table, JSON lines, CSV), everything else to stderr."""

from __future__ import annotations

import csv
import json
import os
import re
import sys
import textwrap
from collections.abc import Collection, Iterable, Sequence
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

# rich honours NO_COLOR by itself; status and errors never mix with data on stdout
err = Console(stderr=True, highlight=False, soft_wrap=True)
# piped tables get a wide fixed width instead of wrapping at 80 columns
out = Console(highlight=False, soft_wrap=True, width=None if sys.stdout.isatty() else 200)

FORMAT_OPTIONS = ("table", "json", "csv")

# what outside data (file names, link texts, server messages) must never send to a terminal:
# control characters (escape sequences start with ESC or the 8-bit CSI), and the invisible
# characters that reorder or hide text
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")
_UNSAFE_IN_JSON = re.compile("[\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")  # json escapes C0
# a spreadsheet runs a cell starting with one of these as a formula (OWASP's list)
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escaped(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r", "\t": "\\t"}.get(char) or (
        f"\\x{ord(char):02x}" if ord(char) < 0x100 else f"\\u{ord(char):04x}")


def printable(text: object) -> str:
    """``text`` on one line with every control or invisible character shown escaped
    (``\\x1b``, ``\\n``, ``\\u202e``), so outside data cannot move the cursor, clear the screen,
    set the window title or fake a line of output."""
    return _UNSAFE.sub(_escaped, str(text))


def spreadsheet_safe(value: object) -> object:
    """A text cell that a spreadsheet would run as a formula gets a leading ``'``, which
    spreadsheets show as text; numbers and other cells are unchanged."""
    if isinstance(value, str) and value.startswith(_FORMULA_START):
        return "'" + value
    return value


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
    text = json.dumps(record, ensure_ascii=False, default=str)
    sys.stdout.write(_UNSAFE_IN_JSON.sub(lambda m: f"\\u{ord(m.group()):04x}", text) + "\n")
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
        self.writer.writerow({k: ("" if v is None else spreadsheet_safe(v)) for k, v in record.items()})
        sys.stdout.flush()


def table(title: str | None, columns: Sequence[str], rows: Iterable[Sequence[Any]], cut: Collection[str] = ()) -> None:
    """Words wrap at spaces and are never broken; a ``cut`` column (addresses, paths) loses its
    middle to '…' when the screen is too narrow (its start and its end say the most)."""
    cells = [["" if v is None else "\n".join(map(printable, str(v).splitlines())) for v in row] for row in rows]
    headers = [column.replace("_", " ") for column in columns]
    texts = [[h, *(r[i] for r in cells)] for i, h in enumerate(headers)]
    natural = [max(len(line) for text in column for line in text.splitlines() or [""]) for column in texts]
    shortest = [min(natural[i], 8) if c in cut else max(len(w) for t in texts[i] for w in t.split() or [""])
                for i, c in enumerate(columns)]
    widths = _fit(natural, shortest, [i for i, c in enumerate(columns) if c in cut],
                  (screen_width() or out.width) - 3 * len(columns) - 1)  # padding, separators, edges
    grid = Table(title=title, show_lines=False, header_style="bold", box=box.SIMPLE_HEAD)
    for i, header in enumerate(headers):
        grid.add_column(header, width=widths[i], no_wrap=columns[i] in cut, overflow="fold")
    for row in cells:
        grid.add_row(*(_cut_middle(text, widths[i]) if columns[i] in cut else text for i, text in enumerate(row)))
    out.print(grid, width=screen_width())


def _fit(natural: list[int], shortest: list[int], cut: list[int], room: int) -> list[int]:
    """Column widths within ``room``: cut columns give way first (down to 20), then wrapped text
    (down to its longest word), then cut columns again (down to 8)."""
    widths = list(natural)
    wrap = [i for i in range(len(widths)) if i not in cut]
    for columns, floor in ((cut, 20), (wrap, 0), (cut, 0)):
        while sum(widths) > room:  # one character at a time from the widest, so all wrap alike
            shrinkable = [i for i in columns if widths[i] > max(shortest[i], floor)]
            if not shrinkable:
                break
            widths[max(shrinkable, key=widths.__getitem__)] -= 1
    return widths


def _cut_middle(text: str, most: int) -> str:
    if len(text) <= most:
        return text
    head = (most - 1) // 3
    return text[:head] + "…" + text[len(text) - (most - 1 - head):]


def screen_width() -> int | None:
    """COLUMNS when set (read at print time, as shells and tests set it), else the console's width."""
    text = os.environ.get("COLUMNS", "")
    return int(text) if text.isdigit() and int(text) > 0 else None


def wrapped(text: str, indent: str = "") -> str:
    """``text`` wrapped to the screen at spaces only: addresses and words are never broken."""
    width = min(screen_width() or out.width, 100)
    return textwrap.fill(text, width, initial_indent=indent, subsequent_indent=indent + "  ",
                         break_long_words=False, break_on_hyphens=False)


def render(
    records: list[dict[str, Any]], columns: Sequence[str], fmt: str, title: str | None = None, cut: Collection[str] = ()
) -> None:
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
        table(title, columns, ([r.get(c) for c in columns] for r in records), cut)


class _RateColumn(ProgressColumn):
    """Items per second, once there is a rate to show."""

    def render(self, task: Task) -> Text:
        return Text(f"{task.speed:,.1f}/s" if task.speed else "", style="progress.data.speed")


def progress(label: str, total: int | None = None, *, quiet: bool = False) -> Progress:
    """A progress bar on stderr with the rate and, when the task has a total, the time left;
    hidden when stderr is not a terminal or ``quiet`` (e.g. with --json)."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        _RateColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=err,
        transient=True,
        disable=quiet or not err.is_terminal,
    )


def escape(text: object) -> str:
    """Make a file name or URL safe to print inside rich markup."""
    from rich.markup import escape as _escape

    return _escape(printable(text))


def _line(message: str) -> str:
    """A status line: our leading blank line is kept, everything else is made printable."""
    body = message.lstrip("\n")
    return message[: len(message) - len(body)] + printable(body)


def status(message: str) -> None:
    err.print(Text(_line(message)))  # Text: file names and URLs are never read as markup


def warn(message: str) -> None:
    err.print(Text(_line(message), style="yellow"))


def error_line(message: str) -> None:
    err.print(Text(_line(message), style="red"))
