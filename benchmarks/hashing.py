"""Hashing throughput: this project against its peers and against the JPEG decode floor.

Times, on the same files in one run and on one core, per image:

- ``stopncii hash_bytes``: everything this project computes for a picture
  (``hash_bytes(data)``: PDQ, pHash, dHash, wHash, colour hash, MD5, SHA-256);
- ``stopncii PDQ+pHash+SHA-256``: the unit issue 2 names (``open_picture`` + those three signals);
- ``threatexchange PDQ``: ``PdqSignal.hash_from_file`` (full decode, PDQ on every pixel);
- ``perception PDQ``: ``perception.hashers.PDQHash().compute(path)`` (OpenCV decode);
- ``imagehash pHash``: ``Image.open`` + ``convert("RGB")`` + ``imagehash.phash`` (full decode);
- ``floor``: Pillow's reduced-size JPEG decode alone (``draft("RGB", (512, 512))`` + ``load``).

Every contender starts from the file path and reads the file itself. Times are CPU seconds of
this one process (so "per core"), and the contenders take turns image by image, so a busy
neighbour on the machine slows them all alike. Peers that are not installed are skipped.

The test pictures are generated once (deterministic per ``--seed``) and cached under
``/tmp/stopncii-bench/``. When ``../shared/testdata`` is beside the project, the script also
prints how far our PDQ lands from Meta's reference hashes (Meta's bar: within 10 bits).

    python benchmarks/hashing.py [--count 200] [--seed 2] [--pool 2]
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import statistics
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from stopncii_tools.media.pictures import open_picture
from stopncii_tools.signals import SIGNALS, Decoded
from stopncii_tools.signals._examples import scene
from stopncii_tools.signals.hashing import hash_bytes

CACHE_ROOT = Path(os.environ.get("STOPNCII_BENCH_CACHE", "/tmp/stopncii-bench"))
SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
PHONE = (4032, 3024)  # a 12-megapixel phone photo
WEB = (1024, 768)  # a picture as a web page or messenger serves it
THREATEXCHANGE = "threatexchange PDQ"
FLOOR = "floor: reduced decode"


@dataclass(frozen=True)
class Contender:
    """One way of hashing a file, or the reason it cannot run here."""

    name: str
    run: Callable[[Path], object] | None
    missing: str = ""


@dataclass
class Timing:
    cpu_seconds: list[float]
    wall_seconds: list[float]

    @property
    def cpu_per_image(self) -> float:
        return statistics.fmean(self.cpu_seconds)


# --- the test pictures -------------------------------------------------------------------------


def corpus(seed: int, count: int, size: tuple[int, int]) -> list[Path]:
    """``count`` phone-like JPEGs of ``size``, generated once and cached per seed."""
    folder = CACHE_ROOT / f"seed{seed}-{size[0]}x{size[1]}"
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{i:04d}.jpg" for i in range(count)]
    todo = [p for p in paths if not p.exists()]
    for n, path in enumerate(todo, 1):
        print(f"\r  generating {folder.name}: {n}/{len(todo)}", end="", file=sys.stderr, flush=True)
        tmp = path.with_suffix(".part")
        tmp.write_bytes(_photo(seed, int(path.stem), size))
        tmp.rename(path)  # a run killed half-way never leaves a half-written picture
    if todo:
        print(file=sys.stderr)
    return paths


def _photo(seed: int, index: int, size: tuple[int, int]) -> bytes:
    """A photo-like JPEG: four kinds of content, sensor grain, some shot in portrait (EXIF 6)."""
    rng = np.random.default_rng([seed, index, size[0]])
    w, h = size
    kind = index % 4
    if kind == 2:
        img = _document(rng, w, h)
    else:
        img = scene(seed * 100_003 + index, (w // 8, h // 8)).resize((w, h), Image.Resampling.BICUBIC)
    pixels = np.asarray(img, dtype=np.float32)
    if kind == 1:  # foliage, fabric, hair: detail at several scales
        pixels += _texture(rng, w, h, cells=(4, 16), amplitude=(14.0, 9.0))[..., None]
    if kind == 3:  # a dim indoor shot: dark and noisy
        pixels = pixels * 0.35
    grain = (2.0, 4.0, 1.5, 9.0)[kind]
    pixels += rng.normal(0.0, grain, (h, w, 1)).astype(np.float32)
    photo = Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8), "RGB")
    exif = Image.Exif()
    exif[0x010F] = "BenchPhone"
    exif[0x0112] = 6 if index % 5 == 4 else 1  # phones store portrait shots sideways plus a tag
    buf = io.BytesIO()
    photo.save(buf, "JPEG", quality=int(rng.integers(85, 96)), exif=exif.tobytes())
    return buf.getvalue()


def _texture(rng: np.random.Generator, w: int, h: int, cells: tuple[int, ...],
             amplitude: tuple[float, ...]) -> np.ndarray:
    out = np.zeros((h, w), np.float32)
    for cell, amp in zip(cells, amplitude, strict=True):
        coarse = rng.normal(0.0, 1.0, (max(1, h // cell), max(1, w // cell))).astype(np.float32)
        out += amp * np.asarray(Image.fromarray(coarse, "F").resize((w, h), Image.Resampling.BICUBIC))
    return out


def _document(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """A page or screenshot: light background, rows of dark 'words', a picture block."""
    img = Image.new("RGB", (w, h), tuple(int(c) for c in rng.integers(215, 250, 3)))
    draw = ImageDraw.Draw(img)
    line = max(6, h // 60)
    for y in range(line * 2, h - line * 2, line * 2):
        x = line * 2
        while x < w - line * 4:
            word = int(rng.integers(line, line * 5))
            draw.rectangle((x, y, x + word, y + line), fill=tuple(int(c) for c in rng.integers(0, 90, 3)))
            x += word + line
    box = scene(int(rng.integers(1 << 30)), (w // 6, h // 6)).resize((w // 3, h // 3))
    img.paste(box, (int(rng.integers(0, w - w // 3)), int(rng.integers(0, h - h // 3))))
    return img


# --- the contenders ----------------------------------------------------------------------------


def _ours_all(path: Path) -> object:
    return hash_bytes(path.read_bytes())


def _ours_unit(path: Path) -> object:
    data = path.read_bytes()
    picture = open_picture(data)
    media = Decoded(data, "image", picture=picture)
    return [SIGNALS[name].compute(media) for name in ("pdq", "phash", "sha256")]


def _floor(path: Path) -> object:
    img = Image.open(io.BytesIO(path.read_bytes()))
    img.draft("RGB", (512, 512))
    img.load()
    return img.size


def _imagehash_full(path: Path) -> object:
    import imagehash

    return imagehash.phash(Image.open(io.BytesIO(path.read_bytes())).convert("RGB"))


def contenders() -> list[Contender]:
    found = [
        Contender("stopncii hash_bytes (all 7)", _ours_all),
        Contender("stopncii PDQ+pHash+SHA-256", _ours_unit),
    ]
    try:
        from threatexchange.signal_type.pdq.signal import PdqSignal

        found.append(Contender(THREATEXCHANGE, PdqSignal.hash_from_file))
    except ImportError as exc:
        found.append(Contender(THREATEXCHANGE, None, f"not installed ({exc})"))
    try:
        import cv2
        from perception.hashers import PDQHash

        cv2.setNumThreads(1)  # one core, like everyone else here
        hasher = PDQHash()
        found.append(Contender("perception PDQ", lambda p: hasher.compute(str(p), hash_format="hex")))
    except ImportError as exc:
        found.append(Contender("perception PDQ", None, f"not installed ({exc})"))
    found.append(Contender("imagehash pHash (full decode)", _imagehash_full))
    found.append(Contender(FLOOR, _floor))
    return found


# --- timing ------------------------------------------------------------------------------------


def time_round_robin(paths: list[Path], runners: list[Contender]) -> dict[str, Timing]:
    """Run every contender on every file, taking turns per file (rotating who goes first)."""
    live = [c for c in runners if c.run is not None]
    for c in live:  # warm-up: imports, lazy tables, the page cache
        c.run(paths[0])  # type: ignore[misc]
    timings = {c.name: Timing([], []) for c in live}
    for i, path in enumerate(paths):
        order = live[i % len(live):] + live[: i % len(live)]
        for c in order:
            wall, cpu = time.perf_counter(), time.process_time()
            c.run(path)  # type: ignore[misc]
            timings[c.name].cpu_seconds.append(time.process_time() - cpu)
            timings[c.name].wall_seconds.append(time.perf_counter() - wall)
        print(f"\r  timed {i + 1}/{len(paths)}", end="", file=sys.stderr, flush=True)
    print(file=sys.stderr)
    return timings


def pool_throughput(paths: list[Path], workers: int, run: Callable[[Path], object]) -> float:
    """Images per second (wall clock) through a pool of ``workers`` processes."""
    with ProcessPoolExecutor(max_workers=workers) as pool:
        list(pool.map(run, paths[: workers * 2]))  # start and warm the workers
        start = time.perf_counter()
        for _ in pool.map(run, paths, chunksize=4):
            pass
        return len(paths) / (time.perf_counter() - start)


# --- reporting ---------------------------------------------------------------------------------


def print_table(title: str, runners: list[Contender], timings: dict[str, Timing]) -> None:
    te = timings.get(THREATEXCHANGE)
    floor = timings[FLOOR]
    print(f"\n{title}")
    header = (f"{'contender':32} {'ms/img':>8} {'img/s/core':>11} {'wall ms':>8} "
              f"{'x threatexchange':>17} {'/ floor':>8}")
    print(header)
    print("-" * len(header))
    for c in runners:
        if c.run is None:
            print(f"{c.name:32} {c.missing}")
            continue
        t = timings[c.name]
        per = t.cpu_per_image
        speedup = f"{te.cpu_per_image / per:16.1f}x" if te else f"{'n/a':>17}"
        print(f"{c.name:32} {per * 1e3:8.1f} {1 / per:11.1f} {statistics.fmean(t.wall_seconds) * 1e3:8.1f} "
              f"{speedup} {per / floor.cpu_per_image:7.2f}x")


def reference_check() -> None:
    """Max PDQ distance to Meta's reference hashes, ours (and threatexchange's, for context)."""
    if not SHARED.is_dir():
        print("\n../shared/testdata not found: reference check skipped")
        return
    try:
        from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes
    except ImportError:
        pdq_from_bytes = None
    print("\nPDQ against Meta's reference hashes (Meta's bar: within 10 bits)")
    for folder in ("dihedral", "bridge-mods"):
        base = SHARED / "pdq" / folder
        ours: list[int] = []
        theirs: list[int] = []
        with open(base / "expected-pdq.csv", newline="") as f:
            for row in csv.DictReader(f):
                data = (base / row["file"]).read_bytes()
                want = int(row["pdq_hex"], 16)
                ours.append((int(hash_bytes(data).signals["pdq"].value, 16) ^ want).bit_count())
                if pdq_from_bytes is not None:
                    theirs.append((int(pdq_from_bytes(data)[0], 16) ^ want).bit_count())
        line = f"  {folder:12} {len(ours):2} images: ours max {max(ours):2} bits, mean {statistics.fmean(ours):4.1f}"
        if theirs:
            line += f"; threatexchange max {max(theirs):2}, mean {statistics.fmean(theirs):4.1f}"
        print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=200, help="pictures of each size (default 200)")
    parser.add_argument("--seed", type=int, default=2, help="seed of the generated pictures")
    parser.add_argument("--pool", type=int, default=0, metavar="N",
                        help="also measure hash_bytes and the floor through N processes")
    args = parser.parse_args()

    import PIL.features

    print(f"Python {sys.version.split()[0]}, Pillow {PIL.__version__} "
          f"(libjpeg-turbo {PIL.features.version('libjpeg_turbo')}), numpy {np.__version__}, "
          f"{os.cpu_count()} cores; CPU time of one process")
    runners = contenders()
    for size in (PHONE, WEB):
        paths = corpus(args.seed, args.count, size)
        megabytes = sum(p.stat().st_size for p in paths) / len(paths) / 1e6
        timings = time_round_robin(paths, runners)
        print_table(f"{len(paths)} JPEGs of {size[0]}x{size[1]} (mean {megabytes:.1f} MB), seed {args.seed}",
                    runners, timings)
        if args.pool > 0:
            ours = pool_throughput(paths, args.pool, _ours_all)
            floor = pool_throughput(paths, args.pool, _floor)
            print(f"  pool of {args.pool} processes: hash_bytes {ours:.1f} img/s, floor {floor:.1f} img/s")
    reference_check()
    print(f"\npictures cached in {CACHE_ROOT}")


if __name__ == "__main__":
    main()
