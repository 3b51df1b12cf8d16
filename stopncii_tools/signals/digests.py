"""Exact-byte digests: MD5 (what StopNCII uses for videos) and SHA-256 (evidence)."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from ..media.pictures import Picture
from ._base import Example, Signal, SignalValue
from ._examples import encode, scene


class _Digest(Signal):
    threshold: ClassVar[int] = 0
    kinds: ClassVar[frozenset[str]] = frozenset({"image", "video"})

    def compute(self, data: bytes, picture: Picture | None) -> SignalValue:
        return SignalValue(self.name, hashlib.new(self.name, data).hexdigest())

    def examples(self) -> list[Example]:
        original = encode(scene(5))
        return [
            Example(original, bytes(original), same=True),
            Example(original, encode(scene(5), quality=60), same=False),
        ]


class MD5(_Digest):
    name = "md5"
    bits = 128
    description = "MD5 of the exact bytes (what StopNCII uses for videos)"


class SHA256(_Digest):
    name = "sha256"
    bits = 256
    description = "SHA-256 of the exact bytes (identifies the exact file, for evidence)"
