"""Hash and compare suspect items where the work is: in budgeted worker processes, or on a Dask cluster.

Each item (a file, a file inside an archive, or downloaded bytes) is decoded, hashed (every
signal, the region signature included) and compared with the bank in a worker, within the
item's time and memory budget (:mod:`~stopncii_tools.media.workers`). The main process only
receives :class:`Checked` results (hashes and matches, never pixels) and records them.

A worker builds its matcher once, from the case database opened read-only
(:class:`BankSource`); it never sees a protected picture, only the hashes the database holds.
On a Dask cluster the matcher itself is sent once to every worker (hashes only), and the
client alone keeps the case database.
"""

from __future__ import annotations

import functools
import os
import threading
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from ..media.budgets import total_memory_bytes
from ..media.files import FoundFile
from ..media.workers import BudgetedPool
from ..signals.hashing import HashOptions, MediaHashes, budget_for, hash_found, load_decoders
from .case import CaseMatcher, MatchFound

if TYPE_CHECKING:
    from distributed import Client

    from ..store import StoredSignal

# results in flight on a cluster per worker thread: enough to keep each busy, few enough to keep memory flat
_CLUSTER_QUEUE_PER_THREAD: Final = 4
_CONNECT_SECONDS: Final = 30


@dataclass(frozen=True)
class Job:
    """One suspect item to check. ``key`` lets the caller find what it knows about the item."""

    key: int
    found: FoundFile


@dataclass(frozen=True)
class Checked:
    """What a worker found for one item: its hashes and matches, or the one-line reason it failed.

    ``skipped`` marks a file in a folder that is not a picture or video at all.
    """

    key: int
    name: str
    hashes: MediaHashes | None = None
    matches: tuple[MatchFound, ...] = ()
    error: str | None = None
    skipped: bool = False


@dataclass(frozen=True)
class BankSource:
    """Where a worker process finds the protected hashes: the case database and the cases."""

    db_path: str
    case_ids: tuple[str, ...]

    def load(self) -> CaseMatcher:
        from ..store import Store

        with Store(self.db_path, read_only=True) as store:
            return CaseMatcher.for_cases(store, self.case_ids)


_worker_matcher: CaseMatcher | None = None  # in each worker process: built once, before its first item


def _prepare_worker(bank: BankSource, options: HashOptions) -> None:
    global _worker_matcher
    _worker_matcher = bank.load()
    load_decoders({**options, "on_request": _worker_matcher.on_request})


def _check_in_worker(job: Job, options: HashOptions) -> Checked:
    assert _worker_matcher is not None, "the worker's matcher is built when it starts"
    return check(job, _worker_matcher, options)


def check(job: Job, matcher: CaseMatcher, options: HashOptions) -> Checked:
    """Hash one item and compare it with ``matcher``: the work each worker does."""
    outcome = hash_found(job.found, {**options, "on_request": matcher.on_request})
    if outcome.hashes is None:
        return Checked(job.key, outcome.path, error=outcome.error, skipped=outcome.skipped)
    return Checked(job.key, outcome.path, outcome.hashes, tuple(matcher.match(outcome.hashes.signals)))


def _over_budget(job: Job, reason: str) -> Checked:
    return Checked(job.key, job.found.label, error=f"{job.found.label}: {reason}")


class Engine:
    """Where items are checked. :meth:`run` takes a stream of :class:`Job` and other things
    (passed on as they come, in order with the results around them) and yields
    :class:`Checked` results and those things, with a bounded number of items in flight."""

    def run(self, work: Iterable[Job | Any]) -> Iterator[Checked | Any]:
        raise NotImplementedError

    def close(self) -> None:
        """Let go of what the engine holds (workers, a cluster connection)."""


class LocalEngine(Engine):
    """Worker processes on this computer, each item within its time and memory budget."""

    def __init__(self, bank: BankSource, *, jobs: int | None = None, options: HashOptions | None = None) -> None:
        options = options or {}
        self._pool: BudgetedPool[Job, Checked] = BudgetedPool(
            functools.partial(_check_in_worker, options=options), workers=jobs or os.cpu_count() or 1,
            total_memory=total_memory_bytes(), over_budget=_over_budget,
            prepare=functools.partial(_prepare_worker, bank, options))

    def run(self, work: Iterable[Job | Any]) -> Iterator[Checked | Any]:
        pool = self._pool
        for piece in work:
            if not isinstance(piece, Job):
                yield piece
                continue
            budget = budget_for(piece.found)
            while not pool.can_start(budget):
                yield from pool.wait()
            pool.start(piece, budget)
        while pool.in_flight:
            yield from pool.wait()

    def close(self) -> None:
        self._pool.close()


