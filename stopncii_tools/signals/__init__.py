"""Signal types: each one module behind :class:`Signal`. ``SIGNALS`` maps names to instances.

Adding a signal is one module and one line here; hashing, storage, the matcher, the removal
check and the auto-test (tests/test_signals.py) all go through this registry.
"""

from __future__ import annotations

from ._base import WEAK_QUALITY, Decoded, Example, HashSignal, Hit, Signal, SignalIndex, SignalValue, is_weak
from .digests import MD5, SHA256
from .imagehashes import ColorHash, DHash, PHash, WHash
from .pdq import DIHEDRAL_NAMES, PDQ
from .regions import Regions
from .vpdq import VPDQ

SIGNALS: dict[str, Signal] = {
    s.name: s for s in (PDQ(), PHash(), DHash(), WHash(), ColorHash(), MD5(), SHA256(), VPDQ(), Regions())
}
# the signals written as hexadecimal text (hash lists, exports, the 'hash' command's columns)
HASHES: dict[str, HashSignal] = {name: s for name, s in SIGNALS.items() if isinstance(s, HashSignal)}


def get_signal(name: str) -> Signal:
    """The signal called ``name`` (raises :class:`KeyError` with the known names)."""
    try:
        return SIGNALS[name.lower()]
    except KeyError:
        raise KeyError(f"unknown signal {name!r}; known: {', '.join(SIGNALS)}") from None


__all__ = [
    "DIHEDRAL_NAMES",
    "HASHES",
    "SIGNALS",
    "WEAK_QUALITY",
    "Decoded",
    "Example",
    "HashSignal",
    "Hit",
    "Signal",
    "SignalIndex",
    "SignalValue",
    "get_signal",
    "is_weak",
]
