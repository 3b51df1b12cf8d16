"""Open and normalise pictures: the one place in the package that decodes images.

Everything here works on bytes already in memory and never touches the network. A picture
comes out upright (EXIF orientation applied), in RGB (alpha composited onto white, palettes
resolved, 16-bit and float data scaled), and no larger than the size the hashes need, decoded
at reduced size where the format allows it (JPEG DCT scaling).
"""

from __future__ import annotations

import io
import os
import re
import warnings
from dataclasses import dataclass
from typing import Final

import numpy as np
from PIL import Image, ImageCms, ImageOps

from .._errors import CorruptMedia, MediaTooLarge, UnsupportedMedia
from .budgets import item_memory_bytes
from .headers import check_before_opening, check_decode_memory, declared_size

try:  # HEIC/HEIF photos from phones
    import pillow_heif

    pillow_heif.register_heif_opener()
    HEIF_SUPPORTED = True
except ImportError:  # pragma: no cover - it is a core dependency
    HEIF_SUPPORTED = False

DEFAULT_MAX_PIXELS: Final = int(os.environ.get("STOPNCII_MAX_PIXELS", 200_000_000))
HASH_SIDE: Final = 512  # PDQ's reference implementations downscale to at most 512 px
# the view as stored is the smallest whole-factor reduction at least this long (measured in
# benchmarks/stored_view.py: 0-2 bits from a platform's full-size hash; 4-12 at 512 px)
STORED_SIDE: Final = 1024
BACKGROUND: Final = (255, 255, 255)  # fixed backdrop for transparent pixels

IMAGE_FORMATS: Final = ("jpeg", "png", "gif", "webp", "bmp", "tiff", "heif", "avif")
VIDEO_FORMATS: Final = ("mp4", "mov", "webm", "mkv", "avi")

_PIL_FORMAT: Final = {
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
    "bmp": "BMP",
    "tiff": "TIFF",
    "heif": "HEIF",
    "avif": "AVIF",
}

_ISO_BRANDS_IMAGE: Final = {
    b"heic": "heif", b"heix": "heif", b"heim": "heif", b"heis": "heif", b"hevc": "heif",
    b"hevx": "heif", b"mif1": "heif", b"msf1": "heif", b"avif": "avif", b"avis": "avif",
}
_ISO_BRANDS_MOV: Final = {b"qt  "}


