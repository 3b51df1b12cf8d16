"""Videos: frame hashes (vPDQ) made from memory, matching videos and stills, bad files.

Test videos are made here with PyAV from the project's generated scenes; Meta's reference
clips and per-frame hashes in ../shared/testdata/vpdq are used when present.
"""

from __future__ import annotations

import fractions
import io
import json
import subprocess
import sys
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from stopncii_tools import (
    CorruptMedia,
    FrameHash,
    InvalidHash,
    MediaTooLarge,
    UnsupportedMedia,
)
from stopncii_tools.signals._examples import encode, scene
from stopncii_tools.signals.hashing import hash_bytes
from stopncii_tools.signals.pdq import PDQ
from stopncii_tools.signals.vpdq import (
    distinct_frames,
    frames_from_blob,
    frames_to_blob,
    hash_video_frames,
    match_still_in_video,
    match_videos,
)

pdq = PDQ()
SIZE = (320, 240)
RATE = 10


def make_video(
    path: Path,
    pictures: list[Image.Image],
    *,
    rate: int = RATE,
    times: list[float] | None = None,
    rotation: int | None = None,
    fmt: str | None = None,
    options: dict[str, str] | None = None,
) -> bytes:
    """Encode ``pictures`` as H.264 (one per frame); ``times`` in seconds gives a variable rate."""
    size = pictures[0].size
    with av.open(str(path), "w", format=fmt, options=options or {}) as container:
        stream = container.add_stream("libx264", rate=rate)
        stream.width, stream.height = size
        stream.pix_fmt = "yuv420p"
        if times is not None:  # millisecond timestamps instead of frame numbers
            stream.codec_context.time_base = stream.time_base = fractions.Fraction(1, 1000)
        if rotation is not None:
            stream.set_display_rotation(rotation)
        for i, picture in enumerate(pictures):
            frame = av.VideoFrame.from_image(picture)
            if times is not None:
                frame.pts = round(times[i] * 1000)
                frame.time_base = fractions.Fraction(1, 1000)
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return path.read_bytes()


def still_hash(picture: Image.Image) -> str:
    return hash_bytes(encode(picture, "PNG")).signals["pdq"].value


PROTECTED = scene(900, SIZE)
SCENES = [scene(910 + i, SIZE) for i in range(3 * RATE)]


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """3 s of changing scenes, then 3 s of a protected picture (H.264 in MP4, 10 fps)."""
    path = tmp_path_factory.mktemp("video") / "clip.mp4"
    return make_video(path, SCENES + [PROTECTED] * (3 * RATE))


@pytest.fixture(scope="module")
def faststart_clip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The same clip with its index at the front, as web players want it."""
    path = tmp_path_factory.mktemp("video") / "faststart.mp4"
    return make_video(path, SCENES + [PROTECTED] * (3 * RATE), options={"movflags": "faststart"})


# -- hashing ---------------------------------------------------------------------------------


def test_one_frame_hash_per_second_from_memory(clip: bytes) -> None:
    frames, width, height = hash_video_frames(clip)
    assert (width, height) == SIZE
    assert [f.seconds for f in frames] == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0]
    assert all(len(f.pdq) == 64 and f.quality >= 50 for f in frames)
    assert pdq.distance(frames[0].pdq, still_hash(SCENES[0])) <= 10


def test_every_frame_when_fps_is_none(clip: bytes) -> None:
    frames, _, _ = hash_video_frames(clip, fps=None)
    assert len(frames) == 6 * RATE
    assert frames[1].seconds == pytest.approx(0.1)


def test_hash_bytes_gives_frame_hashes_and_exact_file_hashes(clip: bytes) -> None:
    result = hash_bytes(clip)
    assert result.kind == "video" and result.format == "mp4"
    assert (result.width, result.height) == SIZE
    assert len(result.frames) == 6 and result.sha256 and result.signals["md5"].value


def test_variable_frame_rate_hashes_the_frame_on_screen_at_each_second(tmp_path: Path) -> None:
    pictures = [scene(920 + i, SIZE) for i in range(6)]
    # picture 1 is on screen from 0.2 s to 2.7 s, so it is what a viewer sees at 1 s and 2 s
    times = [0.0, 0.2, 2.7, 3.0, 3.5, 4.0]
    data = make_video(tmp_path / "vfr.mp4", pictures, times=times, fmt="mp4")
    frames, _, _ = hash_video_frames(data)
    assert [round(f.seconds, 3) for f in frames] == [0.0, 0.2, 3.0, 4.0]
    shown = [min(range(6), key=lambda k: pdq.distance(f.pdq, still_hash(pictures[k]))) for f in frames]
    assert shown == [0, 1, 3, 5]


def test_phone_video_stored_sideways_is_hashed_as_shown(tmp_path: Path) -> None:
    upright = scene(930, (240, 320))
    stored = upright.rotate(90, expand=True)  # the camera wrote it turned a quarter left
    data = make_video(tmp_path / "phone.mp4", [stored] * RATE, rotation=-90)
    frames, width, height = hash_video_frames(data)
    assert (width, height) == (240, 320)
    assert pdq.distance(frames[0].pdq, still_hash(upright)) <= 10


def test_large_frames_are_hashed_quickly_at_reduced_size(tmp_path: Path) -> None:
    picture = scene(940, (640, 360)).resize((2560, 1440), Image.Resampling.BICUBIC)
    data = make_video(tmp_path / "qhd.mp4", [picture] * 2, rate=2)
    frames, width, height = hash_video_frames(data)
    assert (width, height) == (2560, 1440)
    assert pdq.distance(frames[0].pdq, still_hash(picture)) <= 31


def test_video_module_imports_and_matches_without_pyav(clip: bytes, tmp_path: Path) -> None:
    video = tmp_path / "clip.mp4"
    video.write_bytes(clip)
    script = f"""
