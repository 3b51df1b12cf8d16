"""PDQ in numpy: the same hash as Meta's C++ reference (and the ``pdqhash`` package), no compiler.

Meta's algorithm (ThreatExchange ``pdq/cpp``): luminance 0.299 R + 0.587 G + 0.114 B, a Jarosz
tent filter (two passes of a 1-D box filter along rows, then columns) with windows of
``ceil(side / 128)``, sampling 64 x 64 pixel centres, a DCT keeping frequencies 1-16 in each
direction, and one bit per coefficient: above the median or not. Quality counts the strong
gradients of the 64 x 64 picture. The 8 rotations and mirror images come from the DCT by sign
changes and a transpose, as in the reference.

Bit for bit: every step rounds to 32-bit floats in the order the C++ code does. The box filter's
running sum (add the pixel entering the window, then subtract the one leaving) is one sequential
``np.add.accumulate`` over the pixels interleaved with their negatives, and the DCT sums its 64
products in order. The result equals ``pdqhash`` on every reference file (tests/test_signals.py);
a build that fuses multiply-adds (clang on arm64 does by default) can itself differ from this in
the last bit of a sum, which moves a hash bit only when a coefficient sits on the median.
"""

from __future__ import annotations

from typing import Final

import numpy as np
import numpy.typing as npt

Floats = npt.NDArray[np.float32]
Bits = npt.NDArray[np.uint8]  # 256 zeros and ones, most significant first (pdqhash's order)
_F32: Final = np.float32
_SIDE: Final = 64  # the picture PDQ works on is 64 x 64
_MIN_SIDE: Final = 5  # the reference gives an all-zero hash of quality 0 below this
_PASSES: Final = 2  # two box-filter passes in each direction make the tent filter


def _dct_matrix() -> Floats:
    """Rows 1-16 of the 64-point DCT-II, computed in double and stored in float as the reference does."""
    scale = float(_F32(np.sqrt(2.0 / _SIDE)))
    i = np.arange(1, 17, dtype=np.float64)[:, None]
    j = np.arange(_SIDE, dtype=np.float64)[None, :]
    return (scale * np.cos((np.pi / 2.0 / _SIDE) * i * (2 * j + 1))).astype(_F32)


_DCT: Final = _dct_matrix()


def luminance(rgb: np.ndarray) -> Floats:
    """Luma of an RGB array (height x width x 3, 0-255), in double and then float, as pdqhash does."""
    return (rgb[:, :, 0] * 0.299 + rgb[:, :, 1] * 0.587 + rgb[:, :, 2] * 0.114).astype(_F32)


def _window(old_side: int) -> int:
    """The reference's box window: half of one 64th of the side, rounded up."""
    return (old_side + 2 * _SIDE - 1) // (2 * _SIDE)


def _box_rows(x: Floats, window: int, keep: npt.NDArray[np.intp] | None = None) -> Floats:
    """The reference's 1-D box filter along each row of ``x``, rounding as its running sum does.

    The window grows from half its size at the left edge, slides, and shrinks at the right edge.
    ``keep`` selects the output columns wanted (all when None).
    """
    rows, n = x.shape
    half = (window + 2) // 2
    slides = n - window  # steps that add one pixel and subtract another
    shrinks = half - 1
    # the terms of the running sum, in the order the reference adds them
    terms = np.empty((rows, window + 2 * slides + shrinks), dtype=_F32)
    terms[:, :window] = x[:, :window]
    terms[:, window : window + 2 * slides : 2] = x[:, window:]
    np.negative(x[:, :slides], out=terms[:, window + 1 : window + 2 * slides : 2])
    np.negative(x[:, slides : slides + shrinks], out=terms[:, window + 2 * slides :])
    np.add.accumulate(terms, axis=1, dtype=_F32, out=terms)
    # where the reference writes an output, and how many pixels its sum holds there
    written = np.concatenate(
        [np.arange(half - 1, window), window + 1 + 2 * np.arange(slides), window + 2 * slides + np.arange(shrinks)]
    )
    counts = np.concatenate(
        [np.arange(half, window + 1), np.full(slides, window), window - 1 - np.arange(shrinks)]
    ).astype(_F32)
    if keep is not None:
        written, counts = written[keep], counts[keep]
    return (terms[:, written] / counts).astype(_F32, copy=False)  # already float32; the stubs say float64


