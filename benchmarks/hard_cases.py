"""Benchmark: the hard cases of issue 18, for today's region matcher and a baseline, in one run.

Protected photos are the real photos of benchmarks/derivatives.py (scikit-image's bundled
photos and ``../shared/testdata/pdq``; nothing is fetched). Families:

  positives   mirrored crops; turns of 10-30 degrees with crops (also with meme text);
              meme captions, stickers, spoiler strips; insets at 25-30% of another photo;
              chains of 2-3 edits
  hard pairs  two different photos carrying the same site watermark (the protected photo has
              it too); two subjects in front of one sponsor wall (logo backdrop); the same
              scene (a real photo as background) with a different subject in front
  distractors heavy crops (25-60% a side, some mirrored) of the *other* photos, 200 small face
              photos, textures and generated scenes: the shipped corpus holds ~20 photos, so
              distinct distractors are made by cropping them (they are not 2,000 photos of
              2,000 scenes)

Each pair is judged by the signal-level comparison (``Regions().compare``: kind and
confidence) of the current code and of the same module at a git revision (``--baseline``,
default the branch point), each with its own signatures. Prints recall per family, false
matches per pair overall and per confidence, and the cost of a scanned picture's signature.

    .venv/bin/python benchmarks/hard_cases.py [--baseline REV] [--distractors N] [--workers 2]
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import math
import pickle
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import numpy as np
from PIL import Image, ImageDraw, ImageFont, ImageOps

from stopncii_tools.media.samples import in_front, site_watermark, sponsor_wall

sys.path.insert(0, str(Path(__file__).resolve().parent))

import derivatives  # noqa: E402  (a sibling script)
from derivatives import (  # noqa: E402
    ROOT,
    crop_fraction,
    encode,
    load_photos,
    random_windows,
    scene,
    screenshot,
)

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"
MODULE = "stopncii_tools/signals/regions.py"


def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    try:
        return ImageFont.truetype(FONT, size)
    except OSError:
        return ImageFont.load_default(size=size)


# -- edits --------------------------------------------------------------------------------


def turn_crop(img: Image.Image, degrees: float, extra: float = 0.05) -> Image.Image:
    """Turned by ``degrees``, the largest upright rectangle inside, then ``extra`` cropped."""
    rotated = img.rotate(degrees, Image.Resampling.BICUBIC, expand=False)
    w, h = img.size
    a = math.radians(abs(degrees))
    scale = 1 / (math.cos(a) + math.sin(a) * max(w / h, h / w))
    cw, ch = w * scale, h * scale
    inner = rotated.crop((round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2),
                          round((h + ch) / 2)))
    return crop_fraction(inner, extra)


def meme(img: Image.Image, top: str = "WHEN SHE SAYS", bottom: str = "NO ONE WILL SEE IT") -> Image.Image:
    out = img.copy()
    draw = ImageDraw.Draw(out)
    size = max(16, out.width // 12)
    f = font(size)
    for text, y in ((top, out.height // 40), (bottom, out.height - size - out.height // 30)):
        x = max(4, (out.width - int(draw.textlength(text, font=f))) // 2)
        draw.text((x, y), text, font=f, fill=(255, 255, 255), stroke_width=max(2, size // 12),
                  stroke_fill=(0, 0, 0))
    return out


def stickers(img: Image.Image, seed: int) -> Image.Image:
    """Three round emoji-like stickers covering ~12% of the picture."""
    rng = np.random.default_rng(seed)
    out = img.copy()
    draw = ImageDraw.Draw(out)
    r = round(0.11 * min(out.size))
    for _ in range(3):
        cx, cy = rng.uniform(0.2, 0.8) * out.width, rng.uniform(0.3, 0.9) * out.height
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=(255, 204, 0), outline=(120, 80, 0), width=3)
        draw.ellipse((cx - r / 3, cy - r / 3, cx - r / 6, cy), fill=(60, 40, 0))
        draw.ellipse((cx + r / 6, cy - r / 3, cx + r / 3, cy), fill=(60, 40, 0))
        draw.arc((cx - r / 2, cy - r / 4, cx + r / 2, cy + r / 2), 20, 160, fill=(60, 40, 0), width=3)
    return out


def spoiler(img: Image.Image) -> Image.Image:
    """A black bar across the eyes' height and a blurred-out strip below it."""
    out = img.copy()
    w, h = out.size
    ImageDraw.Draw(out).rectangle((0, round(h * 0.30), w, round(h * 0.38)), fill=(0, 0, 0))
    band = (0, round(h * 0.55), w, round(h * 0.68))
    out.paste(out.crop(band).resize((8, 2)).resize((band[2], band[3] - band[1])), band[:2])
    return out


