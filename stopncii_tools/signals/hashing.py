"""Hash one item from its bytes: every signal that applies, computed on this machine only.

This module (like ``media`` and ``signals``) never imports a network library; a test
enforces it. Suspect content fetched from the web is hashed here from memory too.
"""

from __future__ import annotations

import contextlib
import functools
import importlib
import os
from collections.abc import Collection, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

from .._errors import MediaError, UnsupportedMedia
from ..media.budgets import Budget, total_memory_bytes
from ..media.files import FoundFile, read_regular_file
from ..media.pictures import DEFAULT_MAX_PIXELS, kind_of, open_picture, sniff
from ..media.video import DEFAULT_FPS, DecodedVideo
from ..media.workers import run_within_budgets
from . import HASHES, SIGNALS, SignalValue
from ._base import Decoded, Signal
from .pdq import PDQ
from .vpdq import FrameHash, frames_from_blob


@dataclass(frozen=True)
class MediaHashes:
    """What was computed for one picture or video. Holds hashes only, never pixels.

    ``signals`` has every signal computed, by name, in its stored form (hex text for hashes,
    bytes for the video frames and the region signature). ``pdq_variants`` are the PDQ of the
    8 rotations and mirror images, and ``pdq_stored`` the PDQ of the picture as the file stores
    it, when a platform's hasher reads it differently (both only when asked for).
    """

    kind: str
    format: str
    size: int
    width: int | None
    height: int | None
    signals: dict[str, SignalValue]
    pdq_variants: tuple[SignalValue, ...] = ()
    pdq_stored: SignalValue | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def sha256(self) -> str:
        return self.signals["sha256"].text()

    @property
    def hashes(self) -> dict[str, SignalValue]:
        """The signals written as hexadecimal text (what the 'hash' command prints)."""
        return {name: v for name, v in self.signals.items() if name in HASHES}

    @property
    def frames(self) -> tuple[FrameHash, ...]:
        """The video's frame hashes (none for a picture, or without the video extra)."""
        vpdq = self.signals.get("vpdq")
        return tuple(frames_from_blob(vpdq.blob())) if vpdq else ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "format": self.format,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "signals": {
                name: ({"value": v.value, "quality": v.quality} if v.quality is not None else {"value": v.value})
                for name, v in self.hashes.items()
            },
        }
        if self.pdq_variants:
            out["pdq_variants"] = [v.value for v in self.pdq_variants]
        if self.pdq_stored:
            out["pdq_stored"] = self.pdq_stored.value
        if self.frames:
            out["frames"] = [f.to_dict() for f in self.frames]
        if self.notes:
            out["notes"] = list(self.notes)
        return out


# the hashes of a picture, in the order the 'hash' command prints them
IMAGE_SIGNALS = tuple(name for name, s in HASHES.items() if "image" in s.kinds)
ON_REQUEST = tuple(name for name, s in SIGNALS.items() if s.on_request)


def hash_bytes(
    data: bytes,
    *,
    dihedral: bool = False,
    on_request: Collection[str] = (),
    max_pixels: int = DEFAULT_MAX_PIXELS,
    video_fps: float = DEFAULT_FPS,
) -> MediaHashes:
    """Compute every applicable signal for ``data`` (a picture or video held in memory).

    ``dihedral`` adds PDQ of the 8 rotations and mirror images (for protected media, so a
    rotated or mirrored re-upload still matches) and of the picture as the file stores it
    (``pdq_stored``: what HMA and python-threatexchange compute when EXIF rotates the picture
    or it has transparency or a palette). ``on_request`` names costly signals to add
    (``"regions"``: the region signature that finds crops, screenshots and derivatives; it
    needs the ``derivatives`` extra, and without it a note says so). Raises a
    :class:`MediaError` subclass.
    """
    fmt = sniff(data) if data else None
    wanted = [s for s in SIGNALS.values() if not s.on_request or s.name in on_request]
    if kind_of(fmt) == "video":
        video = DecodedVideo(data, fps=video_fps)
        values, notes = _compute(wanted, Decoded(data, "video", video=video))
        return MediaHashes("video", fmt or "video", len(data), video.width if "vpdq" in values else None,
                           video.height if "vpdq" in values else None, values, notes=notes)
    sides = [s.picture_side for s in wanted if s.picture_side and "image" in s.kinds]
    picture = open_picture(data, max_pixels=max_pixels, detail_side=max(sides) if sides else None,
                           as_stored=dihedral)
    values, notes = _compute(wanted, Decoded(data, "image", picture=picture, dihedral=dihedral))
    upright = values.get("pdq")
    return MediaHashes(
        kind="image",
        format=picture.format,
        size=len(data),
        width=picture.width,
        height=picture.height,
        signals=values,
        pdq_variants=tuple(PDQ().dihedral(picture)) if dihedral else (),
        pdq_stored=PDQ().as_stored(picture, upright) if dihedral and upright else None,
        notes=notes,
    )


