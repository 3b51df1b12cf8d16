"""Read hash lists from platforms and hash banks: ``pdq <hex>`` lines, or CSV with a signal column."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass

from .._errors import InputFileError, InvalidHash
from . import HASHES

# names other tools use for our signal types (HMA, StopNCII's partner API, ThreatExchange)
SIGNAL_ALIASES = {
    "pdq": "pdq", "imagepdq": "pdq", "pdq_image": "pdq",
    "md5": "md5", "video_md5": "md5", "videomd5": "md5", "md5_video": "md5",
    "sha256": "sha256", "sha-256": "sha256", "phash": "phash", "dhash": "dhash", "whash": "whash",
}
MAX_LINES = 1_000_000
_SEPARATORS = re.compile(r"[\s,;]+")


@dataclass(frozen=True)
class HashEntry:
    line: int
    signal: str
    value: str


@dataclass(frozen=True)
class HashListProblem:
    line: int
    reason: str


def canonical_signal(name: str) -> str | None:
    return SIGNAL_ALIASES.get(name.strip().lower().replace(" ", ""))


def looks_like_hash_list(text: str) -> bool:
    """True when the first meaningful line reads as a hash-list line or a CSV header."""
    for raw in text.splitlines()[:50]:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        first = line.replace(",", " ").replace(";", " ").split()
        if not first:
            return False
        if canonical_signal(first[0]) is not None:
            return True
        header = {c.strip().lower() for c in line.split(",")}
        return bool(header & {"signal", "signal_type", "signaltype"})
    return False


def parse_hash_list(text: str) -> Iterator[HashEntry | HashListProblem]:
    """Yield each entry, or a problem naming the line; a bad line never stops the rest."""
    lines = text.splitlines()
    if len(lines) > MAX_LINES:
        raise InputFileError(f"the hash list has {len(lines)} lines; at most {MAX_LINES} are read at once")
    first = next((l for l in lines if l.strip() and not l.lstrip().startswith("#")), "")
    if "," in first and canonical_signal(first.split(",")[0]) is None:
        yield from _parse_csv(lines)
        return
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = _SEPARATORS.split(line)
        if len(parts) != 2:
            yield HashListProblem(number, "expected '<signal type> <hash>', for example 'pdq 8f3a...'")
            continue
        yield _entry(number, parts[0], parts[1])


def _parse_csv(lines: list[str]) -> Iterator[HashEntry | HashListProblem]:
    # comment lines become empty ones (which csv skips), so line numbers stay those of the file
    kept = ["" if line.lstrip().startswith("#") else line for line in lines]
    skip = next((i for i, line in enumerate(kept) if line.strip()), 0)  # the header's line
    reader = csv.DictReader(io.StringIO("\n".join(kept[skip:])))
    fields = {name.strip().lower(): name for name in reader.fieldnames or []}
    signal_col = next((fields[k] for k in ("signal", "signal_type", "signaltype") if k in fields), None)
    value_col = next((fields[k] for k in ("value", "hash", "hashvalue", "signal_value") if k in fields), None)
    if signal_col is None or value_col is None:
        raise InputFileError("a CSV hash list needs a 'signal' column and a 'hash' (or 'value') column")
    for row in reader:
        number = reader.line_num + skip
        signal, value = (row.get(signal_col) or "").strip(), (row.get(value_col) or "").strip()
        if not signal and not value:
            continue
        yield _entry(number, signal, value)


def _entry(number: int, signal_name: str, value: str) -> HashEntry | HashListProblem:
    signal = canonical_signal(signal_name)
    if signal is None:
        return HashListProblem(number, f"unknown signal type {signal_name[:40]!r}")
    try:
        return HashEntry(number, signal, HASHES[signal].validate(value))
    except InvalidHash as exc:
        return HashListProblem(number, exc.reason)
