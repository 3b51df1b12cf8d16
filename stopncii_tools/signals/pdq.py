"""PDQ: Meta's 256-bit perceptual hash, the one StopNCII and most platforms match on."""

from __future__ import annotations

from types import ModuleType
from typing import ClassVar

import numpy as np

from ..media.pictures import Picture
from . import pdq_numpy
from ._base import Decoded, Example, HashSignal, MatchRule, SignalValue, bits_to_hex
from ._examples import encode, scene

# Who computes the bits: both give the same hash (tests/test_signals.py checks Meta's reference
# files bit for bit). ``pdqhash`` (the "fast" extra) compiles C++ on install, so it is optional.
BACKENDS: dict[str, ModuleType] = {"numpy": pdq_numpy}
try:
    import pdqhash

    BACKENDS["pdqhash"] = pdqhash
except ImportError:  # no compiler, or the extra is not installed: numpy gives the same hash
    pass
DEFAULT_BACKEND = "pdqhash" if "pdqhash" in BACKENDS else "numpy"

# the order of the backends' compute_dihedral, named for people reading a match
DIHEDRAL_NAMES = (
    "original",
    "rotated 90",
    "rotated 180",
    "rotated 270",
    "mirrored left-right",
    "mirrored top-bottom",
    "mirrored on the diagonal",
    "mirrored on the other diagonal",
)
# the picture as the file stores it (no EXIF rotation, transparency and palette as a platform
# reads them): what HMA and python-threatexchange compute from the same file
STORED_VARIANT = 8
VARIANT_NAMES = (*DIHEDRAL_NAMES, "as stored in the file")


class PDQ(HashSignal):
    name: ClassVar[str] = "pdq"
    bits: ClassVar[int] = 256
    threshold: ClassVar[int] = 31
    strong: ClassVar[int] = 16
    description: ClassVar[str] = "Meta's PDQ perceptual hash (256 bits), used by StopNCII"
    rule: ClassVar[MatchRule] = "primary"

    def __init__(self, backend: str = DEFAULT_BACKEND) -> None:
        self.backend_name = backend
        self.backend = BACKENDS[backend]

    def compute(self, media: Decoded) -> SignalValue | None:
        if media.picture is None:
            return None
        return self.of_pixels(np.asarray(media.picture.image))

    def of_pixels(self, rgb: np.ndarray) -> SignalValue:
        """PDQ of an RGB array (a picture, or one video frame)."""
        bits, quality = self.backend.compute(rgb)
        return SignalValue(self.name, bits_to_hex(bits), int(quality))

    def note(self, value: SignalValue) -> str | None:
        if value.weak:
            return "low-detail picture: its PDQ hash is weak and is not used alone for a match"
        return None

    def dihedral(self, picture: Picture) -> list[SignalValue]:
        """The 8 rotations and mirror images, in :data:`DIHEDRAL_NAMES` order."""
        hashes, quality = self.backend.compute_dihedral(np.asarray(picture.image))
        return [SignalValue(self.name, bits_to_hex(h), int(quality)) for h in hashes]

    def as_stored(self, picture: Picture, upright: SignalValue) -> SignalValue | None:
        """PDQ of the picture as a platform's hasher reads the file (:data:`STORED_VARIANT`);
        None when there is no such view, it hashes like the upright picture, or it is weak."""
        if picture.stored is None:
            return None
        stored = self.of_pixels(np.asarray(picture.stored))
        return None if stored.value == upright.value or stored.weak else stored

    def examples(self) -> list[Example]:
        base = scene(1)
        return [
            Example(encode(base), encode(base.resize((320, 240)), quality=70), same=True),
            Example(encode(base), encode(scene(2)), same=False),
        ]
