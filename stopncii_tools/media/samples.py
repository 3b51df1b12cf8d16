"""Sample pictures made by the package (no download), and the edited copies a re-upload makes.

Used by ``stopncii demo`` and by the tests: the sample "photos" are generated scenes, so the
whole flow can be shown without anyone's real picture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageOps

from ..signals._examples import encode, scene


def _watermark(img: Image.Image) -> Image.Image:
    img = img.copy()
    draw = ImageDraw.Draw(img)
    draw.rectangle((img.width - 140, img.height - 40, img.width - 10, img.height - 10), fill=(250, 250, 250))
    draw.text((img.width - 130, img.height - 35), "@channel", fill=(20, 20, 20))
    return img


def _crop_edges(img: Image.Image, fraction: float = 0.025) -> Image.Image:
    dx, dy = int(img.width * fraction), int(img.height * fraction)
    return img.crop((dx, dy, img.width - dx, img.height - dy))


# how copies change when they are re-uploaded; every one must still be found
EDITS: dict[str, Callable[[Image.Image], Image.Image]] = {
    "resized": lambda img: img.resize((img.width // 2, img.height // 2), Image.Resampling.LANCZOS),
    "reencoded": lambda img: img,
    "cropped": _crop_edges,
    "mirrored": ImageOps.mirror,
    "rotated90": lambda img: img.rotate(90, expand=True),
    "watermarked": _watermark,
}


def screenshot(img: Image.Image, *, dark: bool = False) -> Image.Image:
    """The photo at 70% width inside a light (or dark) phone-app frame with header and footer bars."""
    background, bars = ((18, 18, 18), (40, 40, 44)) if dark else ((245, 245, 245), (225, 225, 230))
    canvas = Image.new("RGB", (720, 1280), background)
    draw = ImageDraw.Draw(canvas)
    draw.rectangle((0, 0, 720, 120), fill=bars)
    draw.rectangle((0, 1150, 720, 1280), fill=bars)
    shown = img.resize((504, round(504 * img.height / img.width)))
    canvas.paste(shown, (108, 260))
    return canvas


def body_replaced(img: Image.Image, filler: Image.Image) -> Image.Image:
    """What an "undressing" bot returns: the body region (x 20-80%, y 45-100%) replaced with
    other content, and a watermark. Made here with unrelated generated content."""
    out = img.copy()
    box = (int(img.width * 0.2), int(img.height * 0.45), int(img.width * 0.8), img.height)
    out.paste(filler.resize((box[2] - box[0], box[3] - box[1])), box[:2])
    ImageDraw.Draw(out).text((img.width // 3, img.height // 4), "@undress_bot", fill=(255, 255, 255))
    return out


def write_photos(folder: Path, seeds: list[int], size: tuple[int, int] = (800, 600)) -> dict[str, Image.Image]:
    """Write one generated 'photo' per seed as JPEG; returns file name -> picture."""
    folder.mkdir(parents=True, exist_ok=True)
    photos = {}
    for seed in seeds:
        img = scene(seed, size)
        (folder / f"photo{seed}.jpg").write_bytes(encode(img, quality=92))
        photos[f"photo{seed}.jpg"] = img
    return photos


def write_edits(folder: Path, photos: dict[str, Image.Image]) -> dict[str, str]:
    """Write every edit of every photo (JPEG quality 75); returns copy name -> original name."""
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for name, img in photos.items():
        for edit, apply in EDITS.items():
            copy_name = f"{Path(name).stem}-{edit}.jpg"
            (folder / copy_name).write_bytes(encode(apply(img), quality=75))
            truth[copy_name] = name
    return truth
