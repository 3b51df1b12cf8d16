"""Benchmark: calibrate the region pre-filter's cut-off on benchmarks/derivatives.py's pictures.

For every test picture (edits of the protected photos, and distractors made from other photos,
textures, faces and generated scenes) it computes the pre-filter's vote for every photo of a
bank (the protected photos plus every distractor not made from one, posing as protected), and
prints: the votes of true matches (the pairs the full comparison confirms), the votes of the
k-th best unrelated photo, and the pre-filter's recall and candidates per picture at the
cut-off in use (``CHANCE_FACTOR`` times the ``CHANCE_RANK``-th best vote, at least ``MIN_VOTES``,
in ``stopncii_tools.signals.region_index``); votes are also shown as multiples of that chance level.

    .venv/bin/python benchmarks/prefilter.py [--quick] [--cache FILE]
"""

from __future__ import annotations

import argparse
import pickle
import sys
import time
from multiprocessing import Pool
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks import derivatives  # noqa: E402
from benchmarks.derivatives import (  # noqa: E402
    Item,
    distractor_items,
    encode,
    load_photos,
    positive_items,
    related,
)
from stopncii_tools.signals import region_index  # noqa: E402
from stopncii_tools.signals.region_index import (  # noqa: E402
    CHANCE_FACTOR,
    CHANCE_RANK,
    MIN_VOTES,
    RegionIndex,
    chance_vote,
)
from stopncii_tools.signals.regions import RegionSignature, compare_regions, compute_region_signature  # noqa: E402


def _signature(data: bytes) -> bytes:
    return compute_region_signature(data).to_bytes()


def _verified(args: tuple[bytes, bytes]) -> bool:
    return compare_regions(RegionSignature.from_bytes(args[0]), RegionSignature.from_bytes(args[1])) is not None


def _same_source(owner: str, item: Item) -> bool:
    """Whether bank photo ``owner`` and ``item`` come from one picture (windows of one texture)."""
    name = owner.removeprefix("filler: ")
    return related(name, item) or name.split(" window ")[0] == item.name.split(" window ")[0]


def _percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a small distractor set")
    parser.add_argument("--cache", type=Path, help="keep the computed signatures in this file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--testdata", type=Path, default=ROOT.parent / "shared" / "testdata",
                        help="the shared test data folder (its natural photos join the bank)")
    parser.add_argument("--tables", type=int, default=region_index.KEY_TABLES_USED,
                        help="how many of the 12 key tables the pre-filter uses")
    args = parser.parse_args()
    derivatives.SHARED_PDQ = args.testdata / "pdq"
    region_index.KEY_TABLES_USED = args.tables  # type: ignore[misc]
    if args.cache and args.cache.exists():
        photos_sig, items = pickle.loads(args.cache.read_bytes())
    else:
        photos = load_photos()
        made = positive_items(photos) + distractor_items(photos, 8 if args.quick else 40, 100 if args.quick else 800)
        with Pool(args.workers) as pool:
            prot = pool.map(_signature, [encode(p.image, "PNG") for p in photos])
            sus = pool.map(_signature, [i.data for i in made], chunksize=8)
        photos_sig = [(p.name, blob) for p, blob in zip(photos, prot, strict=True)]
        items = [(i, blob) for i, blob in zip(made, sus, strict=True)]
        if args.cache:
            args.cache.write_bytes(pickle.dumps((photos_sig, items)))
    index = RegionIndex()
    for name, blob in photos_sig:
        index.add(name, RegionSignature.from_bytes(blob))
    for item, blob in items:
        if item.origin is None:
            index.add(f"filler: {item.name}", RegionSignature.from_bytes(blob))
    pairs = [(blob, sblob) for name, blob in photos_sig for item, sblob in items if related(name, item)]
    with Pool(args.workers) as pool:
        verified = pool.map(_verified, pairs, chunksize=16)
    truth = {}
    k = 0
    for name, _ in photos_sig:
        for item, _ in items:
            if related(name, item):
                truth[(name, item.name)] = verified[k]
                k += 1
    grid = {(factor, limit): [0, 0] for factor in (1.0, 1.25, 1.5, 2.0) for limit in (2, 4, 8)}  # missed, shortlisted
    true_votes: list[float] = []
    true_ratio: list[float] = []
    unrelated_ratio: list[float] = []
    kth: dict[int, list[float]] = {1: [], 2: [], 8: []}
    missed: list[tuple[str, float]] = []
    shortlisted = 0
    seconds = 0.0
    for item, blob in items:
        sig = RegionSignature.from_bytes(blob)
        start = time.perf_counter()
        votes = index.votes(sig)
        seconds += time.perf_counter() - start
        shortlist = {owner for owner, _ in index.candidates(sig)}
        shortlisted += len(shortlist)
        unrelated = sorted((v for owner, v in votes.items() if not _same_source(str(owner), item)), reverse=True)
        for rank, values in kth.items():
            values.append(unrelated[rank - 1] if len(unrelated) >= rank else 0.0)
        chance = max(chance_vote(np.array([*votes.values(), *[0.0] * (len(index) - len(votes))])), 1e-9)
        unrelated_ratio.append(unrelated[0] / chance if unrelated else 0.0)
        ranked = sorted(votes.items(), key=lambda kv: -kv[1])
        for (factor, limit), cell in grid.items():
            kept = {owner for owner, v in ranked[:limit] if v >= max(MIN_VOTES, factor * chance)}
            cell[1] += len(kept)
            cell[0] += sum(1 for name, _ in photos_sig if truth.get((name, item.name)) and name not in kept)
        for name, _ in photos_sig:
            if truth.get((name, item.name)):
                true_votes.append(votes.get(name, 0.0))
                true_ratio.append(votes.get(name, 0.0) / chance)
                if name not in shortlist:
                    missed.append((item.name, votes.get(name, 0.0)))
    print(f"{region_index.KEY_TABLES_USED} key tables: bank: {len(index)} photos; {len(items)} test pictures; "
          f"{len(true_votes)} verified true pairs")
    print("| votes | min | 1% | 5% | median | 99% | max |")
    print("|---|---|---|---|---|---|---|")
    rows = [("true matches", true_votes)] + [(f"{rank}. best unrelated", values) for rank, values in kth.items()]
    rows += [(f"true match / {CHANCE_RANK}. best", true_ratio),
             (f"best unrelated / {CHANCE_RANK}. best", unrelated_ratio)]
    for label, values in rows:
        cells = " | ".join(f"{_percentile(values, q):.1f}" for q in (0, 1, 5, 50, 99, 100))
        print(f"| {label} | {cells} |")
    recall = 1 - len(missed) / max(1, len(true_votes))
    print(f"cut-off {CHANCE_FACTOR} x the {CHANCE_RANK}. best, at least {MIN_VOTES}: "
          f"pre-filter recall {recall:.2%} of verified matches; "
          f"{shortlisted / len(items):.2f} candidates per picture; {1000 * seconds / len(items):.2f} ms per picture")
    print("| chance factor | " + " | ".join(f"top {limit}: recall, candidates" for limit in (2, 4, 8)) + " |")
    print("|---|---|---|---|")
    for factor in (1.0, 1.25, 1.5, 2.0):
        cells = [grid[(factor, limit)] for limit in (2, 4, 8)]
        text = " | ".join(f"{1 - m / len(true_votes):.2%}, {c / len(items):.2f}" for m, c in cells)
        print(f"| {factor} | {text} |")
    for name, vote in missed:
        print(f"  missed: {name} (votes {vote:.1f})")


if __name__ == "__main__":
    main()
