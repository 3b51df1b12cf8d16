"""The pHash family from the imagehash library: 64-bit perceptual hashes (and a colour hash).

Thresholds were measured on edited copies versus unrelated photos; see docs/signals.md.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import imagehash
from PIL import Image

from ._base import Decoded, Example, HashSignal, MatchRule, SignalValue
from ._examples import encode, scene


def _whash(image: Image.Image) -> imagehash.ImageHash:
    # a fixed 64 px working square: the same computation for every picture size, 2-3x faster
    return imagehash.whash(image, image_scale=64)


def _colorhash(image: Image.Image) -> imagehash.ImageHash:
    # colour shares barely move when the picture is shrunk to 128 px, and the hash costs 8x less
    if max(image.size) > 128:
        image = image.copy()
        image.thumbnail((128, 128), Image.Resampling.BOX)
    return imagehash.colorhash(image)


class _ImageHashSignal(HashSignal):
    rule: ClassVar[MatchRule] = "vote"
    function: ClassVar[Callable[..., imagehash.ImageHash]]  # imagehash's function for this hash

    def compute(self, media: Decoded) -> SignalValue | None:
        if media.picture is None:
            return None
        return SignalValue(self.name, str(type(self).function(media.picture.image)))

    def examples(self) -> list[Example]:
        base = scene(3)
        return [
            Example(encode(base), encode(base.resize((400, 300)), quality=75), same=True),
            Example(encode(base), encode(self.unrelated(base)), same=False),
        ]

    def unrelated(self, base: Image.Image) -> Image.Image:
        """A picture this signal must tell apart from ``base``."""
        return scene(4)


class PHash(_ImageHashSignal):
    name = "phash"
    bits = 64
    threshold = 10
    description = "perceptual hash (DCT, 64 bits), from imagehash"
    function = staticmethod(imagehash.phash)


class DHash(_ImageHashSignal):
    name = "dhash"
    bits = 64
    threshold = 10
    description = "difference hash (gradients, 64 bits), from imagehash"
    function = staticmethod(imagehash.dhash)


class WHash(_ImageHashSignal):
    name = "whash"
    bits = 64
    threshold = 10
    description = "wavelet hash (Haar, 64 bits), from imagehash"
    function = staticmethod(_whash)


class ColorHash(_ImageHashSignal):
    name = "colorhash"
    bits = 42
    threshold = 4
    description = "colour distribution hash (42 bits), from imagehash; supports other signals only"
    rule: ClassVar[MatchRule] = "support"
    function = staticmethod(_colorhash)

    def unrelated(self, base: Image.Image) -> Image.Image:
        return base.convert("L").convert("RGB")  # same shapes, other colours: what it tells apart
