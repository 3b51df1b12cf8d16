"""Hash one item from its bytes: every signal that applies, computed on this machine only.

This module (like ``media`` and ``signals``) never imports a network library; a test
enforces it. Suspect content fetched from the web is hashed here from memory too.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Collection, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypedDict, Unpack

from .._errors import MediaError, UnsupportedMedia
from ..media.files import FoundFile
from ..media.pictures import DEFAULT_MAX_PIXELS, kind_of, open_picture, sniff
from ..media.video import DEFAULT_FPS, DecodedVideo
from . import HASHES, SIGNALS, SignalValue
from ._base import Decoded, Signal
from .pdq import PDQ
from .vpdq import FrameHash, frames_from_blob


@dataclass(frozen=True)
class MediaHashes:
    """What was computed for one picture or video. Holds hashes only, never pixels.

    ``signals`` has every signal computed, by name, in its stored form (hex text for hashes,
    bytes for the video frames and the region signature).
    """

    kind: str
    format: str
    size: int
    width: int | None
    height: int | None
    signals: dict[str, SignalValue]
    pdq_variants: tuple[SignalValue, ...] = ()
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
    rotated or mirrored re-upload still matches). ``on_request`` names costly signals to add
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
    picture = open_picture(data, max_pixels=max_pixels, detail_side=max(sides) if sides else None)
    values, notes = _compute(wanted, Decoded(data, "image", picture=picture))
    return MediaHashes(
        kind="image",
        format=picture.format,
        size=len(data),
        width=picture.width,
        height=picture.height,
        signals=values,
        pdq_variants=tuple(PDQ().dihedral(picture)) if dihedral else (),
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
    """Read ``path`` and hash it; errors name the file."""
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise UnsupportedMedia("this is a folder, not a file", name) from None
    except PermissionError:
        raise MediaError("permission denied: this account cannot read the file", name) from None
    except OSError as exc:
        raise MediaError(f"cannot read the file: {exc.strerror or exc}", name) from None
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


def _hash_one(found: FoundFile, options: HashOptions) -> HashOutcome:
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


def _ignore_interrupts() -> None:
    """Workers leave Ctrl-C to the main process, which stops the pool cleanly."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def hash_files(
    files: Iterable[FoundFile], *, jobs: int | None = None, **options: Unpack[HashOptions]
) -> Iterator[HashOutcome]:
    """Hash many files on all cores, yielding each outcome as soon as it is ready.

    At most ``4 * jobs`` files are in flight, so memory stays flat however many files there
    are. ``jobs=1`` hashes in this process (no pool).
    """
    jobs = jobs or os.cpu_count() or 1
    if jobs == 1:
        for found in files:
            yield _hash_one(found, options)
        return
    pending: set[Future[HashOutcome]] = set()
    with ProcessPoolExecutor(max_workers=jobs, initializer=_ignore_interrupts) as pool:
        try:
            for found in files:
                pending.add(pool.submit(_hash_one, found, options))
                if len(pending) >= 4 * jobs:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    yield from (f.result() for f in done)
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                yield from (f.result() for f in done)
        except BaseException:
            for future in pending:
                future.cancel()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
