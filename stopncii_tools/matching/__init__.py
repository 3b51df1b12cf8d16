"""Matching suspect hashes against a case's protected hashes: one matcher, one index per signal."""

from __future__ import annotations

from .case import CaseMatcher, MatchFound, Suspect
from .hamming import HammingIndex

__all__ = ["CaseMatcher", "HammingIndex", "MatchFound", "Suspect"]
