"""Decide which protected items a suspect item matches, with the evidence and a confidence.

Rules (documented for people in docs/matching.md):
- same SHA-256 or MD5: an exact copy, certain;
- PDQ within 31 bits of any of a protected photo's 8 rotations/mirror images: a copy
  (weak, low-detail hashes on either side never count alone);
- two or more of pHash, dHash and wHash within their thresholds: a copy, lower confidence;
- the colour hash only ever supports another signal.
Partial and derived copies (crops, screenshots, deepfakes made from a photo) come from the
region signature, each reported as its own kind and only when no whole-picture rule matched.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .hamming import HammingIndex
from ..signals import DIHEDRAL_NAMES, SIGNALS, WEAK_QUALITY
from ..signals.regions import MIN_MATCHED, RegionIndex, RegionSignature
from ..store import StoredSignal

PHASH_FAMILY = ("phash", "dhash", "whash")


@dataclass(frozen=True)
class SuspectHashes:
    """The hashes of one suspect item: signal name -> (hex value, quality or None)."""

    values: Mapping[str, tuple[str, int | None]]
    frames: bytes | None = None
    regions: bytes | None = None


@dataclass
class MatchFound:
    item_id: int
    kind: str
    confidence: str
    evidence: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class _Protected:
    item_id: int
    variant: int
    value: str
    quality: int | None


class CaseMatcher:
    """An index over one case's protected hashes, built once per scan."""

    def __init__(
        self, signals: Sequence[StoredSignal], frames: Mapping[int, bytes] | None = None,
        regions: Mapping[int, bytes] | None = None,
    ) -> None:
        self._pdq_rows: list[_Protected] = []
        self._exact: dict[tuple[str, str], set[int]] = defaultdict(set)
        self._others: dict[tuple[str, int], str] = {}  # (signal, item) -> value: pHash family, colour
        for s in signals:
            row = _Protected(s.owner_id, s.variant, s.value, s.quality)
            if s.signal == "pdq":
                self._pdq_rows.append(row)
            elif s.signal in ("sha256", "md5"):
                self._exact[(s.signal, s.value)].add(s.owner_id)
            else:
                self._others[(s.signal, s.owner_id)] = s.value
        self._family_index = {name: HammingIndex(SIGNALS[name].bits) for name in PHASH_FAMILY}
        for (name, item_id), value in self._others.items():
            if name in self._family_index:
                self._family_index[name].add([item_id], [value])
        self._pdq_index = HammingIndex(256)
        if self._pdq_rows:
            self._pdq_index.add(list(range(len(self._pdq_rows))), [r.value for r in self._pdq_rows])
        self._frames = dict(frames or {})
        self._region_index: RegionIndex | None = None
        if regions:
            self._region_index = RegionIndex()
            for item_id, blob in regions.items():
                self._region_index.add(item_id, RegionSignature.from_bytes(blob))

    @property
    def uses_regions(self) -> bool:
        """True when scanned pictures should get a region signature (the case has some)."""
        return self._region_index is not None

    def __len__(self) -> int:
        return len({r.item_id for r in self._pdq_rows} | {i for ids in self._exact.values() for i in ids})

    def match(self, suspect: SuspectHashes) -> list[MatchFound]:
        found: dict[int, MatchFound] = {}
        self._match_exact(suspect, found)
        self._match_pdq(suspect, found)
        self._match_phash_family(suspect, found)
        self._match_video(suspect, found)
        self._match_regions(suspect, found)
        return sorted(found.values(), key=lambda m: (_RANK[m.confidence], m.item_id))

    # -- the rules ------------------------------------------------------------------------

    def _match_exact(self, suspect: SuspectHashes, found: dict[int, MatchFound]) -> None:
        for name in ("sha256", "md5"):
            if name not in suspect.values:
                continue
            for item_id in self._exact.get((name, suspect.values[name][0]), ()):
                match = found.setdefault(item_id, MatchFound(item_id, "exact", "certain"))
                match.evidence.append({"signal": name, "distance": 0, "threshold": 0})

    def _match_pdq(self, suspect: SuspectHashes, found: dict[int, MatchFound]) -> None:
        if "pdq" not in suspect.values or not self._pdq_rows:
            return
        value, quality = suspect.values["pdq"]
        threshold = SIGNALS["pdq"].threshold
        best: dict[int, tuple[int, _Protected]] = {}
        for row_id, distance in self._pdq_index.search_one(value, threshold):
            row = self._pdq_rows[row_id]
            if row.item_id not in best or distance < best[row.item_id][0]:
                best[row.item_id] = (distance, row)
        suspect_weak = quality is not None and quality < WEAK_QUALITY
        for item_id, (distance, row) in best.items():
            weak = suspect_weak or (row.quality is not None and row.quality < WEAK_QUALITY)
            support = self._phash_family_support(suspect, item_id) if (weak or row.variant == 0) else []
            if weak and not support:
                continue  # a low-detail hash alone is not evidence
            evidence = {"signal": "pdq", "distance": distance, "threshold": threshold,
                        "variant": DIHEDRAL_NAMES[row.variant]}
            if weak:
                evidence["note"] = "low-detail picture: confirmed by other signals"
            confidence = "high" if (distance <= 16 or support) and not weak else "medium"
            match = found.setdefault(item_id, MatchFound(item_id, "copy", confidence))
            match.evidence.append(evidence)
            match.evidence.extend(e for e in support if e not in match.evidence)

    def _phash_family_support(self, suspect: SuspectHashes, item_id: int) -> list[dict[str, Any]]:
        agreeing = []
        for name in PHASH_FAMILY + ("colorhash",):
            if name not in suspect.values:
                continue
            signal, stored = SIGNALS[name], self._others.get((name, item_id))
            if stored is None:
                continue
            distance = signal.distance(suspect.values[name][0], stored)
            if distance <= signal.threshold:
                agreeing.append({"signal": name, "distance": distance, "threshold": signal.threshold})
        return agreeing

    def _match_phash_family(self, suspect: SuspectHashes, found: dict[int, MatchFound]) -> None:
        votes: Counter[int] = Counter()
        for name, index in self._family_index.items():  # an index search each, not a loop over items
            if name in suspect.values and len(index):
                votes.update(item_id for item_id, _ in index.search_one(suspect.values[name][0], SIGNALS[name].threshold))
        for item_id, agreeing in votes.items():
            if agreeing >= 2 and item_id not in found:
                found[item_id] = MatchFound(item_id, "copy", "low", self._phash_family_support(suspect, item_id))

    def _match_video(self, suspect: SuspectHashes, found: dict[int, MatchFound]) -> None:
        if not suspect.frames and not self._frames:
            return
        from ..media.video import frames_from_blob, match_still_in_video, match_videos

        suspect_frames = frames_from_blob(suspect.frames) if suspect.frames else []
        for item_id, blob in self._frames.items():
            if item_id in found or not suspect_frames:
                continue
            result = match_videos(suspect_frames, frames_from_blob(blob))
            if result is not None:
                found[item_id] = MatchFound(item_id, "copy", "high", [result.evidence()])
        if not suspect_frames:
            return
        stills: dict[int, list[str]] = defaultdict(list)
        for row in self._pdq_rows:
            if row.quality is None or row.quality >= WEAK_QUALITY:
                stills[row.item_id].append(row.value)
        for item_id, variants in stills.items():
            if item_id in found:
                continue
            hits = match_still_in_video(variants, suspect_frames)
            if hits:
                found[item_id] = MatchFound(item_id, "copy", "high", [{
                    "signal": "pdq", "distance": min(d for _, d in hits), "threshold": SIGNALS["pdq"].threshold,
                    "frames": len(hits), "first_seconds": round(min(s for s, _ in hits), 2),
                    "note": "the protected picture appears as frames of this video"}])


    def _match_regions(self, suspect: SuspectHashes, found: dict[int, MatchFound]) -> None:
        """Part of a protected photo, or a picture made from one: its own kind, never 'copy'."""
        if self._region_index is None or not suspect.regions:
            return
        for item_id, evidence in self._region_index.search(RegionSignature.from_bytes(suspect.regions)):
            if item_id in found or not _upright_or_quarter_turn(evidence.rotation):
                continue  # found as a copy already (stronger); or a slanted fit, as chance gives
            confidence = "high" if evidence.score >= 3 * MIN_MATCHED else "medium"
            found[item_id] = MatchFound(int(item_id), evidence.kind, confidence, [{
                "signal": "regions", "score": evidence.score, "threshold": MIN_MATCHED,
                "coverage": round(evidence.coverage, 2), "replaced": round(evidence.replaced, 2),
                "agreeing": evidence.agreeing, "differing": evidence.differing,
                "note": evidence.describe(),
            }])


_RANK = {"certain": 0, "high": 1, "medium": 2, "low": 3}
# crops, screenshots and edited fakes keep the photo upright (or turn it a quarter): a fit at
# an odd angle is what chance agreement between unrelated textures looks like
MAX_SLANT_DEGREES = 6.0


def _upright_or_quarter_turn(rotation: float) -> bool:
    slant = abs(rotation) % 90
    return min(slant, 90 - slant) <= MAX_SLANT_DEGREES
