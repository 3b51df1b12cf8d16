"""What a picture costs to decode, worked out from its header before any pixel is decoded.

A 35-byte GIF or a 40-byte WebP can declare a picture of hundreds of megapixels, and a small
PNG of 16-bit samples needs 24 bytes a pixel on its way to RGB. These checks refuse such a
file from what it declares, so nothing is allocated for it. Only the first frame of an
animation is ever decoded, so a frame count costs nothing and is not limited here.
"""

from __future__ import annotations

import re
import struct
from typing import Final

from PIL import Image

from .._errors import CorruptMedia, MediaTooLarge
from .budgets import MB

MAX_JPEG_SCANS: Final = 100  # encoders write 1 (baseline) to about 20 (progressive); each costs a pass

# bytes a pixel while a picture of this mode is decoded and brought to RGB (pictures.py _to_rgb):
# the decoded buffer (Pillow keeps 4 bytes for every multi-band pixel), the upright copy and
# the conversions, which are alive at the same time
_PEAK_BYTES_PER_PIXEL: Final = {
    "1": 1 + 1 + 4, "L": 1 + 1 + 4, "P": 1 + 1 + 4 * 4, "RGB": 4 + 4, "RGBA": 4 + 4 * 4,
    "LA": 4 + 4 * 4, "PA": 4 + 4 * 4, "RGBa": 4 + 4 * 4, "La": 4 + 4 * 4,
    "I": 4 + 4 + 3 * 8 + 1 + 4, "I;16": 2 + 2 + 3 * 8 + 1 + 4, "I;16B": 2 + 2 + 3 * 8 + 1 + 4,
    "I;16L": 2 + 2 + 3 * 8 + 1 + 4, "I;16N": 2 + 2 + 3 * 8 + 1 + 4, "F": 4 + 4 + 3 * 8 + 1 + 4,
}
_OTHER_MODE_BYTES: Final = 4 + 4 + 4  # CMYK, YCbCr, LAB, HSV: decoded, upright, RGB
_WEBP_DECODER_BYTES: Final = 2 * 4  # libwebp's animation decoder holds two RGBA canvases from the start
_JPEG_COEFFICIENT_BYTES: Final = 2 * 3  # a progressive JPEG keeps every DCT coefficient (2 bytes, 3 colours)

_JPEG_MARKER: Final = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")  # a marker after entropy-coded data


def declared_size(data: bytes, fmt: str) -> tuple[int, int] | None:
    """The width and height the header of a PNG, GIF or WebP declares, read without Pillow
    (Pillow's WebP reader allocates the whole canvas as it opens the file)."""
    try:
        if fmt == "png" and data[12:16] == b"IHDR":
            width, height = struct.unpack(">II", data[16:24])
            return width, height
        if fmt == "gif":
            width, height = struct.unpack("<HH", data[6:10])
            return width, height
        if fmt == "webp":
            return _webp_size(data)
    except struct.error:
        raise CorruptMedia(f"the {fmt.upper()} file is cut short (truncated) before its size") from None
    return None


def _webp_size(data: bytes) -> tuple[int, int] | None:
    chunk = data[12:16]
    if chunk == b"VP8X":
        width = int.from_bytes(data[24:27], "little") + 1
        height = int.from_bytes(data[27:30], "little") + 1
        return width, height
    if chunk == b"VP8 " and data[23:26] == b"\x9d\x01\x2a":
        width, height = struct.unpack("<HH", data[26:30])
        return width & 0x3FFF, height & 0x3FFF
    if chunk == b"VP8L" and data[20:21] == b"\x2f":
        bits = int.from_bytes(data[21:25], "little")
        return (bits & 0x3FFF) + 1, ((bits >> 14) & 0x3FFF) + 1
    return None


def jpeg_scans(data: bytes) -> int:
    """How many scans (passes over the whole picture) a JPEG holds, counted from its markers
    without decoding; metadata segments (and thumbnails inside them) are skipped by length."""
    scans, at = 0, 2
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            break
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte
            at += 1
            continue
        if marker == 0xD9:  # end of image
            break
        if marker == 0x01 or 0xD0 <= marker <= 0xD7:
            at += 2
            continue
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        at += 2 + length
        if marker == 0xDA:
            scans += 1
            if scans > MAX_JPEG_SCANS:
                break
            following = _JPEG_MARKER.search(data, at)
            if following is None:
                break
            at = following.start()
    return scans


def check_before_opening(data: bytes, fmt: str, size: tuple[int, int] | None, allowed: int) -> None:
    """Refuse what the header alone shows to be too costly: a JPEG with more than
    :data:`MAX_JPEG_SCANS` scans, a WebP whose decoder would need more than ``allowed`` bytes."""
    if fmt == "jpeg" and jpeg_scans(data) > MAX_JPEG_SCANS:
        raise MediaTooLarge(
            f"the JPEG holds more than {MAX_JPEG_SCANS} scans (passes over the picture); real photos "
            "have at most about 20, so it could be made to keep the computer busy for minutes"
        )
    if fmt == "webp" and size is not None:
        need = size[0] * size[1] * (_WEBP_DECODER_BYTES + _PEAK_BYTES_PER_PIXEL["RGBA"])
        _check_need(need, fmt, size, "RGBA", allowed)


def decode_bytes(img: Image.Image, fmt: str, full_size: tuple[int, int]) -> int:
    """About how many bytes decoding ``img`` (already opened, after any JPEG draft) and bringing
    it to RGB will need at its peak. ``full_size`` is the size stored in the file."""
    pixels = img.width * img.height
    need = pixels * _PEAK_BYTES_PER_PIXEL.get(img.mode, _OTHER_MODE_BYTES)
    stored = full_size[0] * full_size[1]
    if fmt == "webp":
        need += stored * _WEBP_DECODER_BYTES
    if fmt == "jpeg" and ("progressive" in img.info or "progression" in img.info):
        need += stored * _JPEG_COEFFICIENT_BYTES
    return need


def check_decode_memory(img: Image.Image, fmt: str, full_size: tuple[int, int], allowed: int) -> None:
    _check_need(decode_bytes(img, fmt, full_size), fmt, full_size, img.mode, allowed)


def _check_need(need: int, fmt: str, full_size: tuple[int, int], mode: str, allowed: int) -> None:
    if need > allowed:
        raise MediaTooLarge(
            f"decoding this {fmt.upper()} picture ({full_size[0]}x{full_size[1]}, {mode}) would need "
            f"about {need / MB:,.0f} MB of memory, above the limit of {allowed / MB:,.0f} MB for one file "
            "(set STOPNCII_ITEM_MEMORY_MB to change it)"
        )
