"""Benchmark: a scan against banks of 100 ... 100,000 protected photos (issue 17's "Measure it").

The bank is a real case database (10 photos a case) of distinct pictures made from real photos
that ship with scikit-image and in ``../shared/testdata/pdq`` (group A): each a 4 x 4 mosaic of
windows cut at a random place, size and angle from a random photo, mirrored or not, with its
colours shifted. Suspects: 2,000 picture files, half edits of the first 100 protected pictures
(so present in every bank: crop, screenshot, body replaced, half size at JPEG q60, mirrored),
half unrelated mosaics and windows made only from other photos and textures (group B), so any
match of an unrelated suspect is a false match. The suspect files are written once to
``--workdir`` and kept, with their region signatures.

Per bank size it prints one markdown table per measurement:

- the region path in-process on one core: signature, pre-filter, verification, loading the
  bank, bytes per protected photo, pre-filter candidates per suspect, recall of the pre-filter;
- CPU by stage on one core: decoding, whole-picture hashes, region signature, pre-filter,
  verification and the database writes of the scan's recorder;
- the real scan (``scan_cases``, what ``stopncii scan`` runs) of the suspect folder for every
  case of the bank, with the local engine (``--workers`` processes) and on a Dask
  ``LocalCluster`` (as many workers, one thread each): wall files/s, CPU and peak memory of the
  main process and the workers (sampled from /proc), and recall and false matches as the scan
  recorded them in the database; the Dask run must record the same matches;
- the projected time for 105,000 suspects against 100,000 protected photos, from the real
  scan's files/s at the largest bank.

``--stream N`` scans a folder of N small distinct pictures (made once in ``--workdir``: mostly
unrelated, one in 200 an edit of a protected photo) and samples the memory of the whole
process tree while it runs, to show that it stays flat.

The database is kept in ``--workdir`` and grown, so a larger size reuses the smaller; a scan
deletes the sightings of the previous one first.

    .venv/bin/python benchmarks/scale.py [--sizes 100,1000,10000,100000] [--workdir DIR]
        [--engines local,dask] [--stream 100000 --stream-bank 1000] [--parts region,stages,scan]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import pickle
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from multiprocessing import Pool
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
from PIL import Image, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.derivatives import _skimage_image, encode  # noqa: E402
from stopncii_tools.matching.case import MatchFound  # noqa: E402
from stopncii_tools.matching.pipeline import shared_region_index  # noqa: E402
from stopncii_tools.media.pictures import open_picture  # noqa: E402
from stopncii_tools.media.samples import body_replaced, screenshot  # noqa: E402
from stopncii_tools.signals._binary_knn import nearest  # noqa: E402
from stopncii_tools.signals.hashing import MediaHashes, hash_bytes  # noqa: E402
from stopncii_tools.signals.region_index import RegionIndex, keep_region_keys  # noqa: E402
from stopncii_tools.signals.regions import (  # noqa: E402
    WORK_SIDE,
    RegionSignature,
    _hit,
    compare_regions,
    compute_region_signature,
)
from stopncii_tools.store import Case, Store  # noqa: E402
from stopncii_tools.store.rows import MediaRecord, SightingSource, SignalRow  # noqa: E402
from stopncii_tools.workflow.scan import DEFAULT_BATCH, ScanOptions, _Recorder, scan_cases  # noqa: E402

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


def suspect_picture(spec: tuple[str, int, str]) -> bytes:
    """The file of suspect ``spec``: an edit of protected mosaic ``seed``, or an unrelated picture."""
    kind, seed, how = spec
    if kind == "edit":
        return edit(mosaic("A", seed), how, seed)
    if seed % 4 == 0:  # a window of a whole photo, not a mosaic
        src = _sources["B"][seed // 4 % len(_sources["B"])]
        rng = np.random.default_rng(seed)
        w, h = int(src.width * rng.uniform(0.5, 1)), int(src.height * rng.uniform(0.5, 1))
        x, y = int(rng.integers(0, src.width - w + 1)), int(rng.integers(0, src.height - h + 1))
        return encode(src.crop((x, y, x + w, y + h)), quality=85)
    return encode(mosaic("B", seed), quality=85)


def _suspect_job(spec: tuple[str, int, str]) -> tuple[bytes, bytes, float]:
    data = suspect_picture(spec)
    start = time.process_time()
    blob = compute_region_signature(data).to_bytes()
    return data, blob, time.process_time() - start


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
        got = nearest(cv2, b.descriptors, a.descriptors)
        fast += time.process_time() - t
        same &= [[m.distance for m in p] for p in ref] == got.distances.tolist()
    n = max(1, len(signatures) - 1)
    return (f"verification k-NN per comparison: OpenCV BFMatcher {1000 * slow / n:.1f} ms CPU, "
            f"faiss (nearest) {1000 * fast / n:.1f} ms CPU; same neighbour distances: {'yes' if same else 'NO'}")


def note(text: str) -> None:
    """Progress while a long run goes on (stderr: the tables on stdout stay whole)."""
    print(f"[{time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    print(f"\n{title}\n\n| " + " | ".join(columns) + " |\n|" + "---|" * len(columns))
    for row in rows:
        print("| " + " | ".join(str(cell) for cell in row) + " |")
    sys.stdout.flush()


# -- memory and CPU of the process tree, from /proc ---------------------------------------

_PAGE = os.sysconf("SC_PAGE_SIZE")
_TICKS = os.sysconf("SC_CLK_TCK")


def _processes() -> dict[int, tuple[int, float, int]]:
    """Every process: pid -> (parent pid, CPU s, resident bytes)."""
    found = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:  # it ended meanwhile
            continue
        fields = text[text.rindex(")") + 2:].split()  # after the command name, which may hold spaces
        found[int(entry.name)] = (int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS, int(fields[21]) * _PAGE)
    return found


@dataclass
class TreeSample:
    seconds: float
    done: int
    main: int  # resident bytes of this process
    tree: int  # of this process and all its descendants


class TreeSampler:
    """Samples this process and its descendants (scan workers, Dask's worker processes) in a
    thread every ``every`` seconds: peak resident memory of the main process and of the largest
    worker, and the workers' CPU since the start. ``done`` is set by the caller (files so far)."""

    def __init__(self, every: float) -> None:
        self.every = every
        self.done = 0
        self.samples: list[TreeSample] = []
        self.main_peak = self.worker_peak = self.tree_peak = 0
        self._cpu_first: dict[int, float] = {}
        self._cpu_last: dict[int, float] = {}
        self._start = time.monotonic()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> TreeSampler:
        self.sample(baseline=True)
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            self.sample()

    @property
    def workers_seen(self) -> int:
        """Descendant processes seen (those that lived less than a sampling period may be missed)."""
        return len(self._cpu_last)

    @property
    def workers_cpu(self) -> float:
        return sum(self._cpu_last[pid] - self._cpu_first.get(pid, 0.0) for pid in self._cpu_last)

    def sample(self, baseline: bool = False) -> TreeSample:
        processes = _processes()
        children: dict[int, list[int]] = {}
        for pid, (parent, _, _) in processes.items():
            children.setdefault(parent, []).append(pid)
        me = os.getpid()
        below, todo = [], list(children.get(me, []))
        while todo:
            pid = todo.pop()
            below.append(pid)
            todo.extend(children.get(pid, []))
        main = processes[me][2]
        tree = main
        for pid in below:
            _, cpu, rss = processes[pid]
            tree += rss
            self.worker_peak = max(self.worker_peak, rss)
            if baseline:
                self._cpu_first[pid] = cpu
            self._cpu_last[pid] = cpu
        self.main_peak, self.tree_peak = max(self.main_peak, main), max(self.tree_peak, tree)
        taken = TreeSample(time.monotonic() - self._start, self.done, main, tree)
        self.samples.append(taken)
        return taken


# -- the suspect files ----------------------------------------------------------------------

def suspect_specs(count: int) -> list[tuple[str, int, str]]:
    half = count // 2
    specs = [("edit", k // len(EDITS) % 100, EDITS[k % len(EDITS)]) for k in range(half)]
    return specs + [("unrelated", 20_000_000 + k, "") for k in range(count - half)]


def suspect_name(k: int, spec: tuple[str, int, str]) -> str:
    """The file name says what the suspect is: ``e<k>-s<seed>.jpg`` shows protected mosaic ``seed``."""
    return f"e{k:05d}-s{spec[1]:03d}.jpg" if spec[0] == "edit" else f"u{k:05d}.jpg"


def make_suspects(workdir: Path, specs: list[tuple[str, int, str]], workers: int,
                  testdata: Path) -> tuple[Path, list[tuple[bytes, float]]]:
    """The suspect files in a folder and their region signatures with the CPU s each took; made
    once and kept in ``workdir``."""
    folder = workdir / f"suspects-{len(specs)}"
    cache = workdir / f"suspects-{len(specs)}-signatures.pickle"
    if cache.exists() and folder.is_dir() and len(list(folder.iterdir())) == len(specs):
        return folder, pickle.loads(cache.read_bytes())
    folder.mkdir(parents=True, exist_ok=True)
    signed = []
    with Pool(workers, initializer=_init, initargs=(testdata,)) as pool:
        for k, (data, blob, seconds) in enumerate(pool.imap(_suspect_job, specs, chunksize=8)):
            (folder / suspect_name(k, specs[k])).write_bytes(data)
            signed.append((blob, seconds))
    cache.write_bytes(pickle.dumps(signed))
    return folder, signed


# -- the bank at one size -------------------------------------------------------------------

@dataclass
class Bank:
    size: int
    ids: list[int]  # protected item ids in the order they were made: ids[seed] is mosaic ``seed``
    cases: list[Case]
    owners: dict[int, str]  # item id -> case id


def bank_of(store: Store, size: int) -> Bank:
    rows = store.conn.execute("SELECT id, case_id FROM protected_items ORDER BY id LIMIT ?", (size,)).fetchall()
    case_ids = list(dict.fromkeys(case_id for _, case_id in rows))
    return Bank(size, [item for item, _ in rows], [store.get_case(c) for c in case_ids], dict(rows))


def clear_sightings(store: Store) -> None:
    """Forget what earlier scans recorded, so the next one records its matches afresh."""
    with store.transaction():
        for name in ("matches", "sighting_signals", "sightings"):
            store.conn.execute(f"DELETE FROM {name}")  # noqa: S608 - a fixed table name


def recorded_matches(store: Store) -> set[tuple[str, int]]:
    """(suspect file name, protected item id) of every match the database holds."""
    rows = store.conn.execute("SELECT s.source, m.item_id FROM matches m JOIN sightings s ON s.id = m.sighting_id")
    return {(Path(source).name, item) for source, item in rows}


@dataclass
class Score:
    recall: float
    false: int  # matches of unrelated suspects
    pairs: int  # (unrelated suspect, protected photo) pairs
    others: float  # matches of an edit with another group-A mosaic, per edit


def score(matched: set[tuple[str, int]], names: list[str], specs: list[tuple[str, int, str]], bank: Bank) -> Score:
    edits = [(name, bank.ids[spec[1]]) for name, spec in zip(names, specs, strict=True) if spec[0] == "edit"]
    unrelated = {name for name, spec in zip(names, specs, strict=True) if spec[0] != "edit"}
    found = sum(pair in matched for pair in edits)
    false = sum(name in unrelated for name, _ in matched)
    others = len(matched) - found - false
    return Score(found / max(1, len(edits)), false, len(unrelated) * bank.size, others / max(1, len(edits)))


# -- in-process: the region path and CPU by stage ------------------------------------------

@dataclass
class RegionPath:
    prefilter: float  # CPU s per suspect
    verify: float
    first_load: float
    load: float
    index_bytes: int
    stored_bytes: int
    candidates: float
    recall: float  # of what the full comparison finds on its own
    false: int
    others: float
    found: dict[int, list[MatchFound]] = field(default_factory=dict)  # suspect number -> its matches


def region_path(store: Store, bank: Bank, suspects: list[RegionSignature], specs: list[tuple[str, int, str]],
                direct: list[int]) -> RegionPath:
    """The pre-filter and the verification of every suspect against the bank, in this process."""
    t = time.process_time()
    keep_region_keys(store, bank.ids)  # keys not kept yet are cut and kept here, once
    _, folder = shared_region_index(store, bank.ids)  # what a scan builds once per state of the bank
    first_load = time.process_time() - t
    t = time.process_time()
    index = RegionIndex.open(folder, store) if folder is not None else RegionIndex.from_store(store, bank.ids)
    index.candidates(suspects[0])
    load = time.process_time() - t
    arrays = sum(a.nbytes for a in (index._keys, index._starts, index._rows))
    stored = store.conn.execute(
        "SELECT sum(length(keys)) FROM region_postings WHERE item_id <= ?", (max(bank.ids),)).fetchone()[0] or 0
    prefilter = verify = 0.0
    candidates = found = false = overlap = 0
    matches: dict[int, list[MatchFound]] = {}
    for k, suspect in enumerate(suspects):
        t = time.process_time()
        shortlist = [int(owner) for owner, _ in index.candidates(suspect)]  # type: ignore[call-overload]
        prefilter += time.process_time() - t
        t = time.process_time()
        blobs = store.region_signatures(shortlist)
        hits = [hit for owner in shortlist
                if (ev := compare_regions(RegionSignature.from_bytes(blobs[owner]), suspect))
                and (hit := _hit(owner, ev))]
        verify += time.process_time() - t
        candidates += len(shortlist)
        owners = {hit.owner for hit in hits}
        matches[k] = [MatchFound(hit.owner, hit.kind, hit.confidence, [hit.evidence]) for hit in hits]
        if specs[k][0] == "edit":
            found += bank.ids[specs[k][1]] in owners and k in direct
            # another mosaic of group A: it may show a window of the same photo region
            overlap += len(owners - {bank.ids[specs[k][1]]})
        else:
            false += len(owners)
    n, edits = len(suspects), sum(spec[0] == "edit" for spec in specs)
    return RegionPath(prefilter / n, verify / n, first_load, load, arrays, stored, candidates / n,
                      found / max(1, len(direct)), false, overlap / max(1, edits), matches)


@dataclass
class Stages:
    decode: float  # CPU s per file
    hashes: float
    signature: float
    sample: list[int]  # the suspect numbers timed
    hashed: list[MediaHashes]


def picture_stages(folder: Path, names: list[str], every: int) -> Stages:
    """Decoding, whole-picture hashes and the region signature of every ``every``-th suspect file,
    on one core: ``hash_bytes`` with and without the region signature, less the decoding."""
    sample = list(range(0, len(names), every))
    decode = plain_decode = plain = full = 0.0
    hashed = []
    for k in sample:
        data = (folder / names[k]).read_bytes()
        t0 = time.process_time()
        open_picture(data, detail_side=WORK_SIDE)  # the decode of a scan with region matching on
        t1 = time.process_time()
        open_picture(data)
        t2 = time.process_time()
        hash_bytes(data)
        t3 = time.process_time()
        hashed.append(hash_bytes(data, on_request=("regions",)))
        t4 = time.process_time()
        decode, plain_decode, plain, full = decode + t1 - t0, plain_decode + t2 - t1, plain + t3 - t2, full + t4 - t3
    n = len(sample)
    return Stages(decode / n, (plain - plain_decode) / n, (full - plain - (decode - plain_decode)) / n, sample, hashed)


def database_stage(store: Store, bank: Bank, folder: Path, names: list[str], stages: Stages,
                   found: dict[int, list[MatchFound]]) -> float:
    """CPU s per file of the scan's recorder writing the sampled files and their matches (in
    batches, one transaction each, as a scan does); the sightings are deleted afterwards."""
    clear_sightings(store)
    recorder = _Recorder(store, bank.cases, bank.owners, keep_unmatched=len(bank.cases) == 1,
                         batch_size=DEFAULT_BATCH)
    cpu = 0.0
    for k, hashes in zip(stages.sample, stages.hashed, strict=True):
        recorder.add(SightingSource(str(folder / names[k])), hashes, None, found.get(k, []))
        if recorder.due or k == stages.sample[-1]:
            t = time.process_time()
            recorder.flush()
            cpu += time.process_time() - t
    clear_sightings(store)
    return cpu / len(stages.sample)


# -- the real scan --------------------------------------------------------------------------

@dataclass
class ScanRun:
    engine: str
    files: int
    errors: int
    wall: float
    first: float  # s until the first results were recorded (workers starting, loading the bank)
    steady: float  # files/s after the first results
    main_cpu: float
    workers_cpu: float
    workers_seen: int
    main_peak: int
    worker_peak: int
    tree_peak: int
    matched: set[tuple[str, int]]
    samples: list[TreeSample]


def real_scan(store: Store, bank: Bank, sources: list[str], options: ScanOptions, *, every: float,
              expected: int | None = None, on_progress: Callable[[int], None] | None = None) -> ScanRun:
    """``scan_cases`` over ``sources`` for every case of the bank, as ``stopncii scan`` runs it,
    with the process tree sampled; the matches are read back from the database."""
    clear_sightings(store)
    files = errors = first_batch = 0
    first: float | None = None
    cpu = time.process_time()
    with TreeSampler(every) as sampler:
        start = time.perf_counter()
        for outcome in scan_cases(store, bank.cases, sources, options):
            files += outcome.page is None
            first = time.perf_counter() - start if first is None else first
            if time.perf_counter() - start - first < 0.05:  # the first batch the recorder wrote
                first_batch = files
            errors += outcome.error is not None
            sampler.done = files
            if files == expected:  # the last file: sampled while the workers still run
                sampler.sample()
            if on_progress is not None:
                on_progress(files)
        wall = time.perf_counter() - start
    steady = (files - first_batch) / (wall - first) if first is not None and wall > first else 0.0
    return ScanRun(options.engine, files, errors, wall, first or wall, steady, time.process_time() - cpu,
                   sampler.workers_cpu, sampler.workers_seen,
                   sampler.main_peak, sampler.worker_peak, sampler.tree_peak, recorded_matches(store),
                   sampler.samples)


def engine_scan(store: Store, bank: Bank, sources: list[str], engine: str, workers: int, every: float,
                **watch: Any) -> ScanRun:
    """The scan with the local engine (``workers`` processes) or on a Dask ``LocalCluster`` of
    ``workers`` worker processes, one thread each."""
    if engine != "dask":
        return real_scan(store, bank, sources, ScanOptions(jobs=workers), every=every, **watch)
    from distributed import LocalCluster

    with LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None) as cluster:
        return real_scan(store, bank, sources, ScanOptions(engine="dask", scheduler=cluster.scheduler_address),
                         every=every, **watch)


# -- streaming: a folder of many small pictures --------------------------------------------

STREAM_CHUNK = 1000  # files a sub-folder
STREAM_COPY_EVERY = 200  # one file in this many is an edit of a protected photo


def stream_picture(k: int) -> tuple[int, bytes]:
    """File ``k`` of the stream: a small window of an unrelated photo (distinct: its own place,
    size and colours), or every ``STREAM_COPY_EVERY``-th an edit of one of the first 100 protected mosaics."""
    if k % STREAM_COPY_EVERY == STREAM_COPY_EVERY - 1:
        copy = k // STREAM_COPY_EVERY
        return k, edit(mosaic("A", copy % 100), EDITS[copy // 100 % len(EDITS)], copy)
    rng = np.random.default_rng([7, k])
    src = _sources["B"][int(rng.integers(len(_sources["B"])))]
    side = int(rng.uniform(0.2, 0.6) * min(src.size))
    x, y = int(rng.integers(0, src.width - side)), int(rng.integers(0, src.height - side))
    window = src.crop((x, y, x + side, y + int(side * rng.uniform(0.6, 1.0)))).resize(
        (int(rng.integers(160, 320)), int(rng.integers(120, 240))), Image.Resampling.BILINEAR)
    gains = rng.uniform(0.8, 1.2, 3)
    window = Image.fromarray(np.clip(np.asarray(window, np.float32) * gains, 0, 255).astype(np.uint8))
    return k, encode(window, quality=int(rng.integers(60, 90)))


def stream_name(k: int) -> str:
    copy = k % STREAM_COPY_EVERY == STREAM_COPY_EVERY - 1
    return f"{k // STREAM_CHUNK:03d}/{k:07d}" + (f"-copy-s{k // STREAM_COPY_EVERY % 100:03d}" if copy else "") + ".jpg"


def make_stream(workdir: Path, count: int, workers: int, testdata: Path) -> list[Path]:
    """Sub-folders of ``STREAM_CHUNK`` files each holding the first ``count`` stream files
    (rounded up to whole sub-folders); those already made are kept."""
    root = workdir / "stream"
    chunks = -(-count // STREAM_CHUNK)
    missing = [k for k in range(chunks * STREAM_CHUNK) if not (root / stream_name(k)).exists()]
    if missing:
        note(f"making {len(missing):,} stream files in {root}")
        for chunk in range(chunks):
            (root / f"{chunk:03d}").mkdir(parents=True, exist_ok=True)
        with Pool(workers, initializer=_init, initargs=(testdata,)) as pool:
            for k, data in pool.imap_unordered(stream_picture, missing, chunksize=64):
                (root / stream_name(k)).write_bytes(data)
    return [root / f"{chunk:03d}" for chunk in range(chunks)]


def stream_check(store: Store, bank: Bank, folders: list[Path], engine: str, workers: int, every: float) -> None:
    count = len(folders) * STREAM_CHUNK

    def progress(done: int) -> None:
        if done % 5000 == 0:
            note(f"stream: {done:,} of {count:,} files")

    run = engine_scan(store, bank, [str(f) for f in folders], engine, workers, every, expected=count,
                      on_progress=progress)
    stream_report(run, count, bank, workers, every)


def stream_report(run: ScanRun, count: int, bank: Bank, workers: int, every: float) -> None:
    samples = [s for s in run.samples if s.done > 0]
    copies = sum(1 for k in range(count) if k % STREAM_COPY_EVERY == STREAM_COPY_EVERY - 1)
    matched_copies = {name for name, _ in run.matched if "-copy-" in name}
    false = {name for name, _ in run.matched if "-copy-" not in name}
    rows = []
    before = TreeSample(0.0, 0, 0, 0)
    for tenth in range(1, 11):
        at = next((s for s in samples if s.done >= tenth * count // 10), samples[-1])
        rate = (at.done - before.done) / max(1e-9, at.seconds - before.seconds)
        rows.append((f"{10 * tenth}%", f"{at.done:,}", f"{at.seconds:.0f}", f"{rate:.1f}",
                     f"{at.tree / 2**20:,.0f}", f"{at.main / 2**20:,.0f}"))
        before = at
    table(f"Streaming: {count:,} files scanned for {len(bank.cases):,} cases ({bank.size:,} protected photos), "
          f"{run.engine} engine, {workers} workers; memory of the whole process tree sampled every {every:g} s",
          ("files done", "files", "elapsed s", "files/s since the row above", "tree RSS MB", "main RSS MB"), rows)
    quarter = max((s.tree for s in samples if s.done <= count // 4), default=samples[0].tree)
    final = samples[-1].tree
    margin = max(64 * 2**20, quarter // 10)
    print(f"\nRSS of the process tree at 10% / 50% / 100% of the files: {rows[0][4]} / {rows[4][4]} / "
          f"{final / 2**20:,.0f} MB; peak {run.tree_peak / 2**20:,.0f} MB. Bounded (final <= first-quarter max "
          f"{quarter / 2**20:,.0f} MB + {margin / 2**20:.0f} MB): {'yes' if final <= quarter + margin else 'NO'}")
    middle = next(s for s in samples if s.done >= count // 2)
    creep = (final - middle.tree) / max(1, samples[-1].done - middle.done) * 1000
    print(f"growth over the second half: {creep / 2**20:+.1f} MB per 1,000 files "
          f"({creep * 100 / 2**20:+,.0f} MB per 100,000 if it went on)")
    print(f"{run.files:,} files in {run.wall:.0f} s: {run.files / run.wall:.1f} files/s; {run.errors} errors; "
          f"copies of protected photos matched: {len(matched_copies)} of {copies}; "
          f"unrelated files matched: {len(false)}; worker processes seen: {run.workers_seen}", flush=True)


# -- the run --------------------------------------------------------------------------------

def mb(size: int) -> str:
    return f"{size / 2**20:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="100,1000,10000", help="bank sizes, comma-separated (up to 100000)")
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/stopncii-scale"))
    parser.add_argument("--workers", type=int, default=2, help="scan workers (local processes, Dask workers)")
    parser.add_argument("--suspects", type=int, default=2 * SUSPECTS_EACH)
    parser.add_argument("--parts", default="region,stages,scan",
                        help="what to measure at each size: region (in-process region path), stages (CPU by stage), "
                             "scan (the real scan)")
    parser.add_argument("--engines", default="local,dask", help="engines of the real scan: local, dask")
    parser.add_argument("--stage-every", type=int, default=20, help="time the stages of every n-th suspect")
    parser.add_argument("--sample-seconds", type=float, default=0.25, help="how often a scan's memory is sampled")
    parser.add_argument("--stream", type=int, default=0, help="scan this many small files for the memory check")
    parser.add_argument("--stream-bank", type=int, default=0,
                        help="bank size of the stream scan (default: the smallest size)")
    parser.add_argument("--stream-engine", default="local", choices=("local", "dask"))
    parser.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata")
    args = parser.parse_args()
    sizes = sorted(int(s) for s in args.sizes.split(",") if s)
    parts, engines = set(args.parts.split(",")), [e for e in args.engines.split(",") if e]
    args.workdir.mkdir(parents=True, exist_ok=True)
    _init(args.testdata)
    print(f"group A: {len(_sources['A'])} photos (the bank), group B: {len(_sources['B'])} photos (unrelated)")
    specs = suspect_specs(args.suspects)
    names = [suspect_name(k, spec) for k, spec in enumerate(specs)]
    half = sum(spec[0] == "edit" for spec in specs)
    t = time.perf_counter()
    folder, made = make_suspects(args.workdir, specs, args.workers, args.testdata)
    suspects = [RegionSignature.from_bytes(blob) for blob, _ in made]
    signature_cpu = statistics.mean(seconds for _, seconds in made)
    print(f"{len(suspects)} suspect files in {folder}, signed in {time.perf_counter() - t:.0f} s "
          f"(region signature incl. decoding: {1000 * signature_cpu:.0f} ms CPU each)")
    if "region" in parts:
        print(knn_check(suspects[:40:2]))
    stages = picture_stages(folder, names, args.stage_every) if "stages" in parts else None
    region_rows: list[tuple[object, ...]] = []
    stage_rows: list[tuple[object, ...]] = []
    scan_rows: list[tuple[object, ...]] = []
    local_rates: dict[int, float] = {}
    direct: list[int] = []
    with Store(args.workdir / "bank.db") as store:
        for size in sizes:
            grow_bank(store, size, args.workers, args.testdata)
            bank = bank_of(store, size)
            note(f"bank of {size:,} protected photos in {len(bank.cases):,} cases")
            if parts & {"region", "stages"}:
                if not direct:  # what the full comparison finds on its own, without the pre-filter
                    truth = store.region_signatures(bank.ids[:100])
                    direct = [k for k in range(half) if (ev := compare_regions(
                        RegionSignature.from_bytes(truth[bank.ids[specs[k][1]]]), suspects[k])) and _hit(0, ev)]
                    print(f"the full comparison alone finds {len(direct) / max(1, half):.1%} of the edited pictures")
                path = region_path(store, bank, suspects, specs, direct)
                per_file = signature_cpu + path.prefilter + path.verify
                region_rows.append((
                    f"{size:,}", f"{1 / per_file:.1f}", f"{1000 * signature_cpu:.0f}", f"{1000 * path.prefilter:.2f}",
                    f"{1000 * path.verify:.1f}", f"{path.first_load:.1f}", f"{path.load:.1f}", f"{peak_mb():.0f}",
                    f"{path.index_bytes / size:,.0f}", f"{path.stored_bytes / size:,.0f}", f"{path.candidates:.2f}",
                    f"{path.recall:.1%}", path.false, f"{path.false / ((len(specs) - half) * size):.1e}",
                    f"{path.others:.3f}"))
                note("region path: " + " | ".join(str(c) for c in region_rows[-1]))
                if stages is not None:
                    database = database_stage(store, bank, folder, names, stages, path.found)
                    cpu = (stages.decode, stages.hashes, stages.signature, path.prefilter, path.verify, database)
                    stage_rows.append((f"{size:,}", *(f"{1000 * c:.1f}" for c in cpu),
                                       f"{1000 * sum(cpu):.0f}", f"{1 / sum(cpu):.1f}"))
                    note("stages: " + " | ".join(str(c) for c in stage_rows[-1]))
            if "scan" in parts:
                local: ScanRun | None = None
                for engine in engines:
                    note(f"scanning {len(specs):,} files for {len(bank.cases):,} cases, {engine} engine")
                    run = engine_scan(store, bank, [str(folder)], engine, args.workers, args.sample_seconds)
                    got = score(run.matched, names, specs, bank)
                    same = "" if local is None else ("yes" if run.matched == local.matched else
                                                     f"NO: {len(run.matched - local.matched)} more, "
                                                     f"{len(local.matched - run.matched)} fewer")
                    if engine == "local":
                        local, local_rates[size] = run, run.steady
                    scan_rows.append((f"{size:,}", f"{len(bank.cases):,}", engine, run.files, run.errors,
                                      f"{run.wall:.0f}", f"{run.files / run.wall:.1f}", f"{run.first:.1f}",
                                      f"{run.steady:.1f}", f"{run.main_cpu:.0f}",
                                      f"{run.workers_cpu:.0f}", run.workers_seen, mb(run.main_peak),
                                      mb(run.worker_peak), mb(run.tree_peak), f"{got.recall:.1%}", got.false,
                                      f"{got.false / got.pairs:.1e}", f"{got.others:.3f}", same))
                    note("scan: " + " | ".join(str(c) for c in scan_rows[-1]))
        if region_rows:
            table(f"Region path in this process, one core ({len(specs):,} suspects, half edits of protected photos)",
                  ("protected photos", "files/s (1 core)", "signature ms", "pre-filter ms", "verification ms",
                   "first load s", "load s", "peak MB", "index B/photo", "stored B/photo", "candidates/suspect",
                   "recall of the pre-filter", "false matches", "per pair", "other group-A matches per edit"),
                  region_rows)
        if stage_rows:
            assert stages is not None
            table(f"CPU by stage, one core, ms per file (decoding, hashes and signature: mean of {len(stages.sample)} "
                  f"suspect files; pre-filter and verification: all {len(specs):,}; database: the scan's recorder "
                  "writing the sampled files' sightings and matches)",
                  ("protected photos", "decode", "whole-picture hashes", "region signature", "pre-filter",
                   "verification", "database", "total ms", "files/s (1 core)"), stage_rows)
        if scan_rows:
            table(f"The real scan: scan_cases over {len(specs):,} suspect files for every case of the bank, "
                  f"{args.workers} workers (local processes, or a Dask LocalCluster of {args.workers} x 1 thread); "
                  "matches as recorded in the database; memory sampled from /proc every "
                  f"{args.sample_seconds:g} s",
                  ("protected photos", "cases", "engine", "files", "errors", "wall s", "files/s", "first results s",
                   "files/s after them", "main CPU s",
                   "workers CPU s", "worker processes seen",
                   "main peak MB", "largest worker peak MB", "tree peak MB", "recall", "false matches",
                   "per pair", "other group-A matches per edit", "same matches as local"), scan_rows)
        if local_rates:
            size = max(local_rates)
            rate = local_rates[size]
            hours = PROJECTED_FILES / rate / 3600
            print(f"\nprojected from the real scan: {PROJECTED_FILES:,} suspects against {size:,} protected photos"
                  f"{'' if size >= PROJECTED_BANK else f' (the target bank is {PROJECTED_BANK:,})'} on "
                  f"{args.workers} workers: {hours:.1f} h at {rate:.1f} files/s, the local scan's rate after its "
                  f"first results (the target: under 1 h, at least {PROJECTED_FILES / 3600:.0f} files/s)")
        if args.stream:
            bank_size = args.stream_bank or (sizes[0] if sizes else 100)
            grow_bank(store, bank_size, args.workers, args.testdata)
            folders = make_stream(args.workdir, args.stream, args.workers, args.testdata)
            stream_check(store, bank_of(store, bank_size), folders, args.stream_engine, args.workers,
                         max(args.sample_seconds, 2.0))


if __name__ == "__main__":
    main()
