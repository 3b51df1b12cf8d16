"""Videos: one PDQ hash per sampled frame (vPDQ), matching between videos, compact storage.

Hashing decodes from memory with PyAV (``av``, the optional ``video`` extra; FFmpeg comes
inside its wheels on Windows, macOS and Linux), so a video never touches the disk and nothing
here does network I/O. ``av`` is imported only when a video is decoded: matching and storage
work without it.

How frames are chosen and hashed (see docs/video.md for the measurements behind each choice):

- By presentation time, not by frame count, so variable frame rates are handled: for every
  sample time (0, 1/fps, 2/fps, ... seconds from the first frame) the frame *on screen* at that
  time is hashed. Every frame is decoded (a sample time can fall on any frame), but only the
  sampled ones are converted and hashed.
- At the frame's own decoded size up to :data:`HASH_SIDE`, as Meta's vPDQ reference does; the
  PDQ of a shrunk frame lands about 7 bits away from the reference on average, so we do not
  shrink to 512 px as for photos. Larger frames (4K, 8K) are shrunk to ``HASH_SIDE`` with area
  averaging, which keeps them fast.
- Upright: a phone video stored sideways with a rotation flag is hashed as it is shown.

Matching follows vPDQ: frames of quality below 50 and duplicate frames are dropped, a frame
matches within 31 bits, and two videos match when at least 80% of the distinct frames of one
of them are found in the other (so a clip cut from a longer video matches in either order).
"""

from __future__ import annotations

import io
import itertools
import math
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, NamedTuple

import numpy as np
import pdqhash

from .._errors import (
    CorruptMedia,
    InvalidHash,
    MediaTooLarge,
    UnsupportedMedia,
    VideoSupportMissing,
)
from ..matching.hamming import HammingIndex
from .pictures import sniff
from ..signals._base import bits_to_hex
from ..signals.pdq import PDQ

if TYPE_CHECKING:
    from ..signals.hashing import FrameHash

DEFAULT_FPS: Final = 1.0  # StopNCII and Meta's HMA sample one frame per second
DEFAULT_MAX_SECONDS: Final = float(os.environ.get("STOPNCII_MAX_VIDEO_SECONDS", "14400"))  # 4 h
DEFAULT_MAX_FRAMES: Final = int(os.environ.get("STOPNCII_MAX_VIDEO_FRAMES", "20000"))
HASH_SIDE: Final = 1920  # full HD and smaller are hashed at their own size, like vPDQ
MAX_FRAME_PIXELS: Final = 8192 * 4320  # DCI 8K; larger declared sizes are refused unread
MAX_SIDE: Final = 16384
MAX_DECODE_RATE: Final = 240  # frames per second of video we are willing to decode

FRAME_THRESHOLD: Final = 31
MIN_QUALITY: Final = 50
MIN_FRACTION: Final = 0.8
# frames of one still scene differ by encoder noise only, a few bits (a match allows 31)
DUPLICATE_DISTANCE: Final = 4

# a frame up to 1 ms early still counts for a sample time (timestamps are rounded)
_TIME_TOLERANCE: Final = 0.001
_BLOB_MAGIC: Final = b"VPDQ\x01"
_BLOB_FRAME: Final = np.dtype([("ms", ">u4"), ("quality", "u1"), ("pdq", "u1", (32,))])
_MAX_BLOB_MS: Final = 2**32 - 1


# -- hashing ------------------------------------------------------------------------------


