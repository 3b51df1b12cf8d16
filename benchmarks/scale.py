"""Benchmark: the region path of a scan against banks of 100 ... 100,000 protected photos.

The bank is a real case database (10 photos a case) of distinct pictures made from real photos
that ship with scikit-image and in ``../shared/testdata/pdq`` (group A): each a 4 x 4 mosaic of
windows cut at a random place, size and angle from a random photo, mirrored or not, with its
colours shifted. Suspects: 2,000 pictures, half edits of the first 100 protected pictures (so
present in every bank: crop, screenshot, body replaced, half size at JPEG q60, mirrored), half
unrelated mosaics and windows made only from other photos and textures (group B), so any
match of an unrelated suspect is a false match.

Per bank size it prints: files/s of the region path on one core, CPU by stage (region
signature, pre-filter, verification, loading the bank), peak memory, bytes per protected
photo (in memory and in the database), pre-filter candidates per suspect, recall and false
matches, and the projected time for 105,000 suspects against 100,000 protected photos on two
cores. The database is kept in ``--workdir`` and grown, so a larger size reuses the smaller.

    .venv/bin/python benchmarks/scale.py [--sizes 100,1000,10000,100000] [--workdir DIR]
"""

from __future__ import annotations

import argparse
import hashlib
import pickle
import resource
import statistics
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.derivatives import _skimage_image, encode  # noqa: E402
from stopncii_tools.media.samples import body_replaced, screenshot  # noqa: E402
from stopncii_tools.signals._binary_knn import nearest_two  # noqa: E402
from stopncii_tools.signals.region_index import RegionIndex  # noqa: E402
from stopncii_tools.signals.regions import (  # noqa: E402
    RegionSignature,
    _hit,
    compare_regions,
    compute_region_signature,
)
from stopncii_tools.store import Store  # noqa: E402
from stopncii_tools.store.rows import MediaRecord, SignalRow  # noqa: E402

GROUP_A = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "moon", "hubble_deep_field",
           "retina", "immunohistochemistry", "clock", "natural/q0291.jpg", "natural/q2821.jpg",
           "natural/q0746.jpg", "natural/q1050.jpg")
GROUP_B = ("brick", "grass", "gravel", "page", "text", "horse", "cell", "microaneurysms",
           "natural/pen-and-coaster.png", "natural/q0122.jpg", "natural/q0003.jpg", "natural/q0004.jpg",
           "dihedral/bridge-1-original.jpg")
EDITS = ("crop 10%", "screenshot", "body replaced", "half size, JPEG q60", "mirrored")
PHOTOS_PER_CASE = 10
SUSPECTS_EACH = 1000  # edits of protected pictures, and unrelated pictures
PROJECTED_FILES, PROJECTED_BANK = 105_000, 100_000

_sources: dict[str, list[Image.Image]] = {}
_pixels: dict[int, np.ndarray] = {}  # each source photo as an array, made once


def _load(names: tuple[str, ...], testdata: Path) -> list[Image.Image]:
    photos = []
    for name in names:
        img = (Image.open(testdata / "pdq" / name).convert("RGB") if "/" in name and (testdata / "pdq" / name).exists()
               else None if "/" in name else _skimage_image(name))
        if img is not None:
            photos.append(ImageOps.contain(img, (1024, 1024)))
    return photos


def _init(testdata: Path) -> None:
    _sources["A"] = _load(GROUP_A, testdata)
    _sources["B"] = _load(GROUP_B, testdata)


def mosaic(group: str, seed: int) -> Image.Image:
    """A distinct 640 x 480 picture: 4 x 4 windows of random photos of ``group``."""
    rng = np.random.default_rng([ord(group), seed])
    canvas = Image.new("RGB", (640, 480))
    photos = _sources[group]
    for row in range(4):
        for col in range(4):
            src = photos[int(rng.integers(len(photos)))]
            side = int(rng.uniform(0.15, 0.45) * min(src.size))
            x, y = int(rng.integers(0, src.width - side)), int(rng.integers(0, src.height - side))
            tile = _turned_window(src, x + side / 2, y + side / 2, side * 0.42, float(rng.uniform(0, 2 * np.pi)))
            if rng.random() < 0.5:
                tile = ImageOps.mirror(tile)
            gains = rng.uniform(0.75, 1.25, 3)
            tile = Image.fromarray(np.clip(np.asarray(tile, np.float32) * gains, 0, 255).astype(np.uint8))
            canvas.paste(tile, (col * 160, row * 120))
    return canvas


