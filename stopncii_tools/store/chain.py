"""The event log as a hash chain: each event carries the hash of the one before it in its case.

An event's hash covers its case, time, actor, action, detail (the stored JSON text, byte for
byte) and the previous event's hash, so changing, removing or reordering any event breaks the
chain from there on; :meth:`Database.verify_chain` names the first event that does not fit.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

CHAIN_VERSION = "stopncii-event-chain/1"


def event_hash(case_id: str | None, at: str, actor: str, action: str, detail: str, prev_hash: str | None) -> str:
    """The SHA-256 (hex) of one event as stored, linked to ``prev_hash`` (None for a case's first)."""
    fields = [CHAIN_VERSION, case_id, at, actor, action, detail, prev_hash]
    return hashlib.sha256(json.dumps(fields, ensure_ascii=False).encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class ChainCheck:
    """What recomputing a case's chain found: the events read, the head, the first break."""

    case_id: str
    events: int
    head: str | None  # the hash of the last event: print it to compare later
    broken_at: int | None = None  # the id of the first event that does not fit
    broken_action: str | None = None
    broken_time: str | None = None
    reason: str | None = None
    kept_head: str | None = None  # a head kept earlier (from a report), looked for in the chain
    kept_head_event: int | None = None  # the event whose hash it is; None when it is not in the chain
    events_after_kept: int = 0  # events written after the kept head

    @property
    def intact(self) -> bool:
        return self.broken_at is None
