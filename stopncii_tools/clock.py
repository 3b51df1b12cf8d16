"""The time the outbox, deadlines and removal checks go by: the real time, or one you set.

``STOPNCII_NOW`` (an ISO 8601 date and time; UTC when no zone is given) freezes it, so tests and
rehearsals can show a deadline passing without waiting. It is read here and nowhere else.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from ._errors import InputFileError

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime."""

NOW_VARIABLE = "STOPNCII_NOW"


def now() -> datetime:
    """The current time: ``STOPNCII_NOW`` when it is set, else the computer's clock (UTC)."""
    fixed = os.environ.get(NOW_VARIABLE, "").strip()
    if not fixed:
        return datetime.now(UTC)
    return parse_time(fixed, NOW_VARIABLE)


def parse_time(text: str, what: str) -> datetime:
    """An aware UTC datetime from ISO 8601 text (``2026-06-01T09:00``, ``...Z``, ``+02:00``)."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputFileError(
            f"{text!r} is not a date and time; write it like 2026-06-01T09:30 (UTC) or "
            "2026-06-01T11:30+02:00", item=what) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def iso(moment: datetime) -> str:
    """The form every time is stored in: UTC, to the second (as the rest of the case database)."""
    return moment.astimezone(UTC).isoformat(timespec="seconds")
