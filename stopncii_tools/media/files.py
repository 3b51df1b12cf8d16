"""Find the files a person points at: files, folders (recursive), and lists of paths; the
pictures inside zip archives come out as items of their own (see :mod:`.archives`)."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .archives import PDF_NOT_READ, archive_members, kind_of_file


@dataclass(frozen=True)
class FoundFile:
    """A path to hash. ``explicit`` is True when the person named it (not found in a folder).

    A file inside an archive has its bytes in ``data`` and its name (``a.zip!b/c.jpg``) in
    ``name``; ``problem`` says why an item cannot be read at all.
    """

    path: Path
    explicit: bool
    data: bytes | None = None
    name: str | None = None
    problem: str | None = None

    @property
    def label(self) -> str:
        return self.name or str(self.path)


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
            for found in _walk(path, include, exclude):
                yield from _opened(found)
        else:
            yield from _opened(FoundFile(path, explicit=True))  # errors (missing, loops) surface when read


def short_name(path: str) -> str:
    """A file's name without its folders; for a file inside an archive, ``archive.zip!inner/name``."""
    archive, bang, inner = path.partition("!")
    if bang and Path(archive).is_file():
        return f"{Path(archive).name}!{inner}"
    return Path(path).name


def _opened(found: FoundFile) -> Iterator[FoundFile]:
    """The file itself, or what is inside it when it is an archive (read in memory)."""
    kind = kind_of_file(found.path)
    if kind == "pdf":
        yield FoundFile(found.path, found.explicit, problem=PDF_NOT_READ)
    elif kind == "zip":
        for member in archive_members(found.path):
            # a file in an archive that is not a picture is passed over like one in a folder
            yield FoundFile(found.path, explicit=member.problem is not None, data=member.data, name=member.name,
                            problem=member.problem)
    else:
        yield found


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
