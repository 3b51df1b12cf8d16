"""The one interface every signal implements, the values it produces and the index it searches.

A signal is computed from decoded media (:class:`Decoded`), kept in the database in its stored
form (lowercase hex text for a hash, compact bytes for a structured signal such as video frames
or the region signature), compared with another value of its kind, and searched through its
own :class:`SignalIndex`. The matcher (``matching/case.py``) only ever talks to this interface.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .._errors import InvalidHash
from ..media.pictures import Picture

if TYPE_CHECKING:
    from ..media.video import DecodedVideo

WEAK_QUALITY = 50  # PDQ quality below this: too little detail for the hash to be trusted alone

Stored = str | bytes  # a signal's stored form: hex text for hashes, bytes for structured signals
MatchRule = Literal["exact", "primary", "vote", "support", "own"]


def is_weak(quality: int | None) -> bool:
    """True when a hash of this quality is too weak to be trusted alone (no quality: never weak)."""
    return quality is not None and quality < WEAK_QUALITY


@dataclass(frozen=True)
class SignalValue:
    """One computed signal: its name, its stored form and its quality (if the type has one)."""

    signal: str
    value: Stored
    quality: int | None = None

    @property
    def weak(self) -> bool:
        """True when the hash is too low in quality to be trusted alone for a match."""
        return is_weak(self.quality)

    def text(self) -> str:
        """The hex text of a hash; :class:`InvalidHash` for a structured (bytes) value."""
        if not isinstance(self.value, str):
            raise InvalidHash(f"a {self.signal} value is {len(self.value)} bytes, not a hexadecimal hash")
        return self.value

    def blob(self) -> bytes:
        """The bytes of a structured value; :class:`InvalidHash` for a hash written as text."""
        if not isinstance(self.value, bytes):
            raise InvalidHash(f"a {self.signal} value is stored as bytes, not text")
        return self.value


@dataclass
class Decoded:
    """What signals are computed from: the bytes, and the picture or the video as decoded.

    ``video`` yields its frames once, as they are decoded (a long video is never held whole).
    """

    data: bytes
    kind: Literal["image", "video"]
    picture: Picture | None = None
    video: DecodedVideo | None = None
    dihedral: bool = False  # a protected item: signals that can also keep its mirror image do


@dataclass(frozen=True)
class Example:
    """A pair of inputs that the auto-test checks: ``same`` says whether they should match."""

    a: bytes
    b: bytes
    same: bool


@dataclass(frozen=True)
class Hit:
    """A protected value found near a suspect's: who owns it and the evidence, JSON-ready.

    ``kind`` and ``confidence`` are the signal's own verdict for signals whose rule is
    ``"own"`` (a video copy, part of a photo); other rules leave them to the matcher.
    """

    owner: int
    evidence: dict[str, Any]
    distance: int = 0
    variant: int = 0
    quality: int | None = None
    kind: str = "copy"
    confidence: str = "medium"


class SignalIndex(ABC):
    """The protected values of one signal in a case, searchable by a suspect's value."""

    @abstractmethod
    def add(self, owner: int, value: SignalValue, variant: int = 0) -> None:
        """Keep a protected value (``variant``: which rotation or mirror image, 0 = as taken)."""

    @abstractmethod
    def search(self, suspect: SignalValue) -> list[Hit]:
        """Protected values that match ``suspect``: at most one hit per owner, its best."""

    @abstractmethod
    def __len__(self) -> int:
        """How many owners have a value here."""


class Signal(ABC):
    """A kind of signal: how to compute it, store it, check it, compare and index it.

    ``rule`` says how the matcher uses its hits: ``exact`` (the same file), ``primary`` (a copy
    on its own, backed by ``vote`` signals when it is weak), ``vote`` (two must agree),
    ``support`` (never alone) or ``own`` (the signal's hit carries its own kind and confidence).
    ``on_request`` signals cost more and are computed only when asked for by name
    (:func:`~stopncii_tools.signals.hashing.hash_bytes`); a case that stores them asks for them
    when it scans or re-checks. ``picture_side`` is the picture size the signal needs beyond the
    standard hashing copy. ``feeds`` names other signals whose protected values its index also
    takes (a video's frames are searched for protected photos too). ``requires`` names the
    module of an optional extra it needs; without it, :meth:`unavailable` explains.
    """

    name: ClassVar[str]
    description: ClassVar[str]
    rule: ClassVar[MatchRule]
    kinds: ClassVar[frozenset[str]] = frozenset({"image"})
    on_request: ClassVar[bool] = False
    picture_side: ClassVar[int | None] = None
    feeds: ClassVar[tuple[str, ...]] = ()
    requires: ClassVar[str | None] = None  # the optional module computing it needs (an extra)

    @abstractmethod
    def compute(self, media: Decoded) -> SignalValue | None:
        """This signal of one decoded item; None when the item has nothing it can use."""

    @abstractmethod
    def validate(self, value: Stored) -> Stored:
        """``value`` in canonical stored form, or :class:`InvalidHash` saying what is wrong."""

    @abstractmethod
    def compare(self, protected: SignalValue, suspect: SignalValue) -> Hit | None:
        """The evidence that ``suspect`` matches ``protected`` (owner 0), or None."""

    @abstractmethod
    def index(self) -> SignalIndex:
        """An empty index for this signal's protected values."""

    @abstractmethod
    def examples(self) -> list[Example]:
        """Inputs that must (or must not) match; run against every signal by the auto-test."""

    def note(self, value: SignalValue) -> str | None:
        """Words for the person about a computed value (a weak hash), or None."""
        return None

    def unavailable(self, error: Exception) -> str | None:
        """When computing failed with ``error`` but the other signals still count: why, in words.

        None (the default) means the error is about the item itself and ends its hashing.
        """
        return None