def inset(img: Image.Image, host: Image.Image, share: float, corner: int) -> Image.Image:
    """``img`` at ``share`` of the width of ``host`` (resized to 900 px wide), in a corner."""
    host = ImageOps.contain(host, (900, 900)).copy()
    small = img.resize((round(host.width * share), round(host.width * share * img.height / img.width)),
                       Image.Resampling.LANCZOS)
    x = 20 if corner % 2 == 0 else host.width - small.width - 20
    y = 20 if corner < 2 else host.height - small.height - 20
    ImageDraw.Draw(host).rectangle((x - 4, y - 4, x + small.width + 3, y + small.height + 3), fill=(255, 255, 255))
    host.paste(small, (x, max(0, y)))
    return host


# -- the labelled set ---------------------------------------------------------------------


@dataclass(frozen=True)
class Pair:
    """A suspect picture to compare with protected picture ``protected`` (an index)."""

    family: str
    protected: int
    suspect: int
    same: bool


def build(photos: list, distractors: int) -> tuple[list[bytes], list[bytes], list[Pair], dict[str, int]]:
    """Protected pictures, suspect pictures and the pairs to judge."""
    rng = np.random.default_rng(20261201)
    protected = [encode(p.image, "PNG") for p in photos]
    suspects: list[bytes] = []
    pairs: list[Pair] = []
    count = Counter[str]()

    def positive(family: str, k: int, img: Image.Image, quality: int = 82) -> None:
        suspects.append(encode(img, quality=quality))
        pairs.append(Pair(family, k, len(suspects) - 1, True))

    n = len(photos)
    for k, photo in enumerate(photos):
        img = photo.image
        host = photos[(k + 1) % n].image
        positive("mirrored crop", k, crop_fraction(ImageOps.mirror(img), 0.15))
        positive("mirrored crop", k, ImageOps.mirror(crop_fraction(img, 0.08)).resize(
            (img.width * 2 // 3, img.height * 2 // 3)), 70)
        for degrees in (10, -20, 30):
            positive("turned 10-30 + crop", k, turn_crop(img, degrees))
        positive("turned + meme text", k, meme(turn_crop(img, 15)))
        positive("meme / stickers / spoiler", k, meme(img))
        positive("meme / stickers / spoiler", k, stickers(img, k))
        positive("meme / stickers / spoiler", k, spoiler(img))
        positive("inset 25-30%", k, inset(img, host, 0.30, k % 4))
        positive("inset 25-30%", k, inset(img, host, 0.25, (k + 1) % 4))
        positive("chain of 2-3 edits", k, ImageOps.contain(meme(crop_fraction(img, 0.1)), (512, 512)), 60)
        positive("chain of 2-3 edits", k, stickers(turn_crop(ImageOps.mirror(img), 12), k + 50))
        positive("chain of 2-3 edits", k, crop_fraction(screenshot(spoiler(img), dark=True), 0.04), 75)
    # hard pairs: a protected photo that carries an overlay, and other pictures with it
    hard_start = len(protected)
    for k, photo in enumerate(photos):
        other = photos[(k + 3) % n].image
        protected.append(encode(site_watermark(photo.image), quality=90))
        suspects.append(encode(site_watermark(ImageOps.fit(other, photo.image.size)), quality=80))
        pairs.append(Pair("shared watermark", len(protected) - 1, len(suspects) - 1, False))
    for k, photo in enumerate(photos):
        wall = sponsor_wall((900, 700))
        other = photos[(k + 5) % n].image
        protected.append(encode(in_front(wall, photo.image, 0.30), quality=90))
        moved = sponsor_wall((900, 700), (37, 21), 1.08)
        suspects.append(encode(in_front(moved, other, 0.22), quality=80))
        pairs.append(Pair("shared sponsor wall", len(protected) - 1, len(suspects) - 1, False))
    for k in range(n):
        # the same place (another real photo as background), another person in front
        place = ImageOps.fit(photos[(k + 2) % n].image, (900, 700))
        a, b = photos[(k + 4) % n].image, photos[(k + 6) % n].image
        protected.append(encode(in_front(place, a, 0.30), quality=90))
        shifted = ImageOps.fit(crop_fraction(photos[(k + 2) % n].image, 0.03), (900, 700))
        suspects.append(encode(in_front(shifted, b, 0.25), quality=80))
        pairs.append(Pair("same scene, other subject", len(protected) - 1, len(suspects) - 1, False))
    # distractors: heavy crops of the *other* photos, faces, textures, generated scenes
    start = len(suspects)
    origin: list[int | None] = []
    from skimage import data as skdata

    for face in skdata.lfw_subset():
        suspects.append(encode(Image.fromarray((np.asarray(face) * 255).astype(np.uint8)).convert("RGB")
                               .resize((220, 220), Image.Resampling.BICUBIC)))
        origin.append(None)
    for seed in range(150):
        suspects.append(encode(scene(seed + 4000)))
        origin.append(None)
    per_photo = max(1, (distractors - len(origin)) // n)
    for k, photo in enumerate(photos):
        for i, window in enumerate(random_windows(photo.image, rng, per_photo)):
            edit = ImageOps.mirror(window) if i % 4 == 0 else window
            if min(edit.size) < 80:
                continue
            suspects.append(encode(edit, quality=int(rng.integers(60, 95))))
            origin.append(k)
    for j, k_origin in enumerate(origin):
        for k in range(len(photos)):
            if k != k_origin:
                pairs.append(Pair("distractor", k, start + j, False))
    count["distractor pictures"] = len(origin)
    count["protected (with hard-pair protected)"] = len(protected)
    count["hard protected from"] = hard_start
    return protected, suspects, pairs, dict(count)


# -- the two matchers -----------------------------------------------------------------------


def baseline_module(rev: str, module: str = MODULE) -> ModuleType:
    """``signals/regions.py`` as it was at ``rev``, imported beside the current one (with the
    private helper modules it imports, as they were then, where they changed since)."""
    source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{module}"], check=True,
                            capture_output=True, text=True).stdout
    for helper in sorted(set(re.findall(r"^from \.(_\w+) import", source, flags=re.MULTILINE))):
        helper_path = str(Path(module).with_name(f"{helper}.py"))
        then = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{helper_path}"],
                              capture_output=True, text=True).stdout
        if then and then != (ROOT / helper_path).read_text():
            baseline_module(rev, helper_path)
            source = re.sub(rf"^from \.{helper} import", f"from .{helper}_baseline import", source, flags=re.MULTILINE)
    path = Path(tempfile.mkdtemp()) / f"{Path(module).stem}_baseline.py"
    path.write_text(source)
    name = f"stopncii_tools.signals.{Path(module).stem}_baseline"
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


_MODULES: dict[str, ModuleType] = {}


def _module(which: str, rev: str) -> ModuleType:
    if which not in _MODULES:
        if which == "today":
            from stopncii_tools.signals import regions

            _MODULES[which] = regions
        else:
            _MODULES[which] = baseline_module(rev)
    return _MODULES[which]


def _signature_job(args: tuple[str, str, bytes, bool]) -> tuple[bytes, float]:
    """A picture's signature as ``protect`` (``protected``) or ``scan`` makes it, and its CPU time."""
    from stopncii_tools.media.pictures import open_picture
    from stopncii_tools.signals._base import Decoded

    which, rev, data, protected = args
    regions = _module(which, rev)
    start = time.process_time()
    picture = open_picture(data, detail_side=regions.WORK_SIDE)
    value = regions.Regions().compute(Decoded(data, "image", picture=picture, dihedral=protected))
    return (b"" if value is None else value.blob()), time.process_time() - start


# kind, confidence, agreeing features on the photo's own content, agreeing cells, kept share
Verdict = tuple[str, str, int, int, float]
VERDICT_FORMAT = "kind-confidence-support-cells-kept"
_RANK = {"high": 3, "medium": 2, "low": 1}


def _judge_job(args: tuple[str, str, list[tuple[bytes, bytes]]]) -> list[Verdict | None]:
    which, rev, jobs = args
    regions = _module(which, rev)
    out: list[Verdict | None] = []
    for p, s in jobs:
        if not p or not s:  # too little detail for a signature: nothing to compare
            out.append(None)
            continue
        evidence = regions.compare_regions(regions.RegionSignature.from_bytes(p),
                                           regions.RegionSignature.from_bytes(s))
        out.append(None if evidence is None else (evidence.kind, evidence.confidence, evidence.support,
                                                  evidence.cells, evidence.kept))
    return out


def _matcher_key(which: str, rev: str, labelled_set: str) -> str:
    """Names one matcher's verdicts on one labelled set: the matcher's source and the set."""
    if which == "today":
        source = (ROOT / MODULE).read_bytes()
    else:
        source = subprocess.run(["git", "-C", str(ROOT), "show", f"{rev}:{MODULE}"], check=True,
                                capture_output=True).stdout
    return f"{which}-{hashlib.sha256(source + labelled_set.encode()).hexdigest()[:20]}"


def _set_digest(protected: list[bytes], suspects: list[bytes], pairs: list[Pair]) -> str:
    digest = hashlib.sha256(VERDICT_FORMAT.encode())
    for data in (*protected, *suspects):
        digest.update(hashlib.sha256(data).digest())
    digest.update(repr([(p.family, p.protected, p.suspect, p.same) for p in pairs]).encode())
    return digest.hexdigest()


def calibration(pairs: list[Pair], verdicts: list[Verdict | None]) -> None:
    """What each confidence means on this labelled set, and where "high" could be cut."""
    positives = sum(p.same for p in pairs)
    negatives = len(pairs) - positives
    print("\ncalibration (today): what each confidence means on this set")
    print(f"{'confidence':12s}{'true':>8s}{'false':>8s}{'wrong share':>13s}{'false a pair':>14s}")
    for level in ("high", "medium", "low"):
        true = sum(1 for p, v in zip(pairs, verdicts, strict=True) if v and v[1] == level and p.same)
        false = sum(1 for p, v in zip(pairs, verdicts, strict=True) if v and v[1] == level and not p.same)
        print(f"{level:12s}{true:>8d}{false:>8d}{false / max(1, true + false):>13.4f}{false / negatives:>14.1e}")
    print("\n\"high\" cut at agreeing features (with today's spread rules): errors and recall")
    print(f"{'support >=':>11s}{'false':>8s}{'false a pair':>14s}{'recall at high':>16s}")
    for cut in (24, 36, 48, 72, 96, 144, 192):
        at = [(p, v) for p, v in zip(pairs, verdicts, strict=True)
              if v and v[1] in ("high", "medium") and v[2] >= cut and v[3] >= 6 and v[4] >= 0.5]
        false = sum(not p.same for p, _ in at)
        print(f"{cut:>11d}{false:>8d}{false / negatives:>14.1e}{sum(p.same for p, _ in at) / positives:>16.2f}")
    # ranking: confidence first, then agreeing features
    true_keys = sorted((_RANK[v[1]], v[2]) for p, v in zip(pairs, verdicts, strict=True) if v and p.same)
    false_keys = [(_RANK[v[1]], v[2]) for p, v in zip(pairs, verdicts, strict=True) if v and not p.same]
    import bisect

    above = sum(len(true_keys) - bisect.bisect_right(true_keys, key) for key in false_keys)
    ordered = above / max(1, len(true_keys) * len(false_keys))
    print(f"\nfound true matches ranked above found false ones (confidence, then features): {ordered:.3f}"
          f" of {len(true_keys) * len(false_keys)} (true, false) pairs")


def _confidence(verdict: Verdict | None) -> str:
    return "" if verdict is None else verdict[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", default="d90a6a8", help="git revision of the matcher to compare with")
    parser.add_argument("--distractors", type=int, default=2100)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "stopncii-hard-cases",
                        help="where each matcher's verdicts are kept, so a rerun judges only changed code")
    args = parser.parse_args()
    from multiprocessing import Pool

    if not derivatives.SHARED_PDQ.is_dir():  # run from a git worktree: the checkout's own testdata
        derivatives.SHARED_PDQ = ROOT.parents[1] / "shared" / "testdata" / "pdq"
    photos = load_photos()
    protected, suspects, pairs, counts = build(photos, args.distractors)
    print(f"{len(photos)} real photos; {len(protected)} protected pictures, {len(suspects)} suspect "
          f"pictures, {len(pairs)} pairs; {counts}")
    labelled = _set_digest(protected, suspects, pairs)
    results: dict[str, list[Verdict | None]] = {}
    cost: dict[str, list[float]] = {}
    weak: set[int] = set()  # protected pictures with too little detail for a region signature
    with Pool(args.workers) as pool:
        for which in ("baseline", "today"):
            cache = args.cache / f"{_matcher_key(which, args.baseline, labelled)}.pickle"
            if cache.exists():  # this matcher already judged this set: the same code gives the same verdicts
                results[which], cost[which], cost[which + " compare"], weak = pickle.loads(cache.read_bytes())
                print(f"{which}: verdicts from {cache}")
                continue
            t0 = time.perf_counter()
            prot = [b for b, _ in pool.map(_signature_job, [(which, args.baseline, d, True) for d in protected])]
            sus_timed = pool.map(_signature_job, [(which, args.baseline, d, False) for d in suspects], chunksize=8)
            sus = [b for b, _ in sus_timed]
            cost[which] = [t for _, t in sus_timed]
            t1 = time.perf_counter()
            chunks = [pairs[i:i + 400] for i in range(0, len(pairs), 400)]
            verdicts = pool.map(_judge_job, [(which, args.baseline, [(prot[p.protected], sus[p.suspect])
                                                                     for p in chunk]) for chunk in chunks])
            results[which] = [v for chunk in verdicts for v in chunk]
            compare = (time.perf_counter() - t1) * args.workers / len(pairs)
            cost[which + " compare"] = [compare]
            print(f"{which}: signatures {t1 - t0:.0f} s, comparisons {time.perf_counter() - t1:.0f} s")
            args.cache.mkdir(parents=True, exist_ok=True)
            weak = {k for k, signature in enumerate(prot) if not signature}
            cache.write_bytes(pickle.dumps((results[which], cost[which], cost[which + " compare"], weak)))

    families = list(dict.fromkeys(p.family for p in pairs if p.same))
    print(f"\nrecall per family (found / positives), baseline = {args.baseline}, today = this tree")
    print("(the last column: today's recall over photos that have a region signature; a photo with "
          "too little detail has none, and only whole-picture hashes can find its copies)")
    print(f"{'family':30s}{'n':>5s}{'baseline':>10s}{'today':>10s}{'today high':>12s}{'with signature':>16s}")
    for family in families:
        idx = [i for i, p in enumerate(pairs) if p.family == family]
        row = [sum(results[w][i] is not None for i in idx) / len(idx) for w in ("baseline", "today")]
        high = sum(_confidence(results["today"][i]) == "high" for i in idx) / len(idx)
        signed = [i for i in idx if pairs[i].protected not in weak]
        found = sum(results["today"][i] is not None for i in signed) / max(1, len(signed))
        print(f"{family:30s}{len(idx):>5d}{row[0]:>10.2f}{row[1]:>10.2f}{high:>12.2f}{found:>16.2f}")
    print("\nfalse matches (pairs of a protected picture and an unrelated one)")
    print(f"{'family':30s}{'pairs':>8s}{'baseline':>22s}{'today':>22s}")
    negatives = list(dict.fromkeys(p.family for p in pairs if not p.same)) + ["all unrelated pairs"]
    for family in negatives:
        idx = [i for i, p in enumerate(pairs) if not p.same and family in (p.family, "all unrelated pairs")]
        cells = []
        for w in ("baseline", "today"):
            by = Counter(results[w][i][1] for i in idx if results[w][i] is not None)  # type: ignore[index]
            total = sum(by.values())
            cells.append(f"{total} (h{by['high']} m{by['medium']} l{by['low']})")
        print(f"{family:30s}{len(idx):>8d}{cells[0]:>22s}{cells[1]:>22s}")
    idx = [i for i, p in enumerate(pairs) if not p.same]
    for w in ("baseline", "today"):
        false = sum(results[w][i] is not None for i in idx)
        high = sum(_confidence(results[w][i]) == "high" for i in idx)
        print(f"  {w}: {false / len(idx):.1e} false matches per pair, {high / len(idx):.1e} at high confidence")
    print("\nconfidence of true matches (today): "
          f"{dict(Counter(v[1] for i, v in enumerate(results['today']) if v and pairs[i].same))}")
    calibration(pairs, results["today"])
    print("\ncost of a scanned picture's region signature (decode at 640 px + features), CPU s")
    for w in ("baseline", "today"):
        print(f"  {w:10s} mean {statistics.mean(cost[w]):.4f}  median {statistics.median(cost[w]):.4f}"
              f"   one comparison {cost[w + ' compare'][0] * 1000:.2f} ms")


if __name__ == "__main__":
    main()
