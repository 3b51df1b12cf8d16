"""Reading the lists and tables a person gives the tool (CSV or one item a line), in one way.

Every file is size-bounded, read as UTF-8 (a byte-order mark from Excel is fine), and every
problem is one line naming the file, and the line when there is one.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from ._errors import InputFileError

__all__ = ["MAX_CSV_BYTES", "CsvRow", "CsvTable", "read_csv", "read_lines", "read_text"]

MAX_CSV_BYTES: Final = 50_000_000  # a million rows of links; more is a mistake, not a list


@dataclass(frozen=True)
class CsvRow:
    """One data row: its line in the file, its values by column name (trimmed), and any values
    beyond the last named column that are not empty."""

    line: int
    values: dict[str, str]
    extra: tuple[str, ...] = ()


@dataclass(frozen=True)
class CsvTable:
    """The column names from the first line (trimmed, lower case) and the rows after it."""

    columns: tuple[str, ...]
    rows: list[CsvRow]


def read_text(path: Path) -> str:
    """The whole file as text, within ``MAX_CSV_BYTES``."""
    try:
        with path.open("rb") as file:
            data = file.read(MAX_CSV_BYTES + 1)
    except OSError as exc:
        raise InputFileError(f"could not be read ({exc.strerror or exc})", item=str(path)) from None
    if len(data) > MAX_CSV_BYTES:
        raise InputFileError(f"is larger than {MAX_CSV_BYTES // 1_000_000} MB", item=str(path))
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputFileError("is not a text file (save it as UTF-8)", item=str(path)) from None


def read_lines(text: str) -> list[str]:
    """The items of a one-a-line list: trimmed, without blank lines and ``#`` comments."""
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def read_csv(
    path: Path, *, text: str | None = None, required: Sequence[str] = (), known: Sequence[str] | None = None,
    comments: bool = False,
) -> CsvTable:
    """The table in ``path`` (or in ``text`` already read from it), its first line naming the
    columns. ``required`` columns must be there; with ``known``, no other column may be.
    Blank rows are left out, and with ``comments`` rows whose first value starts with ``#``."""
    label = str(path)
    reader = csv.reader(io.StringIO(read_text(path) if text is None else text))
    try:
        header = next((row for row in reader if _has_content(row, comments)), [])
        columns = tuple(name.strip().lower() for name in header)
        missing = [name for name in required if name not in columns]
        if missing:
            listing = f" (the columns are: {', '.join(known)})" if known else ""
            raise InputFileError(
                f"the first line must name the columns, including {' and '.join(missing)}{listing}", item=label)
        unknown = [name for name in columns if known is not None and name not in known]
        if unknown:
            raise InputFileError(f"unknown column {unknown[0]!r}; the columns are: {', '.join(known or ())}",
                                 item=label)
        rows = [_row(reader.line_num, columns, raw) for raw in reader if _has_content(raw, comments)]
    except csv.Error as exc:
        if "field larger than field limit" in str(exc):
            raise InputFileError(
                f"line {reader.line_num}: a value is longer than {csv.field_size_limit() // 1024} KB, more than any "
                "link, name or note needs (is a quote mark missing its closing quote?)", item=label) from None
        raise InputFileError(f"line {reader.line_num}: this line is not valid CSV ({exc})", item=label) from None
    return CsvTable(columns, rows)


def _has_content(raw: list[str], comments: bool) -> bool:
    return any(value.strip() for value in raw) and not (comments and raw[0].lstrip().startswith("#"))


def _row(line: int, columns: tuple[str, ...], raw: list[str]) -> CsvRow:
    values = {name: value.strip() for name, value in zip(columns, raw, strict=False)}
    values.update({name: "" for name in columns[len(raw):]})
    extra = tuple(value.strip() for value in raw[len(columns):] if value.strip())
    return CsvRow(line, values, extra)
