"""The picture as its file stores it: how close our PDQ lands to a platform's, and what it costs.

A platform's hasher (HMA, python-threatexchange's ``PdqSignal``) hashes every pixel of the file
as stored: no EXIF rotation, transparent pixels as they are. ``open_picture(as_stored=True)``
reproduces that reading from its own reduced decode. For each picture this prints the bits
between python-threatexchange's hash and ours at several decode sizes (a JPEG decoded with DCT
scaling, other formats reduced by a whole factor), and the CPU time of that PDQ, then the extra
CPU time ``open_picture`` + ``PDQ.as_stored`` add per picture at the chosen size.

The pictures: generated 12-megapixel photos with EXIF orientation 6 and cut-outs with
transparent areas, and, when ``../shared/testdata`` is beside the project, its real phone
photos with EXIF orientations 3, 6 and 8 and its RGBA and palette PNGs.

    python benchmarks/stored_view.py [--count 3]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw
from threatexchange.signal_type.pdq.pdq_hasher import pdq_from_bytes

from stopncii_tools.media.pictures import as_platforms_read, open_picture
from stopncii_tools.signals._examples import scene
from stopncii_tools.signals.pdq import PDQ

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "pdq"
PHONE = (4032, 3024)
JPEG_SIDES = (504, 1008, 2016, 4032)  # DCT scaling 1/8, 1/4, 1/2 and full size of a 12 MP photo
REDUCTIONS = (4, 3, 2, 1)


def rotated_jpeg(seed: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    buf = io.BytesIO()
    scene(seed, PHONE).save(buf, "JPEG", quality=90, exif=exif)
    return buf.getvalue()


def cutout_png(seed: int) -> bytes:
    rgba = np.array(scene(seed, PHONE).convert("RGBA"))
    mask = Image.new("L", PHONE, 0)
    ImageDraw.Draw(mask).ellipse((800, 300, 3200, 2900), fill=255)
    rgba[..., 3] = np.asarray(mask)
    rgba[np.asarray(mask) == 0, :3] = 0  # editors often keep black under the transparent area
    buf = io.BytesIO()
    Image.fromarray(rgba, "RGBA").save(buf, "PNG")
    return buf.getvalue()


def cpu(run: Callable[[], object]) -> tuple[object, float]:
    start = time.process_time()
    result = run()
    return result, time.process_time() - start


def bits_apart(a: str, b: str) -> int:
    return (int(a, 16) ^ int(b, 16)).bit_count()


def readings(data: bytes) -> list[tuple[str, int, float]]:
    """(decode size, bits from the platform's hash, ms of our PDQ) at each size we could pick."""
    platform, _ = pdq_from_bytes(data)
    rows = []
    is_jpeg = data[:3] == b"\xff\xd8\xff"
    for step in JPEG_SIDES if is_jpeg else REDUCTIONS:
        img = Image.open(io.BytesIO(data))
        if is_jpeg:
            img.draft(img.mode, (step, step * 3 // 4))
            step = 1
        img.load()
        view = as_platforms_read(img)
        assert view is not None
        view = view.reduce(step) if step > 1 else view
        value, seconds = cpu(lambda v=view: PDQ().of_pixels(np.asarray(v)).text())
        rows.append((f"{max(view.size)} px", bits_apart(platform, str(value)), seconds * 1000))
    return rows


def extra_cost(data: bytes) -> float:
    """Milliseconds of CPU the stored view adds to decoding and hashing one picture."""
    _, plain = cpu(lambda: PDQ().of_pixels(np.asarray(open_picture(data, detail_side=640).image)))

    def with_stored() -> object:
        picture = open_picture(data, detail_side=640, as_stored=True)
        upright = PDQ().of_pixels(np.asarray(picture.image))
        return PDQ().as_stored(picture, upright)

    _, both = cpu(with_stored)
    return (both - plain) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=3, help="generated pictures of each kind")
    args = parser.parse_args()
    pictures = [(f"generated EXIF-6 JPEG {i}", rotated_jpeg(500 + i)) for i in range(args.count)]
    pictures += [(f"generated RGBA cut-out {i}", cutout_png(600 + i)) for i in range(args.count)]
    if SHARED.is_dir():
        for name in ("exif-rotation/exif-rotn-3.jpg", "exif-rotation/exif-rotn-6.jpg",
                     "exif-rotation/exif-rotn-8.jpg", "modes/RGBA.png", "modes/P.png", "natural/pen-and-coaster.png"):
            pictures.append((name, (SHARED / name).read_bytes()))
    print(f"{'picture':<34} {'decode size: bits from pytx, ms of PDQ':<80} {'added ms':>9}")
    added = []
    for name, data in pictures:
        cells = "  ".join(f"{size}: {bits:>2}b {ms:>5.0f}ms" for size, bits, ms in readings(data))
        extra = extra_cost(data)
        added.append(extra)
        print(f"{name:<34} {cells:<80} {extra:>9.0f}")
    print(f"\nchosen: the smallest JPEG decode or whole-factor reduction at least 1024 px long; "
          f"median added CPU per picture {statistics.median(added):.0f} ms")


if __name__ == "__main__":
    main()
