"""Read the hash lists that platforms, hash banks and partners write, and name our signals as they do.

Told apart by their content:

- lines ``<signal type> <hash>``: python-threatexchange's local-file exchange and our ``hashlist``
  export; commas or semicolons may separate too, ``#`` starts a comment;
- CSV with a header naming a signal column and a hash column;
- StopNCII-shaped JSON: a ``FetchHashesResponse`` envelope (``{"hashRecords": [...]}``), a list
  of records, or one record (``signalType``, ``hashValue``);
- HMA bank content as its API answers: one content item (``{"id", "signals": {"pdq": ...}}``),
  a list of them, or the bank's find answer (``matches`` with ``signal_type``, ``signal_value``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from .._errors import InputFileError, InvalidHash
from . import HASHES

# the names HMA and python-threatexchange give our signals (its SignalType.get_name())
HMA_SIGNAL_TYPES = {"pdq": "pdq", "md5": "video_md5"}
# StopNCII's signalType for them
STOPNCII_SIGNAL_TYPES = {"pdq": "ImagePDQ", "md5": "VideoMD5"}
# names other tools use for our signal types, compared in lower case without spaces
SIGNAL_ALIASES = {
    "pdq": "pdq", "imagepdq": "pdq", "pdq_image": "pdq",
    "md5": "md5", "video_md5": "md5", "videomd5": "md5", "md5_video": "md5",
    "sha256": "sha256", "sha-256": "sha256", "phash": "phash", "dhash": "dhash", "whash": "whash",
}
MAX_ENTRIES = 1_000_000
_SEPARATORS = re.compile(r"[\s,;]+")
_JSON_KEYS = ('"hashRecords"', '"hashValue"', '"signalType"', '"signals"', '"signal_value"')
_READ = "pdq, video_md5 (or md5), sha256, phash, dhash and whash"


@dataclass(frozen=True)
class HashEntry:
    """One hash read from a list; ``where`` is 'line 4' or 'record 3'."""

    where: str
    signal: str
    value: str


@dataclass(frozen=True)
class HashListProblem:
    """One line or record that could not be read, and why (one line of plain words)."""

    where: str
    reason: str


def canonical_signal(name: str) -> str | None:
    return SIGNAL_ALIASES.get(name.strip().lower().replace(" ", ""))


def looks_like_hash_list(text: str) -> bool:
    """True when the start of a file reads as a hash list: a signal line, a CSV header, or hash JSON."""
    text = text.lstrip("\ufeff \t\r\n")
    if text.startswith(("{", "[")):
        return any(key in text for key in _JSON_KEYS)
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
    """Yield each entry, or a problem naming its line or record; a bad one never stops the rest.

    Raises :class:`InputFileError` only when the file as a whole cannot be read.
    """
    text = text.lstrip("\ufeff")
    if text.lstrip().startswith(("{", "[")):
        yield from _parse_json(text)
        return
    lines = text.splitlines()
    if len(lines) > MAX_ENTRIES:
        raise InputFileError(f"the hash list has {len(lines)} lines; at most {MAX_ENTRIES} are read at once")
    first = next((line for line in lines if line.strip() and not line.lstrip().startswith("#")), "")
    if "," in first and canonical_signal(first.split(",")[0]) is None:
        yield from _parse_csv(lines)
        return
    for number, raw in enumerate(lines, start=1):
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        parts = _SEPARATORS.split(line)
        if len(parts) != 2:
            yield HashListProblem(f"line {number}", "expected '<signal type> <hash>', for example 'pdq 8f3a...'")
            continue
        yield _entry(f"line {number}", parts[0], parts[1])


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
    try:
        for row in reader:
            number = reader.line_num + skip
            signal, value = (row.get(signal_col) or "").strip(), (row.get(value_col) or "").strip()
            if not signal and not value:
                continue
            yield _entry(f"line {number}", signal, value)
    except csv.Error as exc:
        raise InputFileError(f"the CSV hash list cannot be read past line {reader.line_num + skip}: {exc}") from None


def _parse_json(text: str) -> Iterator[HashEntry | HashListProblem]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputFileError(f"the hash list is not valid JSON (line {exc.lineno}: {exc.msg})") from None
    except RecursionError:
        raise InputFileError("the hash list is JSON nested too deeply to read") from None
    records = _json_records(data)
    if len(records) > MAX_ENTRIES:
        raise InputFileError(f"the hash list has {len(records)} records; at most {MAX_ENTRIES} are read at once")
    for number, record in enumerate(records, start=1):
        yield from _record_entries(f"record {number}", record)


def _json_records(data: Any) -> list[Any]:
    """The records of a StopNCII envelope, an HMA find answer, a list, or a single record."""
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("hashRecords", "matches"):  # StopNCII's envelope; HMA's find answer
            if key in data:
                if not isinstance(data[key], list):
                    raise InputFileError(f"'{key}' in the hash list is not a list of records")
                return data[key]
        if {"signals", "signalType", "hashValue", "signal_type", "signal_value"} & data.keys():
            return [data]
    raise InputFileError(
        "this JSON holds no hash records: expected StopNCII records ('signalType', 'hashValue') "
        "or HMA bank content ('signals')"
    )


def _record_entries(where: str, record: Any) -> Iterator[HashEntry | HashListProblem]:
    if not isinstance(record, dict):
        yield HashListProblem(where, "is not a JSON object")
    elif "signals" in record:  # HMA content: one item may hold several signal types
        signals = record["signals"]
        if not isinstance(signals, dict) or not signals:
            yield HashListProblem(where, "'signals' holds no '<signal type>': '<hash>' pairs")
            return
        for name, value in signals.items():
            yield _entry(where, name, value)
    elif "signal_type" in record or "signal_value" in record:  # HMA's find answer
        yield _entry(where, record.get("signal_type"), record.get("signal_value"))
    elif "signalType" in record or "hashValue" in record:  # StopNCII
        yield _entry(where, record.get("signalType"), record.get("hashValue"))
    else:
        yield HashListProblem(where, "has neither 'signalType' and 'hashValue' (StopNCII) nor 'signals' (HMA)")


def _entry(where: str, signal_name: object, value: object) -> HashEntry | HashListProblem:
    if not isinstance(signal_name, str) or not signal_name.strip():
        return HashListProblem(where, "has no signal type")
    if not isinstance(value, str):
        return HashListProblem(where, "has no hash as text")
    signal = canonical_signal(signal_name)
    if signal is None:
        return HashListProblem(where, f"unknown signal type {signal_name[:40]!r}; this tool reads {_READ}")
    try:
        return HashEntry(where, signal, HASHES[signal].validate(value))
    except InvalidHash as exc:
        return HashListProblem(where, exc.reason)
