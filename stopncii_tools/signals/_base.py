"""The one interface every signal type implements, and the value it produces."""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar

from .._errors import InvalidHash
from ..media.pictures import Picture


@dataclass(frozen=True)
class SignalValue:
    """One computed hash: its signal name, lowercase hex value and quality (if the type has one)."""

    signal: str
    value: str
    quality: int | None = None

    @property
    def weak(self) -> bool:
        """True when the hash is too low in quality to be trusted alone for a match."""
        return self.quality is not None and self.quality < WEAK_QUALITY


WEAK_QUALITY = 50


@dataclass(frozen=True)
class Example:
    """A pair of inputs that the auto-test checks: ``same`` says whether they should match."""

    a: bytes
    b: bytes
    same: bool


class Signal(ABC):
    """A kind of hash: how to compute it, write it down, check it and compare two of them.

    ``distance`` is the number of differing bits; two values match when it is at most
    ``threshold``. ``bits`` is the hash length, so ``hex_length`` is ``bits // 4``.
    """

    name: ClassVar[str]
    bits: ClassVar[int]
    threshold: ClassVar[int]
    description: ClassVar[str]
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    can_match_alone: ClassVar[bool] = True

    @property
    def hex_length(self) -> int:
        return (self.bits + 3) // 4

    @abstractmethod
    def compute(self, data: bytes, picture: Picture | None) -> SignalValue:
        """Hash one item from its bytes and, for pictures, its decoded :class:`Picture`."""

    def validate(self, text: str) -> str:
        """Return ``text`` as canonical lowercase hex, or raise :class:`InvalidHash`."""
        value = text.strip().lower()
        if len(value) != self.hex_length or not _HEX.fullmatch(value):
            raise InvalidHash(
                f"a {self.name} hash is {self.hex_length} hexadecimal characters; "
                f"got {_preview(text)}"
            )
        return value

    def distance(self, a: str, b: str) -> int:
        """Hamming distance between two hex values of this signal."""
        return (int(a, 16) ^ int(b, 16)).bit_count()

    def matches(self, a: str, b: str) -> bool:
        return self.distance(a, b) <= self.threshold

    @abstractmethod
    def examples(self) -> list[Example]:
        """Inputs that must (or must not) match; run against every signal by the auto-test."""


_HEX = re.compile(r"[0-9a-f]+")


def _preview(text: str) -> str:
    shown = text if len(text) <= 24 else text[:21] + "..."
    return f"{shown!r} ({len(text)} characters)"


def bits_to_hex(bits: "list[int] | object") -> str:
    """Pack a 0/1 sequence (most significant bit first) into lowercase hex."""
    import numpy as np

    arr = np.asarray(bits, dtype=np.uint8).ravel()
    return np.packbits(arr).tobytes().hex()
