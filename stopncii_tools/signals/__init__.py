"""Signal types: each one class behind :class:`Signal`. ``SIGNALS`` maps names to instances."""

from __future__ import annotations

from ._base import WEAK_QUALITY, Example, Signal, SignalValue
from .digests import MD5, SHA256
from .imagehashes import ColorHash, DHash, PHash, WHash
from .pdq import DIHEDRAL_NAMES, PDQ

SIGNALS: dict[str, Signal] = {
    s.name: s for s in (PDQ(), PHash(), DHash(), WHash(), ColorHash(), MD5(), SHA256())
}


def get_signal(name: str) -> Signal:
    """The signal called ``name`` (raises :class:`KeyError` with the known names)."""
    try:
        return SIGNALS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown signal {name!r}; known: {', '.join(SIGNALS)}") from None


__all__ = [
    "DIHEDRAL_NAMES",
    "SIGNALS",
    "WEAK_QUALITY",
    "Example",
    "Signal",
    "SignalValue",
    "get_signal",
]
