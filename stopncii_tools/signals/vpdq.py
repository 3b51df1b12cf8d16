"""vPDQ: one PDQ hash per sampled video frame; matching between videos and of photos in videos.

Frames come decoded from :class:`~stopncii_tools.media.video.DecodedVideo` (the only place
that decodes). Matching follows Meta's vPDQ: frames of weak quality and duplicate frames are
dropped, a frame matches within PDQ's 31 bits, and two videos match when at least 80% of the
distinct frames of one of them are found in the other (so a clip cut from a longer video
matches in either order). A protected photo shown as frames of a video is found too.
Stored form: 37 bytes a frame (milliseconds, quality, 32-byte PDQ) after a 5-byte header.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Final, NamedTuple

import numpy as np

from .._errors import InvalidHash, MediaTooLarge, VideoSupportMissing
from ..media.video import DEFAULT_FPS, DEFAULT_MAX_FRAMES, DEFAULT_MAX_SECONDS, DecodedVideo
from ._base import Decoded, Example, Hit, MatchRule, Signal, SignalIndex, SignalValue, Stored, is_weak
from ._examples import clip, scene
from .pdq import PDQ

if TYPE_CHECKING:
    from ..matching.hamming import HammingIndex

FRAME_THRESHOLD: Final = PDQ.threshold
MIN_FRACTION: Final = 0.8
# frames of one still scene differ by encoder noise only, a few bits (a match allows 31)
DUPLICATE_DISTANCE: Final = 4

_BLOB_MAGIC: Final = b"VPDQ\x01"
_BLOB_FRAME: Final = np.dtype([("ms", ">u4"), ("quality", "u1"), ("pdq", "u1", (32,))])
_MAX_BLOB_MS: Final = 2**32 - 1


@dataclass(frozen=True)
class FrameHash:
    """PDQ of one video frame, with its time in seconds."""

    seconds: float
    pdq: str
    quality: int

    def to_dict(self) -> dict[str, object]:
        return {"seconds": round(self.seconds, 3), "pdq": self.pdq, "quality": self.quality}


def _pdq_index() -> HammingIndex:
    from ..matching.hamming import HammingIndex  # here, not at the top: matching imports the signals

    return HammingIndex(PDQ.bits)


# -- hashing ------------------------------------------------------------------------------


def hash_frames(video: DecodedVideo) -> list[FrameHash]:
    """PDQ of every frame ``video`` yields (it decodes as this runs)."""
    pdq = PDQ()
    frames = []
    for frame in video:
        value = pdq.of_pixels(frame.pixels)
        frames.append(FrameHash(frame.seconds, value.text(), value.quality or 0))
    return frames


def hash_video_frames(
    data: bytes,
    *,
    fps: float | None = DEFAULT_FPS,
    max_seconds: float | None = DEFAULT_MAX_SECONDS,
    max_frames: int | None = DEFAULT_MAX_FRAMES,
) -> tuple[list[FrameHash], int, int]:
    """PDQ of the frame on screen every ``1 / fps`` seconds of the video in ``data``, and the
    picture width and height as shown. Limits and errors: :class:`DecodedVideo`."""
    video = DecodedVideo(data, fps=fps, max_seconds=max_seconds, max_frames=max_frames)
    frames = hash_frames(video)
    assert video.width is not None and video.height is not None  # set by the first frame
    return frames, video.width, video.height


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


def distinct_frames(frames: Sequence[FrameHash], *, duplicate_distance: int = DUPLICATE_DISTANCE) -> list[FrameHash]:
    """The frames vPDQ compares: not weak, and no frame within ``duplicate_distance`` bits of
    an earlier kept one (a still scene counts once)."""
    seen: set[str] = set()
    usable = []
    for frame in frames:
        if not is_weak(frame.quality) and frame.pdq not in seen:
            seen.add(frame.pdq)
            usable.append(frame)
    if len(usable) < 2 or duplicate_distance <= 0:
        return usable
    index = _pdq_index()
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
    min_fraction: float = MIN_FRACTION,
) -> VideoMatch | None:
    """Compare two videos' frame hashes; a :class:`VideoMatch` when at least ``min_fraction``
    of either video's distinct frames lie within ``frame_threshold`` bits of a frame of the
    other, else None (also when either has no frame of usable quality)."""
    mine = distinct_frames(query)
    theirs = distinct_frames(target)
    if not mine or not theirs:
        return None
    index = _pdq_index()
    index.add(range(len(theirs)), [f.pdq for f in theirs])
    found = index.search([f.pdq for f in mine], frame_threshold)
    matched = tuple(
        FrameMatch(frame.seconds, theirs[near[0][0]].seconds, near[0][1])
        for frame, near in zip(mine, found, strict=True)
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
    pdq: str | Sequence[str], frames: Sequence[FrameHash], *, threshold: int = FRAME_THRESHOLD
) -> list[FrameHit]:
    """The frames of a video that show a protected still picture, in time order.

    ``pdq`` is the picture's PDQ hex or a list of its variants (the 8 rotations and mirror
    images): a frame matches when any variant is within ``threshold`` bits. Weak frames never do.
    """
    signal = PDQ()
    variants = [signal.validate(pdq)] if isinstance(pdq, str) else [signal.validate(p) for p in pdq]
    usable = [f for f in frames if not is_weak(f.quality)]
    if not variants or not usable:
        return []
    index = _pdq_index()
    index.add([0] * len(variants), variants)  # one id: a frame is reported once, at its nearest
    found = index.search([f.pdq for f in usable], threshold)
    hits = [FrameHit(f.seconds, near[0][1]) for f, near in zip(usable, found, strict=True) if near]
    return sorted(hits)


def still_evidence(hits: Sequence[FrameHit]) -> dict[str, Any]:
    """What a case records when a protected photo is shown as frames of a video."""
    return {"signal": "pdq", "distance": min(d for _, d in hits), "threshold": FRAME_THRESHOLD,
            "frames": len(hits), "first_seconds": round(min(s for s, _ in hits), 2),
            "note": "the protected picture appears as frames of this video"}


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
        for ms, quality, pdq in zip(rows["ms"], rows["quality"], rows["pdq"], strict=True)
    ]


# -- the signal ---------------------------------------------------------------------------


class VPDQ(Signal):
    name: ClassVar[str] = "vpdq"
    description: ClassVar[str] = "PDQ of one frame a second of a video (Meta's vPDQ)"
    rule: ClassVar[MatchRule] = "own"
    kinds: ClassVar[frozenset[str]] = frozenset({"video"})
    feeds: ClassVar[tuple[str, ...]] = ("pdq",)  # protected photos are looked for in videos too
    requires: ClassVar[str | None] = "av"

    def compute(self, media: Decoded) -> SignalValue | None:
        if media.video is None:
            return None
        return SignalValue(self.name, frames_to_blob(hash_frames(media.video)))

    def validate(self, value: Stored) -> bytes:
        if not isinstance(value, bytes):
            raise InvalidHash("a vpdq value is stored as bytes (frame hashes), not text")
        frames_from_blob(value)
        return value

    def compare(self, protected: SignalValue, suspect: SignalValue) -> Hit | None:
        result = match_videos(frames_from_blob(suspect.blob()), frames_from_blob(protected.blob()))
        return None if result is None else Hit(0, result.evidence(), confidence="high")

    def index(self) -> SignalIndex:
        return _VideoIndex(self)

    def unavailable(self, error: Exception) -> str | None:
        if isinstance(error, VideoSupportMissing):
            return ("frame matching for videos needs the video extra: "
                    "pip install 'stopncii-tools[video]'; only exact-file hashes were made")
        if isinstance(error, MediaTooLarge):  # still worth its exact-file hashes: StopNCII matches videos by MD5
            return f"{error.reason}; only exact-file hashes (MD5, SHA-256) were made"
        return None

    def examples(self) -> list[Example]:
        scenes = [scene(70 + i, (320, 240)) for i in range(6)]
        original = clip(scenes, rate=1)
        return [
            Example(original, clip(scenes, rate=1, crf=35, size=(256, 192)), same=True),
            Example(original, clip([scene(80 + i, (320, 240)) for i in range(6)], rate=1), same=False),
        ]


class _VideoIndex(SignalIndex):
    """Protected videos (by their frames) and protected photos (by their PDQ variants)."""

    def __init__(self, signal: VPDQ) -> None:
        self.signal = signal
        self._videos: dict[int, bytes] = {}
        self._stills: dict[int, list[str]] = {}

    def add(self, owner: int, value: SignalValue, variant: int = 0) -> None:
        if value.signal == self.signal.name:
            self._videos[owner] = value.blob()
        elif not value.weak:
            self._stills.setdefault(owner, []).append(value.text())

    def __len__(self) -> int:
        return len(self._videos.keys() | self._stills.keys())

    def search(self, suspect: SignalValue) -> list[Hit]:
        frames = frames_from_blob(suspect.blob())
        hits = []
        for owner, blob in self._videos.items():
            result = match_videos(frames, frames_from_blob(blob))
            if result is not None:
                hits.append(Hit(owner, result.evidence(), confidence="high"))
        for owner, variants in self._stills.items():
            shown = match_still_in_video(variants, frames)
            if shown:
                hits.append(Hit(owner, still_evidence(shown), min(d for _, d in shown), confidence="high"))
        return hits