def _turned_window(src: Image.Image, cx: float, cy: float, width: float, angle: float) -> Image.Image:
    """The 160 x 120 window of ``src`` centred at (cx, cy), ``width`` wide, turned by ``angle``:
    one affine resampling of the output pixels only (turning the whole tile cost 130 ms a mosaic)."""
    import cv2

    cos, sin = np.cos(angle) * width / 160, np.sin(angle) * width / 160
    # output (u, v) -> source: centre + R(angle) @ ((u - 80), (v - 60)) * scale
    to_source = np.array([[cos, -sin, cx - 80 * cos + 60 * sin], [sin, cos, cy - 80 * sin - 60 * cos]])
    if id(src) not in _pixels:
        _pixels[id(src)] = np.asarray(src)
    pixels = _pixels[id(src)]
    return Image.fromarray(cv2.warpAffine(pixels, to_source, (160, 120), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP))


def edit(picture: Image.Image, how: str, seed: int) -> bytes:
    if how == "crop 10%":
        w, h = picture.size
        return encode(picture.crop((w // 10, h // 10, w - w // 10, h - h // 10)), quality=80)
    if how == "screenshot":
        return encode(screenshot(picture, dark=seed % 2 == 1), quality=80)
    if how == "body replaced":
        return encode(body_replaced(picture, mosaic("B", 10_000_000 + seed)), quality=75)
    if how == "half size, JPEG q60":
        return encode(picture.resize((320, 240), Image.Resampling.LANCZOS), quality=60)
    return encode(ImageOps.mirror(picture), quality=85)


def _protected_job(seed: int) -> tuple[int, bytes, float]:
    data = encode(mosaic("A", seed), quality=90)
    start = time.process_time()
    blob = compute_region_signature(data).to_bytes()
    return seed, blob, time.process_time() - start


def _suspect_job(spec: tuple[str, int, str]) -> tuple[bytes, float]:
    kind, seed, how = spec
    if kind == "edit":
        data = edit(mosaic("A", seed), how, seed)
    elif seed % 4 == 0:  # a window of a whole photo, not a mosaic
        src = _sources["B"][seed // 4 % len(_sources["B"])]
        rng = np.random.default_rng(seed)
        w, h = int(src.width * rng.uniform(0.5, 1)), int(src.height * rng.uniform(0.5, 1))
        x, y = int(rng.integers(0, src.width - w + 1)), int(rng.integers(0, src.height - h + 1))
        data = encode(src.crop((x, y, x + w, y + h)), quality=85)
    else:
        data = encode(mosaic("B", seed), quality=85)
    start = time.process_time()
    blob = compute_region_signature(data).to_bytes()
    return blob, time.process_time() - start


def grow_bank(store: Store, size: int, workers: int, testdata: Path) -> list[float]:
    """Protect mosaics 0 .. size-1 (those already there are kept); CPU s of each new signature."""
    have = store.conn.execute("SELECT count(*) FROM protected_items").fetchone()[0]
    cpu: list[float] = []
    if have >= size:
        return cpu
    with Pool(workers, initializer=_init, initargs=(testdata,)) as pool:
        case = None
        for seed, blob, seconds in pool.imap(_protected_job, range(have, size), chunksize=16):
            if seed % PHOTOS_PER_CASE == 0 or case is None:
                case = store.create_case(f"bench {seed // PHOTOS_PER_CASE}").id
            digest = hashlib.sha256(f"mosaic {seed}".encode()).hexdigest()
            store.add_protected(case, MediaRecord("image", "jpeg", len(blob), 640, 480, digest),
                                [SignalRow("regions", 0, blob, None)], f"mosaic {seed}")
            cpu.append(seconds)
    return cpu


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def knn_check(signatures: list[RegionSignature]) -> str:
    import cv2

    slow = fast = 0.0
    same = True
    for a, b in zip(signatures, signatures[1:], strict=False):
        t = time.process_time()
        ref = cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(b.descriptors, a.descriptors, k=2)
        slow += time.process_time() - t
        t = time.process_time()
        got = nearest_two(cv2, b.descriptors, a.descriptors)
        fast += time.process_time() - t
        same &= [[m.distance for m in p] for p in ref] == [[m.distance for m in p] for p in got]
    n = max(1, len(signatures) - 1)
    return (f"verification k-NN per comparison: OpenCV BFMatcher {1000 * slow / n:.1f} ms CPU, "
            f"nearest_two {1000 * fast / n:.1f} ms CPU; same neighbour distances: {'yes' if same else 'NO'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="bank sizes, comma-separated (up to 100000)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/stopncii-scale"))
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--suspects", type=int, default=2 * SUSPECTS_EACH)
    parser.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(","))
    args.workdir.mkdir(parents=True, exist_ok=True)
    _init(args.testdata)
    print(f"group A: {len(_sources['A'])} photos (the bank), group B: {len(_sources['B'])} photos (unrelated)")
    half = args.suspects // 2
    specs = [("edit", k // len(EDITS) % 100, EDITS[k % len(EDITS)]) for k in range(half)]
    specs += [("unrelated", 20_000_000 + k, "") for k in range(half)]
    t = time.perf_counter()
    cache = args.workdir / f"suspects-{args.suspects}.pickle"
    if cache.exists():
        made = pickle.loads(cache.read_bytes())
    else:
        with Pool(args.workers, initializer=_init, initargs=(args.testdata,)) as pool:
            made = pool.map(_suspect_job, specs, chunksize=8)
        cache.write_bytes(pickle.dumps(made))
    suspects = [RegionSignature.from_bytes(blob) for blob, _ in made]
    signature_cpu = statistics.mean(seconds for _, seconds in made)
    print(f"{len(suspects)} suspects made and signed in {time.perf_counter() - t:.0f} s "
          f"(region signature incl. decoding: {1000 * signature_cpu:.0f} ms CPU each)")
    print(knn_check(suspects[:40:2]))
    rows = []
    direct: list[int] = []
    print("\n| protected photos | files/s (1 core) | signature ms | pre-filter ms | verification ms "
          "| first load s | load s | peak MB | index B/photo | stored B/photo | candidates/suspect "
          "| recall of the pre-filter | false matches | per pair | other group-A matches per edit |")
    print("|" + "---|" * 15, flush=True)
    with Store(args.workdir / "bank.db") as store:
        for size in sizes:
            grow_bank(store, size, args.workers, args.testdata)
            ids = [r[0] for r in store.conn.execute("SELECT id FROM protected_items ORDER BY id LIMIT ?", (size,))]
            t = time.process_time()
            RegionIndex.from_store(store, ids)  # keys not kept yet are cut and kept here, once
            first_load = time.process_time() - t
            t = time.process_time()
            index = RegionIndex.from_store(store, ids)
            index.candidates(suspects[0])  # the postings are built at the first query
            load = time.process_time() - t
            arrays = sum(a.nbytes for a in (index._keys, index._starts, index._rows))
            stored = store.conn.execute(
                f"SELECT sum(length(keys)) FROM region_postings WHERE item_id <= {max(ids)}").fetchone()[0] or 0
            if size == sizes[0]:  # what the full comparison finds on its own, without the pre-filter
                truth = store.region_signatures(ids[:100])
                direct = [k for k in range(half) if (ev := compare_regions(
                    RegionSignature.from_bytes(truth[ids[specs[k][1]]]), suspects[k])) and _hit(0, ev)]
                print(f"the full comparison alone finds {len(direct) / half:.1%} of the edited pictures", flush=True)
            prefilter = verify = 0.0
            candidates = found = false = overlap = 0
            for k, suspect in enumerate(suspects):
                t = time.process_time()
                shortlist = [int(owner) for owner, _ in index.candidates(suspect)]  # type: ignore[call-overload]
                prefilter += time.process_time() - t
                t = time.process_time()
                blobs = store.region_signatures(shortlist)
                hits = [owner for owner in shortlist
                        if (ev := compare_regions(RegionSignature.from_bytes(blobs[owner]), suspect))
                        and _hit(owner, ev)]
                verify += time.process_time() - t
                candidates += len(shortlist)
                if k < half:
                    found += ids[specs[k][1]] in hits and k in direct
                    # another mosaic of group A: it may show a window of the same photo region
                    overlap += sum(1 for h in hits if h != ids[specs[k][1]])
                else:
                    false += len(hits)
            n = len(suspects)
            per_file = signature_cpu + (prefilter + verify) / n
            rows.append((size, 1 / per_file, 1000 * signature_cpu, 1000 * prefilter / n, 1000 * verify / n,
                         first_load, load, peak_mb(), arrays / size, stored / size, candidates / n,
                         found / max(1, len(direct)), false, false / (half * size), overlap / half))
            r = rows[-1]
            print(f"| {r[0]:,} | {r[1]:.1f} | {r[2]:.0f} | {r[3]:.2f} | {r[4]:.1f} | {r[5]:.1f} | {r[6]:.1f} "
                  f"| {r[7]:.0f} | {r[8]:,.0f} | {r[9]:,.0f} | {r[10]:.2f} | {r[11]:.1%} | {r[12]} | {r[13]:.1e} "
                  f"| {r[14]:.3f} |",
                  flush=True)
    last = rows[-1]
    per_file = 1 / last[1]
    hours = PROJECTED_FILES * per_file / args.workers / 3600
    print(f"\nprojected, region path only: {PROJECTED_FILES:,} suspects against {last[0]:,} protected photos "
          f"on {args.workers} cores: {hours:.2f} h ({args.workers / per_file:.0f} files/s); "
          f"bank of {PROJECTED_BANK:,} in memory: {last[8] * PROJECTED_BANK / 1e9:.1f} GB for the index")


if __name__ == "__main__":
    main()
