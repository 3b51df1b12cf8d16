"""Region signature: crops, screenshots, letterboxed copies and derivatives of a protected photo
are found with the right kind; unrelated pictures are not; signatures survive storage."""

from __future__ import annotations

import math
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw, ImageFilter, ImageOps

from stopncii_tools._errors import InvalidHash, StopNCIIError
from stopncii_tools.media.samples import screenshot
from stopncii_tools.signals._examples import encode
from stopncii_tools.signals.regions import (
    DerivativeSupportMissing,
    RegionIndex,
    RegionSignature,
    compare_regions,
    compute_region_signature,
)

cv2 = pytest.importorskip("cv2", reason="the derivatives extra (OpenCV) is not installed")


def photo(seed: int, size: tuple[int, int] = (800, 600)) -> Image.Image:
    """A detailed, photo-like scene: textured background, shapes, lines and small marks."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    base = np.stack([127 + 80 * np.sin(xx / rng.uniform(30, 90) + rng.uniform(0, 6))
                     * np.cos(yy / rng.uniform(30, 90)) for _ in range(3)], -1)
    img = Image.fromarray(np.clip(base + rng.normal(0, 12, (h, w, 3)), 0, 255).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    for _ in range(160):
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        r = int(rng.integers(4, 40))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        shape = rng.integers(0, 3)
        if shape == 0:
            draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
        elif shape == 1:
            draw.rectangle((x - r, y - r // 2, x + r, y + r // 2), fill=colour)
        else:
            draw.line((x, y, x + int(rng.integers(-80, 80)), y + int(rng.integers(-80, 80))),
                      fill=colour, width=3)
    return img.filter(ImageFilter.GaussianBlur(0.7))


def letterbox(img: Image.Image) -> Image.Image:
    canvas = Image.new("RGB", (720, 1280), (0, 0, 0))
    shown = ImageOps.contain(img, (720, 1280))
    canvas.paste(shown, (0, (1280 - shown.height) // 2))
    return canvas


def crop(img: Image.Image, share: float) -> Image.Image:
    w, h = img.size
    return img.crop((round(w * share), round(h * share), round(w * (1 - share)), round(h * (1 - share))))


def rotate_crop(img: Image.Image) -> Image.Image:
    return crop(img.rotate(3, Image.Resampling.BICUBIC), 0.08)


def body_replaced(img: Image.Image) -> Image.Image:
    """The 'nudify' edit: x 20-80%, y 45-100% painted over with smooth skin tones."""
    w, h = img.size
    out = img.copy()
    box = (round(w * 0.2), round(h * 0.45), round(w * 0.8), h)
    skin = Image.new("RGB", (box[2] - box[0], box[3] - box[1]), (224, 172, 140))
    ImageDraw.Draw(skin).ellipse((40, 40, 200, 160), fill=(200, 150, 120))
    out.paste(skin.filter(ImageFilter.GaussianBlur(6)), box[:2])
    return out


@pytest.fixture(scope="module")
def protected() -> RegionSignature:
    return compute_region_signature(encode(photo(1)))


PARTIAL_VIEWS = {
    "cropped 5% from each edge": lambda img: crop(img, 0.05),
    "cropped 15% from each edge": lambda img: crop(img, 0.15),
    "centre square": lambda img: img.crop((100, 0, 700, 600)),
    "screenshot in an app": screenshot,
    "letterboxed phone copy": letterbox,
    "rotated 3 degrees and cropped": rotate_crop,
}


@pytest.mark.parametrize("view", list(PARTIAL_VIEWS))
def test_partial_views_are_found_as_part_of_the_photo(protected: RegionSignature, view: str) -> None:
    suspect = compute_region_signature(encode(PARTIAL_VIEWS[view](photo(1)), quality=85))
    evidence = compare_regions(protected, suspect)
    assert evidence is not None, view
    assert evidence.kind == "partial"
    assert evidence.describe().startswith("part of your photo")
    assert "local features agree under one geometry" in evidence.agreeing[0]


@pytest.mark.parametrize("finish", ["JPEG q70", "resized to 512", "cropped 10%"])
def test_a_derivative_is_found_as_derived_from_the_photo(protected: RegionSignature, finish: str) -> None:
    fake = body_replaced(photo(1))
    if finish == "resized to 512":
        fake = ImageOps.contain(fake, (512, 512))
    elif finish == "cropped 10%":
        fake = crop(fake, 0.10)
    evidence = compare_regions(protected, compute_region_signature(encode(fake, quality=70)))
    assert evidence is not None
    assert evidence.kind == "derived"
    assert evidence.describe().startswith("derived from your photo")
    assert any("replaced" in text and "bottom" in text for text in evidence.differing)
    assert any("top" in text for text in evidence.agreeing[1:])


def test_a_rotation_is_reported(protected: RegionSignature) -> None:
    suspect = compute_region_signature(encode(photo(1).rotate(90, expand=True)))
    evidence = compare_regions(protected, suspect)
    assert evidence is not None and evidence.kind == "partial"
    assert abs(abs(evidence.rotation) - 90) < 2
    assert math.isclose(evidence.coverage, 1.0, abs_tol=0.05)


def test_unrelated_pictures_are_not_matched(protected: RegionSignature) -> None:
    others = [photo(seed) for seed in range(2, 8)]
    others += [crop(photo(9), 0.2), screenshot(photo(10)), body_replaced(photo(11))]
    for img in others:
        assert compare_regions(protected, compute_region_signature(encode(img))) is None


def test_the_index_shortlists_and_confirms_the_right_photo() -> None:
    index = RegionIndex()
    for seed in (1, 2, 3, 4):
        index.add(f"photo {seed}", compute_region_signature(encode(photo(seed))))
    found = index.search(compute_region_signature(encode(screenshot(photo(3), dark=True))))
    assert [owner for owner, _ in found] == ["photo 3"]
    assert index.search(compute_region_signature(encode(photo(12)))) == []


def test_a_flat_picture_has_a_weak_signature() -> None:
    flat = compute_region_signature(encode(Image.new("RGB", (640, 480), (120, 160, 200))))
    assert flat.weak


def test_bad_input_is_a_clear_media_error() -> None:
    with pytest.raises(StopNCIIError, match="not a picture"):
        compute_region_signature(b"hello, this is text")


def test_without_opencv_the_error_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cv2", None)  # as if opencv were not installed
    with pytest.raises(DerivativeSupportMissing, match=r"pip install 'stopncii-tools\[derivatives\]'"):
        compute_region_signature(encode(photo(1)))


@st.composite
def signatures(draw: st.DrawFn) -> RegionSignature:
    width = draw(st.integers(1, 640))
    height = draw(st.integers(1, 640))
    n = draw(st.integers(0, 40))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    points = np.stack([rng.integers(0, width * 16, n), rng.integers(0, height * 16, n)], 1) / 16
    return RegionSignature(width, height, points.astype(np.float32),
                           rng.integers(0, 256, (n, 32), dtype=np.uint8),
                           rng.integers(1, 256, n, dtype=np.uint8))


@settings(max_examples=60, deadline=None)
@given(signatures())
def test_storage_round_trip(signature: RegionSignature) -> None:
    blob = signature.to_bytes()
    assert len(blob) == 10 + 37 * len(signature)  # the first format, which stored databases hold
    back = RegionSignature.from_bytes(blob)
    assert back == signature
    assert np.array_equal(back.points, signature.points)
    assert np.array_equal(back.descriptors, signature.descriptors)
    assert RegionSignature.from_hex(signature.to_hex()) == signature
    assert np.array_equal(back.index_keys(), signature.index_keys())


@settings(max_examples=40, deadline=None)
@given(signatures(), st.integers(1, 36))
def test_damaged_storage_is_refused_plainly(signature: RegionSignature, cut: int) -> None:
    blob = signature.to_bytes()
    with pytest.raises(InvalidHash, match="region signature"):
        RegionSignature.from_bytes(blob[:-cut] if len(blob) > cut else b"XXXX" + blob[4:])
    with pytest.raises(InvalidHash, match="hexadecimal"):
        RegionSignature.from_hex("not hex at all")


def test_a_mirrored_turned_crop_is_found_when_the_mirror_image_was_kept() -> None:
    from stopncii_tools.signals.regions import signature_of_picture

    kept = signature_of_picture(photo(1), mirror=True)
    suspect = compute_region_signature(encode(crop(ImageOps.mirror(photo(1)).rotate(20, Image.Resampling.BICUBIC),
                                                   0.15)))
    assert compare_regions(kept.upright(), suspect) is None  # the photo as taken does not show it
    evidence = compare_regions(kept, suspect)
    assert evidence is not None and evidence.mirrored and abs(abs(evidence.rotation) - 20) < 2
    assert evidence.describe().startswith("part of your photo (mirrored)")
    assert RegionSignature.from_bytes(kept.to_bytes()) == kept  # the mirror image survives storage


def test_agreement_on_a_repeated_pattern_alone_is_no_match() -> None:
    from stopncii_tools.media.samples import in_front, sponsor_wall

    mine = in_front(sponsor_wall((900, 700)), photo(1), 0.3)
    someone_else = in_front(sponsor_wall((900, 700), (37, 21), 1.08), photo(2), 0.22)
    assert compare_regions(compute_region_signature(encode(mine)),
                           compute_region_signature(encode(someone_else))) is None


def test_another_person_in_the_same_place_is_at_most_low_but_a_fake_of_the_photo_is_high() -> None:
    from stopncii_tools.media.samples import in_front

    place = photo(3, (900, 700))
    elsewhere_in_it = ImageOps.fit(crop(place, 0.03), (900, 700))
    someone_else_there = compute_region_signature(encode(in_front(elsewhere_in_it, photo(2), 0.25)))
    mine = in_front(place, photo(1), 0.3)
    dark_figure = in_front(place, Image.new("RGB", (300, 500), (20, 20, 30)), 0.3)  # a subject with no detail
    for protected_photo in (mine, dark_figure):
        evidence = compare_regions(compute_region_signature(encode(protected_photo)), someone_else_there)
        assert evidence is None or (evidence.confidence == "low" and evidence.background_only)
        assert evidence is None or "another photo taken at the same place" in evidence.describe()
    fake = compare_regions(compute_region_signature(encode(mine)),
                           compute_region_signature(encode(body_replaced(mine))))
    assert fake is not None and fake.kind == "derived" and fake.confidence == "high"


def test_a_turned_crop_showing_a_third_of_the_photo_is_found() -> None:
    turned = crop(photo(1).rotate(30, Image.Resampling.BICUBIC), 0.28)
    evidence = compare_regions(compute_region_signature(encode(photo(1))), compute_region_signature(encode(turned)))
    assert evidence is not None and abs(evidence.rotation - 30) < 2 and evidence.confidence in ("medium", "high")


def test_an_inset_at_a_quarter_of_the_width_is_found() -> None:
    host = photo(5, (900, 700))
    host.paste(photo(1).resize((225, 169), Image.Resampling.LANCZOS), (655, 20))
    evidence = compare_regions(compute_region_signature(encode(photo(1))), compute_region_signature(encode(host)))
    assert evidence is not None and abs(evidence.scale - 0.25) < 0.02


@given(st.lists(st.tuples(st.integers(0, 12), st.integers(0, 12)), max_size=80))
@settings(max_examples=200, deadline=None)
def test_features_are_paired_once_each_closest_first(candidates: list[tuple[int, int]]) -> None:
    from stopncii_tools.signals.regions import _claim_in_order

    first = np.array([a for a, _ in candidates], dtype=np.intp)
    second = np.array([b for _, b in candidates], dtype=np.intp)
    taken = [tuple(row) for row in _claim_in_order(first, second).tolist()]
    assert len({a for a, _ in taken}) == len({b for _, b in taken}) == len(taken)
    first_seen = [candidates.index(t) for t in taken]
    assert first_seen == sorted(first_seen)  # taken in the given order
    # a candidate is left out only because a pair taken before it holds one of its sides
    for k, (a, b) in enumerate(candidates):
        if (a, b) not in taken:
            assert any((ta == a or tb == b) and at < k for (ta, tb), at in zip(taken, first_seen, strict=True))
