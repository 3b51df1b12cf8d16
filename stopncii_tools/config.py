"""Reading settings files written in TOML: one reader and one set of checks for every file.

``sending.toml`` and ``platforms.toml`` both come through here, so a mistake in either is
reported the same way: one line naming the file, the place in it, and what is wrong, e.g.
``sending.toml: [smtp]: 'port' should be a whole number``.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, Final

from ._errors import InputFileError, StopNCIIError

__all__ = [
    "MAX_TOML_BYTES", "Schema", "check_keys", "did_you_mean", "parse_toml", "read_toml", "table", "tables",
    "typed",
]

MAX_TOML_BYTES: Final = 2_000_000  # the packaged platform directory is ~60 kB; settings far less
Schema = Mapping[str, type]
"""Each allowed key and the type of its value (``str``, ``int``, ``float`` or ``bool``)."""

_TYPE_WORDS: Final[dict[type, str]] = {
    str: "a piece of text", int: "a whole number", float: "a number", bool: "true or false",
}


def read_toml(path: Path, *, error: type[StopNCIIError] = InputFileError) -> dict[str, Any]:
    """The tables in ``path``; a file that is too big, unreadable, not UTF-8 or not TOML raises
    ``error`` naming the file."""
    label = str(path)
    try:
        with path.open("rb") as file:
            data = file.read(MAX_TOML_BYTES + 1)
    except OSError as exc:
        raise error(f"could not be read ({exc.strerror or exc})", item=label) from None
    if len(data) > MAX_TOML_BYTES:
        raise error(f"is larger than {MAX_TOML_BYTES // 1_000_000} MB, too big for a settings file",
                    item=label)
    try:
        text = data.decode("utf-8-sig")  # a byte-order mark from a Windows editor is harmless
    except UnicodeDecodeError:
        raise error("is not UTF-8 text; save it as UTF-8", item=label) from None
    return parse_toml(text, label, error=error)


def parse_toml(text: str, label: str, *, error: type[StopNCIIError] = InputFileError) -> dict[str, Any]:
    """The tables in ``text``; bad TOML raises ``error`` leading with the line and column."""
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        found = re.search(r"\(at line (\d+), column (\d+)\)", message)
        detail = message[: found.start()].strip() if found else message
        where = f"line {found.group(1)}, column {found.group(2)}: " if found else ""
        raise error(f"{where}not valid TOML ({detail})", item=label) from None
    except RecursionError:  # the reader recurses once per level of [[ or {
        raise error("not valid settings: its values are nested too deeply", item=label) from None


def table(value: object, where: str, *, error: type[StopNCIIError] = InputFileError) -> dict[str, Any]:
    """``value`` if it is a table (``[name]``), else ``error`` at ``where``."""
    if not isinstance(value, dict):
        raise error("should be a table", item=where)
    return value


def tables(value: object, where: str, *, error: type[StopNCIIError] = InputFileError) -> list[object]:
    """``value`` if it is a list (written ``[[name]]``); each entry is checked by its reader."""
    if not isinstance(value, list):
        raise error("should be a list of tables ([[...]])", item=where)
    return value


def check_keys(
    values: Mapping[str, object], allowed: Iterable[str], where: str,
    *, error: type[StopNCIIError] = InputFileError,
) -> None:
    """Refuse the first key not in ``allowed``, suggesting the closest known one."""
    known = sorted(allowed)
    for key in values:
        if key not in known:
            hint = did_you_mean(key, known) or f" (known: {', '.join(known)})"
            raise error(f"unknown key '{key}'{hint}", item=where)


def did_you_mean(word: str, options: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` for the closest option (a prefix counts), or nothing."""
    known = sorted(options)
    close = [o for o in known if word and o.startswith(word)] or difflib.get_close_matches(word, known, n=1)
    return f" (did you mean '{close[0]}'?)" if close else ""


def typed(
    value: object, schema: Schema, where: str, *, error: type[StopNCIIError] = InputFileError,
) -> dict[str, Any]:
    """The table at ``where`` with only ``schema``'s keys, each of its type (a whole number
    counts as a number; true/false never counts as one)."""
    values = table(value, where, error=error)
    check_keys(values, schema, where, error=error)
    out: dict[str, Any] = {}
    for key, item in values.items():
        kind = schema[key]
        if kind is float and isinstance(item, int) and not isinstance(item, bool):
            item = float(item)
        if not isinstance(item, kind) or (kind is not bool and isinstance(item, bool)):
            raise error(f"'{key}' should be {_TYPE_WORDS[kind]}", item=where)
        out[key] = item
    return out
