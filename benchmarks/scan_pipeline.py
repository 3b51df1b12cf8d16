"""Benchmark: the scan pipeline (issue 17): files/s, main against worker CPU, memory, local against Dask.

A folder of generated suspect pictures (half edits of protected photos, half unrelated) is
scanned for every open case with ``scan_cases``: with ``-j 1`` and ``-j 2`` worker processes,
and on a Dask ``LocalCluster`` of two worker processes (when ``distributed`` is installed).
Each run counts files/s, CPU of the main process and of the workers, the main process's peak
memory, and the matches found (the same for every engine, or the script says so).

Then the memory check: a larger folder is scanned with ``-j 2`` while the main process's
resident memory is sampled; it must stay flat (growth from the first tenth of the files to
the end within ``--rss-bound-mb``), or the script exits 1.

    .venv/bin/python benchmarks/scan_pipeline.py [--suspects 400] [--protected 20] [--large 3000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stopncii_tools.media.samples import EDITS  # noqa: E402
from stopncii_tools.signals._examples import encode, scene  # noqa: E402
from stopncii_tools.store import Store  # noqa: E402
from stopncii_tools.workflow.protect import protect_paths  # noqa: E402
from stopncii_tools.workflow.scan import ScanOptions, scan_cases  # noqa: E402

SIZE = (480, 360)
CASES = 4


@dataclass
class Row:
    engine: str
    files: int
    seconds: float
    main_cpu: float
    worker_cpu: float
    peak_rss_mb: float
    matches: int

    def cells(self) -> list[str]:
        return [self.engine, str(self.files), f"{self.seconds:.1f}", f"{self.files / self.seconds:.1f}",
                f"{self.main_cpu:.1f}", f"{self.worker_cpu:.1f}", f"{self.peak_rss_mb:.0f}", str(self.matches)]


def make_bank(root: Path, protected: int) -> tuple[Path, list]:
    """A database with ``CASES`` open cases sharing ``protected`` photos between them."""
    db = root / "cases.db"
    photos = []
    with Store(db) as store:
        for n in range(CASES):
            folder = root / f"mine{n}"
            folder.mkdir()
            for seed in range(n, protected, CASES):
                img = scene(1000 + seed, SIZE)
                (folder / f"p{seed}.jpg").write_bytes(encode(img, quality=92))
                photos.append(img)
            list(protect_paths(store, store.create_case(f"Case {n}", "US"), [folder], jobs=2))
    return db, photos


def make_suspects(folder: Path, photos: list, count: int, start: int = 0) -> None:
    """``count`` suspects: every other one an edit of a protected photo, the rest unrelated."""
    folder.mkdir(parents=True, exist_ok=True)
    edits = list(EDITS.values())
    rng = random.Random(start)
    for n in range(start, start + count):
        img = rng.choice(edits)(rng.choice(photos)) if n % 2 == 0 else scene(50_000 + n, SIZE)
        (folder / f"s{n:06d}.jpg").write_bytes(encode(img, quality=80))


def _rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def scan(db: Path, folder: Path, options: ScanOptions, samples: list[float] | None = None) -> tuple[Row, set]:
    before_self = resource.getrusage(resource.RUSAGE_SELF)
    before_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    peak = _rss_mb()
    found: set[tuple[str, str, int]] = set()
    files = 0
    started = time.perf_counter()
    with Store(db) as store:
        for outcome in scan_cases(store, store.list_cases("open"), [str(folder)], options):
            files += 1
            found.update((m.case_id, outcome.source, m.item_id) for m in outcome.matches)
            if files % 100 == 0:
                peak = max(peak, _rss_mb())
                if samples is not None:
                    samples.append(_rss_mb())
    seconds = time.perf_counter() - started
    after_self = resource.getrusage(resource.RUSAGE_SELF)
    after_children = resource.getrusage(resource.RUSAGE_CHILDREN)
    main = after_self.ru_utime + after_self.ru_stime - before_self.ru_utime - before_self.ru_stime
    workers = (after_children.ru_utime + after_children.ru_stime
               - before_children.ru_utime - before_children.ru_stime)
    label = options.engine if options.engine != "local" else f"local -j {options.jobs}"
    return Row(label, files, seconds, main, workers, max(peak, _rss_mb()), len(found)), found


def fresh(db: Path, to: Path) -> Path:
    """A copy of the bank with nothing scanned yet, so each run does the same work."""
    import shutil

    to.mkdir()
    shutil.copy(db, to / "cases.db")
    return to / "cases.db"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--suspects", type=int, default=400, help="files in the folder timed by each engine")
    parser.add_argument("--protected", type=int, default=20, help="protected photos over all cases")
    parser.add_argument("--large", type=int, default=3000, help="files in the folder of the memory check (0: skip)")
    parser.add_argument("--rss-bound-mb", type=float, default=64.0, help="allowed growth of the main process")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="stopncii-scan-bench-") as tmp:
        root = Path(tmp)
        db, photos = make_bank(root, args.protected)
        make_suspects(root / "suspects", photos, args.suspects)
        rows: list[Row] = []
        results: dict[str, set] = {}
        for jobs in (1, 2):
            row, found = scan(fresh(db, root / f"j{jobs}"), root / "suspects", ScanOptions(jobs=jobs))
            rows.append(row)
            results[row.engine] = found
        try:
            from distributed import LocalCluster
        except ImportError:
            print("distributed is not installed: no Dask run (pip install 'stopncii-tools[cluster]')")
        else:
            with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
                options = ScanOptions(engine="dask", scheduler=cluster.scheduler_address)
                row, found = scan(fresh(db, root / "dask"), root / "suspects", options)
            row.engine = "dask LocalCluster (2 workers)"
            row.worker_cpu = float("nan")  # the cluster's processes are counted when they end, after the run
            rows.append(row)
            results[row.engine] = found
        print(f"{args.suspects} suspects (half edits), {args.protected} protected photos in {CASES} cases, "
              f"{os.cpu_count()} cores\n")
        header = ["engine", "files", "wall s", "files/s", "main CPU s", "worker CPU s", "peak RSS MB", "matches"]
        print("| " + " | ".join(header) + " |")
        print("|" + "---|" * len(header))
        for row in rows:
            print("| " + " | ".join(row.cells()) + " |")
        same = len({frozenset(found) for found in results.values()}) == 1
        print(f"\nsame matches from every engine: {'yes' if same else 'NO'}")

        if args.large:
            make_suspects(root / "large", photos, args.large, start=args.suspects)
            samples: list[float] = []
            row, _ = scan(fresh(db, root / "large-db"), root / "large", ScanOptions(jobs=2), samples)
            early = samples[max(0, len(samples) // 10 - 1)] if samples else 0.0
            growth = (samples[-1] if samples else 0.0) - early
            verdict = "flat" if growth <= args.rss_bound_mb else "NOT FLAT"
            print(f"\nmemory check: {row.files} files at {row.files / row.seconds:.1f} files/s; main process "
                  f"{early:.0f} MB after the first tenth, {samples[-1] if samples else 0:.0f} MB at the end "
                  f"(growth {growth:+.0f} MB, bound {args.rss_bound_mb:.0f} MB): {verdict}")
            if growth > args.rss_bound_mb:
                return 1
        return 0 if same else 1


if __name__ == "__main__":
    sys.exit(main())
