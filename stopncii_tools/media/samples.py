"""Sample pictures made by the package (no download), and the edited copies a re-upload makes.

Used by ``stopncii demo`` and by the tests: the sample "photos" are generated scenes, so the
whole flow can be shown without anyone's real picture.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont, ImageOps

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


def site_watermark(img: Image.Image) -> Image.Image:
    """One site's watermark: a see-through name across the middle and a badge in the corner
    (what two unrelated pictures from the same site share)."""
    out = img.convert("RGBA")
    layer = Image.new("RGBA", out.size, (0, 0, 0, 0))
    draw = ImageDraw.Draw(layer)
    size = max(18, out.width // 10)
    font = ImageFont.load_default(size=size)
    text = "hotleaks.example"
    draw.text(((out.width - int(draw.textlength(text, font=font))) // 2, out.height // 2 - size // 2), text,
              font=font, fill=(255, 255, 255, 110))
    badge = max(60, out.width // 6)
    draw.rounded_rectangle((12, 12, 12 + badge, 12 + badge // 3), 8, fill=(220, 20, 60, 230))
    draw.text((20, 16), "HL", font=ImageFont.load_default(size=max(10, badge // 4)), fill=(255, 255, 255, 255))
    return Image.alpha_composite(out, layer).convert("RGB")


def sponsor_wall(size: tuple[int, int], shift: tuple[int, int] = (0, 0), zoom: float = 1.0) -> Image.Image:
    """A step-and-repeat event backdrop: two sponsor logos tiled in a staggered grid, seen
    from a camera moved by ``shift`` pixels and ``zoom``."""
    w, h = size
    big = Image.new("RGB", (w * 2, h * 2), (245, 245, 245))
    draw = ImageDraw.Draw(big)
    step = 150
    font = ImageFont.load_default(size=30)
    for row, y in enumerate(range(0, h * 2, step // 2)):
        for x in range(-step, w * 2, step):
            x0 = x + (row % 2) * step // 2
            if row % 2:
                draw.ellipse((x0 + 20, y + 8, x0 + 60, y + 48), fill=(200, 20, 40))
                draw.text((x0 + 66, y + 12), "VOGA", font=font, fill=(20, 20, 20))
            else:
                draw.rectangle((x0 + 10, y + 10, x0 + 130, y + 46), outline=(20, 40, 160), width=3)
                draw.text((x0 + 22, y + 12), "NOVA", font=font, fill=(20, 40, 160))
    big = big.resize((round(big.width * zoom), round(big.height * zoom)), Image.Resampling.LANCZOS)
    return big.crop((shift[0], shift[1], shift[0] + w, shift[1] + h))


def in_front(background: Image.Image, subject: Image.Image, x_share: float) -> Image.Image:
    """``subject`` (a person's picture) standing in front of ``background``: 45% of the width,
    from near the top to the bottom edge, its left side at ``x_share`` of the width."""
    out = background.copy()
    sw, sh = round(out.width * 0.45), round(out.height * 0.9)
    out.paste(ImageOps.fit(subject, (sw, sh)), (round(out.width * x_share), out.height - sh))
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
