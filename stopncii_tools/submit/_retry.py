"""Trying a send again in-process, and a rate limit per receiver.

Shared by the HTTP channel and the hash-bank client (and usable by SMTP); the schedule itself is
:mod:`stopncii_tools.retry`. Sleep and clock are injectable so tests run in no time and see
exactly how long we would have waited.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from .._errors import TemporarySendError
from ..retry import Backoff

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long to retry one send before handing it back to the outbox."""

    max_attempts: int = 5
    backoff_base: float = 2.0
    max_wait: float = 300.0

    def wait_before_next(self, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to wait after failed ``attempt`` (1-based), or ``None`` to stop now.

        A Retry-After longer than ``max_wait`` stops at once: waiting less would be impolite
        and useless, so the outbox schedules the next try instead.
        """
        if attempt >= self.max_attempts or (retry_after is not None and retry_after > self.max_wait):
            return None
        return Backoff(min(self.backoff_base, self.max_wait), self.max_wait).wait_after(attempt, retry_after)


def call_with_retries(
    attempt: Callable[[], T],
    policy: RetryPolicy,
    *,
    sleep: Callable[[float], None] = time.sleep,
    limiter: RateLimiter | None = None,
) -> T:
    """Run ``attempt`` until it returns; retry only on :class:`TemporarySendError`."""
    number = 0
    while True:
        number += 1
        if limiter is not None:
            limiter.wait()
        try:
            return attempt()
        except TemporarySendError as exc:
            wait = policy.wait_before_next(number, exc.retry_after)
            if wait is None:
                tries = "1 attempt" if number == 1 else f"{number} attempts"
                raise TemporarySendError(
                    f"{exc.reason} (gave up for now after {tries}; it can be tried again later)",
                    item=exc.item,
                    retry_after=exc.retry_after,
                ) from exc
            log.info("attempt %d failed (%s); waiting %.1f s", number, exc.reason, wait)
            sleep(wait)


class RateLimiter:
    """Spaces out sends to one receiver: at least ``min_interval`` apart, ``per_minute`` at most.

    ``wait()`` blocks until the next send is allowed. Safe to share between threads.
    """

    def __init__(
        self,
        min_interval: float = 0.0,
        per_minute: int | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if min_interval < 0 or (per_minute is not None and per_minute < 1):
            raise ValueError("min_interval must be >= 0 and per_minute >= 1")
        self.min_interval = min_interval
        self.per_minute = per_minute
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until a send is allowed, record it, and return the seconds waited."""
        with self._lock:
            now = self._clock()
            ready = now
            if self._recent:
                ready = max(ready, self._recent[-1] + self.min_interval)
            if self.per_minute is not None:
                while self._recent and self._recent[0] <= ready - 60.0:
                    self._recent.popleft()
                if len(self._recent) >= self.per_minute:
                    ready = max(ready, self._recent[-self.per_minute] + 60.0)
            waited = max(0.0, ready - now)
            if waited:
                self._sleep(waited)
            self._recent.append(ready)
            if self.per_minute is None:
                while len(self._recent) > 1:  # only the last send matters for min_interval
                    self._recent.popleft()
            return waited