def hash_video_frames(
    data: bytes,
    *,
    fps: float | None = DEFAULT_FPS,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    max_frames: int | None = DEFAULT_MAX_FRAMES,
) -> tuple[list[FrameHash], int, int]:
    """PDQ of the frame on screen every ``1 / fps`` seconds of the video in ``data``.

    ``fps=None`` hashes every frame. Returns the frame hashes (seconds from the first frame,
    PDQ hex, quality) and the picture width and height as shown (rotation applied).

    A video longer than ``max_seconds`` or giving more than ``max_frames`` hashes is refused
    with :class:`MediaTooLarge`, never hashed in part (``None`` lifts a limit). Raises
    :class:`VideoSupportMissing` without PyAV, :class:`UnsupportedMedia` for a file without
    pictures and :class:`CorruptMedia` for a damaged or cut-short one.
    """
    if fps is not None and not fps > 0:
        raise ValueError(f"fps must be above 0 (or None for every frame), got {fps}")
    if not data:
        raise UnsupportedMedia("the file is empty")
    av = _load_av()
    fmt = sniff(data)
    label = f"{fmt.upper()} video" if fmt else "video"
    try:
        container = av.open(io.BytesIO(data), mode="r")
    except (av.FFmpegError, ValueError, OSError) as exc:
        raise CorruptMedia(
            f"the {label} is damaged or cut short and cannot be opened ({_reason(exc)})"
        ) from None
    with container:
        stream = _picture_stream(container, label)
        width, height = _check_size(stream.codec_context.width, stream.codec_context.height)
        limits = _Limits(max_seconds, max_frames, fps)
        limits.check_declared(stream, container)
        stream.thread_type = "AUTO"  # frame threads: about 1.7x faster decoding on 2 cores
        decoded = _DecodedFrames(av, stream, container.decode(stream), label, limits)
        frames: list[FrameHash] = []
        for seconds, frame in _sample(decoded, fps):
            limits.check_sampled(len(frames) + 1)
            frames.append(_hash_frame(frame, seconds))
        if not frames:
            raise CorruptMedia(f"no picture in the {label} could be decoded")
        _check_complete(stream, decoded.last_seconds, label)
    if decoded.sideways:
        width, height = height, width
    return frames, width, height


def _load_av() -> Any:
    try:
        import av
    except ImportError:
        raise VideoSupportMissing(
            "frame hashing for videos needs the video extra: pip install 'stopncii-tools[video]'"
        ) from None
    return av


def _picture_stream(container: Any, label: str) -> Any:
    from av.stream import Disposition

    # cover art in a music file is a one-picture "video" stream: not what the file shows
    pictures = [
        s for s in container.streams.video if not s.disposition & Disposition.attached_pic
    ]
    if pictures:
        return pictures[0]
    if container.streams.audio:
        raise UnsupportedMedia("this file has sound only, no pictures")
    raise CorruptMedia(f"no picture track was found in the {label} (it may be damaged or cut short)")


def _check_size(width: int, height: int) -> tuple[int, int]:
    if width <= 0 or height <= 0:
        raise CorruptMedia("the video does not say how big its pictures are (it may be damaged)")
    if width * height > MAX_FRAME_PIXELS or max(width, height) > MAX_SIDE:
        raise MediaTooLarge(
            f"the video's pictures are {width}x{height} ({width * height / 1e6:.0f} megapixels), "
            f"above the safety limit of {MAX_FRAME_PIXELS / 1e6:.0f} megapixels"
        )
    return width, height


@dataclass(frozen=True)
class _Limits:
    """The bounds on time and work for one video, checked before and while decoding."""

    max_seconds: float | None
    max_frames: int | None
    fps: float | None

    @property
    def max_decoded(self) -> float:
        return math.inf if self.max_seconds is None else self.max_seconds * MAX_DECODE_RATE

    def check_declared(self, stream: Any, container: Any) -> None:
        """Refuse before decoding what the file itself says is too long."""
        seconds = _declared_seconds(stream, container)
        if seconds is not None:
            self.check_time(seconds)
        declared_frames = int(stream.frames or 0)
        self.check_decoded(declared_frames)
        if self.fps is None:
            self.check_sampled(declared_frames)
        elif seconds is not None:
            self.check_sampled(math.ceil(seconds * self.fps))

    def check_time(self, seconds: float) -> None:
        if self.max_seconds is not None and seconds > self.max_seconds:
            raise MediaTooLarge(
                f"the video is longer than {_clock(self.max_seconds)}, the length limit for "
                "frame hashing (set STOPNCII_MAX_VIDEO_SECONDS to change it)"
            )

    def check_decoded(self, count: int) -> None:
        if count > self.max_decoded:
            raise MediaTooLarge(
                f"the video has more than {self.max_decoded:,.0f} frames ({MAX_DECODE_RATE} a "
                f"second for {_clock(self.max_seconds or 0)}), too many to decode safely"
            )

    def check_sampled(self, count: int) -> None:
        if self.max_frames is not None and count > self.max_frames:
            raise MediaTooLarge(
                f"the video would give more than {self.max_frames:,} frame hashes, the limit "
                "for one video (set STOPNCII_MAX_VIDEO_FRAMES to change it)"
            )


