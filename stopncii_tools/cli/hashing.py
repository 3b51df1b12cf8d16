"""``stopncii hash``: hash pictures and videos on this machine, with no database."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import Any

import click

from ..media.files import iter_files
from ..signals.hashing import IMAGE_SIGNALS, HashOutcome, hash_files
from . import _output as o
from ._common import file_options

COLUMNS = ("path", "kind", "format", "width", "height", "size", "error") + tuple(
    col for name in IMAGE_SIGNALS for col in ((name, f"{name}_quality") if name == "pdq" else (name,))
) + ("frames", "notes")


def outcome_record(outcome: HashOutcome) -> dict[str, Any]:
    """One flat record per file: the same keys in JSON and CSV."""
    record: dict[str, Any] = {"path": outcome.path}
    if outcome.hashes is None:
        record["error"] = outcome.error
        if outcome.skipped:
            record["skipped"] = True
        return record
    h = outcome.hashes
    record.update(kind=h.kind, format=h.format, width=h.width, height=h.height, size=h.size)
    for name, value in h.hashes.items():
        record[name] = value.value
        if value.quality is not None:
            record[f"{name}_quality"] = value.quality
    if h.frames:
        record["frames"] = len(h.frames)
    if h.notes:
        record["notes"] = "; ".join(h.notes)
    return record


def _stdin_paths() -> Iterator[str]:
    for line in sys.stdin:
        line = line.strip()
        if line and not line.startswith("#"):
            yield line


def _expand(paths: tuple[str, ...]) -> Iterator[str]:
    for path in paths:
        if path == "-":
            yield from _stdin_paths()
        else:
            yield path


@click.command(name="hash")
@click.argument("paths", nargs=-1, required=True)
@file_options
@click.option("--dihedral", is_flag=True, help="Also print PDQ of the 8 rotations and mirror images (JSON only).")
@o.output_options
def hash_command(
    paths: tuple[str, ...],
    include: tuple[str, ...],
    exclude: tuple[str, ...],
    jobs: int | None,
    dihedral: bool,
    as_json: bool,
    as_csv: bool,
) -> None:
    """Hash pictures and videos on this computer. Nothing is sent anywhere or stored.

    PATHS are files or folders (searched inside, recursively); '-' reads a list of paths,
    one per line, from standard input. For each file it prints PDQ (what StopNCII and most
    platforms use), pHash, dHash, wHash, a colour hash, MD5 and SHA-256. The pictures are
    only read; hashes cannot be turned back into pictures.

    \b
    Examples:
      stopncii hash photo.jpg
      stopncii hash ~/Pictures/private --include '*.jpg' --json > hashes.jsonl
      find . -name '*.png' | stopncii hash - --csv

    Exit code: 0 when every file was hashed, 1 when any file could not be.
    """
    fmt = o.choose_format(as_json, as_csv)
    files = iter_files(_expand(paths), include=include, exclude=exclude)
    stream = o.CSVStream(COLUMNS) if fmt == "csv" else None
    failed = skipped = hashed = 0
    with o.progress("Hashing") as bar:
        task = bar.add_task("Hashing", total=None)
        for outcome in hash_files(files, jobs=jobs, dihedral=dihedral):
            bar.advance(task)
            record = outcome_record(outcome)
            if outcome.skipped:
                skipped += 1
                o.status(f"skipped {outcome.path}: {outcome.error}")
                continue
            if outcome.error:
                failed += 1
                o.error_line(outcome.error)
            else:
                hashed += 1
            if fmt == "json":
                if dihedral and outcome.hashes and outcome.hashes.pdq_variants:
                    record["pdq_variants"] = [v.value for v in outcome.hashes.pdq_variants]
                o.json_line(record)
            elif stream is not None:
                stream.row(record)
            elif outcome.hashes is not None:
                _print_readable(record)
    summary = f"{hashed} hashed, {failed} could not be read"
    if skipped:
        summary += f", {skipped} skipped (not pictures or videos)"
    o.status(summary + ". Nothing left this computer.")
    if failed:
        raise SystemExit(1)


def _print_readable(record: dict[str, Any]) -> None:
    o.out.print(f"[bold]{o.escape(record['path'])}[/bold]  {record['kind']} {record['format']}"
                f" {record.get('width') or '?'}x{record.get('height') or '?'}")
    for name in IMAGE_SIGNALS:
        if name in record:
            quality = record.get(f"{name}_quality")
            extra = f"  (quality {quality})" if quality is not None else ""
            o.out.print(f"  {name:<9} {record[name]}{extra}")
    if record.get("frames"):
        o.out.print(f"  frames    {record['frames']} frame hashes")
    if record.get("notes"):
        o.out.print(f"  note      {o.escape(record['notes'])}")
