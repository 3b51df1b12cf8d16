"""Exact-byte digests: MD5 (what StopNCII uses for videos) and SHA-256 (evidence)."""

from __future__ import annotations

import hashlib
from typing import ClassVar

from ._base import Decoded, Example, HashSignal, Hit, MatchRule, SignalIndex, SignalValue
from ._examples import encode, scene


class _Digest(HashSignal):
    threshold: ClassVar[int] = 0
    rule: ClassVar[MatchRule] = "exact"
    kinds: ClassVar[frozenset[str]] = frozenset({"image", "video"})

    def compute(self, media: Decoded) -> SignalValue:
        return SignalValue(self.name, hashlib.new(self.name, media.data).hexdigest())

    def index(self) -> SignalIndex:
        return _ExactIndex(self)

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


class _ExactIndex(SignalIndex):
    """Digests by value: the same file is the same value, so one dictionary lookup finds it."""

    def __init__(self, signal: _Digest) -> None:
        self.signal = signal
        self._owners: dict[str, set[int]] = {}

    def add(self, owner: int, value: SignalValue, variant: int = 0) -> None:
        self._owners.setdefault(value.text(), set()).add(owner)

    def __len__(self) -> int:
        return len(set().union(*self._owners.values())) if self._owners else 0

    def search(self, suspect: SignalValue) -> list[Hit]:
        return [Hit(owner, self.signal.evidence(0)) for owner in sorted(self._owners.get(suspect.text(), ()))]
