"""Measure match thresholds for pHash, dHash, wHash and the colour hash (and check PDQ's 31).

Builds a set of originals (real photos from ``../shared/testdata`` and scikit-image when they
are there, plus generated scenes), makes 16 everyday edits of each (re-compression, resizing,
a small crop, brightness and contrast, a small watermark, blur, sharpening, grayscale), hashes
everything with ``stopncii_tools.signals.hashing.hash_bytes`` exactly as the tool does, and compares:

- same pairs: each original against each of its own edits;
- different pairs: each original against every picture (original or edit) of every other
  original, the way a protected picture is compared with suspects.

For each signal it prints the distance percentiles of both, the largest threshold with at most
one false match per 10,000 different pairs, the recall per edit kind at that threshold and at
the threshold used (the signal's own, or one given with ``--threshold``), a sweep of
thresholds, and what combining signals gives.

    python benchmarks/thresholds.py [--scenes 100] [--rate 1e-4] [--threshold whash=8] [--closest 40]
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageFont, ImageOps

from stopncii_tools.signals import HASHES
from stopncii_tools.signals._examples import encode, scene
from stopncii_tools.signals.hashing import hash_bytes

SHARED_PDQ = Path(__file__).resolve().parents[1].parent / "shared" / "testdata" / "pdq"
SHARED_PHOTOS = (
    "natural/*",
    "bridge-mods/aaa-orig.jpg",
    "modes/original.jpg",
    "dihedral/bridge-1-original.jpg",
    "exif-rotation/exif-rotn-1.jpg",
)
# scikit-image's bundled photographs; drawings (color.png is a colour wheel) are left out, and so
# is motorcycle_right.png: it is motorcycle_left.png seen from a few centimetres away
SKIMAGE_PHOTOS = (
    "astronaut.png", "brick.png", "camera.png", "cell.png", "chelsea.png", "clock_motion.png",
    "coffee.png", "coins.png", "grass.png", "gravel.png", "hubble_deep_field.jpg",
    "ihc.png", "microaneurysms.png", "moon.png", "motorcycle_left.png",
    "page.png", "retina.jpg", "rocket.jpg", "text.png",
)
SIGNAL_NAMES = ("pdq", "phash", "dhash", "whash", "colorhash")
EDIT_QUALITY = 90  # every edit is saved the way a platform re-encodes an upload
SAME_GROUP_PDQ = 31  # originals this close are one picture (the bridge appears twice)


@dataclass(frozen=True)
class Original:
    name: str
    real: bool
    data: bytes


@dataclass(frozen=True)
class Hashed:
    """The hashes of one picture: which original it comes from and which edit it is."""

    group: int
    source: str
    edit: str
    values: dict[str, int]


# --- the pictures ------------------------------------------------------------------------------


def originals(scene_count: int) -> list[Original]:
    found: list[Original] = []
    if SHARED_PDQ.is_dir():
        for pattern in SHARED_PHOTOS:
            for path in sorted(SHARED_PDQ.glob(pattern)):
                found.append(Original(f"shared/{path.parent.name}/{path.name}", True, path.read_bytes()))
    else:
        print("../shared/testdata not found: no shared photos", file=sys.stderr)
    try:
        import skimage

        folder = Path(skimage.__file__).parent / "data"
        for name in SKIMAGE_PHOTOS:
            if (folder / name).exists():
                found.append(Original(f"skimage/{name}", True, (folder / name).read_bytes()))
    except ImportError:
        print("scikit-image not installed: no scikit-image photos", file=sys.stderr)
    for seed in range(scene_count):
        size = (640, 480) if seed % 2 else (1024, 768)
        found.append(Original(f"scene/{seed}", False, encode(scene(10_000 + seed, size), quality=95)))
    return found


def _upright(data: bytes) -> Image.Image:
    img = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))
    if img.mode in ("RGBA", "LA", "P", "PA"):
        img = img.convert("RGBA")
        backdrop = Image.new("RGBA", img.size, (255, 255, 255, 255))
        return Image.alpha_composite(backdrop, img).convert("RGB")
    return img.convert("RGB")


def _jpeg(img: Image.Image, quality: int = EDIT_QUALITY) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def _scaled(img: Image.Image, factor: float) -> Image.Image:
    size = (max(1, round(img.width * factor)), max(1, round(img.height * factor)))
    return img.resize(size, Image.Resampling.LANCZOS)


def _crop(img: Image.Image, share: float) -> Image.Image:
    dx, dy = round(img.width * share), round(img.height * share)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


def _watermark(img: Image.Image) -> Image.Image:
    """A small semi-transparent handle in a corner, like a bot or a channel stamps on."""
    layer = Image.new("RGBA", img.size, (0, 0, 0, 0))
    font = ImageFont.load_default(size=max(8, img.height // 22))
    draw = ImageDraw.Draw(layer)
    text = "t.me/some_channel"
    left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
    at = (img.width - (right - left) - img.width // 40, img.height - (bottom - top) - img.height // 30)
    draw.text(at, text, font=font, fill=(255, 255, 255, 170), stroke_width=1, stroke_fill=(0, 0, 0, 120))
    return Image.alpha_composite(img.convert("RGBA"), layer).convert("RGB")


EDITS: dict[str, Callable[[Image.Image], bytes]] = {
    "jpeg q90": lambda im: _jpeg(im, 90),
    "jpeg q70": lambda im: _jpeg(im, 70),
    "jpeg q50": lambda im: _jpeg(im, 50),
    "resize 50%": lambda im: _jpeg(_scaled(im, 0.5)),
    "resize 25%": lambda im: _jpeg(_scaled(im, 0.25)),
    "crop 2% each edge": lambda im: _jpeg(_crop(im, 0.02)),
    "brightness +15%": lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(1.15)),
    "brightness -15%": lambda im: _jpeg(ImageEnhance.Brightness(im).enhance(0.85)),
    "contrast +15%": lambda im: _jpeg(ImageEnhance.Contrast(im).enhance(1.15)),
    "contrast -15%": lambda im: _jpeg(ImageEnhance.Contrast(im).enhance(0.85)),
    "watermark text": lambda im: _jpeg(_watermark(im)),
    "blur": lambda im: _jpeg(im.filter(ImageFilter.GaussianBlur(max(1.0, max(im.size) / 500)))),
    "sharpen": lambda im: _jpeg(im.filter(ImageFilter.UnsharpMask(radius=2, percent=150, threshold=3))),
    "grayscale": lambda im: _jpeg(im.convert("L")),
    "mirror (no dihedral)": lambda im: _jpeg(ImageOps.mirror(im)),
    "rotate 3 degrees": lambda im: _jpeg(im.rotate(3, Image.Resampling.BICUBIC, expand=False, fillcolor=(0, 0, 0))),
}
# edits a signal is not meant to survive: shown, but left out of the recall the threshold aims at
HARD_EDITS = ("mirror (no dihedral)", "rotate 3 degrees")


def _hashes(data: bytes) -> dict[str, int]:
    signals = hash_bytes(data).signals
    return {name: int(signals[name].value, 16) for name in SIGNAL_NAMES}


def hash_everything(found: list[Original]) -> tuple[list[Hashed], list[bool]]:
    """Hash every original and edit; originals within PDQ 31 of an earlier one share its group."""
    hashed: list[Hashed] = []
    group_of_original: list[int] = []
    group_real: list[bool] = []
    for n, original in enumerate(found, 1):
        print(f"\r  hashing {n}/{len(found)} {original.name:48}", end="", file=sys.stderr, flush=True)
        values = _hashes(original.data)
        group = len(group_real)
        for earlier in (h for h in hashed if h.edit == "original"):
            if (earlier.values["pdq"] ^ values["pdq"]).bit_count() <= SAME_GROUP_PDQ:
                group = earlier.group
                print(f"\n  {original.name} is the same picture as an earlier one: one group", file=sys.stderr)
                break
        if group == len(group_real):
            group_real.append(original.real)
        group_of_original.append(group)
        hashed.append(Hashed(group, original.name, "original", values))
        picture = _upright(original.data)
        for edit, apply in EDITS.items():
            hashed.append(Hashed(group, original.name, edit, _hashes(apply(picture))))
    print(file=sys.stderr)
    return hashed, group_real


# --- the numbers -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pairs:
    same: np.ndarray  # distances, original vs its own edits
    same_edit: np.ndarray  # the edit name of each same pair
    different: np.ndarray  # distances, original vs everything from other groups
    different_real: np.ndarray  # True where both sides are real photos
    different_names: list[tuple[str, str, str]]  # (original, other picture, its edit), if asked


def pairs(hashed: list[Hashed], group_real: list[bool], signal: str, closest: int = 0) -> Pairs:
    values = np.array([h.values[signal] for h in hashed], dtype=object)
    words = _as_words(values, HASHES[signal].bits)
    groups = np.array([h.group for h in hashed])
    edits = np.array([h.edit for h in hashed])
    real = np.array([group_real[g] for g in groups])
    same: list[np.ndarray] = []
    same_edit: list[np.ndarray] = []
    different: list[np.ndarray] = []
    different_real: list[np.ndarray] = []
    near: list[tuple[int, str, str, str]] = []
    for i in np.flatnonzero(edits == "original"):
        dist = np.bitwise_count(words ^ words[i]).sum(axis=1)
        mine = (groups == groups[i]) & (edits != "original")
        same.append(dist[mine])
        same_edit.append(edits[mine])
        other = groups != groups[i]
        different.append(dist[other])
        different_real.append(real[other] & real[i])
        if closest:
            for j in np.flatnonzero(other):
                near.append((int(dist[j]), hashed[i].source, hashed[j].source, hashed[j].edit))
    near.sort()
    return Pairs(np.concatenate(same), np.concatenate(same_edit),
                 np.concatenate(different), np.concatenate(different_real),
                 [n[1:] for n in near[:closest]])


def _as_words(values: np.ndarray, bits: int) -> np.ndarray:
    count = (bits + 63) // 64
    mask = (1 << 64) - 1
    return np.array([[(int(v) >> (64 * k)) & mask for k in range(count)] for v in values], dtype=np.uint64)


def pick_threshold(p: Pairs, bits: int, rate: float) -> int:
    """The largest threshold whose false matches stay within ``rate`` of the different pairs."""
    allowed = rate * len(p.different)
    best = -1
    for t in range(bits + 1):
        if np.count_nonzero(p.different <= t) <= allowed:
            best = t
    return best


def _percentiles(values: np.ndarray, points: tuple[float, ...]) -> str:
    return " ".join(f"{np.percentile(values, q):5.1f}" for q in points)


def report(hashed: list[Hashed], group_real: list[bool], rate: float, closest: int,
           chosen: dict[str, int]) -> None:
    """Print every table; ``chosen`` holds the thresholds under test (the signals' own by default)."""
    picked: dict[str, tuple[int, Pairs]] = {}
    print("\nDistance percentiles (bits); edits the signal is not meant to survive are left out")
    print(f"{'signal':10} {'bits':>4}  same: {'p50':>5} {'p90':>5} {'p95':>5} {'p99':>5} {'max':>5}"
          f"   different: {'min':>5} {'0.01%':>5} {'0.1%':>5} {'1%':>5} {'50%':>5}"
          f"   real photos only: {'min':>5} {'0.1%':>5} {'1%':>5} {'50%':>5}")
    for signal in SIGNAL_NAMES:
        p = pairs(hashed, group_real, signal, closest)
        easy = ~np.isin(p.same_edit, HARD_EDITS)
        bits = HASHES[signal].bits
        picked[signal] = (pick_threshold(p, bits, rate), p)
        print(f"{signal:10} {bits:4}        {_percentiles(p.same[easy], (50, 90, 95, 99, 100))}"
              f"              {_percentiles(p.different, (0, 0.01, 0.1, 1, 50))}"
              f"                     {_percentiles(p.different[p.different_real], (0, 0.1, 1, 50))}")

    p = picked["pdq"][1]
    easy = ~np.isin(p.same_edit, HARD_EDITS)
    print(f"\n{np.count_nonzero(easy)} same pairs with everyday edits, {len(p.different)} different "
          f"pairs ({np.count_nonzero(p.different_real)} between two real photos)")
    print(f"\nThresholds: the largest with at most {rate:g} false matches per different pair "
          f"(1 in {1 / rate:,.0f})")
    print(f"{'signal':10} {'used':>4} {'max ok':>6} {'false/all':>14} {'false/real':>12} "
          f"{'recall':>7}  {'recall used':>11} {'false used':>10}")
    for signal in SIGNAL_NAMES:
        t, p = picked[signal]
        now = chosen[signal]
        easy = ~np.isin(p.same_edit, HARD_EDITS)
        print(f"{signal:10} {now:4} {t:6} {_count(p.different <= t):>14} "
              f"{_count(p.different[p.different_real] <= t):>12} "
              f"{np.mean(p.same[easy] <= t):7.1%}  {np.mean(p.same[easy] <= now):11.1%} "
              f"{_count(p.different <= now):>10}")

    print("\nRecall per edit at the largest threshold within the rate ('max ok'; the one used in brackets)")
    print(f"{'edit':22} " + " ".join(f"{s:>15}" for s in SIGNAL_NAMES))
    for edit in EDITS:
        cells = []
        for signal in SIGNAL_NAMES:
            t, p = picked[signal]
            mine = p.same[p.same_edit == edit]
            cells.append(f"{np.mean(mine <= t):6.1%} ({np.mean(mine <= chosen[signal]):5.1%})")
        print(f"{edit:22} " + " ".join(f"{c:>15}" for c in cells))
    sweep(picked, range(2, 17))
    rules({signal: p for signal, (_, p) in picked.items()}, chosen)
    closest_pairs(picked)


def sweep(picked: dict[str, tuple[int, Pairs]], thresholds: range) -> None:
    """False matches (all pairs) and recall (everyday edits) for each threshold in a range."""
    shown = [s for s in SIGNAL_NAMES if s != "pdq"]
    print("\nSweep: false matches among all different pairs / recall over the everyday edits")
    print(f"{'t':>3} " + " ".join(f"{s:>17}" for s in shown))
    for t in thresholds:
        cells = []
        for signal in shown:
            p = picked[signal][1]
            easy = ~np.isin(p.same_edit, HARD_EDITS)
            cells.append(f"{np.count_nonzero(p.different <= t):6} {np.mean(p.same[easy] <= t):7.1%}")
        print(f"{t:3} " + " ".join(f"{c:>17}" for c in cells))


def rules(by_signal: dict[str, Pairs], chosen: dict[str, int]) -> None:
    """What a matcher gets from combining signals at the thresholds used."""

    def near(signal: str, kind: str) -> np.ndarray:
        p = by_signal[signal]
        return (p.same if kind == "same" else p.different) <= chosen[signal]

    p = by_signal["pdq"]
    easy = ~np.isin(p.same_edit, HARD_EDITS)
    crop = p.same_edit == "crop 2% each edge"
    print("\nCombined rules at the thresholds used")
    print(f"{'rule':44} {'false':>14} {'recall':>7} {'crop 2%':>8}")
    candidates = {
        "pdq": lambda k: near("pdq", k),
        "pdq or phash": lambda k: near("pdq", k) | near("phash", k),
        "pdq or (phash and whash)": lambda k: near("pdq", k) | (near("phash", k) & near("whash", k)),
        "pdq or (2 of phash, dhash, whash)": lambda k: near("pdq", k) | (
            near("phash", k).astype(int) + near("dhash", k) + near("whash", k) >= 2),
    }
    for name, rule in candidates.items():
        same, different = rule("same"), rule("different")
        print(f"{name:44} {_count(different):>14} {np.mean(same[easy]):7.1%} {np.mean(same[crop]):8.1%}")


def closest_pairs(picked: dict[str, tuple[int, Pairs]]) -> None:
    for signal, (threshold, p) in picked.items():
        if p.different_names and threshold >= 0:  # a signal with no usable threshold has ties at 0
            print(f"\nClosest unrelated pairs for {signal} (original / other picture, edit):")
            counts: dict[tuple[str, str], int] = {}
            for a, b, _edit in p.different_names:
                key = tuple(sorted((a, b)))
                counts[key] = counts.get(key, 0) + 1  # type: ignore[index]
            for (a, b), n in sorted(counts.items(), key=lambda kv: -kv[1])[:8]:
                print(f"  {n:3} x  {a}  ~  {b}")


def _count(hits: np.ndarray) -> str:
    return f"{np.count_nonzero(hits)}/{hits.size}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenes", type=int, default=100, help="generated scenes to add (default 100)")
    parser.add_argument("--rate", type=float, default=1e-4, help="false matches allowed per different pair")
    parser.add_argument("--closest", type=int, default=0, metavar="N",
                        help="also name the pictures behind the N closest unrelated pairs per signal")
    parser.add_argument("--threshold", action="append", default=[], metavar="NAME=T",
                        help="try another threshold for a signal (repeatable), e.g. whash=8")
    args = parser.parse_args()
    found = originals(args.scenes)
    hashed, group_real = hash_everything(found)
    real = sum(group_real)
    print(f"{len(found)} originals in {len(group_real)} groups ({real} real photos, "
          f"{len(group_real) - real} generated scenes), {len(EDITS)} edits each, "
          f"{len(hashed)} pictures hashed")
    chosen = {name: HASHES[name].threshold for name in SIGNAL_NAMES}
    for item in args.threshold:
        name, _, value = item.partition("=")
        if name not in chosen or not value.isdigit():
            parser.error(f"--threshold takes NAME=T with NAME one of {', '.join(SIGNAL_NAMES)}")
        chosen[name] = int(value)
    report(hashed, group_real, args.rate, args.closest, chosen)


if __name__ == "__main__":
    main()