import sys
sys.modules["av"] = None  # as if PyAV were not installed
from stopncii_tools.signals.vpdq import hash_video_frames, match_videos
from stopncii_tools import FrameHash, hash_bytes
from stopncii_tools._errors import VideoSupportMissing
frame = FrameHash(0.0, "ab" * 32, 100)
assert match_videos([frame], [frame]).query_fraction == 1.0
try:
    hash_video_frames(b"not empty")
except VideoSupportMissing as exc:
    print(exc)
result = hash_bytes(open({str(video)!r}, "rb").read())
print(result.frames, result.notes[0])
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    lines = out.stdout.splitlines()
    assert lines[0] == "frame hashing for videos needs the video extra: pip install 'stopncii-tools[video]'"
    assert lines[1].startswith("() frame matching for videos needs the video extra")


# -- finding protected content ---------------------------------------------------------------


def test_protected_still_is_found_in_the_video_that_shows_it(clip: bytes) -> None:
    frames, _, _ = hash_video_frames(clip)
    hits = match_still_in_video(still_hash(PROTECTED), frames)
    assert [h.seconds for h in hits] == [3.0, 4.0, 5.0]
    assert all(h.distance <= 10 for h in hits)
    assert match_still_in_video(still_hash(scene(999, SIZE)), frames) == []


def test_turned_still_is_found_through_its_rotated_and_mirrored_hashes(tmp_path: Path) -> None:
    turned = PROTECTED.rotate(90, expand=True)
    data = make_video(tmp_path / "turned.mp4", [turned] * (2 * RATE))
    frames, _, _ = hash_video_frames(data)
    assert match_still_in_video(still_hash(PROTECTED), frames) == []
    variants = [v.value for v in hash_bytes(encode(PROTECTED, "PNG"), dihedral=True).pdq_variants]
    assert [h.seconds for h in match_still_in_video(variants, frames)] == [0.0, 1.0]


def test_a_clip_cut_from_a_video_matches_in_either_order(clip: bytes, tmp_path: Path) -> None:
    full, _, _ = hash_video_frames(clip)
    cut = make_video(tmp_path / "cut.mp4", SCENES[10:] + [PROTECTED] * RATE)  # 1 s to 4 s
    part, _, _ = hash_video_frames(cut)
    found = match_videos(part, full)
    assert found is not None and found.query_fraction == 1.0 and found.target_fraction < 0.8
    # the still shown for 3 s counts once: 3 distinct frames of 4 in the full clip
    assert found.target_frames == 4
    evidence = found.evidence()
    assert json.loads(json.dumps(evidence)) == evidence
    assert evidence["signal"] == "vpdq" and evidence["threshold"] == 31
    assert (evidence["first_seconds"], evidence["last_seconds"], evidence["frames"]) == (0.0, 2.0, 3)
    reverse = match_videos(full, part)
    assert reverse is not None and reverse.target_fraction == 1.0
    other = make_video(tmp_path / "other.mp4", [scene(950 + i, SIZE) for i in range(4 * RATE)])
    assert match_videos(hash_video_frames(other)[0], full) is None


