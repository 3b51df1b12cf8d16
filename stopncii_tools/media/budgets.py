"""The limits on what one file may cost: its size on disk, memory to decode it, and time.

Every limit has a default and an environment variable to change it (docs/security.md lists
them all). Values are read when they are used, so a setting made after import still counts.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Final

from .._errors import InputFileError

MB: Final = 1024 * 1024

DEFAULT_MAX_FILE_MB: Final = 2048  # a 4-hour video; a picture is never near this
DEFAULT_ITEM_MEMORY_MB: Final = 1024  # decoding one file: a 200 MP JPEG or a 100 MP PNG fits
DEFAULT_ITEM_SECONDS: Final = 60.0  # a picture decodes in well under a second
SECONDS_PER_MB: Final = 2.0  # and a video gets this much more per MB (a 2 GB video: ~70 minutes)


def _number(name: str, default: float, *, minimum: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise InputFileError(f"{name} should be a number, not {raw!r}") from None
    if value < minimum:
        raise InputFileError(f"{name} should be at least {minimum:g}, not {raw!r}")
    return value


def max_file_bytes() -> int:
    """The largest local file that is read (``STOPNCII_MAX_FILE_MB``)."""
    return int(_number("STOPNCII_MAX_FILE_MB", DEFAULT_MAX_FILE_MB, minimum=1) * MB)


def item_memory_bytes() -> int:
    """Memory one file may use while it is decoded, beyond its own bytes (``STOPNCII_ITEM_MEMORY_MB``)."""
    return int(_number("STOPNCII_ITEM_MEMORY_MB", DEFAULT_ITEM_MEMORY_MB, minimum=64) * MB)


def total_memory_bytes() -> int:
    """Memory all decoding workers together may use (``STOPNCII_MEMORY_MB``; default: half of
    this computer's memory, at least one file's worth). It bounds the total, so more cores never
    mean more memory: fewer files are decoded at once instead."""
    default = max(_physical_memory() // 2, item_memory_bytes()) / MB
    return int(_number("STOPNCII_MEMORY_MB", default, minimum=64) * MB)


def item_seconds(size: int) -> float:
    """Wall-clock time one file of ``size`` bytes may take (``STOPNCII_ITEM_SECONDS`` plus
    :data:`SECONDS_PER_MB` for each MB, which is what lets long videos finish)."""
    return _number("STOPNCII_ITEM_SECONDS", DEFAULT_ITEM_SECONDS, minimum=0.1) + SECONDS_PER_MB * size / MB


def _physical_memory() -> int:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # Windows has no sysconf
        return 4096 * MB


@dataclass(frozen=True)
class Budget:
    """What one item may use: ``memory`` bytes of address space beyond the worker's own, and
    ``seconds`` of wall-clock time."""

    memory: int
    seconds: float

    @classmethod
    def for_file(cls, size: int) -> Budget:
        return cls(memory=item_memory_bytes() + size, seconds=item_seconds(size))
