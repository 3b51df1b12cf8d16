"""Matching suspect hashes against a case's protected hashes: one matcher, one index per signal."""

from __future__ import annotations

from .case import CaseMatcher, MatchFound, SuspectHashes
from .hamming import HammingIndex

__all__ = ["CaseMatcher", "HammingIndex", "MatchFound", "SuspectHashes"]
