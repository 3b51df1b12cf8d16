"""Videos: decode from memory the frames on screen at each sample time, upright, as RGB arrays.

Decoding uses PyAV (``av``, the optional ``video`` extra; FFmpeg comes inside its wheels on
Windows, macOS and Linux), so a video never touches the disk and nothing here does network
I/O. ``av`` is imported only when a video is decoded. The frame hashes (vPDQ), their matching
and storage are a signal: ``signals/vpdq.py``.

How frames are chosen (see docs/video.md for the measurements behind each choice):

- By presentation time, not by frame count, so variable frame rates are handled: for every
  sample time (0, 1/fps, 2/fps, ... seconds from the first frame) the frame *on screen* at that
  time is hashed. Every frame is decoded (a sample time can fall on any frame), but only the
  sampled ones are converted and hashed.
- At the frame's own decoded size up to :data:`HASH_SIDE`, as Meta's vPDQ reference does; the
  PDQ of a shrunk frame lands about 7 bits away from the reference on average, so we do not
  shrink to 512 px as for photos. Larger frames (4K, 8K) are shrunk to ``HASH_SIDE`` with area
  averaging, which keeps them fast.
- Upright: a phone video stored sideways with a rotation flag is hashed as it is shown.
"""

from __future__ import annotations

import io
import itertools
import math
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import numpy as np

from .._errors import CorruptMedia, MediaTooLarge, UnsupportedMedia, VideoSupportMissing
from .pictures import sniff

DEFAULT_FPS: Final = 1.0  # StopNCII and Meta's HMA sample one frame per second
DEFAULT_MAX_SECONDS: Final = float(os.environ.get("STOPNCII_MAX_VIDEO_SECONDS", "14400"))  # 4 h
DEFAULT_MAX_FRAMES: Final = int(os.environ.get("STOPNCII_MAX_VIDEO_FRAMES", "20000"))
HASH_SIDE: Final = 1920  # full HD and smaller are hashed at their own size, like vPDQ
MAX_FRAME_PIXELS: Final = 8192 * 4320  # DCI 8K; larger declared sizes are refused unread
MAX_SIDE: Final = 16384
MAX_DECODE_RATE: Final = 240  # frames per second of video we are willing to decode

# a frame up to 1 ms early still counts for a sample time (timestamps are rounded)
_TIME_TOLERANCE: Final = 0.001


class VideoFrame(NamedTuple):
    """One sampled frame: seconds from the first frame, and its pixels (upright RGB, at most
    :data:`HASH_SIDE` on the longest side)."""

    seconds: float
    pixels: np.ndarray


class DecodedVideo:
    """The video in ``data``, decoded as it is iterated: the frame on screen every ``1 / fps``
    seconds (``fps=None``: every frame). ``width`` and ``height`` are the picture size as shown
    (rotation applied), known once iteration has begun.

    A video longer than ``max_seconds`` or giving more than ``max_frames`` frames is refused
    with :class:`MediaTooLarge` while iterating, so it is never used in part (``None`` lifts a
    limit). Iterating raises :class:`VideoSupportMissing` without PyAV, :class:`UnsupportedMedia`
    for a file without pictures and :class:`CorruptMedia` for a damaged or cut-short one.
    """

    def __init__(
        self,
        data: bytes,
        *,
        fps: float | None = DEFAULT_FPS,
        max_seconds: float | None = DEFAULT_MAX_SECONDS,
        max_frames: int | None = DEFAULT_MAX_FRAMES,
    ) -> None:
        if fps is not None and not fps > 0:
            raise ValueError(f"fps must be above 0 (or None for every frame), got {fps}")
        self.data = data
        self.fps = fps
        self.limits = _Limits(max_seconds, max_frames, fps)
        self.width: int | None = None
        self.height: int | None = None

    def __iter__(self) -> Iterator[VideoFrame]:
        if not self.data:
            raise UnsupportedMedia("the file is empty")
        av = _load_av()
        fmt = sniff(self.data)
        label = f"{fmt.upper()} video" if fmt else "video"
        try:
            container = av.open(io.BytesIO(self.data), mode="r")
        except (av.FFmpegError, ValueError, OSError) as exc:
            raise CorruptMedia(
                f"the {label} is damaged or cut short and cannot be opened ({_reason(exc)})"
            ) from None
        with container:
            stream = _picture_stream(container, label)
            width, height = _check_size(stream.codec_context.width, stream.codec_context.height)
            self.limits.check_declared(stream, container)
            stream.thread_type = "AUTO"  # frame threads: about 1.7x faster decoding on 2 cores
            decoded = _DecodedFrames(av, stream, container.decode(stream), label, self.limits)
            count = 0
            for seconds, frame in _sample(decoded, self.fps):
                self.limits.check_sampled(count + 1)
                if count == 0:
                    self.width, self.height = (height, width) if decoded.sideways else (width, height)
                count += 1
                yield VideoFrame(seconds, _upright_rgb(frame))
            if not count:
                raise CorruptMedia(f"no picture in the {label} could be decoded")
            _check_complete(stream, decoded.last_seconds, label)


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
