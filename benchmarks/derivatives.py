"""Benchmark: finding partial views and derivatives (DeepNude-style edits) of a protected photo.

Builds a labelled set in memory from photos that ship with installed packages (scikit-image's
bundled photos, never the ones it would download) and the natural photos in
``../shared/testdata/pdq/`` (skipped when absent), plus generated scenes. Nothing is fetched.

Families (each edit of each protected photo is one positive):
  partial    crop 5% / 15% from every edge, centre square, letterbox into a 9:16 black phone
             frame, screenshot at 70% in a light or dark app frame, rotate 3 degrees + crop
  derived    a region replaced (under the detected face, or x 20-80%, y 45-100%) with skin-like
             or foreign content, with or without a diagonal text watermark and a corner logo,
             then JPEG q70, resized to 512 px, or cropped 10%
  ordinary   resize to half, JPEG q50, mirror, rotate 90 (what whole-image hashes already catch)
  distractor every item made from any *other* photo (the photos, their edits, random crops and
             tiles), textures, text pages, small face photos, and generated scenes

Prints recall per family and false matches per (protected photo, distractor) pair for plain PDQ
(31 bits, dihedral), pHash (10 bits), imagehash's crop-resistant hash, and the region signature
(``stopncii_tools.signals.regions``), plus timings. Needs the ``derivatives`` extra
(opencv-python-headless) and scikit-image for the bundled photos.

    .venv/bin/python benchmarks/derivatives.py [--distractors-per-photo N] [--quick]
"""

from __future__ import annotations

import argparse
import io
import math
import statistics
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont, ImageOps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHARED_PDQ = ROOT.parent / "shared" / "testdata" / "pdq"

# scikit-image photos that are inside its wheel (skimage/data/*.png|jpg); the rest come via pooch
SKIMAGE_PHOTOS = ("astronaut", "camera", "chelsea", "coffee", "rocket", "coins", "moon",
                  "hubble_deep_field", "retina", "immunohistochemistry", "clock")
SKIMAGE_DISTRACTORS = ("brick", "grass", "gravel", "page", "text", "horse", "logo", "cell",
                       "microaneurysms", "chessboard")
SKIMAGE_FILES = {"astronaut": "astronaut.png", "camera": "camera.png", "chelsea": "chelsea.png",
                 "coffee": "coffee.png", "rocket": "rocket.jpg", "coins": "coins.png",
                 "moon": "moon.png", "hubble_deep_field": "hubble_deep_field.jpg",
                 "retina": "retina.jpg", "immunohistochemistry": "ihc.png",
                 "clock": "clock_motion.png", "brick": "brick.png", "grass": "grass.png",
                 "gravel": "gravel.png", "page": "page.png", "text": "text.png",
                 "horse": "horse.png", "logo": "logo.png", "cell": "cell.png",
                 "microaneurysms": "microaneurysms.png", "chessboard": "chessboard_RGB.png"}
SHARED_PHOTOS = ("natural/pen-and-coaster.png", "natural/q0122.jpg", "natural/q0291.jpg",
                 "natural/q0746.jpg", "natural/q1050.jpg", "natural/q2821.jpg",
                 "natural/q0003.jpg", "natural/q0004.jpg", "dihedral/bridge-1-original.jpg")
# the same picture ships under several names; a pair inside one group is never a distractor
SAME_SCENE = {"bridge-mods/aaa-orig.jpg": "dihedral/bridge-1-original.jpg",
              "modes/original.jpg": "dihedral/bridge-1-original.jpg"}


@dataclass(frozen=True)
class Photo:
    name: str
    image: Image.Image
    face: tuple[int, int, int, int] | None = None  # x, y, w, h of the largest frontal face


@dataclass(frozen=True)
class Item:
    """One test picture: encoded bytes, the photo it was made from (None for generated)."""

    name: str
    family: str
    origin: str | None
    data: bytes


# -- sources ------------------------------------------------------------------------------