def test_low_quality_and_repeated_frames_are_not_compared() -> None:
    flat = FrameHash(0.0, "00" * 32, 0)
    a = FrameHash(1.0, "0f" * 32, 100)
    near_a = FrameHash(2.0, "0f" * 31 + "0e", 100)  # 1 bit away: the same picture
    b = FrameHash(3.0, "f0" * 32, 100)
    assert distinct_frames([flat, a, near_a, a, b]) == [a, b]
    assert match_videos([flat], [flat]) is None


# -- bad input -------------------------------------------------------------------------------


def test_empty_file() -> None:
    with pytest.raises(UnsupportedMedia, match="^the file is empty$"):
        hash_video_frames(b"")


def test_truncated_video_without_its_index(clip: bytes) -> None:
    with pytest.raises(CorruptMedia, match="^the MP4 video is damaged or cut short and cannot be opened"):
        hash_video_frames(clip[: len(clip) // 2])


def test_truncated_video_with_its_index_first(faststart_clip: bytes) -> None:
    cut = faststart_clip[: len(faststart_clip) // 2]
    with pytest.raises(CorruptMedia, match="^the MP4 video is (cut short|damaged or cut short)"):
        hash_video_frames(cut)


def test_video_cut_cleanly_between_frames(faststart_clip: bytes) -> None:
    with av.open(io.BytesIO(faststart_clip)) as container:
        starts = [p.pos for p in container.demux(video=0) if p.pos is not None and p.pos > 0]
    cut = faststart_clip[: starts[len(starts) // 2]]
    with pytest.raises(CorruptMedia, match=r"^the MP4 video is cut short: it should last 0:06 but its pictures stop at 0:0\d$"):
        hash_video_frames(cut)


def test_garbage_after_a_valid_header(faststart_clip: bytes) -> None:
    start = faststart_clip.find(b"mdat") + 16
    rng = np.random.default_rng(7)
    damaged = faststart_clip[:start] + rng.bytes(len(faststart_clip) - start)
    with pytest.raises(CorruptMedia, match="^the MP4 video is damaged or cut short .*cannot be decoded"):
        hash_video_frames(damaged)


def test_bytes_that_are_no_video_at_all() -> None:
    with pytest.raises(CorruptMedia, match="^the video is damaged or cut short and cannot be opened"):
        hash_video_frames(np.random.default_rng(8).bytes(4000))


def _sound(path: Path, cover: Image.Image | None = None) -> bytes:
    with av.open(str(path), "w", format="mp4") as container:
        audio = container.add_stream("aac", rate=44100)
        art = None
        if cover is not None:
            art = container.add_stream("mjpeg")
            art.width, art.height = cover.size
            art.pix_fmt = "yuvj420p"
            art.disposition = av.stream.Disposition.attached_pic
        for i in range(40):
            samples = np.sin(np.arange(1024, dtype=np.float32) / 10)[None, :] * 0.3
            frame = av.AudioFrame.from_ndarray(samples, format="fltp", layout="mono")
            frame.sample_rate, frame.pts = 44100, i * 1024
            for packet in audio.encode(frame):
                container.mux(packet)
        for packet in audio.encode():
            container.mux(packet)
        if art is not None and cover is not None:
            for packet in [*art.encode(av.VideoFrame.from_image(cover)), *art.encode()]:
                container.mux(packet)
    return path.read_bytes()


def test_sound_only_file(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="^this file has sound only, no pictures$"):
        hash_video_frames(_sound(tmp_path / "voice.m4a"))


def test_music_file_with_cover_art_is_sound_only(tmp_path: Path) -> None:
    with pytest.raises(UnsupportedMedia, match="^this file has sound only, no pictures$"):
        hash_video_frames(_sound(tmp_path / "song.m4a", cover=scene(960, (64, 64))))


def test_absurd_picture_size_is_refused_before_decoding(tmp_path: Path) -> None:
    path = tmp_path / "huge.mp4"
    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=1)
        stream.width = stream.height = 16000
        stream.pix_fmt = "yuv420p"
        packet = av.Packet(b"\x00" * 1000)  # a tiny file that only claims to be huge
        packet.stream, packet.pts, packet.dts = stream, 0, 0
        packet.time_base = fractions.Fraction(1, 1)
        container.mux(packet)
    data = path.read_bytes()
    assert len(data) < 2000
    with pytest.raises(MediaTooLarge, match=r"^the video's pictures are 16000x16000 \(256 megapixels\), above the safety limit of 35 megapixels$"):
        hash_video_frames(data)


def test_video_longer_than_the_limit_is_refused(clip: bytes) -> None:
    with pytest.raises(MediaTooLarge, match=r"^the video is longer than 0:02, the length limit .*STOPNCII_MAX_VIDEO_SECONDS"):
        hash_video_frames(clip, max_seconds=2)
    with pytest.raises(MediaTooLarge, match=r"^the video would give more than 3 frame hashes, .*STOPNCII_MAX_VIDEO_FRAMES"):
        hash_video_frames(clip, max_frames=3)
    assert len(hash_video_frames(clip, max_seconds=6, max_frames=6)[0]) == 6


def test_absurd_frame_count_is_refused(tmp_path: Path) -> None:
    pictures = [scene(980 + i % 3, (64, 48)) for i in range(60)]
    burst = make_video(tmp_path / "burst.mp4", pictures, times=[i / 1000 for i in range(60)])
    with pytest.raises(MediaTooLarge, match=r"^the video has more than 48 frames \(240 a second for 0:00\), too many"):
        hash_video_frames(burst, max_seconds=0.2)


class _Pipe(io.RawIOBase):
    """A one-way stream: the muxer cannot go back to write the length into the header."""

    def __init__(self) -> None:
        self.data = bytearray()

    def writable(self) -> bool:
        return True

    def write(self, chunk: bytes) -> int:  # type: ignore[override]
        self.data += bytes(chunk)
        return len(chunk)


def test_limits_hold_while_decoding_a_video_that_does_not_declare_its_length() -> None:
    pipe = _Pipe()
    with av.open(pipe, "w", format="matroska") as container:
        stream = container.add_stream("libx264", rate=RATE)
        stream.width, stream.height = 160, 120
        stream.pix_fmt = "yuv420p"
        for i in range(5 * RATE):
            for packet in stream.encode(av.VideoFrame.from_image(scene(970 + i, (160, 120)))):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    data = bytes(pipe.data)
    assert len(hash_video_frames(data)[0]) == 5
    with pytest.raises(MediaTooLarge, match="^the video is longer than 0:02"):
        hash_video_frames(data, max_seconds=2)
    with pytest.raises(MediaTooLarge, match="^the video would give more than 2 frame hashes"):
        hash_video_frames(data, max_frames=2)


# -- storage ---------------------------------------------------------------------------------

frame_hashes = st.builds(
    FrameHash,
    seconds=st.floats(min_value=0, max_value=1_000_000, allow_nan=False),
    pdq=st.binary(min_size=32, max_size=32).map(bytes.hex),
    quality=st.integers(0, 100),
)


@given(st.lists(frame_hashes, max_size=50))
@settings(max_examples=200, deadline=None)
def test_compact_storage_round_trip(frames: list[FrameHash]) -> None:
    blob = frames_to_blob(frames)
    assert len(blob) == 5 + 37 * len(frames)
    back = frames_from_blob(blob)
    assert [(f.pdq, f.quality) for f in back] == [(f.pdq, f.quality) for f in frames]
    assert all(abs(a.seconds - b.seconds) <= 0.0005 for a, b in zip(back, frames, strict=True))
    assert frames_to_blob(back) == blob


def test_damaged_storage_is_reported() -> None:
    blob = frames_to_blob([FrameHash(1.5, "ab" * 32, 90)])
    with pytest.raises(InvalidHash, match="^the stored video hash is damaged"):
        frames_from_blob(blob[:-1])
    with pytest.raises(InvalidHash, match="^a pdq hash is 64 hexadecimal characters"):
        frames_to_blob([FrameHash(0.0, "xyz", 90)])


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=12), st.data())
@settings(max_examples=100, deadline=None)
def test_matching_is_symmetric(base: list[bytes], data: st.DataObject) -> None:
    """Swapping query and target swaps the two fractions and nothing else."""

    def flip_bits(raw: bytes) -> str:
        value = int.from_bytes(raw, "big")
        for bit in data.draw(st.lists(st.integers(0, 255), max_size=40)):
            value ^= 1 << bit
        return value.to_bytes(32, "big").hex()

    one = [FrameHash(float(i), flip_bits(b), 100) for i, b in enumerate(base)]
    two = [FrameHash(float(i), flip_bits(b), 100) for i, b in enumerate(data.draw(st.permutations(base)))]
    forward, backward = match_videos(one, two, min_fraction=0), match_videos(two, one, min_fraction=0)
    assert forward is not None and backward is not None
    assert (forward.query_fraction, forward.target_fraction) == (backward.target_fraction, backward.query_fraction)
    assert all(m.distance <= 31 for m in forward.matched_frames)


# -- Meta's reference clips (skipped without ../shared/testdata) ------------------------------

REFERENCE_VIDEOS = [
    "chair-20-sd-bar",
    "chair-22-sd-sepia-bar",
    "chair-22-with-large-logo-bar",
    "chair-22-with-small-logo-bar",
    "chair-orig-22-sd-bar",
    "doorknob-hd-no-bar",
    "pattern-hd-no-bar",
    "pattern-sd-grey-bar",
]


def reference_frames(shared: Path, name: str) -> list[FrameHash]:
    rows = (line.split(",") for line in (shared / "vpdq/hashes" / f"{name}.txt").read_text().split())
    return [FrameHash(float(seconds), pdq_hex, int(quality)) for _, quality, pdq_hex, seconds in rows]


@pytest.fixture(scope="module")
def reference_hashes(shared_testdata: Path) -> dict[str, list[FrameHash]]:
    """Our 1-per-second frame hashes of each reference clip."""
    return {
        name: hash_video_frames((shared_testdata / "vpdq/videos" / f"{name}.mp4").read_bytes())[0]
        for name in REFERENCE_VIDEOS
    }


def _share_within_10_bits(ours: list[FrameHash], reference: list[FrameHash]) -> float:
    # Meta's correctness rule: within 10 bits of the reference where its quality is >= 80
    by_time = {round(f.seconds, 3): f for f in reference}
    pairs = [(f, by_time[round(f.seconds, 3)]) for f in ours if round(f.seconds, 3) in by_time]
    judged = [pdq.distance(a.pdq, b.pdq) <= 10 for a, b in pairs if b.quality >= 80]
    assert len(pairs) == len(ours) and judged
    return sum(judged) / len(judged)


@pytest.mark.parametrize("name", REFERENCE_VIDEOS)
def test_frame_hashes_agree_with_meta_reference(
    name: str, reference_hashes: dict[str, list[FrameHash]], shared_testdata: Path
) -> None:
    assert _share_within_10_bits(reference_hashes[name], reference_frames(shared_testdata, name)) >= 0.9


def test_every_frame_agrees_with_meta_reference(shared_testdata: Path) -> None:
    name = "pattern-sd-grey-bar"
    frames, _, _ = hash_video_frames((shared_testdata / "vpdq/videos" / f"{name}.mp4").read_bytes(), fps=None)
    assert len(frames) == 206
    assert _share_within_10_bits(frames, reference_frames(shared_testdata, name)) >= 0.9


@pytest.mark.parametrize(
    "name,same",
    [
        ("chair-20-sd-bar", True),
        ("chair-22-sd-sepia-bar", True),
        ("chair-22-with-small-logo-bar", True),
        ("doorknob-hd-no-bar", False),
        ("pattern-hd-no-bar", False),
        ("pattern-sd-grey-bar", False),
    ],
)
def test_variants_of_the_reference_clip_match(name: str, same: bool, reference_hashes: dict[str, list[FrameHash]]) -> None:
    original = reference_hashes["chair-orig-22-sd-bar"]
    found = match_videos(reference_hashes[name], original)
    assert (found is not None) == same
    if same:
        assert found is not None and found.query_fraction >= 0.8


def test_large_logo_is_the_known_hard_case(reference_hashes: dict[str, list[FrameHash]]) -> None:
    original = reference_hashes["chair-orig-22-sd-bar"]
    logo = reference_hashes["chair-22-with-large-logo-bar"]
    assert match_videos(logo, original) is None
    overlap = match_videos(logo, original, min_fraction=0)
    assert overlap is None or overlap.query_fraction < 0.2