def _downsample(luma: Floats) -> Floats:
    """Tent-filter the luma and take the 64 x 64 pixel centres (the reference's Jarosz filter)."""
    rows, cols = luma.shape
    along_rows, along_cols = _window(cols), _window(rows)
    centre_rows = ((np.arange(_SIDE) + 0.5) * rows / _SIDE).astype(np.intp)
    centre_cols = ((np.arange(_SIDE) + 0.5) * cols / _SIDE).astype(np.intp)
    x = luma
    for rep in range(_PASSES):
        last = rep == _PASSES - 1
        x = _box_rows(x, along_rows, keep=centre_cols if last else None)
        x = _box_rows(np.ascontiguousarray(x.T), along_cols, keep=centre_rows if last else None).T
    return np.ascontiguousarray(x)


def _quality(small: Floats) -> int:
    """The reference's quality: strong gradients between neighbours of the 64 x 64 picture, 0-100."""
    total = 0
    for diff in (small[:-1, :] - small[1:, :], small[:, :-1] - small[:, 1:]):
        steps = (diff * _F32(100)) / _F32(255)
        total += int(np.abs(np.trunc(steps).astype(np.int64)).sum())
    return min(total // 90, 100)


def _sum_in_order(products: Floats) -> Floats:
    """Sum along the last axis one term at a time in float, as the reference's loops do."""
    return np.add.accumulate(products, axis=-1, dtype=_F32)[..., -1]


def _dct16(small: Floats) -> Floats:
    """DCT coefficients 1-16 x 1-16 of the 64 x 64 picture: D A D^T, each sum in order."""
    partial = _sum_in_order(_DCT[:, None, :] * np.ascontiguousarray(small.T)[None, :, :])  # (D A)[i, j]
    return _sum_in_order(partial[:, None, :] * _DCT[None, :, :])


def _bits(dct: Floats) -> Bits:
    """One bit per coefficient: above the median (the 128th smallest, as Torben's median gives)."""
    flat = dct.ravel()
    median = np.partition(flat, 127)[127]
    return (flat > median)[::-1].astype(np.uint8)


_ALTERNATE: Final = np.where(np.arange(16) % 2 == 1, _F32(1), _F32(-1))  # + on odd frequencies


def _variants(dct: Floats) -> list[Floats]:
    """The DCT of the 8 rotations and mirror images, in pdqhash.compute_dihedral's order."""
    odd_col = _ALTERNATE[None, :]
    odd_row = _ALTERNATE[:, None]
    checker = odd_row * odd_col  # + where row + column is even
    return [
        dct,
        (dct * odd_col).T,  # rotated 90
        dct * checker,  # rotated 180
        (dct * odd_row).T,  # rotated 270
        dct * odd_row,  # mirrored left-right
        dct * odd_col,  # mirrored top-bottom
        dct.T,  # mirrored on the diagonal
        (dct * checker).T,  # mirrored on the other diagonal
    ]


def _small(rgb: np.ndarray, filter_64: bool) -> Floats | None:
    """The 64 x 64 luma PDQ works on, or None for a picture under 5 pixels on a side."""
    luma = luminance(rgb)
    if min(luma.shape) < _MIN_SIDE:
        return None
    if luma.shape == (_SIDE, _SIDE) and not filter_64:
        return luma  # the reference hashes an already-64 x 64 picture as it is (not its dihedral path)
    return _downsample(luma)


def compute(rgb: np.ndarray) -> tuple[Bits, int]:
    """PDQ bits (most significant first) and quality of an RGB array, like ``pdqhash.compute``."""
    small = _small(rgb, filter_64=False)
    if small is None:
        return np.zeros(256, dtype=np.uint8), 0
    return _bits(_dct16(small)), _quality(small)


def compute_dihedral(rgb: np.ndarray) -> tuple[list[Bits], int]:
    """PDQ of the 8 rotations and mirror images and the quality, like ``pdqhash.compute_dihedral``."""
    small = _small(rgb, filter_64=True)
    if small is None:
        return [np.zeros(256, dtype=np.uint8) for _ in range(8)], 0
    return [_bits(d) for d in _variants(_dct16(small))], _quality(small)
