"""Pictures and their edited copies, made with Pillow for tests."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from stopncii_tools.signals._examples import encode, scene

EDITS = {
    "resized": lambda im: im.resize((im.width // 2, im.height // 2), Image.Resampling.LANCZOS),
    "reencoded": lambda im: im,
    "cropped": lambda im: im.crop((im.width // 40, im.height // 40, im.width - im.width // 40, im.height - im.height // 40)),
    "mirrored": ImageOps.mirror,
    "rotated90": lambda im: im.rotate(90, expand=True),
    "watermarked": lambda im: _watermark(im),
}


def _watermark(im: Image.Image) -> Image.Image:
    im = im.copy()
    draw = ImageDraw.Draw(im)
    draw.rectangle((im.width - 140, im.height - 40, im.width - 10, im.height - 10), fill=(250, 250, 250))
    draw.text((im.width - 130, im.height - 35), "@channel", fill=(20, 20, 20))
    return im


def write_photos(folder: Path, seeds: list[int], size: tuple[int, int] = (800, 600)) -> dict[str, Image.Image]:
    folder.mkdir(parents=True, exist_ok=True)
    photos = {}
    for seed in seeds:
        img = scene(seed, size)
        (folder / f"photo{seed}.jpg").write_bytes(encode(img, quality=92))
        photos[f"photo{seed}.jpg"] = img
    return photos


def write_edits(folder: Path, photos: dict[str, Image.Image]) -> dict[str, str]:
    """Edited copies of every photo; returns copy file name -> original file name."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for name, img in photos.items():
        for edit, apply in EDITS.items():
            copy_name = f"{Path(name).stem}-{edit}.jpg"
            (folder / copy_name).write_bytes(encode(apply(img), quality=75))
            truth[copy_name] = name
    return truth
