"""The two nearest 256-bit descriptors of each query descriptor (Hamming distance), fast.

faiss's flat binary index (``faiss-cpu``, in the ``derivatives`` extra) finds the same
neighbours as OpenCV's brute-force matcher in about a quarter of the time (benchmarks/scale.py);
without faiss, OpenCV does it.
"""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any, NamedTuple

import numpy as np

DESCRIPTOR_BITS = 256


class Neighbour(NamedTuple):
    """One neighbour, named as OpenCV's ``DMatch`` names it."""

    queryIdx: int
    trainIdx: int
    distance: float


@cache
def _faiss() -> ModuleType | None:
    try:
        import faiss
    except ImportError:
        return None
    # one comparison is small: faiss's own threads only contend with the scan's worker processes
    faiss.omp_set_num_threads(1)
    return faiss


def nearest_two(cv2: Any, query: np.ndarray, train: np.ndarray) -> list[list[Any]]:
    """For each row of ``query`` ((n, 32) uint8), its two nearest rows of ``train``, nearest first."""
    faiss = _faiss()
    if faiss is None or not len(query) or len(train) < 2:
        return list(cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query, train, k=2))
    index = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)
    index.add(np.ascontiguousarray(train, dtype=np.uint8))
    distances, rows = index.search(np.ascontiguousarray(query, dtype=np.uint8), 2)
    # plain Python numbers first (tolist): building the pairs from numpy scalars costs more than the search
    return [[Neighbour(q, r0, d0), Neighbour(q, r1, d1)]
            for q, (r0, r1), (d0, d1) in zip(range(len(query)), rows.tolist(), distances.tolist(), strict=True)]
