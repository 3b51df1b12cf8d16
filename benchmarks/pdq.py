"""PDQ backends: the numpy PDQ (always there) against ``pdqhash`` (the compiled "fast" extra).

Times one PDQ hash (``compute``) and the 8 rotations and mirror images (``compute_dihedral``)
from RGB pixels already in memory, per picture, on one core (CPU seconds of this process; the
backends take turns, so a busy neighbour slows both alike):

- a 12 MP phone photo (4032 x 3024): a full-resolution video frame or photo hashed as it is;
- a 1920 px frame: the largest size video frames are hashed at;
- a 512 px picture: what hashing uses for every photo (pictures are decoded to at most 512 px).

The 12 MP picture is ``../shared/testdata/pdq/exif-rotation/exif-rotn-1.jpg`` when that folder
is beside the project, else a generated scene. The last column counts the bits where the two
backends differ, over the hash and all 8 variants (0 = bit for bit the same).

    python benchmarks/pdq.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from stopncii_tools.signals import pdq_numpy
from stopncii_tools.signals._examples import scene
from stopncii_tools.signals.pdq import BACKENDS

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"
SHARED_PHOTO = SHARED / "pdq" / "exif-rotation" / "exif-rotn-1.jpg"
PHONE = (4032, 3024)


def pictures() -> dict[str, np.ndarray]:
    if SHARED_PHOTO.exists():
        with Image.open(SHARED_PHOTO) as photo:
            full = photo.convert("RGB")
        source = "photo"
    else:
        full = scene(5).resize(PHONE)
        source = "generated"
    frame = full.resize((1920, 1440))
    small = full.copy()
    small.thumbnail((512, 512))
    return {f"12 MP {source} {full.width}x{full.height}": np.asarray(full),
            f"video frame {frame.width}x{frame.height}": np.asarray(frame),
            f"512 px {small.width}x{small.height}": np.asarray(small)}


def cpu_seconds(run: Callable[[np.ndarray], Any], rgb: np.ndarray, repeat: int) -> float:
    """Median CPU time of ``repeat`` runs of ``run(rgb)``."""
    times = []
    for _ in range(repeat):
        start = time.process_time()
        run(rgb)
        times.append(time.process_time() - start)
    return statistics.median(times)


def differing_bits(rgb: np.ndarray) -> int | None:
    if "pdqhash" not in BACKENDS:
        return None
    reference = BACKENDS["pdqhash"]
    ours, ref = pdq_numpy.compute(rgb)[0], reference.compute(rgb)[0]
    variants, ref_variants = pdq_numpy.compute_dihedral(rgb)[0], reference.compute_dihedral(rgb)[0]
    return int((np.asarray(ours) != np.asarray(ref)).sum()) + sum(
        int((np.asarray(a) != np.asarray(b)).sum()) for a, b in zip(variants, ref_variants, strict=True))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeat", type=int, default=5, help="runs per measurement (the median is shown)")
    args = parser.parse_args()
    if "pdqhash" not in BACKENDS:
        print("pdqhash is not installed (pip install 'stopncii-tools[fast]'): numpy only.\n")
    names = sorted(BACKENDS)
    header = f"{'picture':<28} {'what':<18}" + "".join(f"{name + ' ms':>12}" for name in names)
    print(header + f"{'numpy/pdqhash':>15}{'bits differing':>16}")
    for label, rgb in pictures().items():
        differing = differing_bits(rgb)
        for what in ("compute", "compute_dihedral"):
            ms = {name: 1000 * cpu_seconds(getattr(BACKENDS[name], what), rgb, args.repeat) for name in names}
            ratio = f"{ms['numpy'] / ms['pdqhash']:.2f}x" if "pdqhash" in ms else "-"
            bits = "-" if differing is None else str(differing)
            print(f"{label:<28} {what:<18}" + "".join(f"{ms[n]:>12.1f}" for n in names) + f"{ratio:>15}{bits:>16}")


if __name__ == "__main__":
    main()
