"""Searches that run while the page shows their progress: one thread each, held in memory only.

A job knows only counts and plain lines; everything it finds is committed to the case as it
goes (by the scan itself), so a job lost with the process loses nothing stored.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import StopNCIIError
from ..store import Store
from ..workflow.scan import PageReport, ScanOptions, ScanOutcome, scan_in_memory, scan_sources


@dataclass(frozen=True)
class PageLine:
    url: str
    checked: int
    reason: str | None  # set when nothing could be checked on the page


@dataclass
class ScanJob:
    """What a running or finished search has done so far."""

    id: str
    case_id: str
    checked: int = 0
    found: int = 0
    pages: list[PageLine] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    finished: bool = False
    failure: str | None = None  # the whole search stopped early, and why


class Jobs:
    """The searches of this run of the page, by id."""

    def __init__(self) -> None:
        self._jobs: dict[str, ScanJob] = {}

    def get(self, job_id: str) -> ScanJob | None:
        return self._jobs.get(job_id)

    def running(self) -> bool:
        return any(not job.finished for job in self._jobs.values())

    def start_scan(self, db_path: Path, case_id: str, links: list[str], files: list[tuple[str, bytes]],
                   options: ScanOptions) -> ScanJob:
        job = ScanJob(secrets.token_urlsafe(12), case_id)
        self._jobs[job.id] = job

        def outcomes(store: Store) -> Iterator[ScanOutcome]:
            case = store.get_case(case_id)
            if files:
                yield from scan_in_memory(store, case, files)
            if links:
                yield from scan_sources(store, case, links, options)

        threading.Thread(target=_run, args=(job, db_path, outcomes), daemon=True, name=f"scan-{job.id}").start()
        return job


def _run(job: ScanJob, db_path: Path, outcomes: Callable[[Store], Iterable[ScanOutcome]]) -> None:
    try:
        with Store(db_path) as store:
            for outcome in outcomes(store):
                _count(job, outcome)
    except StopNCIIError as exc:
        job.failure = str(exc)
    finally:
        job.finished = True


def _count(job: ScanJob, outcome: ScanOutcome) -> None:
    if outcome.page is not None:
        job.pages.append(_page_line(outcome.page, outcome.error))
        return
    if outcome.skipped:
        return
    if outcome.error:
        job.problems.append(outcome.error)
        return
    job.checked += 1
    job.found += len(outcome.matches)


def _page_line(report: PageReport, error: str | None) -> PageLine:
    if not error:
        return PageLine(report.url, report.checked, None)
    reason = error.split("nothing could be checked on this page: ", 1)[-1]
    return PageLine(report.url, 0, reason[:1].upper() + reason[1:] + ".")