def _declared_seconds(stream: Any, container: Any) -> float | None:
    if stream.duration and stream.time_base:
        return float(stream.duration * stream.time_base)
    if container.duration:
        return container.duration / 1_000_000  # in av.time_base units
    return None


class _DecodedFrames:
    """Decoded frames with their seconds from the first frame, within the limits; decoding
    errors become :class:`CorruptMedia` naming where the video breaks."""

    def __init__(
        self, av: Any, stream: Any, frames: Iterator[Any], label: str, limits: _Limits
    ) -> None:
        self._errors = (av.FFmpegError, ValueError, OSError)
        self._frames = frames
        self._label = label
        self._limits = limits
        # seconds between frames, for a frame without a timestamp
        self._step = 1 / float(stream.guessed_rate or stream.average_rate or 30)
        self.last_seconds: float | None = None
        self.sideways = False

    def __iter__(self) -> Iterator[tuple[float, Any]]:
        origin: float | None = None
        for count in itertools.count(1):
            try:
                frame = next(self._frames)
            except StopIteration:
                return
            except self._errors as exc:
                where = "" if self.last_seconds is None else f" at {_clock(self.last_seconds)}"
                raise CorruptMedia(
                    f"the {self._label} is damaged or cut short{where} and cannot be decoded "
                    f"further ({_reason(exc)})"
                ) from None
            self._limits.check_decoded(count)
            _check_size(frame.width, frame.height)
            time = frame.time
            if time is None:  # no timestamp: it follows the previous frame
                time = 0.0 if origin is None else origin + (self.last_seconds or 0.0) + self._step
            if origin is None:
                origin = time
                self.sideways = frame.rotation % 180 != 0
            seconds = time - origin
            self._limits.check_time(seconds)
            self.last_seconds = seconds
            yield seconds, frame


def _sample(timed: Iterable[tuple[float, Any]], fps: float | None) -> Iterator[tuple[float, Any]]:
    """The frames on screen at each sample time: a frame is shown until the next one starts."""
    if fps is None:
        yield from timed
        return
    pending: tuple[float, Any] | None = None
    for seconds, frame in timed:
        if pending is not None and _covers_sample_time(pending[0], seconds, fps):
            yield pending
        pending = (seconds, frame)
    if pending is not None:
        start, frame = pending
        end = start + max(_frame_seconds(frame), 2 * _TIME_TOLERANCE)
        if _covers_sample_time(start, end, fps):
            yield pending


def _covers_sample_time(start: float, end: float, fps: float) -> bool:
    first_sample = math.ceil((start - _TIME_TOLERANCE) * fps) / fps
    return first_sample < end - _TIME_TOLERANCE


def _frame_seconds(frame: Any) -> float:
    """How long ``frame`` stays on screen, when the file says so (else 0)."""
    if frame.duration and frame.time_base:
        return float(frame.duration * frame.time_base)
    return 0.0


def _hash_frame(frame: Any, seconds: float) -> FrameHash:
    # imported here, not at the top: hashing imports this module, lazily, and may not always
    from ..signals.hashing import FrameHash

    bits, quality = pdqhash.compute(_upright_rgb(frame))
    return FrameHash(seconds=seconds, pdq=bits_to_hex(bits), quality=int(quality))


def _upright_rgb(frame: Any) -> np.ndarray:
    width, height = frame.width, frame.height
    if max(width, height) > HASH_SIDE:
        scale = HASH_SIDE / max(width, height)
        size = {"width": max(1, round(width * scale)), "height": max(1, round(height * scale))}
        pixels = frame.to_ndarray(format="rgb24", interpolation="AREA", **size)
    else:
        pixels = frame.to_ndarray(format="rgb24")
    turns = round(frame.rotation / 90) % 4  # counter-clockwise quarter turns to show it upright
    return np.ascontiguousarray(np.rot90(pixels, turns)) if turns else pixels


