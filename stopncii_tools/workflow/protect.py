"""Protect a person's pictures and videos: hash them here and keep only the hashes in the case."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

from .._errors import MediaError
from ..media.files import iter_files
from ..signals.hashing import ON_REQUEST, MediaHashes, hash_bytes, hash_files
from ..store import Case, ProtectedItem, Store
from .records import media_record, signal_rows


@dataclass(frozen=True)
class ProtectOutcome:
    """One file: its stored item (``created`` False when it was already protected), or why not."""

    path: str
    item: ProtectedItem | None = None
    created: bool = False
    error: str | None = None
    skipped: bool = False
    notes: tuple[str, ...] = ()


def protect_hashes(
    store: Store, case: Case, hashes: MediaHashes, label: str | None = None,
) -> tuple[ProtectedItem, bool]:
    """Keep one item's hashes in the case (``created`` False when it was protected already)."""
    return store.add_protected(case.id, media_record(hashes), signal_rows(hashes), label)


def protect_paths(
    store: Store,
    case: Case,
    paths: Iterable[str | Path],
    *,
    store_names: bool = True,
    include: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
    jobs: int | None = None,
) -> Iterator[ProtectOutcome]:
    """Hash each file (all signals, PDQ's 8 rotations/mirrors, the region signature that finds
    crops and derivatives) and store the hashes.

    Stored per item: the file's base name as a label (none with ``store_names=False``), its
    SHA-256, size, dimensions and hashes. Never the file, a thumbnail or its full path.
    """
    files = iter_files(paths, include=include, exclude=exclude)
    for outcome in hash_files(files, jobs=jobs, dihedral=True, on_request=ON_REQUEST):
        if outcome.hashes is None:
            yield ProtectOutcome(outcome.path, error=outcome.error, skipped=outcome.skipped)
            continue
        label = Path(outcome.path).name if store_names else None
        item, created = protect_hashes(store, case, outcome.hashes, label)
        yield ProtectOutcome(outcome.path, item=item, created=created, notes=outcome.hashes.notes)


def protect_bytes(store: Store, case: Case, name: str, data: bytes, *, store_names: bool = True) -> ProtectOutcome:
    """Protect one picture or video held in memory (the local web page's uploads), as
    :func:`protect_paths` protects a file: the same signals, and only the hashes are kept."""
    try:
        hashes = hash_bytes(data, dihedral=True, on_request=ON_REQUEST)
    except MediaError as exc:
        return ProtectOutcome(name, error=str(exc.for_item(name)))
    item, created = protect_hashes(store, case, hashes, Path(name).name if store_names else None)
    return ProtectOutcome(name, item=item, created=created, notes=hashes.notes)