class DaskEngine(Engine):
    """Hashing and matching on a Dask cluster (the ``cluster`` extra).

    The protected items' hashes (rows of the case database, never pictures) are sent once to
    every worker, which builds its matcher from them on its first task; suspect bytes are read
    or downloaded here and sent with each task. Results come back here, where the case
    database is written: the cluster keeps no record.
    """

    def __init__(self, client: Client, protected: Sequence[StoredSignal], *, options: HashOptions | None = None,
                 owns_client: bool = False) -> None:
        self._client, self._owns_client = client, owns_client
        self._options = options or {}
        self._bank = client.scatter(_ClusterBank(uuid.uuid4().hex, list(protected)), broadcast=True)
        threads = sum(client.nthreads().values()) or 1
        self._queue = threads * _CLUSTER_QUEUE_PER_THREAD

    @classmethod
    def connect(cls, scheduler: str, protected: Sequence[StoredSignal], *,
                options: HashOptions | None = None) -> DaskEngine:
        """Connect to the scheduler at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``)."""
        return cls(_dask_client(scheduler), protected, options=options, owns_client=True)

    def run(self, work: Iterable[Job | Any]) -> Iterator[Checked | Any]:
        from distributed import as_completed

        running = as_completed()
        for piece in work:
            if not isinstance(piece, Job):
                yield piece
                continue
            while running.count() >= self._queue:
                yield next(running).result()
            running.add(self._client.submit(_check_on_cluster, _with_bytes(piece), self._bank, self._options,
                                            pure=False))
        for future in running:
            yield future.result()

    def close(self) -> None:
        if self._owns_client:
            self._client.close()


@dataclass(frozen=True)
class _ClusterBank:
    """The hashes a cluster worker builds its matcher from; ``token`` names this scan's bank."""

    token: str
    protected: list[StoredSignal]


_cluster_matchers: dict[str, CaseMatcher] = {}  # on a cluster worker: one matcher per scan, built once
_cluster_lock = threading.Lock()


def _check_on_cluster(job: Job, bank: _ClusterBank, options: HashOptions) -> Checked:
    with _cluster_lock:
        matcher = _cluster_matchers.get(bank.token)
        if matcher is None:
            _cluster_matchers.clear()  # a worker keeps only the bank of the scan it works for
            matcher = _cluster_matchers[bank.token] = CaseMatcher(bank.protected)
    return check(job, matcher, options)


def _with_bytes(job: Job) -> Job:
    """The job with the file's bytes read here: cluster workers cannot see this computer's files."""
    found = job.found
    if found.data is not None or found.problem is not None:
        return job
    from .._errors import MediaError
    from ..media.files import read_regular_file

    try:
        data = read_regular_file(found.path)
    except MediaError as exc:  # the worker reports it, like any other item's problem
        return Job(job.key, FoundFile(found.path, True, name=found.label, problem=exc.reason))
    return Job(job.key, FoundFile(found.path, found.explicit, data=data, name=found.label))


def _dask_client(scheduler: str) -> Client:
    from .._errors import InputFileError

    try:
        from distributed import Client
    except ImportError:
        raise InputFileError("scanning on a Dask cluster needs the cluster extra: "
                             "pip install 'stopncii-tools[cluster]'") from None
    try:
        return Client(scheduler, timeout=_CONNECT_SECONDS)
    except (OSError, TimeoutError, ValueError) as exc:
        raise InputFileError(f"the Dask scheduler at {scheduler} could not be reached ({exc}); "
                             "nothing was scanned") from None


def check_files_on_cluster(
    client: Client, protected: Sequence[StoredSignal], paths: Sequence[str | Path], options: HashOptions | None = None,
) -> Iterator[Checked]:
    """The library entry point for a cluster: check every file under ``paths`` against the
    ``protected`` hashes (e.g. ``store.protected_signals(case_id)``) on the Dask cluster of
    ``client``, yielding results as they come (record them yourself, or use
    :func:`stopncii_tools.workflow.scan.scan_cases` with ``engine="dask"``, which records them)."""
    from ..media.files import iter_files

    engine = DaskEngine(client, protected, options=options)
    jobs = (Job(key, found) for key, found in enumerate(iter_files(paths)))
    yield from engine.run(jobs)