def _check_complete(stream: Any, last_seconds: float | None, label: str) -> None:
    """A file cut at a packet boundary decodes without error: compare with what it declares."""
    if not stream.duration or not stream.time_base or last_seconds is None:
        return
    declared = float(stream.duration * stream.time_base)
    if last_seconds < 0.9 * declared - 1.0:
        raise CorruptMedia(
            f"the {label} is cut short: it should last {_clock(declared)} but its pictures "
            f"stop at {_clock(last_seconds)}"
        )


def _reason(exc: BaseException) -> str:
    text = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return str(text).strip().splitlines()[0]


def _clock(seconds: float) -> str:
    """``83.4`` -> ``'1:23'``; hours appear only when needed."""
    hours, rest = divmod(int(seconds), 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


# -- matching -----------------------------------------------------------------------------


class FrameHit(NamedTuple):
    """A video frame that matches a still picture: when it is shown and how close it is."""

    seconds: float
    distance: int


@dataclass(frozen=True)
class FrameMatch:
    """A distinct query frame found in the target video, with its nearest target frame."""

    query_seconds: float
    target_seconds: float
    distance: int


@dataclass(frozen=True)
class VideoMatch:
    """How two videos overlap, counted over their distinct frames of usable quality.

    ``query_fraction`` is the share of the query's distinct frames found in the target, and
    ``target_fraction`` the other way round: a clip cut from a longer video has a high fraction
    on its own side only.
    """

    query_fraction: float
    target_fraction: float
    matched_frames: tuple[FrameMatch, ...]
    query_frames: int
    target_frames: int
    frame_threshold: int = FRAME_THRESHOLD

    def evidence(self) -> dict[str, object]:
        """A JSON-ready summary for the case record: how much matched, how close, and when in
        the query video the matching frames are shown."""
        times = [m.query_seconds for m in self.matched_frames]
        return {
            "signal": "vpdq",
            "distance": min((m.distance for m in self.matched_frames), default=None),
            "threshold": self.frame_threshold,
            "query_fraction": round(self.query_fraction, 3),
            "target_fraction": round(self.target_fraction, 3),
            "frames": len(self.matched_frames),
            "query_frames": self.query_frames,
            "target_frames": self.target_frames,
            "first_seconds": round(min(times), 2) if times else None,
            "last_seconds": round(max(times), 2) if times else None,
        }


def distinct_frames(
    frames: Sequence[FrameHash],
    *,
    min_quality: int = MIN_QUALITY,
    duplicate_distance: int = DUPLICATE_DISTANCE,
) -> list[FrameHash]:
    """The frames vPDQ compares: quality at least ``min_quality``, and no frame within
    ``duplicate_distance`` bits of an earlier kept one (a still scene counts once)."""
    seen: set[str] = set()
    usable = []
    for frame in frames:
        if frame.quality >= min_quality and frame.pdq not in seen:
            seen.add(frame.pdq)
            usable.append(frame)
    if len(usable) < 2 or duplicate_distance <= 0:
        return usable
    index = HammingIndex(PDQ.bits)
    index.add(range(len(usable)), [f.pdq for f in usable])
    neighbours = index.search([f.pdq for f in usable], duplicate_distance)
    kept: list[int] = []
    kept_set: set[int] = set()
    for i, near in enumerate(neighbours):
        if not any(j in kept_set for j, _ in near if j < i):
            kept.append(i)
            kept_set.add(i)
    return [usable[i] for i in kept]


def match_videos(
    query: Sequence[FrameHash],
    target: Sequence[FrameHash],
    *,
    frame_threshold: int = FRAME_THRESHOLD,
    min_quality: int = MIN_QUALITY,
    min_fraction: float = MIN_FRACTION,
) -> VideoMatch | None:
    """Compare two videos' frame hashes; a :class:`VideoMatch` when at least ``min_fraction``
    of either video's distinct frames lie within ``frame_threshold`` bits of a frame of the
    other, else None (also when either has no frame of usable quality)."""
    mine = distinct_frames(query, min_quality=min_quality)
    theirs = distinct_frames(target, min_quality=min_quality)
    if not mine or not theirs:
        return None
    index = HammingIndex(PDQ.bits)
    index.add(range(len(theirs)), [f.pdq for f in theirs])
    found = index.search([f.pdq for f in mine], frame_threshold)
    matched = tuple(
        FrameMatch(frame.seconds, theirs[near[0][0]].seconds, near[0][1])
        for frame, near in zip(mine, found)
        if near
    )
    target_hit = {j for near in found for j, _ in near}
    result = VideoMatch(
        query_fraction=len(matched) / len(mine),
        target_fraction=len(target_hit) / len(theirs),
        matched_frames=matched,
        query_frames=len(mine),
        target_frames=len(theirs),
        frame_threshold=frame_threshold,
    )
    if max(result.query_fraction, result.target_fraction) < min_fraction:
        return None
    return result


def match_still_in_video(
    pdq: str | Sequence[str],
    frames: Sequence[FrameHash],
    *,
    threshold: int = FRAME_THRESHOLD,
    min_quality: int = MIN_QUALITY,
) -> list[FrameHit]:
    """The frames of a video that show a protected still picture, in time order.

    ``pdq`` is the picture's PDQ hex or a list of its variants (the 8 rotations and mirror
    images): a frame matches when any variant is within ``threshold`` bits.
    """
    signal = PDQ()
    variants = [signal.validate(pdq)] if isinstance(pdq, str) else [signal.validate(p) for p in pdq]
    usable = [f for f in frames if f.quality >= min_quality]
    if not variants or not usable:
        return []
    index = HammingIndex(PDQ.bits)
    index.add([0] * len(variants), variants)  # one id: a frame is reported once, at its nearest
    found = index.search([f.pdq for f in usable], threshold)
    hits = [FrameHit(f.seconds, near[0][1]) for f, near in zip(usable, found) if near]
    return sorted(hits)


# -- storage ------------------------------------------------------------------------------


def frames_to_blob(frames: Iterable[FrameHash]) -> bytes:
    """Pack frame hashes into 37 bytes each (milliseconds, quality, 32-byte PDQ) after a
    5-byte header. Seconds are kept to the millisecond."""
    signal = PDQ()
    rows = []
    for frame in frames:
        ms = round(frame.seconds * 1000)
        if not 0 <= ms <= _MAX_BLOB_MS:
            raise InvalidHash(f"a frame time of {frame.seconds} seconds cannot be stored")
        if not 0 <= frame.quality <= 100:
            raise InvalidHash(f"a PDQ quality is 0 to 100; got {frame.quality}")
        digest = np.frombuffer(bytes.fromhex(signal.validate(frame.pdq)), dtype=np.uint8)
        rows.append((ms, frame.quality, digest))
    return _BLOB_MAGIC + np.array(rows, dtype=_BLOB_FRAME).tobytes()


def frames_from_blob(blob: bytes) -> list[FrameHash]:
    """The frame hashes packed by :func:`frames_to_blob`; :class:`InvalidHash` if damaged."""
    from ..signals.hashing import FrameHash

    body = blob[len(_BLOB_MAGIC):]
    if not blob.startswith(_BLOB_MAGIC) or len(body) % _BLOB_FRAME.itemsize:
        raise InvalidHash(
            f"the stored video hash is damaged ({len(blob)} bytes, not a list of frame hashes)"
        )
    rows = np.frombuffer(body, dtype=_BLOB_FRAME)
    if len(rows) and int(rows["quality"].max()) > 100:
        raise InvalidHash("the stored video hash is damaged (a frame quality above 100)")
    return [
        FrameHash(seconds=int(ms) / 1000, pdq=pdq.tobytes().hex(), quality=int(quality))
        for ms, quality, pdq in zip(rows["ms"], rows["quality"], rows["pdq"])
    ]
