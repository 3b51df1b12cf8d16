"""stopncii-tools: hash locally, find copies, and take down intimate images shared without consent.

The library without the CLI (docs/python-api.md shows each step):

- hashing: :func:`hash_bytes`, :func:`hash_file`, :func:`hash_files` -> :class:`MediaHashes`;
- signals: :data:`SIGNALS`, :func:`get_signal`, :class:`Signal`;
- matching: :class:`HammingIndex` over any hashes; :class:`CaseMatcher` over a case's;
- the case database: :class:`Store`;
- notices: :func:`choose_framework`, :func:`draft_notices`, :func:`validate`, :func:`render_text`.
"""

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
from .matching import CaseMatcher, HammingIndex, MatchFound, Suspect
from .media.pictures import Picture, open_picture, sniff
from .notices import Notice, NoticeItem, Requester, choose_framework, draft_notices, render_text, validate
from .signals import SIGNALS, Signal, SignalValue, get_signal
from .signals.hashing import HashOutcome, MediaHashes, hash_bytes, hash_file, hash_files
from .signals.vpdq import FrameHash
from .store import Store

__version__ = "0.1.0"

__all__ = [
    "SIGNALS",
    "CaseMatcher",
    "CorruptMedia",
    "FetchError",
    "FrameHash",
    "HammingIndex",
    "HashOutcome",
    "InvalidHash",
    "MatchFound",
    "MediaError",
    "MediaHashes",
    "MediaTooLarge",
    "MissingFields",
    "Notice",
    "NoticeError",
    "NoticeItem",
    "Picture",
    "Requester",
    "SendError",
    "Signal",
    "SignalValue",
    "StopNCIIError",
    "Store",
    "StoreError",
    "Suspect",
    "UnsupportedMedia",
    "__version__",
    "choose_framework",
    "draft_notices",
    "get_signal",
    "hash_bytes",
    "hash_file",
    "hash_files",
    "open_picture",
    "render_text",
    "sniff",
    "validate",
]
