"""Loading pictures: formats, EXIF orientation, every PIL mode, size guard, bad files."""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from stopncii_tools import CorruptMedia, MediaError, MediaTooLarge, UnsupportedMedia, hash_bytes, hash_file
from stopncii_tools.media.pictures import open_picture, sniff
from stopncii_tools.signals._examples import encode, scene
from stopncii_tools.signals.pdq import PDQ

pdq = PDQ()


def _pdq(data: bytes) -> str:
    return hash_bytes(data).signals["pdq"].value


@pytest.mark.parametrize(
    "fmt,options",
    [("JPEG", {}), ("PNG", {}), ("WEBP", {}), ("GIF", {}), ("BMP", {}), ("TIFF", {}), ("AVIF", {}), ("HEIF", {})],
)
def test_every_supported_format_is_sniffed_and_hashes_like_the_jpeg(fmt: str, options: dict) -> None:
    img = scene(11)
    reference = _pdq(encode(img, "PNG"))
    data = encode(img, fmt, **options)
    expected = {"HEIF": "heif"}.get(fmt, fmt.lower())
    assert sniff(data) == expected
    result = hash_bytes(data)
    assert result.format == expected and (result.width, result.height) == img.size
    assert pdq.distance(result.signals["pdq"].value, reference) <= 31


def test_format_comes_from_bytes_not_the_extension(tmp_path: Path) -> None:
    path = tmp_path / "holiday.png"
    path.write_bytes(encode(scene(12), "JPEG"))
    assert hash_file(path).format == "jpeg"


def test_animated_gif_uses_the_first_frame() -> None:
    first, second = scene(13), scene(14)
    buf = io.BytesIO()
    first.save(buf, "GIF", save_all=True, append_images=[second], duration=100)
    assert pdq.distance(_pdq(buf.getvalue()), _pdq(encode(first, "GIF"))) <= 10


def test_large_jpeg_is_decoded_at_reduced_size() -> None:
    big = scene(15, (4032, 3024))
    data = encode(big, "JPEG", quality=90)
    picture = open_picture(data)
    assert (picture.width, picture.height) == (4032, 3024)
    assert max(picture.image.size) == 512
    # the same picture decoded in full and shrunk hashes within a few bits
    full = big.resize((512, 384), Image.Resampling.BICUBIC)
    assert pdq.distance(picture_pdq(picture.image), picture_pdq(full)) <= 10


def picture_pdq(img: Image.Image) -> str:
    return _pdq(encode(img, "PNG"))


@pytest.mark.parametrize("name", ["exif-rotn-1.jpg", "exif-rotn-3.jpg", "exif-rotn-6.jpg", "exif-rotn-8.jpg"])
def test_exif_orientation_is_applied(shared_testdata: Path, name: str) -> None:
    data = (shared_testdata / "pdq" / "exif-rotation" / name).read_bytes()
    raw = Image.open(io.BytesIO(data))
    orientation = raw.getexif().get(0x0112, 1)
    upright = raw.transpose(
        {3: Image.Transpose.ROTATE_180, 6: Image.Transpose.ROTATE_270, 8: Image.Transpose.ROTATE_90}[orientation]
    ) if orientation != 1 else raw.copy()
    upright_copy = encode(upright.convert("RGB"), "JPEG", quality=95)  # saved without EXIF
    assert "exif" not in Image.open(io.BytesIO(upright_copy)).info
    ours = _pdq(data)
    assert pdq.distance(ours, _pdq(upright_copy)) <= 10
    if orientation != 1:
        raw_pixels = encode(raw.convert("RGB"), "JPEG", quality=95)
        assert pdq.distance(ours, _pdq(raw_pixels)) > 31


CLOSE_MODES = ["RGB.jpg", "L.png", "LA.png", "P.png", "PA.webp", "RGBA.png", "CMYK.jpg", "YCbCr.jpg"]
ALL_MODES = CLOSE_MODES + ["1.png", "LAB.webp", "HSV.webp", "I.webp", "F.webp"]


@pytest.mark.parametrize("name", ALL_MODES)
def test_every_mode_loads_and_hashes(shared_testdata: Path, name: str) -> None:
    folder = shared_testdata / "pdq" / "modes"
    result = hash_file(folder / name)
    assert result.signals["pdq"].quality is not None
    if name in CLOSE_MODES:
        original = hash_file(folder / "original.jpg").signals["pdq"].value
        assert pdq.distance(result.signals["pdq"].value, original) <= 12


SAVED_MODES = {  # every mode a file can carry, in a format that stores it as such
    "1": "PNG", "L": "PNG", "LA": "PNG", "P": "PNG", "RGBA": "PNG", "I": "TIFF", "F": "TIFF",
    "I;16": "PNG", "CMYK": "JPEG", "YCbCr": "JPEG", "LAB": "TIFF",
}