class HashSignal(Signal):
    """A fixed-length hash compared by Hamming distance: a match is at most ``threshold`` bits."""

    bits: ClassVar[int]
    threshold: ClassVar[int]
    strong: ClassVar[int] = 0  # at most this distance, a ``primary`` match is high confidence alone
    rule: ClassVar[MatchRule] = "primary"

    @property
    def hex_length(self) -> int:
        return (self.bits + 3) // 4

    def validate(self, value: Stored) -> str:
        """Return ``value`` as canonical lowercase hex, or raise :class:`InvalidHash`."""
        if not isinstance(value, str):
            raise InvalidHash(f"a {self.name} hash is hexadecimal text; got {len(value)} bytes")
        text = value.strip().lower()
        if len(text) != self.hex_length or not _HEX.fullmatch(text):
            raise InvalidHash(
                f"a {self.name} hash is {self.hex_length} hexadecimal characters; got {_preview(value)}"
            )
        return text

    def distance(self, a: str, b: str) -> int:
        """Hamming distance between two hex values of this signal."""
        return (int(a, 16) ^ int(b, 16)).bit_count()

    def evidence(self, distance: int) -> dict[str, Any]:
        return {"signal": self.name, "distance": distance, "threshold": self.threshold}

    def compare(self, protected: SignalValue, suspect: SignalValue) -> Hit | None:
        distance = self.distance(protected.text(), suspect.text())
        if distance > self.threshold:
            return None
        return Hit(0, self.evidence(distance), distance, quality=protected.quality)

    def index(self) -> SignalIndex:
        return HammingSignalIndex(self)


class HammingSignalIndex(SignalIndex):
    """A hash signal's protected values in one :class:`~stopncii_tools.matching.hamming.HammingIndex`."""

    def __init__(self, signal: HashSignal) -> None:
        from ..matching.hamming import HammingIndex

        self.signal = signal
        self._rows: list[tuple[int, int, int | None]] = []  # (owner, variant, quality) per value
        self._values: list[str] = []
        self._width = 2 * -(-signal.bits // 8)  # whole bytes: a 42-bit hash is kept in 48 bits
        self._index = HammingIndex(4 * self._width)
        self._pending = 0

    def add(self, owner: int, value: SignalValue, variant: int = 0) -> None:
        self._rows.append((owner, variant, value.quality))
        self._values.append(value.text().rjust(self._width, "0"))

    def __len__(self) -> int:
        return len({owner for owner, _, _ in self._rows})

    def search(self, suspect: SignalValue) -> list[Hit]:
        self._flush()
        if not self._rows:
            return []
        best: dict[int, Hit] = {}
        query = suspect.text().rjust(self._width, "0")
        for row_id, distance in self._index.search_one(query, self.signal.threshold):
            owner, variant, quality = self._rows[row_id]
            if owner not in best or distance < best[owner].distance:
                best[owner] = Hit(owner, self.signal.evidence(distance), distance, variant, quality)
        return list(best.values())

    def _flush(self) -> None:
        if self._pending < len(self._values):
            self._index.add(range(self._pending, len(self._values)), self._values[self._pending:])
            self._pending = len(self._values)


_HEX = re.compile(r"[0-9a-f]+")


def _preview(text: str) -> str:
    shown = text if len(text) <= 24 else text[:21] + "..."
    return f"{shown!r} ({len(text)} characters)"


def bits_to_hex(bits: Iterable[int] | Any) -> str:
    """Pack a 0/1 sequence (most significant bit first) into lowercase hex."""
    import numpy as np

    arr = np.asarray(bits, dtype=np.uint8).ravel()
    return np.packbits(arr).tobytes().hex()


__all__ = [
    "WEAK_QUALITY",
    "Decoded",
    "Example",
    "HashSignal",
    "Hit",
    "Signal",
    "SignalIndex",
    "SignalValue",
    "Stored",
    "is_weak",
]
