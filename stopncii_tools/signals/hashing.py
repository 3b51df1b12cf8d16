"""Hash one item from its bytes: every signal that applies, computed on this machine only.

This module (like ``media`` and ``signals``) never imports a network library; a test
enforces it. Suspect content fetched from the web is hashed here from memory too.
"""

from __future__ import annotations

import os
import signal
from collections.abc import Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import MediaError, MediaTooLarge, UnsupportedMedia, VideoSupportMissing
from ..media.files import FoundFile
from ..media.pictures import DEFAULT_MAX_PIXELS, kind_of, open_picture, sniff
from . import SIGNALS, SignalValue
from .pdq import PDQ
from .regions import WORK_SIDE as REGION_SIDE
from .regions import DerivativeSupportMissing, signature_of_picture


@dataclass(frozen=True)
class MediaHashes:
    """What was computed for one picture or video. Holds hashes only, never pixels."""

    kind: str
    format: str
    size: int
    width: int | None
    height: int | None
    signals: dict[str, SignalValue]
    pdq_variants: tuple[SignalValue, ...] = ()
    frames: tuple["FrameHash", ...] = ()
    notes: tuple[str, ...] = field(default=())
    regions: bytes | None = None  # region signature (local features), when asked for

    @property
    def sha256(self) -> str:
        return self.signals["sha256"].value

    def frames_blob(self) -> bytes | None:
        """The video frame hashes in their compact stored form (None for pictures)."""
        if not self.frames:
            return None
        from ..media.video import frames_to_blob

        return frames_to_blob(self.frames)

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "kind": self.kind,
            "format": self.format,
            "size": self.size,
            "width": self.width,
            "height": self.height,
            "signals": {
                name: ({"value": v.value, "quality": v.quality} if v.quality is not None else {"value": v.value})
                for name, v in self.signals.items()
            },
        }
        if self.pdq_variants:
            out["pdq_variants"] = [v.value for v in self.pdq_variants]
        if self.frames:
            out["frames"] = [f.to_dict() for f in self.frames]
        if self.notes:
            out["notes"] = list(self.notes)
        return out


@dataclass(frozen=True)
class FrameHash:
    """PDQ of one video frame, with its time in seconds."""

    seconds: float
    pdq: str
    quality: int

    def to_dict(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 3), "pdq": self.pdq, "quality": self.quality}


IMAGE_SIGNALS = ("pdq", "phash", "dhash", "whash", "colorhash", "md5", "sha256")
BYTE_SIGNALS = ("md5", "sha256")


def hash_bytes(
    data: bytes,
    *,
    dihedral: bool = False,
    regions: bool = False,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    video_fps: float = 1.0,
) -> MediaHashes:
    """Compute every applicable signal for ``data`` (a picture or video held in memory).

    ``dihedral`` adds PDQ of the 8 rotations and mirror images (for protected media, so a
    rotated or mirrored re-upload still matches). ``regions`` adds the region signature that
    finds crops, screenshots and derivatives (needs the ``derivatives`` extra; without it a
    note says so). Raises a :class:`MediaError` subclass.
    """
    fmt = sniff(data) if data else None
    kind = kind_of(fmt)
    if kind == "video":
        return _hash_video(data, fmt or "video", video_fps)
    picture = open_picture(data, max_pixels=max_pixels, detail_side=REGION_SIDE if regions else None)
    values = {name: SIGNALS[name].compute(data, picture) for name in IMAGE_SIGNALS}
    variants = tuple(PDQ().dihedral(picture)) if dihedral else ()
    notes: tuple[str, ...] = ()
    if values["pdq"].weak:
        notes = ("low-detail picture: its PDQ hash is weak and is not used alone for a match",)
    signature = None
    if regions and picture.detail is not None:
        try:
            found = signature_of_picture(picture.detail)
            signature = None if found.weak else found.to_bytes()
        except DerivativeSupportMissing as exc:
            notes += (exc.reason,)
        except Exception as exc:  # noqa: BLE001 - OpenCV's own errors; the other hashes still count
            notes += (f"crops and derived copies of this picture cannot be looked for ({type(exc).__name__})",)
    return MediaHashes(
        kind="image",
        format=picture.format,
        size=len(data),
        width=picture.width,
        height=picture.height,
        signals=values,
        pdq_variants=variants,
        notes=notes,
        regions=signature,
    )


def _hash_video(data: bytes, fmt: str, fps: float) -> MediaHashes:
    values = {name: SIGNALS[name].compute(data, None) for name in BYTE_SIGNALS}
    from ..media.video import hash_video_frames

    try:
        frames, width, height = hash_video_frames(data, fps=fps)
    except VideoSupportMissing:
        return MediaHashes(
            kind="video", format=fmt, size=len(data), width=None, height=None, signals=values,
            notes=("frame matching for videos needs the video extra: "
                   "pip install 'stopncii-tools[video]'; only exact-file hashes were made",),
        )
    except MediaTooLarge as exc:  # still worth its exact-file hashes: StopNCII matches videos by MD5
        return MediaHashes(
            kind="video", format=fmt, size=len(data), width=None, height=None, signals=values,
            notes=(f"{exc.reason}; only exact-file hashes (MD5, SHA-256) were made",),
        )
    return MediaHashes(
        kind="video", format=fmt, size=len(data), width=width, height=height, signals=values,
        frames=tuple(frames),
    )


def hash_file(path: str | Path, **options: object) -> MediaHashes:
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
        return hash_bytes(data, **options)  # type: ignore[arg-type]
    except MediaError as exc:
        raise exc.for_item(name)


@dataclass(frozen=True)
class HashOutcome:
    """The result for one file: its hashes, or the one-line reason it could not be hashed.

    ``skipped`` marks a file found inside a folder that is not a picture or video at all.
    """

    path: str
    hashes: MediaHashes | None = None
    error: str | None = None
    skipped: bool = False


def _hash_one(found: FoundFile, options: dict[str, object]) -> HashOutcome:
    name = str(found.path)
    try:
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
    files: Iterable[FoundFile], *, jobs: int | None = None, **options: object
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
