"""Find the files a person points at: files, folders (recursive), and lists of paths; the
pictures inside zip archives come out as items of their own (see :mod:`.archives`)."""

from __future__ import annotations

import fnmatch
import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .._errors import MediaError, MediaTooLarge, UnsupportedMedia
from .archives import archive_members, document_pictures, kind_of_file
from .budgets import MB, max_file_bytes

# a FIFO opens at once instead of waiting for a writer; no effect on a regular file
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0) | getattr(os, "O_BINARY", 0)


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


def count_files(paths: Iterable[str | Path], include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> int:
    """How many files :func:`iter_files` walks (an archive counts once), without reading any."""
    return sum(sum(1 for _ in _walk(Path(raw), include, exclude)) if Path(raw).is_dir() else 1 for raw in paths)


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
        try:
            data = read_regular_file(found.path)
        except MediaError as exc:
            yield FoundFile(found.path, found.explicit, problem=exc.reason)
            return
        for member in document_pictures(data, str(found.path)):
            yield FoundFile(found.path, explicit=member.problem is not None, data=member.data, name=member.name,
                            problem=member.problem)
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


def read_regular_file(path: str | Path, limit: int | None = None) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``limit`` bytes (default:
    :func:`~.budgets.max_file_bytes`). Devices, pipes and sockets (also behind a symbolic
    link) are refused before a byte is read, so ``/dev/zero`` or a FIFO cannot hang a run."""
    limit = max_file_bytes() if limit is None else limit
    name = str(path)
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except IsADirectoryError:
        raise UnsupportedMedia("this is a folder, not a file", name) from None
    except PermissionError:
        raise MediaError("permission denied: this account cannot read the file", name) from None
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}", name) from None
    with os.fdopen(fd, "rb") as file:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise UnsupportedMedia("this is a folder, not a file", name)
        if not stat.S_ISREG(info.st_mode):
            raise UnsupportedMedia("this is a device, pipe or socket, not a file: only regular files are read", name)
        if info.st_size > limit:
            raise MediaTooLarge(_too_big(info.st_size, limit), name)
        try:
            data = file.read(info.st_size + 1)  # one byte more shows a file still being written
        except OSError as exc:
            raise MediaError(f"cannot read the file: {exc.strerror or exc}", name) from None
    if len(data) != info.st_size:
        raise MediaError("the file changed while it was read (is it still being copied?); try again later", name)
    return data


def _too_big(size: int, limit: int) -> str:
    return (f"the file is {size / MB:,.0f} MB, above the limit of {limit / MB:,.0f} MB for one file "
            "(set STOPNCII_MAX_FILE_MB to change it)")