def sniff(data: bytes) -> str | None:
    """Name the format of ``data`` from its first bytes, or None if it is not one we read."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"AVI ":
        return "avi"
    if head[:2] == b"BM" and len(head) >= 26:
        return "bmp"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    if head[:4] == b"\x1a\x45\xdf\xa3":
        return "webm" if b"webm" in data[:256] else "mkv"
    if head[4:8] == b"ftyp":
        major = head[8:12]
        box_end = min(int.from_bytes(head[:4], "big"), 64)
        brands = [major] + [head[i : i + 4] for i in range(16, max(box_end, 16), 4)]
        for brand in brands:
            if brand in _ISO_BRANDS_IMAGE:
                return _ISO_BRANDS_IMAGE[brand]
        return "mov" if major in _ISO_BRANDS_MOV else "mp4"
    if head[4:8] in (b"moov", b"mdat", b"wide", b"free", b"skip"):
        return "mov"
    return None


def kind_of(fmt: str | None) -> str | None:
    """'image', 'video' or None for a format name from :func:`sniff`."""
    if fmt in IMAGE_FORMATS:
        return "image"
    if fmt in VIDEO_FORMATS:
        return "video"
    return None


@dataclass(frozen=True)
class Picture:
    """A decoded picture ready for hashing.

    ``image`` is RGB, upright and at most ``HASH_SIDE`` pixels on its longest side (smaller
    pictures are not enlarged). ``width`` and ``height`` are the full upright size.
    """

    image: Image.Image
    format: str
    width: int
    height: int
    detail: Image.Image | None = None  # a larger copy, when asked for (local-feature signals)
    stored: Image.Image | None = None  # the pixels as a platform's hasher reads them, when asked for


def open_picture(
    data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS, side: int = HASH_SIDE,
    detail_side: int | None = None, as_stored: bool = False,
) -> Picture:
    """Decode ``data`` into a :class:`Picture`.

    ``detail_side`` also keeps a copy up to that size in ``detail``, from the same decode.
    ``as_stored`` also keeps ``stored``, the pixels as python-threatexchange and HMA read the
    file (see :func:`as_platforms_read`), when they differ from the upright picture: EXIF
    rotates it, it has transparency or a palette.
    Raises :class:`UnsupportedMedia` for bytes that are not a picture format we read,
    :class:`MediaTooLarge` above ``max_pixels`` and :class:`CorruptMedia` for damaged files.
    """
    if not data:
        raise UnsupportedMedia("the file is empty")
    fmt = sniff(data)
    if fmt is None:
        raise UnsupportedMedia("not a picture or video format this tool can read")
    if fmt in VIDEO_FORMATS:
        raise UnsupportedMedia(f"this is a video ({fmt}), not a picture")
    if fmt == "heif" and not HEIF_SUPPORTED:
        raise UnsupportedMedia("HEIC/HEIF pictures need the pillow-heif package")
    declared = declared_size(data, fmt)
    width, height = declared or (0, 0)
    if width * height > max_pixels:  # refused before Pillow allocates anything for it
        raise MediaTooLarge(_too_large(width * height, max_pixels))
    check_before_opening(data, fmt, declared, item_memory_bytes())
    pillow_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels  # Pillow's own bomb check follows ours, not its 89.5 MP
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            img = Image.open(io.BytesIO(data), formats=[_PIL_FORMAT[fmt]])
            width, height = img.size
            if width * height > max_pixels:
                raise MediaTooLarge(_too_large(width * height, max_pixels))
            if fmt == "jpeg":
                # DCT scaling: decode at 1/2, 1/4 or 1/8 size, never below what the hashes use
                rotated = as_stored and img.getexif().get(0x0112, 1) != 1
                needed = max(side, detail_side or 0, STORED_SIDE if rotated else 0)
                img.draft("RGB" if img.mode == "RGB" else None, _draft_box(width, height, needed))
            check_decode_memory(img, fmt, (width, height), item_memory_bytes())
            img.seek(0)  # first frame of an animation
            img.load()
            orientation = img.getexif().get(0x0112, 1)
            swaps_axes = orientation in (5, 6, 7, 8)
            stored = as_platforms_read(img) if as_stored and (orientation != 1 or _flattening_changes(img)) else None
            rgb = _to_rgb(ImageOps.exif_transpose(img))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            claimed = re.search(r"\((\d+) pixels\)", str(exc))
            pixels = width * height or (int(claimed.group(1)) if claimed else 0)
            raise MediaTooLarge(_too_large(pixels, max_pixels)) from None
        except MediaTooLarge:
            raise
        except (OSError, SyntaxError, ValueError, EOFError, IndexError, TypeError) as exc:
            raise CorruptMedia(_corrupt_reason(fmt, exc)) from None
        finally:
            Image.MAX_IMAGE_PIXELS = pillow_limit
    if rgb.width == 0 or rgb.height == 0:
        raise CorruptMedia("the picture has no pixels")
    upright_w, upright_h = (height, width) if swaps_axes else (width, height)
    detail = _fit(rgb, detail_side) if detail_side else None  # from the same decode
    return Picture(image=_fit(rgb, side), format=fmt, width=upright_w, height=upright_h, detail=detail,
                   stored=_reduce(stored, STORED_SIDE) if stored else None)


def as_platforms_read(img: Image.Image) -> Image.Image | None:
    """The RGB pixels python-threatexchange's ``PdqSignal`` (HMA's hasher) hashes from this
    decode, or None where it cannot hash the mode at all.

    Its reading: no EXIF rotation; LA and I;16 converted to RGB; a palette picture's indices
    (not its colours) and grey as grey on all three channels; otherwise the first three
    channels as they are, so transparent pixels keep whatever colour the file holds.
    """
    if img.mode in ("LA", "I;16"):
        img = img.convert("RGB")
    if img.mode in ("L", "P"):
        grey = Image.frombytes("L", img.size, img.tobytes())  # the raw values: palette indices as grey
        return grey.convert("RGB")
    if len(img.getbands()) in (3, 4):
        return Image.fromarray(np.ascontiguousarray(np.asarray(img)[..., :3]), "RGB")
    return None  # 1-bit, 32-bit and float pictures, and PA: python-threatexchange fails on them too


def _reduce(img: Image.Image, side: int) -> Image.Image:
    """Shrink by the largest whole factor that keeps the longest side at least ``side`` (an
    average of whole pixels: as close to the full-size hash as the JPEG decoder's own scaling)."""
    factor = max(img.size) // side
    return img.reduce(factor) if factor > 1 else img


def _flattening_changes(img: Image.Image) -> bool:
    """A palette, or a pixel that is not fully opaque: the upright RGB picture differs from the file's pixels."""
    if img.mode in ("P", "PA") or "transparency" in img.info:
        return True
    if "A" in img.getbands():
        low, _ = img.getchannel("A").getextrema()
        return low != 255  # an 8-bit band: its extrema are two ints
    return False


def _too_large(pixels: int, max_pixels: int) -> str:
    size = f"{pixels / 1e6:.0f} megapixels" if pixels else "too many pixels"
    return (
        f"the picture claims {size}, above the safety limit of {max_pixels / 1e6:.0f} megapixels "
        "(it could be a decompression bomb; set STOPNCII_MAX_PIXELS to change the limit)"
    )


def _corrupt_reason(fmt: str, exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    text = re.sub(r"<_io\.BytesIO object at 0x[0-9a-f]+>", "the data", text)  # Pillow names its buffer
    if "truncated" in text.lower():
        return f"the {fmt.upper()} file is cut short (truncated): {text}"
    return f"the {fmt.upper()} file is damaged and cannot be decoded: {text}"


def _to_rgb(img: Image.Image) -> Image.Image:
    """Bring any PIL mode to RGB the way a person would see the picture."""
    mode = img.mode
    if mode == "RGB":
        return img
    if mode in ("P", "PA") or (mode in ("L", "RGB") and "transparency" in img.info):
        img = img.convert("RGBA")
        mode = "RGBA"
    if mode in ("RGBA", "LA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, BACKGROUND + (255,))
        return Image.alpha_composite(backdrop, rgba).convert("RGB")
    if mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        return _scale_to_8bit(img).convert("RGB")
    if mode == "LAB":
        to_rgb = ImageCms.buildTransform(
            ImageCms.createProfile("LAB"), ImageCms.createProfile("sRGB"), "LAB", "RGB"
        )
        return to_rgb.apply(img)
    return img.convert("RGB")  # 1, L, CMYK, YCbCr, HSV


def _scale_to_8bit(img: Image.Image) -> Image.Image:
    values = np.asarray(img, dtype=np.float64)
    top = float(values.max()) if values.size else 0.0
    if top > 255:
        bottom = float(values.min())
        if top <= 65535 and bottom >= 0:
            values = values / 257.0  # 16-bit samples
        else:
            values = (values - bottom) * (255.0 / max(top - bottom, 1e-9))
    return Image.fromarray(np.clip(np.rint(values), 0, 255).astype(np.uint8), "L")


def _draft_box(width: int, height: int, side: int) -> tuple[int, int]:
    """The smallest box whose longest side is ``side``: a square box decodes a 4:3 picture
    at twice the size the hashes need."""
    scale = min(1.0, side / max(width, height, 1))
    return max(1, int(width * scale)), max(1, int(height * scale))


def _fit(img: Image.Image, side: int) -> Image.Image:
    """Shrink (never enlarge) so the longest side is at most ``side``, keeping the aspect."""
    if max(img.size) <= side:
        return img
    scale = side / max(img.size)
    size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
    # an area average: as close to Meta's references as bicubic (measured) at half the cost
    return img.resize(size, Image.Resampling.BOX)
