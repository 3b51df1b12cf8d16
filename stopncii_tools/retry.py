"""When to try again: exponential backoff, and the wait a server asks for in ``Retry-After``.

One schedule for every caller: the fetcher and the senders wait in-process between tries, and
the outbox stores ``next_attempt_at`` for a later run, so the schedule is a plain function of
"how many tries have failed" rather than a loop. No jitter: one person's work is one client,
there is no herd to spread out. Not tenacity or stamina: both drive an in-process loop of their
own, while the outbox needs the schedule itself, and the fetcher's loop must close a 503's
response before waiting and hand back the last answer rather than raise.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Final

__all__ = ["LONGEST_RETRY_AFTER", "Backoff", "parse_retry_after"]

LONGEST_RETRY_AFTER: Final = 30 * 24 * 3600.0
"""A longer wish is read as 30 days: past that a takedown deadline is moot, and it keeps dates sane."""

_DELTA_SECONDS: Final = re.compile(r"[0-9]+", re.ASCII)  # ASCII only: "²".isdigit() is True
_LONGEST_DELTA_DIGITS: Final = 12  # more than 30 days' worth; reading more only risks huge numbers


@dataclass(frozen=True)
class Backoff:
    """Waits that double after each failed try, from ``first`` seconds up to ``cap``."""

    first: float
    cap: float

    def __post_init__(self) -> None:
        if not (0 <= self.first <= self.cap):
            raise ValueError("Backoff needs 0 <= first <= cap")

    def wait_after(self, failures: int, retry_after: float | None = None) -> float:
        """Seconds to wait before the next try once ``failures`` tries (1 or more) have failed.

        The server's ``retry_after`` wins when it gave one (it is never shortened here: a caller
        that cannot wait that long gives up or schedules a later run instead).
        """
        if retry_after is not None:
            return min(max(retry_after, 0.0), LONGEST_RETRY_AFTER)
        doublings = min(max(failures - 1, 0), 64)  # 2**64 times any wait is past every cap
        return min(self.first * 2.0**doublings, self.cap)


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds a ``Retry-After`` header asks for, or ``None`` when it is absent or unreadable.

    RFC 9110 allows delta-seconds (ASCII digits only) or an HTTP-date, read as GMT when it names
    no zone; a date in the past means "now" (0). The answer is at most ``LONGEST_RETRY_AFTER``.
    """
    if value is None:
        return None
    text = value.strip()
    if _DELTA_SECONDS.fullmatch(text):
        digits = text.lstrip("0")
        if len(digits) > _LONGEST_DELTA_DIGITS:
            return LONGEST_RETRY_AFTER
        return min(float(digits or 0), LONGEST_RETRY_AFTER)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:
        seconds = (when - now).total_seconds()
    except OverflowError:
        return LONGEST_RETRY_AFTER
    return min(max(seconds, 0.0), LONGEST_RETRY_AFTER)