@pytest.mark.parametrize("mode", sorted(SAVED_MODES))
def test_every_pil_mode_made_here_loads(mode: str) -> None:
    base = scene(16)
    if mode == "I;16":
        samples = np.asarray(base.convert("L"), dtype="<u2") * 257  # full 16-bit range
        img = Image.fromarray(samples)
    else:
        img = base.convert(mode)
    data = encode(img, SAVED_MODES[mode])
    assert Image.open(io.BytesIO(data)).mode == mode or mode in ("YCbCr",)
    result = hash_bytes(data)
    assert result.signals["pdq"].quality is not None
    if mode not in ("1", "LAB"):
        assert pdq.distance(result.signals["pdq"].value, _pdq(encode(base, "PNG"))) <= 31, mode


def test_palette_with_transparency_loads() -> None:
    img = scene(16).convert("P")
    result = hash_bytes(encode(img, "PNG", transparency=0))
    assert result.signals["pdq"].quality is not None


def test_alpha_is_composited_onto_white() -> None:
    transparent = Image.new("RGBA", (64, 64), (0, 0, 0, 0))
    picture = open_picture(encode(transparent, "PNG"))
    assert picture.image.getpixel((10, 10)) == (255, 255, 255)


@pytest.mark.parametrize("name", ["small.jpg", "wee.jpg"])
def test_tiny_pictures_hash_and_low_quality_is_reported_not_an_error(shared_testdata: Path, name: str) -> None:
    result = hash_file(shared_testdata / "pdq" / "modes" / name)
    value = result.signals["pdq"]
    assert len(value.value) == 64
    if value.weak:
        assert any("weak" in note for note in result.notes)


def test_one_pixel_picture_hashes_as_weak() -> None:
    result = hash_bytes(encode(Image.new("RGB", (1, 1), (9, 9, 9)), "PNG"))
    assert result.signals["pdq"].weak and result.notes


# -- bad input ---------------------------------------------------------------------------


def test_picture_above_the_pixel_limit_is_refused_before_decoding() -> None:
    data = encode(Image.new("L", (3000, 3000)), "PNG")
    with pytest.raises(MediaTooLarge, match="claims 9 megapixels, above the safety limit of 5 megapixels"):
        hash_bytes(data, max_pixels=5_000_000)


def test_decompression_bomb_header_is_refused() -> None:
    # a tiny PNG whose header claims 100,000 x 100,000 pixels
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", 100_000, 100_000, 8, 0, 0, 0, 0)
    bomb = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 1000))
            + chunk(b"IEND", b""))
    with pytest.raises(MediaTooLarge, match="10000 megapixels"):
        hash_bytes(bomb)


def test_truncated_jpeg_fails_with_a_reason(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    path.write_bytes(encode(scene(17), "JPEG")[:2000])
    with pytest.raises(CorruptMedia) as info:
        hash_file(path)
    message = str(info.value)
    assert message.startswith(str(path)) and "\n" not in message
    assert "cut short" in message or "damaged" in message


def test_corrupt_png_fails_with_a_reason(tmp_path: Path) -> None:
    data = bytearray(encode(scene(18), "PNG"))
    data[100:400] = os.urandom(300)
    path = tmp_path / "broken.png"
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptMedia, match="broken.png: the PNG file"):
        hash_file(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    with pytest.raises(UnsupportedMedia, match="empty.jpg: the file is empty"):
        hash_file(path)


def test_text_file_is_not_a_picture(tmp_path: Path) -> None:
    path = tmp_path / "notes.jpg"
    path.write_text("hello, this is text")
    with pytest.raises(UnsupportedMedia, match="not a picture or video format"):
        hash_file(path)


def test_unsupported_format_is_named(tmp_path: Path) -> None:
    path = tmp_path / "doc.pdf"
    path.write_bytes(b"%PDF-1.7\n" + b"0" * 100)
    with pytest.raises(UnsupportedMedia, match="doc.pdf"):
        hash_file(path)


def test_symlink_loop(tmp_path: Path) -> None:
    (tmp_path / "a.jpg").symlink_to(tmp_path / "b.jpg")
    (tmp_path / "b.jpg").symlink_to(tmp_path / "a.jpg")
    with pytest.raises(MediaError, match="a.jpg: cannot read the file"):
        hash_file(tmp_path / "a.jpg")


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MediaError, match="nothere.jpg: cannot read the file: No such file"):
        hash_file(tmp_path / "nothere.jpg")


def test_a_picture_too_thin_for_features_still_hashes() -> None:
    pytest.importorskip("cv2")
    result = hash_bytes(encode(Image.new("RGB", (4000, 1), (10, 200, 30)), "PNG"), on_request=["regions"])
    assert result.signals["pdq"].quality is not None and "regions" not in result.signals


def test_broken_gif_message_names_no_internal_object() -> None:
    data = encode(scene(20), "GIF")[:40]
    with pytest.raises(CorruptMedia) as info:
        hash_bytes(data)
    assert "BytesIO" not in str(info.value)
