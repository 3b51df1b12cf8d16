"""Video hashing throughput and agreement with Meta's vPDQ reference, against the ``vpdq`` package.

Contenders, on the same files in one run, each starting from the file path:

- ``stopncii 1/s``: ``hash_video_frames(data)`` (PyAV decode from memory, one frame a second);
- ``stopncii all``: the same with ``fps=None`` (every frame);
- ``stopncii all, 512 px``: every frame shrunk to 512 px first, as photos are (a design check);
- ``vpdq 1/s`` and ``vpdq all``: the ``vpdq`` PyPI package's ``computeHash`` (Meta's C++
  vPDQ; it needs FFmpeg's development libraries to build, and says 'not available' if absent).

Reported per contender: frames hashed per wall-clock second, seconds of video per wall-clock
second, and CPU seconds (decoders use threads, so CPU can exceed wall time). Then, per clip,
the share of frames within 10 bits of Meta's reference hashes where the reference quality is
at least 80 (Meta's bar for a correct implementation).

    python benchmarks/video.py [--videos ../shared/testdata/vpdq] [--repeat 1]
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import av

from stopncii_tools.media import video
from stopncii_tools.signals.pdq import PDQ
from stopncii_tools.signals.vpdq import FrameHash, hash_video_frames

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "vpdq"


@dataclass(frozen=True)
class Contender:
    """One way of hashing a video file, or the reason it cannot run here."""

    name: str
    run: Callable[[Path], list[FrameHash]] | None
    missing: str = ""


@dataclass
class Tally:
    frames: int = 0
    video_seconds: float = 0.0
    wall: float = 0.0
    cpu: float = 0.0
    agreement: dict[str, float] = field(default_factory=dict)


def ours(fps: float | None) -> Callable[[Path], list[FrameHash]]:
    return lambda path: hash_video_frames(path.read_bytes(), fps=fps, max_frames=None)[0]


def ours_at_512(path: Path) -> list[FrameHash]:
    saved = video.HASH_SIDE
    video.HASH_SIDE = 512  # type: ignore[misc]  # the photo rule, for comparison only
    try:
        return ours(None)(path)
    finally:
        video.HASH_SIDE = saved  # type: ignore[misc]


def vpdq_contenders() -> list[Contender]:
    try:
        import vpdq
    except ImportError as exc:
        reason = f"not available ({exc})"
        return [Contender("vpdq 1/s", None, reason), Contender("vpdq all", None, reason)]

    def run(seconds_per_hash: float) -> Callable[[Path], list[FrameHash]]:
        def hash_file(path: Path) -> list[FrameHash]:
            features = vpdq.computeHash(str(path), seconds_per_hash=seconds_per_hash)
            return [FrameHash(f.timestamp, f.hex, f.quality) for f in features]

        return hash_file

    return [Contender("vpdq 1/s", run(1)), Contender("vpdq all", run(0))]


def reference(folder: Path, name: str) -> dict[float, FrameHash]:
    path = folder / "hashes" / f"{name}.txt"
    if not path.exists():
        return {}
    rows = (line.split(",") for line in path.read_text().split())
    return {round(float(s), 3): FrameHash(float(s), h, int(q)) for _, q, h, s in rows}


def agreement(frames: Sequence[FrameHash], ref: dict[float, FrameHash]) -> float | None:
    pdq = PDQ()
    judged = [
        pdq.distance(f.pdq, ref[key].pdq) <= 10
        for f in frames
        if (key := round(f.seconds, 3)) in ref and ref[key].quality >= 80
    ]
    return sum(judged) / len(judged) if judged else None


def duration(path: Path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        return float(stream.duration * stream.time_base)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--videos", type=Path, default=SHARED,
                        help="folder with videos/*.mp4 and hashes/*.txt (Meta's vPDQ test data)")
    parser.add_argument("--repeat", type=int, default=1, help="runs per contender and clip")
    args = parser.parse_args(argv)
    clips = sorted((args.videos / "videos").glob("*.mp4"))
    if not clips:
        print(f"no videos under {args.videos / 'videos'}", file=sys.stderr)
        return 1
    contenders = [
        Contender("stopncii 1/s", ours(1.0)),
        Contender("stopncii all", ours(None)),
        Contender("stopncii all, 512 px", ours_at_512),
        *vpdq_contenders(),
    ]
    tallies = {c.name: Tally() for c in contenders if c.run is not None}
    for clip in clips:
        ref = reference(args.videos, clip.stem)
        seconds = duration(clip)
        for contender in contenders:
            if contender.run is None:
                continue
            tally = tallies[contender.name]
            for _ in range(args.repeat):
                wall, cpu = time.perf_counter(), time.process_time()
                frames = contender.run(clip)
                tally.wall += time.perf_counter() - wall
                tally.cpu += time.process_time() - cpu
                tally.frames += len(frames)
                tally.video_seconds += seconds
            share = agreement(frames, ref)
            if share is not None:
                tally.agreement[clip.stem] = share

    total = sum(duration(c) for c in clips)
    print(f"{len(clips)} clips, {total:.0f} s of video; {os.cpu_count()} CPUs; "
          f"PyAV {av.__version__} (FFmpeg {av.library_versions['libavcodec']} libavcodec)\n")
    print(f"{'contender':<22} {'frames':>7} {'wall s':>8} {'CPU s':>8} {'frames/s':>9} {'video s/s':>10}")
    for contender in contenders:
        if contender.run is None:
            print(f"{contender.name:<22} {contender.missing}")
            continue
        t = tallies[contender.name]
        print(f"{contender.name:<22} {t.frames:>7} {t.wall:>8.2f} {t.cpu:>8.2f} "
              f"{t.frames / t.wall:>9.1f} {t.video_seconds / t.wall:>10.1f}")
    print("\nshare of frames within 10 bits of Meta's reference (reference quality >= 80)")
    names = [c.name for c in contenders if c.run is not None]
    print(f"{'clip':<30}" + "".join(f"{n:>22}" for n in names))
    for clip in clips:
        cells = [tallies[n].agreement.get(clip.stem) for n in names]
        print(f"{clip.stem:<30}" + "".join(f"{'-' if c is None else f'{c:.1%}':>22}" for c in cells))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