def _skimage_image(name: str) -> Image.Image | None:
    """A picture from inside the installed scikit-image wheel, read from disk (never fetched)."""
    try:
        import skimage
    except ImportError:
        return None
    path = Path(skimage.__file__).parent / "data" / SKIMAGE_FILES[name]
    if not path.exists():
        return None
    img = Image.open(path)
    if img.mode == "1":
        img = img.convert("L")
    return img.convert("RGB") if img.mode != "RGBA" else \
        Image.alpha_composite(Image.new("RGBA", img.size, (255, 255, 255, 255)), img).convert("RGB")


def _detect_face(img: Image.Image) -> tuple[int, int, int, int] | None:
    """Largest frontal face with scikit-image's bundled LBP cascade (benchmark only)."""
    try:
        import skimage
        from skimage.feature import Cascade
    except ImportError:
        return None
    xml = Path(skimage.__file__).parent / "data" / "lbpcascade_frontalface_opencv.xml"
    if not xml.exists():
        return None
    small = ImageOps.contain(img, (512, 512))
    grey = np.asarray(small.convert("L"), dtype=np.float64) / 255.0
    least = max(24, round(0.08 * min(small.size)))  # smaller "faces" are mostly false alarms
    found = Cascade(str(xml)).detect_multi_scale(
        grey, scale_factor=1.2, step_ratio=1, min_size=(least, least),
        max_size=small.size, min_neighbor_number=4)
    if not found:
        return None
    best = max(found, key=lambda f: f["width"] * f["height"])
    k = img.width / small.width
    return tuple(round(v * k) for v in (best["c"], best["r"], best["width"], best["height"]))


def load_photos() -> list[Photo]:
    photos = []
    for name in SKIMAGE_PHOTOS:
        img = _skimage_image(name)
        if img is not None:
            photos.append(Photo(f"skimage:{name}", img))
    if SHARED_PDQ.is_dir():
        for rel in SHARED_PHOTOS:
            path = SHARED_PDQ / rel
            if path.exists():
                photos.append(Photo(rel, ImageOps.exif_transpose(Image.open(path)).convert("RGB")))
    return [Photo(p.name, p.image, _detect_face(p.image)) for p in photos]


# -- edits --------------------------------------------------------------------------------


def encode(img: Image.Image, fmt: str = "JPEG", quality: int = 88) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        img.convert("RGB").save(buf, "JPEG", quality=quality)
    else:
        img.save(buf, fmt)
    return buf.getvalue()


def crop_fraction(img: Image.Image, f: float) -> Image.Image:
    w, h = img.size
    return img.crop((round(w * f), round(h * f), round(w * (1 - f)), round(h * (1 - f))))


def centre_square(img: Image.Image) -> Image.Image:
    w, h = img.size
    side = min(w, h) if max(w, h) > 1.15 * min(w, h) else round(0.8 * min(w, h))
    x, y = (w - side) // 2, (h - side) // 2
    return img.crop((x, y, x + side, y + side))


