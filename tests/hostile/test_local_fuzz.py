"""A fuzz target for the media loader: mutated pictures of every format give a picture or one
:class:`MediaError`, never another exception. CI runs a fixed number of examples; a longer run:

    STOPNCII_FUZZ_EXAMPLES=20000 python -m pytest -q -p no:cacheprovider tests/hostile/test_local_fuzz.py
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from stopncii_tools._errors import MediaError
from stopncii_tools.media.pictures import Picture, open_picture
from stopncii_tools.signals._examples import encode, scene

EXAMPLES = int(os.environ.get("STOPNCII_FUZZ_EXAMPLES", "300"))

_SCENE = scene(11, (96, 64))
SEEDS = [
    encode(_SCENE, "JPEG"),
    encode(_SCENE, "JPEG", progressive=True),
    encode(_SCENE, "PNG"),
    encode(_SCENE.convert("P"), "GIF"),
    encode(_SCENE, "WEBP"),
    encode(_SCENE, "TIFF"),
    encode(_SCENE, "BMP"),
    encode(Image.new("I;16", (40, 30), 3000), "PNG"),
]


@st.composite
def mutated(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data) - 1))
        action = draw(st.sampled_from(["flip", "big", "cut", "insert"]))
        if action == "flip":
            data[at] = draw(st.integers(0, 255))
        elif action == "big":  # header fields (sizes, counts) are where bombs live
            data[at : at + 2] = b"\xff\xff"
        elif action == "cut":
            del data[at:]
            if not data:
                data = bytearray(b"\xff")
        else:
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
    return bytes(data)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(mutated())
def test_mutated_pictures_give_a_picture_or_one_media_error(data: bytes) -> None:
    try:
        picture = open_picture(data)
    except MediaError as exc:
        assert str(exc) and "\n" not in str(exc)
        return
    assert isinstance(picture, Picture) and picture.image.mode == "RGB"
