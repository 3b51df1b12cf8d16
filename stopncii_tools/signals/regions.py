"""Region signature: find crops, screenshots and edited derivatives of a protected photo.

Whole-image hashes (PDQ, pHash) miss a copy as soon as its frame changes: a 5% crop, a
screenshot, a letterboxed phone copy, or a "nudified" fake where the body was replaced. This
signature keeps what survives those edits: up to ~1,250 ORB local features (a 256-bit binary
descriptor and a position each), picked evenly over the picture at two sizes. Comparing two
signatures finds features that agree under one geometry (scale, rotation, shift, checked with
RANSAC); enough of them means the suspect shows part of the protected photo. Where the
protected photo had features that find no partner inside the shared area, that part was
replaced: the match is then called ``derived``, otherwise ``partial``.

For a bank of many protected photos, :class:`~.region_index.RegionIndex` pre-filters with
locality-sensitive keys cut from the descriptors (:meth:`RegionSignature.index_keys`), so only
a few candidates get the full geometric check.

OpenCV (``opencv-python-headless``, the ``derivatives`` extra) does the feature work; it is
imported only when a signature is computed or compared, so the package imports without it.
Nothing here touches the network. Measurements and privacy notes: docs/derivatives.md.
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal

import numpy as np
from PIL import Image

from .._errors import DerivativeSupportMissing, InvalidHash
from ..media.pictures import DEFAULT_MAX_PIXELS, Picture, open_picture
from ._base import Decoded, Example, Hit, MatchRule, Signal, SignalIndex, SignalValue, Stored
from ._binary_knn import nearest
from ._examples import encode, scene

if TYPE_CHECKING:
    from .region_index import MIN_VOTES, RegionIndex, match_all

WORK_SIDE: Final = 640  # longest side of the frame features are found in
SIZES: Final = (640, 320)  # the second size bridges the scale gap to screenshots and thumbnails
FEATURES_PER_SIZE: Final = {640: 1000, 320: 250}
GRID: Final = 8  # features are picked evenly over an 8 x 8 grid, so no one area crowds out the rest
MIN_MATCHED: Final = 24  # agreeing features; the best of 47,000 distractor pairs reached 23
_SEED_MIN: Final = 8  # ratio-test matches consistent with the first RANSAC fit
_RATIO: Final = 0.8
_RANSAC_PX: Final = 4.0
_GUIDE_PX: Final = 5.0
_GUIDE_BITS: Final = 64  # descriptor distance accepted once the geometry is known
_SCALE_RANGE: Final = (0.2, 5.0)
_MIN_SPREAD: Final = 0.08  # agreeing features must span this share of the frame on each axis
_CELLS: Final = 6  # kind decision grid over the protected frame
_LOST_EXPECTED: Final = 2.5  # a cell is "replaced" when this many matches were expected, none came
_DERIVED_SHARE: Final = 0.15  # replaced share of the shown detail that makes a copy "derived"
_TWIN_BITS: Final = 40  # a feature this close to another one elsewhere in the same picture is repeated
_TWIN_APART: Final = 12.0  # work-frame pixels: nearer is the same corner found at the other size
_TWIN_LOOKS: Final = 4
_MIN_CELLS: Final = 4  # fewer agreeing cells of 36 (or a smaller kept share) is "a small part"
_MIN_KEPT: Final = 0.3
_MOST_IN_ONE_CELL: Final = 0.4
# calibrated on benchmarks/hard_cases.py: no unrelated pair reached "high"
_HIGH_SUPPORT: Final = 3 * 24
_HIGH_CELLS: Final = 6
_HIGH_KEPT: Final = 0.5
_SLANTED_SUPPORT: Final = 36  # an odd angle needs this much agreement, well spread
_SLANTED_CELLS: Final = 3  # ... or twice as much on this many cells (no unrelated pair came near)
_POINT_SCALE: Final = 16  # positions are stored in 1/16 pixel
_SMALLEST_PATCH: Final = 31 * 1.2  # ORB's finest patch (31 px), with a little slack
_MAGIC: Final = b"SRS1"
_MAGIC_MIRRORED: Final = b"SRS2"  # the same, then the descriptors of the mirror image (protected photos)
_HEADER: Final = struct.Struct(">4sHHH")

# LSH pre-filter: each key is 24 fixed bits of a descriptor, from 12 different bit samplings
KEY_TABLES: Final = 12
KEY_BITS: Final = 24


def _key_positions() -> np.ndarray:
    """Which descriptor bits each table samples: fixed by SHA-256, so stored keys stay valid."""
    rows = []
    for table in range(KEY_TABLES):
        ranked = sorted(range(256), key=lambda bit: hashlib.sha256(f"{table}:{bit}".encode()).digest())
        rows.append(sorted(ranked[:KEY_BITS]))
    return np.array(rows, dtype=np.intp)


_KEY_POSITIONS: Final = _key_positions()
_KEY_WEIGHTS: Final = (1 << np.arange(KEY_BITS - 1, -1, -1)).astype(np.int64)

_REGION_NAMES: Final = (
    ("top-left", "top", "top-right"),
    ("left", "centre", "right"),
    ("bottom-left", "bottom", "bottom-right"),
)

Kind = Literal["partial", "derived"]
# most copies keep the photo upright (or turn it a quarter); a weak fit at an odd angle is what
# chance agreement between unrelated textures looks like, so it must be strong and spread
MAX_SLANT_DEGREES: Final = 6.0


def _cv2() -> ModuleType:
    try:
        import cv2
    except ImportError:
        raise DerivativeSupportMissing(
            "finding crops, screenshots and edited copies needs the derivatives extra: "
            "pip install 'stopncii-tools[derivatives]'"
        ) from None
    return cv2


@dataclass(frozen=True, eq=False)
class RegionSignature:
    """Local features of one picture: positions (in a frame ``width`` x ``height``, longest
    side :data:`WORK_SIDE`) and 256-bit ORB descriptors, one row each."""

    width: int
    height: int
    points: np.ndarray  # (n, 2) float32, x and y in the work frame
    descriptors: np.ndarray  # (n, 32) uint8
    sizes: np.ndarray  # (n,) uint8, patch side in work-frame pixels / 4 (how coarse a feature is)
    # (n, 32) uint8: the same features described in the mirror image (kept for protected photos)
    mirror: np.ndarray | None = None
    mirrored: bool = False  # this is the mirror image of a stored signature (see mirror_image)

    def __len__(self) -> int:
        return len(self.descriptors)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RegionSignature) and self.to_bytes() == other.to_bytes()

    def __hash__(self) -> int:
        return hash(self.to_bytes())

    @property
    def weak(self) -> bool:
        """True when the picture has too little detail for this signature to find anything."""
        return len(self) < 4 * MIN_MATCHED

    def to_bytes(self) -> bytes:
        """Compact form for a SQLite BLOB: 10-byte header, then 37 bytes per feature (69 with
        the mirror image's descriptors)."""
        fixed = np.clip(np.rint(self.points * _POINT_SCALE), 0, 65535).astype(">u2")
        magic = _MAGIC if self.mirror is None else _MAGIC_MIRRORED
        header = _HEADER.pack(magic, self.width, self.height, len(self))
        mirror = b"" if self.mirror is None else np.ascontiguousarray(self.mirror, np.uint8).tobytes()
        return (header + fixed.tobytes() + np.ascontiguousarray(self.sizes, np.uint8).tobytes()
                + np.ascontiguousarray(self.descriptors, np.uint8).tobytes() + mirror)

    @classmethod
    def from_bytes(cls, data: bytes) -> RegionSignature:
        """Read :meth:`to_bytes` output; :class:`InvalidHash` if it is not one."""
        if len(data) < _HEADER.size or data[:4] not in (_MAGIC, _MAGIC_MIRRORED):
            raise InvalidHash("this is not a stored region signature (wrong header)")
        _, width, height, n = _HEADER.unpack_from(data)
        per_feature = 37 if data[:4] == _MAGIC else 69
        sizes_ok = 0 < width <= WORK_SIDE and 0 < height <= WORK_SIDE
        if len(data) != _HEADER.size + per_feature * n or not sizes_ok:
            raise InvalidHash("the stored region signature is damaged (wrong length or size)")
        body = memoryview(data)[_HEADER.size :]
        fixed = np.frombuffer(body[: 4 * n], dtype=">u2").reshape(n, 2)
        sizes = np.frombuffer(body[4 * n : 5 * n], dtype=np.uint8).copy()
        descriptors = np.frombuffer(body[5 * n : 37 * n], dtype=np.uint8).reshape(n, 32).copy()
        mirror = np.frombuffer(body[37 * n :], dtype=np.uint8).reshape(n, 32).copy() if per_feature == 69 else None
        return cls(width, height, fixed.astype(np.float32) / _POINT_SCALE, descriptors, sizes, mirror)

    def upright(self) -> RegionSignature:
        """The signature without its mirror image's descriptors."""
        return RegionSignature(self.width, self.height, self.points, self.descriptors, self.sizes,
                               mirrored=self.mirrored)

    def mirror_image(self) -> RegionSignature | None:
        """The signature of the picture mirrored left to right, when it was kept; None if not."""
        if self.mirror is None:
            return None
        points = self.points.copy()
        points[:, 0] = self.width - 1 - points[:, 0]
        return RegionSignature(self.width, self.height, points, self.mirror, self.sizes, mirrored=True)

    def to_hex(self) -> str:
        return self.to_bytes().hex()

    @classmethod
    def from_hex(cls, text: str) -> RegionSignature:
        try:
            data = bytes.fromhex(text.strip())
        except ValueError:
            raise InvalidHash("a region signature is hexadecimal text; this is not") from None
        return cls.from_bytes(data)

    def index_keys(self, tables: int = KEY_TABLES) -> np.ndarray:
        """Distinct int64 pre-filter keys (table number in the high bits, 24 sampled bits below)
        of the first ``tables`` bit samplings.

        Two pictures that share part of their content share many keys; unrelated ones share
        few. Store them in any exact index (a SQLite column with an index) and count hits.
        """
        if not len(self):
            return np.zeros(0, dtype=np.int64)
        bits = np.unpackbits(self.descriptors, axis=1)  # (n, 256)
        keys = np.zeros((len(self), tables), dtype=np.int64)
        for table, positions in enumerate(_KEY_POSITIONS[:tables]):
            sample = bits[:, positions].astype(np.int64)
            keys[:, table] = (table << KEY_BITS) | (sample @ _KEY_WEIGHTS)
        return np.unique(keys)


@dataclass(frozen=True)
class RegionEvidence:
    """Why a suspect picture is taken for part of, or a derivative of, a protected photo.

    ``kind`` is ``partial`` (a crop, screenshot or framed copy: what is shown is unchanged) or
    ``derived`` (a large part of the shared area was replaced). ``score`` is the number of
    local features that agree under one geometry (a match needs :data:`MIN_MATCHED`);
    ``support`` those of them on the photo's own content (features repeated elsewhere in the
    photo, as text, logos and tiled backdrops are, do not count). ``coverage`` is the share of
    the protected photo visible in the suspect; ``kept`` and ``replaced`` the shares of the
    visible parts with detail where the photo's features found partners, or found none.
    ``small_part`` says the agreement rests on a small part of the photo (a shared watermark,
    logo or corner); ``background_only`` that the middle (where a person stands) differs and
    only the surroundings agree. ``mirrored``: the suspect shows the mirror image.
    """

    kind: Kind
    score: int
    coverage: float
    replaced: float
    scale: float  # suspect pixels per protected pixel, in the work frames
    rotation: float  # degrees
    agreeing: list[str] = field(default_factory=list)
    differing: list[str] = field(default_factory=list)
    support: int = 0
    kept: float = 0.0
    cells: int = 0  # grid cells (of 36) where the photo's own features agree
    small_part: bool = False
    background_only: bool = False
    mirrored: bool = False

    @property
    def confidence(self) -> Literal["high", "medium", "low"] | None:
        """How sure the match is (calibrated in benchmarks/hard_cases.py), None for no match.

        A fit at an odd angle counts only when it is strong and spread over the photo: weak
        slanted fits are what chance agreement between textures looks like.
        """
        slanted = not _upright_or_quarter_turn(self.rotation)
        # a turned crop shows few of the 36 cells: a very strong fit may rest on fewer of them
        strong_slant = (self.support >= _SLANTED_SUPPORT and self.cells >= _HIGH_CELLS
                        or self.support >= _HIGH_SUPPORT and self.cells >= _SLANTED_CELLS)
        if self.support < MIN_MATCHED or (slanted and not strong_slant):
            return None  # the agreement rests on repeated patterns (text, logos), or is a weak slant
        if self.small_part or self.background_only:
            return "low"
        if self.support >= _HIGH_SUPPORT and self.cells >= _HIGH_CELLS and self.kept >= _HIGH_KEPT:
            return "high"
        return "medium"

    def describe(self) -> str:
        """One line for a person: what kind of copy this is and what agreed."""
        what = "part of your photo" if self.kind == "partial" else "derived from your photo"
        if self.mirrored:
            what += " (mirrored)"
        text = f"{what}: {self.agreeing[0]}" if self.agreeing else what
        if self.differing:
            text += "; " + "; ".join(self.differing)
        return text


# -- computing ----------------------------------------------------------------------------


def compute_region_signature(data: bytes, *, max_pixels: int = DEFAULT_MAX_PIXELS) -> RegionSignature:
    """Decode ``data`` (any picture :func:`~stopncii_tools.media.pictures.open_picture` reads) and compute
    its region signature. Raises a :class:`MediaError` subclass, including
    :class:`DerivativeSupportMissing` when OpenCV is not installed."""
    _cv2()  # fail before decoding when the extra is missing
    return signature_of_picture(open_picture(data, max_pixels=max_pixels, side=WORK_SIDE))


def signature_of_picture(picture: Picture | Image.Image, *, mirror: bool = False) -> RegionSignature:
    """The region signature of an already decoded picture (RGB, any size).

    ``mirror`` also describes the same features in the mirror image (for a protected photo, so
    a mirrored copy is found; ~4 ms more, no second search for features).
    """
    cv2 = _cv2()
    image = picture.image if isinstance(picture, Picture) else picture.convert("RGB")
    grey = _to_side(image.convert("L"), WORK_SIDE)
    height, width = grey.shape
    points, descriptors, sizes, mirrors = [], [], [], []
    for side in SIZES:
        layer = grey if side == WORK_SIDE else _to_side(Image.fromarray(grey), side)
        found = _features(cv2, layer, FEATURES_PER_SIZE[side], mirror)
        if found is not None:
            pts, desc, patch, mirrored = found
            points.append(pts * (WORK_SIDE / side))
            descriptors.append(desc)
            sizes.append(np.clip(np.rint(patch * (WORK_SIDE / side) / 4), 1, 255).astype(np.uint8))
            mirrors.append(mirrored)
    if not descriptors:
        return RegionSignature(width, height, np.zeros((0, 2), np.float32),
                               np.zeros((0, 32), np.uint8), np.zeros(0, np.uint8))
    return RegionSignature(width, height, np.vstack(points).astype(np.float32),
                           np.vstack(descriptors), np.concatenate(sizes),
                           np.vstack(mirrors) if mirror else None)


def _to_side(image: Image.Image, side: int) -> np.ndarray:
    """Scale so the longest side is ``side`` (small pictures are enlarged: ORB works in pixels)."""
    k = side / max(image.size)
    size = (max(1, round(image.width * k)), max(1, round(image.height * k)))
    resample = Image.Resampling.BICUBIC if k > 1 else Image.Resampling.LANCZOS
    return np.asarray(image.resize(size, resample) if size != image.size else image)


def _features(cv2: Any, grey: np.ndarray, budget: int,
              mirror: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
    """ORB keypoints picked evenly over a grid (strongest first in each cell), with descriptors
    (and, with ``mirror``, the descriptors of the same keypoints in the mirror image)."""
    if min(grey.shape) < 2 * 31 + 1:  # thinner than one feature patch (spacers, banners): none to find
        return None
    orb = cv2.ORB_create(nfeatures=budget * 4, scaleFactor=1.2, nlevels=8, edgeThreshold=15,
                         patchSize=31, fastThreshold=7)
    keypoints = orb.detect(grey, None)
    if not keypoints:
        return None
    h, w = grey.shape
    xy = np.array([k.pt for k in keypoints], dtype=np.float32)
    response = np.array([k.response for k in keypoints], dtype=np.float32)
    cell = (np.minimum(GRID - 1, (xy[:, 1] * GRID / h).astype(int)) * GRID
            + np.minimum(GRID - 1, (xy[:, 0] * GRID / w).astype(int)))
    order = np.lexsort((-response, cell))  # by cell, strongest first
    rank = np.empty(len(order), dtype=int)
    starts = np.searchsorted(cell[order], np.arange(GRID * GRID))
    rank[order] = np.arange(len(order)) - starts[cell[order]]
    per_cell = max(1, budget // (GRID * GRID))
    chosen = list(np.flatnonzero(rank < per_cell))
    rest = np.flatnonzero(rank >= per_cell)
    chosen += list(rest[np.argsort(-response[rest], kind="stable")][: max(0, budget - len(chosen))])
    picked = [keypoints[i] for i in chosen]
    for number, keypoint in enumerate(picked):
        keypoint.class_id = number
    keypoints, descriptors = orb.compute(grey, picked)
    if descriptors is None or not keypoints:
        return None
    mirrored = np.zeros_like(descriptors)
    if mirror:
        # ORB's steered pattern, mirrored with the patch, is the mirror image's own descriptor
        flipped = [cv2.KeyPoint(w - 1 - k.pt[0], k.pt[1], k.size, (180 - k.angle) % 360, k.response,
                                k.octave, k.class_id) for k in keypoints]
        back, described = orb.compute(np.ascontiguousarray(grey[:, ::-1]), flipped)
        if described is None or not back:
            return None
        row_of = {k.class_id: row for row, k in enumerate(keypoints)}
        keep = np.array([row_of[k.class_id] for k in back], dtype=np.intp)
        keypoints, descriptors = [keypoints[i] for i in keep], descriptors[keep]
        mirrored = described
    patch = np.array([k.size for k in keypoints], dtype=np.float32)
    return np.array([k.pt for k in keypoints], dtype=np.float32), descriptors, patch, mirrored


# -- comparing ----------------------------------------------------------------------------


@dataclass(frozen=True)
class _Fit:
    matrix: np.ndarray  # 2x3, suspect work frame -> protected work frame
    pairs: np.ndarray  # (k, 2) protected index, suspect index


def compare_regions(protected: RegionSignature, suspect: RegionSignature) -> RegionEvidence | None:
    """Evidence that ``suspect`` shows part of ``protected`` (or is derived from it), or None.

    When ``protected`` kept its mirror image and the picture as taken finds nothing, the
    mirror image is tried too (a mirrored copy)."""
    cv2 = _cv2()
    for side in (protected.upright(), protected.mirror_image()):
        if side is None:
            break
        fit = _fit(cv2, side, suspect)
        if fit is not None and len(fit.pairs) >= MIN_MATCHED:
            evidence = _evidence(side, suspect, fit)
            if evidence.confidence is not None:
                return evidence
    return None


def _fit(cv2: Any, protected: RegionSignature, suspect: RegionSignature) -> _Fit | None:
    if len(protected) < _SEED_MIN or len(suspect) < _SEED_MIN:
        return None
    knn = nearest(cv2, suspect.descriptors, protected.descriptors)
    good = np.flatnonzero(knn.distances[:, 0] < _RATIO * knn.distances[:, 1])
    if len(good) < _SEED_MIN:
        return None
    src = suspect.points[good]
    dst = protected.points[knn.rows[good, 0]]
    found = _ransac(cv2, src, dst)
    if found is None:
        return None
    matrix, inliers = found
    if int(inliers.sum()) < _SEED_MIN or not _plausible(matrix, dst[inliers]):
        return None
    # positions are only as exact as the suspect's pixels: shown small (an inset), each of its
    # pixels spans several of the protected frame's
    radius = _GUIDE_PX * max(1.0, math.hypot(matrix[0, 0], matrix[1, 0]))
    pairs = _guided_pairs(protected, suspect, matrix, radius)
    if len(pairs) >= _SEED_MIN and not _plausible(matrix, protected.points[pairs[:, 0]]):
        return None
    return _Fit(matrix, pairs)


def _ransac(cv2: Any, src: np.ndarray, dst: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """The geometry (suspect -> protected) most matches agree on, and which agree.

    Fitted both ways, so the reprojection tolerance is also judged in the suspect's pixels: a
    copy shown small (an inset at a quarter of the width) is off by a few protected pixels
    wherever its features land."""
    options = []
    for forward in (True, False):
        matrix, inliers = cv2.estimateAffinePartial2D(
            src if forward else dst, dst if forward else src, method=cv2.RANSAC,
            ransacReprojThreshold=_RANSAC_PX, maxIters=2000, confidence=0.995)
        if matrix is not None:
            options.append((int(inliers.sum()), forward, matrix, inliers.ravel() > 0))
    if not options:
        return None
    _, forward, matrix, inliers = max(options, key=lambda option: (option[0], option[1]))
    return (matrix if forward else cv2.invertAffineTransform(matrix)), inliers


def _plausible(matrix: np.ndarray, protected_points: np.ndarray) -> bool:
    """A real copy has a sane scale and agreeing features spread over an area, not a point."""
    scale = math.hypot(matrix[0, 0], matrix[1, 0])
    if not _SCALE_RANGE[0] <= scale <= _SCALE_RANGE[1] or len(protected_points) == 0:
        return False
    spread = protected_points.max(0) - protected_points.min(0)
    return bool(spread.min() >= _MIN_SPREAD * WORK_SIDE)


_POPCOUNT: Final = np.unpackbits(np.arange(256, dtype=np.uint8)[:, None], axis=1).sum(1).astype(np.uint16)


def _guided_pairs(protected: RegionSignature, suspect: RegionSignature, matrix: np.ndarray,
                  radius: float) -> np.ndarray:
    """Once the geometry is known, pair features that land on each other (within ``radius``
    protected pixels) and look alike."""
    from scipy.spatial import cKDTree  # scipy comes with imagehash, a core dependency

    projected = suspect.points @ matrix[:, :2].T + matrix[:, 2]
    near = cKDTree(projected).sparse_distance_matrix(
        cKDTree(protected.points), radius, output_type="ndarray")
    if not len(near):
        return np.zeros((0, 2), dtype=np.intp)
    s_idx, p_idx = near["i"].astype(np.intp), near["j"].astype(np.intp)
    bits = _POPCOUNT[suspect.descriptors[s_idx] ^ protected.descriptors[p_idx]].sum(1)
    close = bits <= _GUIDE_BITS
    order = np.argsort(bits[close], kind="stable")  # closest descriptors claim their partner first
    return _claim_in_order(p_idx[close][order], s_idx[close][order])


def _claim_in_order(first: np.ndarray, second: np.ndarray) -> np.ndarray:
    """The pairs ``(first[k], second[k])`` taken in order, each skipped when either side was
    taken by an earlier pair: as (m, 2) rows."""
    used_first: set[int] = set()
    used_second: set[int] = set()
    taken = []
    for one, two in zip(first.tolist(), second.tolist(), strict=True):  # plain ints: 4x faster than numpy's
        if one not in used_first and two not in used_second:
            used_first.add(one)
            used_second.add(two)
            taken.append((one, two))
    return np.array(taken, dtype=np.intp).reshape(-1, 2)


def _evidence(protected: RegionSignature, suspect: RegionSignature, fit: _Fit) -> RegionEvidence:
    matrix = fit.matrix
    scale_to_protected = math.hypot(matrix[0, 0], matrix[1, 0])
    rotation = math.degrees(math.atan2(matrix[1, 0], matrix[0, 0]))
    visible = _visible_share(protected, suspect, matrix)  # (_CELLS, _CELLS) share of each cell shown
    # only features coarse enough to be found again at the suspect's scale are expected back
    usable = protected.sizes.astype(np.float32) * 4 / scale_to_protected >= _SMALLEST_PATCH
    cell_of = _cell_index(protected, protected.points)
    # a repeated pattern says nothing about which photo this is, present or missing
    pattern = _repeated(protected, np.arange(len(protected)))
    have = np.bincount(cell_of[usable & ~pattern], minlength=_CELLS**2).reshape(_CELLS, _CELLS)
    repeated = pattern[fit.pairs[:, 0]]
    own = fit.pairs[~repeated, 0]  # agreement on the photo's own content, not on a repeated pattern
    paired = own[usable[own]]
    matched = np.bincount(cell_of[paired], minlength=_CELLS**2).reshape(_CELLS, _CELLS)
    shown = visible >= 0.8
    present = shown & (matched > 0)
    # match rate where the photo survived; a cell that expected several matches and got
    # (almost) none was replaced
    rate = matched[present].sum() / max(1, have[present].sum())
    expected = have * rate
    detailed = shown & (expected >= _LOST_EXPECTED)  # cells where the photo had detail to check
    lost = detailed & (matched <= 0.1 * expected)
    agree = (shown & (matched >= 2)) | (detailed & ~lost)
    # shares of the photo's detail, not of its area: flat sky or skin says nothing either way
    replaced = float(lost.sum() / max(1, (detailed | agree).sum()))
    kept = float(agree.sum() / max(1, (detailed | agree).sum()))
    kind: Kind = "derived" if replaced >= _DERIVED_SHARE and lost.sum() >= 2 else "partial"
    # a line of text or a strip is a small part, however long: agreement must reach over half
    # the height and half the width of the shown detail
    # the same when one cell (a logo, a badge) holds much of the agreement, unless what is left
    # without it is a strong match on its own
    with_detail = shown & (detailed | agree)
    small_part = bool(agree.sum() < _MIN_CELLS or kept < _MIN_KEPT
                      or _reach(agree, with_detail, axis=1) < 0.5 or _reach(agree, with_detail, axis=0) < 0.5
                      or (matched.max() > _MOST_IN_ONE_CELL * max(1, matched.sum())
                          and matched.sum() - matched.max() < 2 * MIN_MATCHED))
    differs = lost | (shown & _new_content(protected, suspect, fit))
    middle = np.zeros((_CELLS, _CELLS), dtype=bool)
    middle[1:5, 2:4] = True  # where a person in a portrait stands
    background_only = bool((differs & middle).sum() >= 3 and not (agree & middle).any())
    if protected.mirrored:  # name the regions of the photo as taken
        agree, lost = agree[:, ::-1], lost[:, ::-1]
    coverage = float(visible.mean())
    turned = f"mirrored, turned {rotation:+.0f} degrees" if protected.mirrored else f"turned {rotation:+.0f} degrees"
    geometry = f"shown at {1 / scale_to_protected:.2f}x, {turned}"
    agreeing = [f"{len(own)} local features agree under one geometry ({geometry})"]
    agreeing += [f"{name} of your photo matches" for name in _regions(agree)]
    differing = [f"{name} of your photo was replaced" for name in _regions(lost)] if kind == "derived" else []
    if repeated.any():
        agreeing.append(f"{int(repeated.sum())} features on repeated patterns (text, logos, tiled "
                        "backdrops) were ignored")
    if background_only:
        differing.append("only the surroundings agree and the middle, where a person would be, differs: "
                         "this may be another photo taken at the same place, not a copy of yours")
    elif small_part:
        differing.append("only a small part of your photo agrees, as a shared watermark, logo or "
                         "background can")
    if coverage < 0.97:
        differing.append(f"about {coverage:.0%} of your photo is shown")
    return RegionEvidence(kind, len(fit.pairs), round(coverage, 3), round(replaced, 3),
                          round(1 / scale_to_protected, 3), round(rotation, 1), agreeing, differing,
                          support=len(own), kept=round(kept, 3), cells=int(agree.sum()),
                          small_part=small_part, background_only=background_only,
                          mirrored=protected.mirrored)


def _new_content(protected: RegionSignature, suspect: RegionSignature, fit: _Fit) -> np.ndarray:
    """Cells of the protected frame where the suspect has detail of its own that the photo
    lacks (another person standing where a flat or dark subject stood): many of the suspect's
    features land there and, at the rate they pair elsewhere, none pair."""
    landed = suspect.points @ fit.matrix[:, :2].T + fit.matrix[:, 2]
    inside = ((landed[:, 0] >= 0) & (landed[:, 0] < protected.width)
              & (landed[:, 1] >= 0) & (landed[:, 1] < protected.height))
    cells = _cell_index(protected, landed)
    have = np.bincount(cells[inside], minlength=_CELLS**2).reshape(_CELLS, _CELLS)
    paired = np.bincount(cells[fit.pairs[:, 1]], minlength=_CELLS**2).reshape(_CELLS, _CELLS)
    present = paired > 0
    rate = paired[present].sum() / max(1, have[present].sum())
    expected = have * rate
    return (expected >= _LOST_EXPECTED) & (paired <= 0.1 * expected)


def _reach(agree: np.ndarray, shown: np.ndarray, axis: int) -> float:
    """How far lines of agreeing cells (two or more in a row, or column) reach across the
    shown lines, as a share: 1.0 from the first shown line to the last."""
    lines = np.flatnonzero(agree.sum(axis=axis) >= 2)
    seen = int((shown.sum(axis=axis) > 0).sum())
    return 0.0 if not len(lines) or not seen else float(lines[-1] - lines[0] + 1) / seen


def _repeated(signature: RegionSignature, rows: np.ndarray) -> np.ndarray:
    """For features ``rows`` of ``signature``: True where the picture holds a near copy of the
    feature elsewhere (tiled text, a logo wall, a repeated pattern), which says little about
    which photo this is."""
    if not len(rows):
        return np.zeros(0, dtype=bool)
    looks = min(_TWIN_LOOKS, len(signature))
    found = nearest(_cv2(), signature.descriptors[rows], signature.descriptors, k=looks)
    apart = np.hypot(*np.moveaxis(signature.points[found.rows] - signature.points[rows][:, None], 2, 0))
    return ((found.distances <= _TWIN_BITS) & (found.rows >= 0) & (apart > _TWIN_APART)).any(1)


def _cell_index(sig: RegionSignature, points: np.ndarray) -> np.ndarray:
    col = np.clip((points[:, 0] * _CELLS / sig.width).astype(int), 0, _CELLS - 1)
    row = np.clip((points[:, 1] * _CELLS / sig.height).astype(int), 0, _CELLS - 1)
    return row * _CELLS + col


def _visible_share(protected: RegionSignature, suspect: RegionSignature, matrix: np.ndarray) -> np.ndarray:
    """For each cell of the protected frame, the share of sample points the suspect shows."""
    steps = 5
    samples = (np.arange(_CELLS * steps) + 0.5) / steps  # 5 x 5 sample points a cell, in cell units
    xs, ys = np.meshgrid(samples * protected.width / _CELLS, samples * protected.height / _CELLS)
    inverse = np.linalg.inv(np.vstack([matrix, [0, 0, 1]]))[:2]
    back = np.stack([xs, ys], -1) @ inverse[:, :2].T + inverse[:, 2]
    inside = ((back[..., 0] >= 0) & (back[..., 0] < suspect.width)
              & (back[..., 1] >= 0) & (back[..., 1] < suspect.height))
    return inside.reshape(_CELLS, steps, _CELLS, steps).mean(axis=(1, 3))


def _regions(cells: np.ndarray) -> list[str]:
    """Names of the 3 x 3 regions (top-left ... bottom-right) where most flagged cells fall."""
    step = _CELLS // 3
    names = []
    for r in range(3):
        for c in range(3):
            block = cells[r * step : (r + 1) * step, c * step : (c + 1) * step]
            if block.mean() >= 0.5:
                names.append(_REGION_NAMES[r][c])
    return names


# -- the signal ---------------------------------------------------------------------------


class Regions(Signal):
    """The region signature as a signal: computed on request (it costs ~40 ms a picture), from
    the larger decoded copy; its hits are their own kind, ``partial`` or ``derived``."""

    name: ClassVar[str] = "regions"
    description: ClassVar[str] = "local features (ORB) that find crops, screenshots and derived fakes"
    rule: ClassVar[MatchRule] = "own"
    on_request: ClassVar[bool] = True
    picture_side: ClassVar[int | None] = WORK_SIDE
    requires: ClassVar[str | None] = "cv2"

    def compute(self, media: Decoded) -> SignalValue | None:
        if media.picture is None or media.picture.detail is None:
            return None
        signature = signature_of_picture(media.picture.detail, mirror=media.dihedral)
        return None if signature.weak else SignalValue(self.name, signature.to_bytes())

    def validate(self, value: Stored) -> bytes:
        if not isinstance(value, bytes):
            raise InvalidHash("a region signature is stored as bytes, not text")
        RegionSignature.from_bytes(value)
        return value

    def compare(self, protected: SignalValue, suspect: SignalValue) -> Hit | None:
        evidence = compare_regions(RegionSignature.from_bytes(protected.blob()),
                                   RegionSignature.from_bytes(suspect.blob()))
        return None if evidence is None else _hit(0, evidence)

    def index(self) -> SignalIndex:
        from .region_index import RegionSignalIndex  # the bank index builds on this module

        return RegionSignalIndex()

    def unavailable(self, error: Exception) -> str | None:
        if isinstance(error, DerivativeSupportMissing):
            return error.reason
        # OpenCV's own errors: the other hashes of the picture still count
        return f"crops and derived copies of this picture cannot be looked for ({type(error).__name__})"

    def examples(self) -> list[Example]:
        base = scene(11, (800, 600))
        shown = base.crop((80, 60, 720, 540))  # a crop: what whole-picture hashes lose
        return [
            Example(encode(base), encode(shown, quality=80), same=True),
            Example(encode(base), encode(scene(12, (800, 600))), same=False),
        ]


def _hit(owner: int, evidence: RegionEvidence) -> Hit | None:
    confidence = evidence.confidence
    if confidence is None:
        return None  # a weak slanted fit, as chance agreement between textures gives
    return Hit(owner, {
        "signal": "regions", "score": evidence.score, "threshold": MIN_MATCHED,
        "coverage": round(evidence.coverage, 2), "replaced": round(evidence.replaced, 2),
        "agreeing": evidence.agreeing, "differing": evidence.differing, "note": evidence.describe(),
    }, kind=evidence.kind, confidence=confidence)


def _upright_or_quarter_turn(rotation: float) -> bool:
    slant = abs(rotation) % 90
    return min(slant, 90 - slant) <= MAX_SLANT_DEGREES


__all__: Sequence[str] = (
    "MIN_MATCHED",
    "MIN_VOTES",
    "DerivativeSupportMissing",
    "Regions",
    "RegionEvidence",
    "RegionIndex",
    "RegionSignature",
    "compare_regions",
    "compute_region_signature",
    "match_all",
    "signature_of_picture",
)


def __getattr__(name: str) -> Any:
    """The bank index moved to :mod:`.region_index`; its names still import from here."""
    if name in ("MIN_VOTES", "RegionIndex", "match_all"):
        from . import region_index

        return getattr(region_index, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
