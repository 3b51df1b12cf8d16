"""The nearest 256-bit descriptors of each query descriptor (Hamming distance), fast.

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
NO_NEIGHBOUR = DESCRIPTOR_BITS + 1  # the distance given where ``train`` has fewer than k rows


class Neighbours(NamedTuple):
    """Row ``q`` of each array is about query descriptor ``q``: its neighbours, nearest first."""

    rows: np.ndarray  # (n, k) int64 rows of ``train``; -1 where there is none
    distances: np.ndarray  # (n, k) int32 Hamming distances; NO_NEIGHBOUR where there is none


@cache
def _faiss() -> ModuleType | None:
    try:
        import faiss
    except ImportError:
        return None
    # one comparison is small: faiss's own threads only contend with the scan's worker processes
    faiss.omp_set_num_threads(1)
    return faiss


def nearest(cv2: Any, query: np.ndarray, train: np.ndarray, k: int = 2) -> Neighbours:
    """For each row of ``query`` ((n, 32) uint8), its ``k`` nearest rows of ``train``."""
    rows = np.full((len(query), k), -1, dtype=np.int64)
    distances = np.full((len(query), k), NO_NEIGHBOUR, dtype=np.int32)
    if not len(query) or not len(train):
        return Neighbours(rows, distances)
    faiss = _faiss()
    if faiss is None or len(train) < k:
        for q, found in enumerate(cv2.BFMatcher(cv2.NORM_HAMMING).knnMatch(query, train, k=k)):
            for j, m in enumerate(found):
                rows[q, j], distances[q, j] = m.trainIdx, int(m.distance)
        return Neighbours(rows, distances)
    index = faiss.IndexBinaryFlat(DESCRIPTOR_BITS)
    index.add(np.ascontiguousarray(train, dtype=np.uint8))
    found_distances, found_rows = index.search(np.ascontiguousarray(query, dtype=np.uint8), k)
    return Neighbours(found_rows.astype(np.int64), found_distances.astype(np.int32))
