"""Benchmark: memory of a scan's bank (issue 17): the region index build and each worker, per protected photo.

On a copy of a case database (e.g. ``sqlite3 bench/bank.db ".backup /tmp/bank.db"``), each
measurement runs in a fresh process and prints its peak resident memory:

- ``build``: what a scan's main process does before its workers start: the bank's fingerprint
  and its region index built into the cache folder (``BankSource.of``), with an empty cache;
- ``build, one sort``: the same index built the way every scan built it before (all (key, photo)
  pairs sorted at once, ``RegionIndex.from_store``);
- ``worker``: a worker serving the bank (the whole-picture hashes, the shared memory-mapped
  index, the database open for candidates' signatures) after checking ``--suspects`` items;
- ``worker, all signatures``: a worker holding every region signature, as before.

The keys of photos that have none stored are cut first (once, as a scan's first run does).

    .venv/bin/python benchmarks/engine_memory.py /tmp/bank.db [--suspects 50]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from stopncii_tools.store import Store  # noqa: E402

MB = 1 << 20


def _status() -> dict[str, int]:
    """This process's memory lines from /proc (bytes): VmHWM (peak), VmRSS, RssAnon, RssFile."""
    found = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
            found[name] = int(value.split()[0]) * 1024
    return found


def _bank(db: str) -> tuple[list[str], list[int]]:
    with Store(db, read_only=True) as store:
        cases = [case.id for case in store.list_cases()]
        items = [item.id for case in cases for item in store.protected_items(case)]
    return cases, items


def measure(kind: str, db: str, suspects: int) -> dict[str, object]:
    cases, items = _bank(db)
    started = time.perf_counter()
    if kind == "build":
        from stopncii_tools.matching.pipeline import BankSource

        with Store(db, read_only=True) as store:
            bank = BankSource.of(store, cases, items)
        folder = Path(str(bank.region_index))
        extra = {"index_bytes": sum(f.stat().st_size for f in folder.iterdir())}
    elif kind == "build, one sort":
        from stopncii_tools.signals.region_index import RegionIndex

        with Store(db, read_only=True) as store:
            RegionIndex.from_store(store, items)._merge()
        extra = {}
    else:
        from stopncii_tools.matching.case import CaseMatcher
        from stopncii_tools.signals import SignalValue
        from stopncii_tools.signals.region_index import RegionSignalIndex

        store = Store(db, read_only=True)
        if kind == "worker":
            from stopncii_tools.matching.pipeline import BankSource

            with Store(db, read_only=True) as building:
                bank = BankSource.of(building, cases, items)  # found in the cache the build left
            matcher = bank.load(store)
        else:
            rows = [row for case in cases for row in store.protected_signals(case)]
            matcher = CaseMatcher(row for row in rows if row.signal != "regions")
            regions = {row.owner_id: row.value for row in rows if row.signal == "regions" and row.variant == 0}
            matcher._indexes["regions"] = RegionSignalIndex.from_store(store, sorted(regions), regions)  # type: ignore[arg-type]
            del rows
        loaded = time.perf_counter() - started
        values = store.region_signatures(items[:: max(1, len(items) // suspects)][:suspects])
        found = sum(bool(matcher.match({"regions": SignalValue("regions", value)})) for value in values.values())
        extra = {"load_seconds": loaded, "matched": f"{found} of {len(values)}"}
    return {"kind": kind, "seconds": time.perf_counter() - started, "photos": len(items), **_status(), **extra}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("db")
    parser.add_argument("--suspects", type=int, default=50)
    parser.add_argument("--measure", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(args.measure, args.db, args.suspects)))
        return
    from stopncii_tools.signals.region_index import keep_region_keys

    with Store(args.db) as store:
        started = time.perf_counter()
        cut = keep_region_keys(store, _bank(args.db)[1])
        print(f"keys cut and stored for {cut} photos in {time.perf_counter() - started:.0f} s", flush=True)
    home = tempfile.mkdtemp(prefix="engine-memory-")  # an empty cache: the build is measured, not found
    print("| measured | photos | s | peak MB | resident MB (anonymous + file) | peak bytes / photo | notes |")
    print("|---|---|---|---|---|---|---|")
    for kind in ("build", "build, one sort", "worker", "worker, all signatures"):
        done = subprocess.run([sys.executable, __file__, args.db, "--suspects", str(args.suspects), "--measure", kind],
                              capture_output=True, text=True, env={**os.environ, "STOPNCII_HOME": home}, check=True)
        r = json.loads(done.stdout)
        notes = ", ".join(f"{k} {v / MB:.0f} MB" if k.endswith("bytes") else f"{k} {v}"
                          for k, v in r.items() if k in ("index_bytes", "matched", "load_seconds"))
        print(f"| {r['kind']} | {r['photos']:,} | {r['seconds']:.1f} | {r['VmHWM'] / MB:,.0f} | "
              f"{r['VmRSS'] / MB:,.0f} ({r['RssAnon'] / MB:,.0f} + {r['RssFile'] / MB:,.0f}) | "
              f"{r['VmHWM'] / r['photos']:,.0f} | {notes} |", flush=True)
    print(f"(peak of this process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB)")


if __name__ == "__main__":
    main()
