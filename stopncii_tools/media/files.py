"""Find the files a person points at: files, folders (recursive), and lists of paths."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FoundFile:
    """A path to hash. ``explicit`` is True when the person named it (not found in a folder)."""

    path: Path
    explicit: bool


def iter_files(
    paths: Iterable[str | Path],
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
) -> Iterator[FoundFile]:
    """Yield files lazily (flat memory on large trees). Folders are walked in sorted order.

    Symbolic links to folders are not followed (no loops); hidden files and folders inside a
    walked folder are left out. ``include``/``exclude`` are shell patterns on the file name.
    """
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            yield from _walk(path, include, exclude)
        else:
            yield FoundFile(path, explicit=True)  # errors (missing, loops) surface when read


def _walk(root: Path, include: tuple[str, ...], exclude: tuple[str, ...]) -> Iterator[FoundFile]:
    for folder, dirnames, filenames in os.walk(root, followlinks=False, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            if include and not any(fnmatch.fnmatch(name, p) for p in include):
                continue
            if any(fnmatch.fnmatch(name, p) for p in exclude):
                continue
            yield FoundFile(Path(folder) / name, explicit=False)
