"""Between hashing and the case database: computed signals as rows to store, stored rows as signals."""

from __future__ import annotations

from collections.abc import Iterable

from ..signals import SignalValue
from ..signals.hashing import MediaHashes
from ..signals.pdq import STORED_VARIANT
from ..store import StoredSignal
from ..store.rows import MediaRecord, SignalRow


def media_record(hashes: MediaHashes) -> MediaRecord:
    return MediaRecord(hashes.kind, hashes.format, hashes.size, hashes.width, hashes.height, hashes.sha256)


def signal_rows(hashes: MediaHashes) -> list[SignalRow]:
    """Every computed signal, the PDQ of each rotation and mirror image after the first, and of
    the picture as the file stores it."""
    rows = [SignalRow(v.signal, 0, v.value, v.quality) for v in hashes.signals.values()]
    rows += [SignalRow(v.signal, i, v.value, v.quality) for i, v in enumerate(hashes.pdq_variants) if i]
    if hashes.pdq_stored:
        rows.append(SignalRow("pdq", STORED_VARIANT, hashes.pdq_stored.value, hashes.pdq_stored.quality))
    return rows


def stored_suspect(rows: Iterable[StoredSignal]) -> dict[str, SignalValue]:
    """A sighting's stored signals, in the form the matcher compares."""
    return {row.signal: SignalValue(row.signal, row.value, row.quality) for row in rows}