def _compute(wanted: list[Signal], media: Decoded) -> tuple[dict[str, SignalValue], tuple[str, ...]]:
    """Each signal that applies to ``media``; a signal that cannot be computed here (a missing
    extra, a video too long for frame hashing) leaves a note and the others still count."""
    values: dict[str, SignalValue] = {}
    notes: list[str] = []
    for each in wanted:
        if media.kind not in each.kinds:
            continue
        try:
            value = each.compute(media)
        except Exception as exc:  # the signal says whether the others still count
            reason = each.unavailable(exc)
            if reason is None:
                raise
            notes.append(reason)
            continue
        if value is not None:
            values[each.name] = value
            if (note := each.note(value)) is not None:
                notes.append(note)
    return values, tuple(notes)


class HashOptions(TypedDict, total=False):
    """The keyword options of :func:`hash_bytes`, passed on by the file functions."""

    dihedral: bool
    on_request: Collection[str]
    max_pixels: int
    video_fps: float


def hash_file(path: str | Path, **options: Unpack[HashOptions]) -> MediaHashes:
    """Read ``path`` (a regular file within the size limit) and hash it; errors name the file."""
    name = str(path)
    data = read_regular_file(path)
    try:
        return hash_bytes(data, **options)
    except MediaError as exc:
        raise exc.for_item(name) from None


@dataclass(frozen=True)
class HashOutcome:
    """The result for one file: its hashes, or the one-line reason it could not be hashed.

    ``skipped`` marks a file found inside a folder that is not a picture or video at all.
    """

    path: str
    hashes: MediaHashes | None = None
    error: str | None = None
    skipped: bool = False


def hash_found(found: FoundFile, options: HashOptions) -> HashOutcome:
    """Hash one found file (or bytes held in ``found.data``); any failure is a one-line error."""
    name = found.label
    if found.problem is not None:  # an archive or document that cannot be read, and why
        return HashOutcome(name, error=found.problem if not found.explicit else f"{name}: {found.problem}",
                           skipped=not found.explicit)
    try:
        if found.data is not None:  # a file inside an archive, unpacked in memory
            return HashOutcome(name, hashes=hash_bytes(found.data, **options))
        return HashOutcome(name, hashes=hash_file(found.path, **options))
    except UnsupportedMedia as exc:
        if not found.explicit and "not a picture or video" in exc.reason:
            return HashOutcome(name, error=exc.reason, skipped=True)
        return HashOutcome(name, error=str(exc.for_item(name)))
    except MediaError as exc:
        return HashOutcome(name, error=str(exc.for_item(name)))
    except MemoryError:
        return HashOutcome(name, error=f"{name}: not enough memory to decode this file")
    except Exception as exc:  # one file's surprise must never end the run (invariant 4)
        return HashOutcome(name, error=f"{name}: could not be hashed ({type(exc).__name__}: {str(exc)[:120]})")


def over_budget(found: FoundFile, reason: str) -> HashOutcome:
    return HashOutcome(found.label, error=f"{found.label}: {reason}")


def load_decoders(options: HashOptions) -> None:
    """Load what hashing needs (modules imported on first use) before a worker's own size is
    measured and its clock starts: hashing a tiny picture does it."""
    with contextlib.suppress(ImportError):
        importlib.import_module("av")
    with contextlib.suppress(Exception):  # a warm-up only: a real file reports its own errors
        hash_bytes(_TINY_PNG, **options)


_TINY_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000008000000080800000000e164e157"
    "0000000d49444154789c636060a01d0000004000011e33c4a40000000049454e44ae426082")


def budget_for(found: FoundFile) -> Budget:
    """The time and memory one found file (or downloaded bytes in ``found.data``) may use."""
    if found.data is not None:
        return Budget.for_file(len(found.data))
    try:
        size = os.stat(found.path).st_size  # a device or pipe is refused when it is read
    except OSError:
        size = 0  # the read names the problem
    return Budget.for_file(size)


def hash_files(
    files: Iterable[FoundFile], *, jobs: int | None = None, **options: Unpack[HashOptions]
) -> Iterator[HashOutcome]:
    """Hash many files in worker processes, yielding each outcome as soon as it is ready.

    Each file gets a time and memory budget (``media.budgets``); a file over it gets a
    one-line error and the run goes on. At most ``jobs`` files (default: one per core) are
    decoded at once, and fewer when their memory budgets would pass the total limit.
    """
    run = functools.partial(hash_found, options=options)
    prepare = functools.partial(load_decoders, options)
    yield from run_within_budgets(
        run, ((found, budget_for(found)) for found in files), workers=jobs or os.cpu_count() or 1,
        total_memory=total_memory_bytes(), over_budget=over_budget, prepare=prepare)
