"""stopncii-tools: hash locally, find copies, and take down intimate images shared without consent."""

from __future__ import annotations

from ._errors import (
    CorruptMedia,
    FetchError,
    InvalidHash,
    MediaError,
    MediaTooLarge,
    MissingFields,
    NoticeError,
    SendError,
    StopNCIIError,
    StoreError,
    UnsupportedMedia,
)
from .media.pictures import Picture, open_picture, sniff
from .signals import SIGNALS, Signal, SignalValue, get_signal
from .signals.hashing import FrameHash, HashOutcome, MediaHashes, hash_bytes, hash_file, hash_files

__version__ = "0.1.0"

__all__ = [
    "SIGNALS",
    "CorruptMedia",
    "FetchError",
    "FrameHash",
    "HashOutcome",
    "InvalidHash",
    "MediaError",
    "MediaHashes",
    "MediaTooLarge",
    "MissingFields",
    "NoticeError",
    "Picture",
    "SendError",
    "Signal",
    "SignalValue",
    "StopNCIIError",
    "StoreError",
    "UnsupportedMedia",
    "__version__",
    "get_signal",
    "hash_bytes",
    "hash_file",
    "hash_files",
    "open_picture",
    "sniff",
]
