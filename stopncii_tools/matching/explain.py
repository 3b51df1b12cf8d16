"""A match in plain words: what kind of copy was found, and the evidence, for a person to judge.

This is the one place match evidence is put into words: ``matches show``, ``case show``, the
case report and the web pages all call it. The words come from what the matcher recorded
(``MatchFound.evidence``), so an explanation shown months later says what was true when the
match was made.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..signals import SIGNALS, HashSignal

# what was found, by the kind of match the matcher gave
KIND_WORDS = {
    "exact": "the same file as your photo",
    "copy": "a copy of your photo (it may be resized, recompressed or lightly edited)",
    "partial": "part of your photo (a crop, a screenshot or a framed copy)",
    "derived": "made from your photo: parts of it agree and a large part was replaced "
               "(the way 'undressing' fakes are made)",
}

KIND_SHORT = {"exact": "same file", "copy": "copy", "partial": "part of photo", "derived": "made from photo"}

# how sure a match is, in plain words; matches are listed surest first
CONFIDENCE_WORDS = {
    "certain": "the very same file",
    "high": "many details of your photo agree, spread over the picture",
    "medium": "enough details of your photo agree to be looked at",
    "low": "only a little agrees, such as a watermark, a logo or a background that other pictures "
           "can share; it may well not be your photo, so please look at it before you confirm",
}
CONFIDENCE_ORDER = {"certain": 0, "high": 1, "medium": 2, "low": 3}

_DIGEST_NAMES = {"sha256": "SHA-256", "md5": "MD5"}
_HASH_NAMES = {"pdq": "PDQ (the fingerprint StopNCII uses)", "phash": "pHash", "dhash": "dHash",
               "whash": "wHash", "colorhash": "colour hash"}


def summary(kind: str) -> str:
    """One sentence: what was found."""
    return KIND_WORDS.get(kind, kind)


def explain(kind: str, evidence: Sequence[Mapping[str, Any]]) -> list[str]:
    """One line per piece of evidence, strongest first, in words a person can check."""
    return [_words(kind, each) for each in evidence]


def _words(kind: str, evidence: Mapping[str, Any]) -> str:
    signal = str(evidence.get("signal", ""))
    if signal in _DIGEST_NAMES:
        return f"the same file: byte for byte the same as your photo (the same {_DIGEST_NAMES[signal]} fingerprint)"
    if signal == "regions":
        return _region_words(kind, evidence)
    if signal == "vpdq":
        return (f"{evidence.get('frames')} frames of this video match your video "
                f"({float(evidence.get('query_fraction') or 0):.0%} of its frames; 80% or more counts as the "
                f"same video), from second {evidence.get('first_seconds')} to {evidence.get('last_seconds')}")
    if "first_seconds" in evidence and signal == "pdq":
        return (f"your photo is shown as {evidence.get('frames')} frames of this video "
                f"(first at second {evidence.get('first_seconds')})")
    if "distance" in evidence:
        return _hash_words(signal, evidence)
    details = ", ".join(f"{name} {value}" for name, value in evidence.items() if name != "signal")
    return f"{signal}: {details}" if details else signal


def _hash_words(signal: str, evidence: Mapping[str, Any]) -> str:
    known = SIGNALS.get(signal)
    bits = known.bits if isinstance(known, HashSignal) else None
    threshold = evidence.get("threshold", known.threshold if isinstance(known, HashSignal) else None)
    out_of = f" of {bits}" if bits else ""
    text = (f"{_HASH_NAMES.get(signal, signal)}: the fingerprints differ in {evidence.get('distance')}{out_of} "
            f"points (up to {threshold} counts as the same picture)")
    variant = evidence.get("variant")
    if variant and variant != "original":
        text += f", once your photo is {variant}"
    if evidence.get("note"):
        text += f"; {evidence['note']}"
    return text


def _region_words(kind: str, evidence: Mapping[str, Any]) -> str:
    what = "made from your photo" if kind == "derived" else "part of your photo"
    agreeing = [str(a) for a in evidence.get("agreeing") or []]
    differing = [str(d) for d in evidence.get("differing") or []]
    if not agreeing:  # evidence recorded before the regions were named
        agreeing = [f"{evidence.get('score')} distinctive details agree "
                    f"(at least {evidence.get('threshold')} are needed)"]
    return f"{what}: " + "; ".join(agreeing + differing)