def letterbox(img: Image.Image, canvas: tuple[int, int] = (720, 1280)) -> Image.Image:
    out = Image.new("RGB", canvas, (0, 0, 0))
    fitted = ImageOps.contain(img, canvas, Image.Resampling.LANCZOS)
    out.paste(fitted, ((canvas[0] - fitted.width) // 2, (canvas[1] - fitted.height) // 2))
    return out


def screenshot(img: Image.Image, dark: bool) -> Image.Image:
    """The photo at 70% of the screen width inside an app frame with header and footer bars."""
    width = 720
    photo = img.resize((round(width * 0.7), round(width * 0.7 * img.height / img.width)),
                       Image.Resampling.LANCZOS)
    header, footer = 120, 150
    height = max(1280, photo.height + header + footer + 220)
    bg, bar, ink = ((18, 18, 18), (38, 38, 42), (230, 230, 230)) if dark else \
        ((250, 250, 250), (236, 236, 240), (30, 30, 30))
    out = Image.new("RGB", (width, height), bg)
    draw = ImageDraw.Draw(out)
    draw.rectangle((0, 0, width, header), fill=bar)
    draw.rectangle((0, height - footer, width, height), fill=bar)
    font = ImageFont.load_default(size=34)
    draw.text((96, 40), "Channel  \u00b7  12.4K members", fill=ink, font=font)
    draw.ellipse((20, 30, 80, 90), fill=(90, 140, 220))
    for i in range(5):
        cx = 72 + i * 144
        draw.rounded_rectangle((cx - 28, height - 110, cx + 28, height - 54), 12, outline=ink,
                               width=4)
    top = header + 60
    out.paste(photo, ((width - photo.width) // 2, top))
    draw.text(((width - photo.width) // 2, top + photo.height + 20), "forwarded \u00b7 14:02",
              fill=ink, font=ImageFont.load_default(size=26))
    return out


def rotate_crop(img: Image.Image, degrees: float = 3.0) -> Image.Image:
    rotated = img.rotate(degrees, Image.Resampling.BICUBIC, expand=False)
    w, h = img.size
    a = math.radians(abs(degrees))
    # largest axis-aligned rectangle of the same aspect inside the rotated frame
    scale = 1 / (math.cos(a) + math.sin(a) * max(w / h, h / w))
    cw, ch = w * scale, h * scale
    return rotated.crop((round((w - cw) / 2), round((h - ch) / 2), round((w + cw) / 2),
                         round((h + ch) / 2)))


def partial_views(img: Image.Image) -> Iterator[tuple[str, bytes]]:
    yield "crop 5%", encode(crop_fraction(img, 0.05))
    yield "crop 15%", encode(crop_fraction(img, 0.15))
    yield "centre square", encode(centre_square(img))
    yield "letterbox 9:16", encode(letterbox(img), quality=85)
    yield "screenshot light", encode(screenshot(img, dark=False), "PNG")
    yield "screenshot dark", encode(screenshot(img, dark=True), "PNG")
    yield "rotate 3 + crop", encode(rotate_crop(img))


def body_box(photo: Photo) -> tuple[int, int, int, int]:
    """The region a "nudify" edit replaces: under the face, else x 20-80%, y 45-100%."""
    w, h = photo.image.size
    if photo.face is not None:
        fx, fy, fw, fh = photo.face
        top = min(h - 1, fy + round(fh * 1.15))
        return max(0, fx - fw), top, min(w, fx + 2 * fw), h
    return round(w * 0.2), round(h * 0.45), round(w * 0.8), h


def skin_fill(size: tuple[int, int], seed: int) -> Image.Image:
    """Smooth, shaded, skin-toned content: what a generator paints over the clothes."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    tone = np.array(rng.choice([(224, 172, 140), (198, 134, 96), (141, 85, 60), (240, 200, 170)]),
                    dtype=np.float32)
    shade = 0.82 + 0.18 * np.cos((xx / max(w, 1) - 0.5) * np.pi) * np.cos((yy / max(h, 1)) * 1.2)
    arr = tone[None, None, :] * shade[..., None] + rng.normal(0, 2.0, (h, w, 1))
    img = Image.fromarray(np.clip(arr, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    darker = tuple(int(c * 0.8) for c in tone)
    for _ in range(3):
        cx, cy = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
        r = rng.uniform(0.04, 0.12) * min(w, h)
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), outline=darker, width=max(2, int(r / 6)))
    return img.filter(ImageFilter.GaussianBlur(max(2, min(w, h) / 60)))


def replace_region(photo: Photo, filler: Image.Image) -> Image.Image:
    box = body_box(photo)
    out = photo.image.copy()
    bw, bh = box[2] - box[0], box[3] - box[1]
    patch = filler.resize((bw, bh), Image.Resampling.LANCZOS)
    mask = Image.new("L", (bw, bh), 0)
    ImageDraw.Draw(mask).rectangle((3, 3, bw - 4, bh - 1), fill=255)
    out.paste(patch, box[:2], mask.filter(ImageFilter.GaussianBlur(3)))
    return out


def watermark(img: Image.Image) -> Image.Image:
    """Diagonal repeated text over the whole picture and a logo in the corner."""
    w, h = img.size
    layer = Image.new("RGBA", (w * 2, h * 2), (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    font = ImageFont.load_default(size=max(14, w // 14))
    step = max(40, w // 5)
    for y in range(0, h * 2, step):
        for x in range(-w, w * 2, step * 4):
            draw.text((x + (y // step % 2) * step * 2, y), "deepnude bot", fill=(255, 255, 255, 96),
                      font=font)
    layer = layer.rotate(30, Image.Resampling.BICUBIC).crop((w // 2, h // 2, w // 2 + w, h // 2 + h))
    out = Image.alpha_composite(img.convert("RGBA"), layer)
    draw = ImageDraw.Draw(out)
    lw, lh = max(40, w // 5), max(16, h // 14)
    draw.rounded_rectangle((w - lw - 8, h - lh - 8, w - 8, h - 8), 6, fill=(200, 30, 60, 230))
    draw.text((w - lw, h - lh - 6), "NUDIFY", fill=(255, 255, 255, 255),
              font=ImageFont.load_default(size=max(10, lh - 6)))
    return out.convert("RGB")


def derivatives(photo: Photo, seed: int) -> Iterator[tuple[str, bytes]]:
    foreign = scene(seed + 500)  # generated, so the edit holds no other protected photo
    for content, filler in (("skin", skin_fill((256, 256), seed)), ("foreign", foreign)):
        replaced = replace_region(photo, filler)
        for marked, base in (("", replaced), (" + watermark", watermark(replaced))):
            stem = f"{content} body{marked}"
            yield f"{stem}, q70", encode(base, quality=70)
            yield f"{stem}, 512 px", encode(ImageOps.contain(base, (512, 512)), quality=85)
            yield f"{stem}, crop 10%", encode(crop_fraction(base, 0.10), quality=85)
    hardest = ImageOps.contain(crop_fraction(watermark(replace_region(photo, skin_fill(
        (256, 256), seed + 3))), 0.10), (512, 512))
    yield "skin body + watermark, crop 10%, 512 px, q70", encode(hardest, quality=70)


def ordinary_edits(img: Image.Image) -> Iterator[tuple[str, bytes]]:
    yield "resize 50%", encode(img.resize((max(1, img.width // 2), max(1, img.height // 2)),
                                          Image.Resampling.LANCZOS))
    yield "JPEG q50", encode(img, quality=50)
    yield "mirror", encode(ImageOps.mirror(img))
    yield "rotate 90", encode(img.rotate(90, expand=True))


# -- distractors --------------------------------------------------------------------------


def scene(seed: int) -> Image.Image:
    from stopncii_tools.signals._examples import scene as make_scene

    rng = np.random.default_rng(seed)
    return make_scene(seed + 1000, (int(rng.integers(240, 900)), int(rng.integers(240, 900))))


def random_windows(img: Image.Image, rng: np.random.Generator, count: int) -> Iterator[Image.Image]:
    w, h = img.size
    for _ in range(count):
        fw, fh = rng.uniform(0.25, 0.9, 2)
        cw, ch = max(32, int(w * fw)), max(32, int(h * fh))
        x, y = int(rng.integers(0, max(1, w - cw + 1))), int(rng.integers(0, max(1, h - ch + 1)))
        yield img.crop((x, y, x + cw, y + ch))


def collage(tiles: list[Image.Image], rng: np.random.Generator) -> Image.Image:
    out = Image.new("RGB", (640, 640), tuple(int(c) for c in rng.integers(0, 256, 3)))
    for i, tile in enumerate(tiles[:4]):
        out.paste(ImageOps.fit(tile, (320, 320)), ((i % 2) * 320, (i // 2) * 320))
    return out


def distractor_items(photos: list[Photo], per_photo: int, scenes: int) -> list[Item]:
    """Items whose origin is some photo (a distractor for every other photo) or None."""
    rng = np.random.default_rng(20260519)
    items: list[Item] = []
    for photo in photos:
        for i, window in enumerate(random_windows(photo.image, rng, per_photo)):
            edit = window if i % 3 else ImageOps.mirror(window)
            items.append(Item(f"{photo.name} window {i}", "distractor", photo.name,
                              encode(edit, quality=int(rng.integers(60, 95)))))
    for name in SKIMAGE_DISTRACTORS:
        img = _skimage_image(name)
        if img is None:
            continue
        items.append(Item(f"skimage:{name}", "distractor", None, encode(img)))
        for i, window in enumerate(random_windows(img, rng, 6)):
            items.append(Item(f"skimage:{name} window {i}", "distractor", None, encode(window)))
    try:
        from skimage import data as skdata

        faces = skdata.lfw_subset()  # 200 small face photos, bundled
    except (ImportError, OSError, ValueError):
        faces = np.zeros((0, 25, 25))
    for i, face in enumerate(faces):
        img = Image.fromarray((np.asarray(face) * 255).astype(np.uint8)).convert("RGB")
        items.append(Item(f"lfw face {i}", "distractor", None,
                          encode(img.resize((200, 200), Image.Resampling.BICUBIC))))
    for seed in range(scenes):
        items.append(Item(f"scene {seed}", "distractor", None, encode(scene(seed))))
    pool = [(p.name, p.image) for p in photos]
    for i in range(per_photo * 2):
        picks = rng.choice(len(pool), size=4, replace=False)
        tiles = [next(random_windows(pool[j][1], rng, 1)) for j in picks]
        origins = "|".join(pool[j][0] for j in picks)
        items.append(Item(f"collage {i}", "distractor", origins, encode(collage(tiles, rng))))
    return items


def positive_items(photos: list[Photo]) -> list[Item]:
    items = []
    for k, photo in enumerate(photos):
        for family, edits in (("partial", partial_views(photo.image)),
                              ("derived", derivatives(photo, k)),
                              ("ordinary", ordinary_edits(photo.image))):
            for label, data in edits:
                items.append(Item(f"{photo.name}: {label}", family, photo.name, data))
    return items


def related(photo: str, item: Item) -> bool:
    """True when ``item`` was made from ``photo`` (so it is not a distractor for it)."""
    return item.origin is not None and photo in item.origin.split("|")


# -- methods ------------------------------------------------------------------------------

PDQ_BITS = 31
PHASH_BITS = 10
LOW_DETAIL_QUALITY = 50  # PDQ's own rule: below this a photo has too little detail to match


@dataclass
class Hashes:
    pdq: list[np.ndarray]  # packed 32-byte hashes (8 dihedral variants for protected photos)
    quality: int
    phash: int
    region: bytes


def plain_hashes(data: bytes, protected: bool) -> Hashes:
    import imagehash
    import pdqhash

    from stopncii_tools.media.pictures import open_picture
    from stopncii_tools.signals.regions import compute_region_signature

    image = open_picture(data).image
    array = np.asarray(image)
    if protected:
        variants, quality = pdqhash.compute_dihedral(array)
    else:
        one, quality = pdqhash.compute(array)
        variants = [one]
    return Hashes([np.packbits(v) for v in variants], int(quality),
                  int(str(imagehash.phash(image)), 16), compute_region_signature(data).to_bytes())


_POP = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1)


def pdq_match(p: Hashes, s: Hashes) -> bool:
    return min(int(_POP[v ^ s.pdq[0]].sum()) for v in p.pdq) <= PDQ_BITS


def phash_match(p: Hashes, s: Hashes) -> bool:
    return (p.phash ^ s.phash).bit_count() <= PHASH_BITS


def _compare_row(args: tuple[bytes, list[bytes]]) -> list[tuple[str, int] | None]:
    from stopncii_tools.signals.regions import RegionSignature, compare_regions

    protected = RegionSignature.from_bytes(args[0])
    out: list[tuple[str, int] | None] = []
    for blob in args[1]:
        evidence = compare_regions(protected, RegionSignature.from_bytes(blob))
        out.append(None if evidence is None else (evidence.kind, evidence.score))
    return out


def _hash_job(args: tuple[bytes, bool]) -> tuple[Hashes, float]:
    start = time.process_time()
    return plain_hashes(*args), time.process_time() - start


@dataclass
class Tally:
    found: dict[str, list[int]] = field(default_factory=dict)  # family -> [found, total]
    false: int = 0
    pairs: int = 0

    def add(self, family: str, hit: bool) -> None:
        cell = self.found.setdefault(family, [0, 0])
        cell[0] += hit
        cell[1] += 1


def time_12mp(repeats: int = 3) -> dict[str, float]:
    """Seconds to protect one 4000 x 3000 JPEG (best of ``repeats``), wall clock and CPU."""
    from stopncii_tools.signals.hashing import hash_bytes
    from stopncii_tools.signals.regions import compute_region_signature

    rng = np.random.default_rng(12)
    photo = Image.open(io.BytesIO(encode(_skimage_image("astronaut") or scene(1)))).convert("RGB")
    big = photo.resize((4000, 3000), Image.Resampling.BICUBIC)
    noisy = np.clip(np.asarray(big, dtype=np.int16) + rng.integers(-6, 7, (3000, 4000, 3)), 0, 255)
    data = encode(Image.fromarray(noisy.astype(np.uint8)), quality=92)
    out = {}
    for label, run in (("whole-image hashes (hash_bytes, dihedral)", lambda: hash_bytes(data, dihedral=True)),
                       ("region signature", lambda: compute_region_signature(data))):
        walls, cpus = [], []
        for _ in range(repeats):
            w, c = time.perf_counter(), time.process_time()
            run()
            walls.append(time.perf_counter() - w)
            cpus.append(time.process_time() - c)
        out[label + " wall"] = min(walls)
        out[label + " cpu"] = min(cpus)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--distractors-per-photo", type=int, default=40,
                        help="random windows cut from each photo (distractors for the others)")
    parser.add_argument("--scenes", type=int, default=800, help="generated distractor scenes")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="small distractor set (a few minutes)")
    args = parser.parse_args()
    if args.quick:
        args.distractors_per_photo, args.scenes = 8, 100
    from multiprocessing import Pool

    from stopncii_tools.signals.regions import RegionIndex, RegionSignature

    t0 = time.perf_counter()
    photos = load_photos()
    items = positive_items(photos) + distractor_items(photos, args.distractors_per_photo, args.scenes)
    print(f"{len(photos)} protected photos, {len(items)} test pictures "
          f"({sum(i.family == 'distractor' for i in items)} made as distractors) "
          f"in {time.perf_counter() - t0:.0f} s")
    with Pool(args.workers) as pool:
        prot = pool.map(_hash_job, [(encode(p.image, "PNG"), True) for p in photos])
        sus = pool.map(_hash_job, [(i.data, False) for i in items], chunksize=8)
        t1 = time.perf_counter()
        rows = pool.map(_compare_row, [(h.region, [s.region for s, _ in sus]) for h, _ in prot])
        compare_seconds = time.perf_counter() - t1
    # the pre-filter is tried on a bigger bank: the protected photos plus every generated or
    # bundled distractor picture (none made from a protected photo) posing as protected photos
    index = RegionIndex()
    for photo, (h, _) in zip(photos, prot, strict=True):
        index.add(photo.name, RegionSignature.from_bytes(h.region))
    for item, (s, _) in zip(items, sus, strict=True):
        if item.origin is None:
            index.add(f"bank filler: {item.name}", RegionSignature.from_bytes(s.region))
    t2 = time.perf_counter()
    shortlists = [{name for name, _ in index.candidates(RegionSignature.from_bytes(s.region))}
                  for s, _ in sus]
    prefilter_seconds = (time.perf_counter() - t2) / max(1, len(sus))

    low = {p.name for p, (h, _) in zip(photos, prot, strict=True) if h.quality < LOW_DETAIL_QUALITY}
    methods = ("PDQ (31 bits, dihedral)", "pHash (10 bits)", "region signature",
               f"region, pre-filter ({len(index)} photos)", "PDQ or region")
    tallies = {m: Tally() for m in methods}
    kinds: dict[str, dict[str, int]] = {}
    false_regions: list[tuple[str, str, int]] = []
    for pi, photo in enumerate(photos):
        p = prot[pi][0]
        for si, item in enumerate(items):
            s = sus[si][0]
            region = rows[pi][si]
            verdict = {
                methods[0]: pdq_match(p, s),
                methods[1]: phash_match(p, s),
                methods[2]: region is not None,
                methods[3]: region is not None and photo.name in shortlists[si],
            }
            verdict[methods[4]] = verdict[methods[0]] or verdict[methods[2]]
            if item.family != "distractor" and item.origin == photo.name:
                if photo.name in low:
                    continue
                for m in methods:
                    tallies[m].add(item.family, verdict[m])
                if region is not None:
                    row = kinds.setdefault(item.family, {})
                    row[region[0]] = row.get(region[0], 0) + 1
            elif not related(photo.name, item):
                for m in methods:
                    tallies[m].pairs += 1
                    tallies[m].false += verdict[m]
                if region is not None:
                    false_regions.append((photo.name, item.name, region[1]))

    families = ("partial", "derived", "ordinary")
    print(f"\nrecall per family (protected photos with PDQ quality >= {LOW_DETAIL_QUALITY}: "
          f"{len(photos) - len(low)}; left out as low-detail: {', '.join(sorted(low)) or 'none'})")
    head = f"{'method':34s}" + "".join(f"{f:>10s}" for f in families) + f"{'false matches':>26s}"
    print(head)
    print("-" * len(head))
    for m in methods:
        t = tallies[m]
        cells = "".join(f"{t.found[f][0] / t.found[f][1]:>10.3f}" if f in t.found else f"{'-':>10s}"
                        for f in families)
        rate = t.false / max(1, t.pairs) * 10_000
        print(f"{m:34s}{cells}{t.false:>8d} / {t.pairs:<8d}({rate:.2f} per 10k)")
    n = {f: tallies[methods[0]].found[f][1] for f in families}
    print(f"positives per family: {n}")
    print(f"kind reported by the region signature (true family -> reported kind): {kinds}")
    for protected_name, item_name, score in false_regions:
        print(f"  false region match: {protected_name} ~ {item_name} ({score} features)")

    print("\ncost (this machine, CPU seconds per picture, mean)")
    print(f"  whole-image + region hashes of a protected photo  {statistics.mean(t for _, t in prot):.3f}")
    print(f"  the same for a scanned picture                    {statistics.mean(t for _, t in sus):.3f}")
    print(f"  one full region comparison (pair, mean)           "
          f"{compare_seconds * args.workers / max(1, len(prot) * len(sus)) * 1000:.2f} ms")
    print(f"  pre-filter over a bank of {len(index)} photos, per scanned picture "
          f"{prefilter_seconds * 1000:.2f} ms (then up to 8 full comparisons)")
    sizes = [len(h.region) for h, _ in prot]
    print(f"  stored region signature: {statistics.mean(sizes) / 1024:.1f} KiB per protected photo "
          f"(max {max(sizes) / 1024:.1f}); index keys "
          f"{statistics.mean(len(RegionSignature.from_bytes(h.region).index_keys()) for h, _ in prot):.0f} per photo")
    print("\nprotecting one 12-megapixel JPEG (4000 x 3000), best of 3")
    for label, seconds in time_12mp().items():
        print(f"  {label:50s} {seconds:.3f} s")


if __name__ == "__main__":
    main()
