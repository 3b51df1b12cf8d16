"""Hash and compare suspect items where the work is: in budgeted worker processes, or on a Dask cluster.

Each item (a file, a file inside an archive, or downloaded bytes) is decoded, hashed (every
signal, the region signature included) and compared with the bank in a worker, within the
item's time and memory budget (:mod:`~stopncii_tools.media.workers`). The main process only
receives :class:`Checked` results (hashes and matches, never pixels) and records them.

The main process builds the bank's region index once per state of the bank and saves it in
the cache folder (:func:`shared_region_index`); each worker loads its matcher from the case
database opened read-only (:class:`BankSource`): the small whole-picture hashes, the saved
index memory-mapped (one copy in memory for all workers), and the region signatures of a
suspect's few candidates, read when needed. It never sees a protected picture. Workers are kept
from one scan to the next in a process, and reload only when the bank changed. On a Dask
cluster a compact copy of the bank (:class:`ClusterBank`) is sent once to every worker, and the
client alone keeps the case database.
"""

from __future__ import annotations

import atexit
import contextlib
import functools
import os
import shutil
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np

from .._errors import InvalidHash
from ..media.budgets import total_memory_bytes
from ..media.files import FoundFile
from ..media.workers import BudgetedPool
from ..paths import cache_dir, private_dir
from ..signals.hashing import HashOptions, MediaHashes, budget_for, hash_found, load_decoders
from ..signals.region_index import RegionIndex, RegionStore, bank_fingerprint, write_index
from ..signals.regions import Regions, RegionSignature
from .case import CaseMatcher, MatchFound

if TYPE_CHECKING:
    from distributed import Client

    from ..store import Store, StoredSignal

# results in flight on a cluster per worker thread: enough to keep each busy, few enough to keep memory flat
_CLUSTER_QUEUE_PER_THREAD: Final = 4
_CONNECT_SECONDS: Final = 30
_KEPT_INDEXES: Final = 4  # saved region indexes kept in the cache folder: scans of other case sets may use them


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
    """Where a worker process finds the protected hashes: the case database, the cases, and the
    saved region index of their photos (memory-mapped arrays every worker shares through the
    page cache). ``fingerprint`` changes whenever what the cases protect changes: a kept worker
    reloads its matcher only then."""

    db_path: str
    case_ids: tuple[str, ...]
    fingerprint: str = ""
    region_index: str | None = None

    @classmethod
    def of(cls, store: Store, case_ids: Sequence[str], item_ids: Iterable[int]) -> BankSource:
        """The bank of these cases (whose protected items are ``item_ids``) as it is now; its
        region index is built once into the cache folder, or found there already built."""
        regions, folder = shared_region_index(store, item_ids)
        whole = store.protected_digest(case_ids, without=Regions.name)
        return cls(str(store.path), tuple(case_ids), f"{whole}-{regions}", None if folder is None else str(folder))

    def load(self, signatures: RegionStore) -> CaseMatcher:
        """The matcher: the whole-picture hashes read now, region signatures from ``signatures``
        (this bank's database) only for a suspect's candidates."""
        from ..store import Store

        folder = Path(self.region_index) if self.region_index else None
        with Store(self.db_path, read_only=True) as store:
            index = None
            if folder is not None and folder.is_dir():
                with contextlib.suppress(OSError, ValueError):  # a damaged cache file: built again below
                    index = RegionIndex.open(folder, signatures)
            if index is None:  # no saved index (cleaned away meanwhile, or damaged): this worker builds its own
                items = [item.id for case_id in self.case_ids for item in store.protected_items(case_id)]
                index = RegionIndex.from_store(signatures, items)
            return CaseMatcher.for_cases(store, self.case_ids, index)


class _BankDatabase:
    """A worker's read-only connection to the bank's database, for candidates' region signatures:
    opened when first needed, closed between scans (an open reader keeps the database's log)."""

    write_refusal: str | None = "a scan's workers only read the case database"

    def __init__(self, path: str) -> None:
        self._path = path
        self._store: Store | None = None

    def _open(self) -> Store:
        from ..store import Store

        if self._store is None:
            self._store = Store(self._path, read_only=True)
        return self._store

    def region_signatures(self, item_ids: Sequence[int]) -> dict[int, bytes]:
        return self._open().region_signatures(item_ids)

    def region_postings(self, item_ids: Sequence[int] | None = None) -> list[tuple[int, bytes | None]]:
        return self._open().region_postings(item_ids)

    def put_region_postings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        raise AssertionError(self.write_refusal)

    def close(self) -> None:
        if self._store is not None:
            self._store.close()
            self._store = None


def shared_region_index(store: Store, item_ids: Iterable[int]) -> tuple[str, Path | None]:
    """The fingerprint of these items' region keys, and the folder of their saved index in the
    cache (built now if no scan built it before; None when they have no region signatures, or
    the cache folder cannot be written). Indexes unused the longest are removed."""
    item_ids = sorted(set(item_ids))
    fingerprint = bank_fingerprint(store, item_ids)
    if not fingerprint[1]:
        return fingerprint[0], None
    try:
        root = private_dir(cache_dir() / "region-index")
        folder = root / fingerprint[0]
        if not folder.is_dir():
            building = root / f".building-{uuid.uuid4().hex}"
            try:
                write_index(store, item_ids, building, fingerprint)
                with contextlib.suppress(OSError):  # another scan saved the same bank meanwhile: either will do
                    building.rename(folder)
            finally:
                shutil.rmtree(building, ignore_errors=True)
        os.utime(folder)
        _forget_old_indexes(root)
    except OSError:
        return fingerprint[0], None
    return fingerprint[0], folder


def _forget_old_indexes(root: Path) -> None:
    """Keep the :data:`_KEPT_INDEXES` indexes used last (other scans may be using them); remove
    the rest, and builds left unfinished a day ago."""
    saved = sorted((f for f in root.iterdir() if f.is_dir() and not f.name.startswith(".")),
                   key=lambda f: f.stat().st_mtime, reverse=True)
    stale = [f for f in root.glob(".building-*") if time.time() - f.stat().st_mtime > 86_400]
    for folder in saved[_KEPT_INDEXES:] + stale:
        shutil.rmtree(folder, ignore_errors=True)


@dataclass
class _Serving:
    """In a worker process: the bank it serves now, its database and its matcher."""

    setting: tuple[BankSource, HashOptions]
    database: _BankDatabase
    matcher: CaseMatcher


_serving: _Serving | None = None


def _serve_bank(setting: tuple[BankSource, HashOptions] | None) -> None:
    """The pool's ``setup``: load the matcher of a bank unless it is the one served already;
    None (between scans) closes the database, keeping the matcher for the next scan."""
    global _serving
    if _serving is not None and setting != _serving.setting:
        _serving.database.close()
        if setting is not None:
            _serving = None
    if setting is None or _serving is not None:
        return
    bank, options = setting
    database = _BankDatabase(bank.db_path)
    matcher = bank.load(database)
    load_decoders({**options, "on_request": matcher.on_request})
    if Regions.name in matcher.on_request:
        _warm_up_comparison()
    _serving = _Serving(setting, database, matcher)


@functools.cache
def _warm_up_comparison() -> None:
    """The first region comparison starts the k-NN's threads (about 500 MB of address space):
    done before the worker's size is measured, else each worker is replaced after its first item."""
    from ..signals._examples import encode, scene
    from ..signals.regions import compare_regions, compute_region_signature

    with contextlib.suppress(Exception):  # a warm-up only: a real item reports its own errors
        signature = compute_region_signature(encode(scene(1)))
        compare_regions(signature, signature)


def _check_in_worker(job: Job) -> Checked:
    assert _serving is not None, "the worker's bank is loaded before its first item"
    return check(job, _serving.matcher, _serving.setting[1])


def check(job: Job, matcher: CaseMatcher, options: HashOptions) -> Checked:
    """Hash one item and compare it with ``matcher``: the work each worker does."""
    outcome = hash_found(job.found, {**options, "on_request": matcher.on_request})
    if outcome.hashes is None:
        return Checked(job.key, outcome.path, error=outcome.error, skipped=outcome.skipped)
    try:
        matches = tuple(matcher.match(outcome.hashes.signals))
    except InvalidHash as exc:  # a protected photo's stored value read for this item is damaged
        return Checked(job.key, outcome.path, error=f"{outcome.path}: it could not be compared with your "
                                                    f"protected photos: {exc}")
    return Checked(job.key, outcome.path, outcome.hashes, matches)


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
    """Worker processes on this computer, each item within its time and memory budget.

    The processes outlive the engine: the next engine in this process with as many workers
    takes them over (its bank loaded in each, only if it changed), so a command running many
    scans starts its workers (their decoders imported) once. They end with this process."""

    def __init__(self, bank: BankSource, *, jobs: int | None = None, options: HashOptions | None = None) -> None:
        self._pool: BudgetedPool[Job, Checked] | None = _take_pool(jobs or os.cpu_count() or 1)
        try:
            self._pool.use((bank, options or {}))
        except BaseException:
            self.close()
            raise

    @property
    def worker_pids(self) -> list[int]:
        """The process ids of the workers started so far."""
        return self._pool.pids if self._pool else []

    def run(self, work: Iterable[Job | Any]) -> Iterator[Checked | Any]:
        pool = self._pool
        assert pool is not None, "a closed engine runs nothing"
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
        if self._pool is not None:
            _give_back(self._pool)
            self._pool = None


_idle_pools: dict[int, BudgetedPool[Job, Checked]] = {}  # worker pools between scans, by worker count
_idle_lock = threading.Lock()


def _take_pool(workers: int) -> BudgetedPool[Job, Checked]:
    """The idle pool of this many workers, or a new one (two scans at once get one each)."""
    with _idle_lock:
        pool = _idle_pools.pop(workers, None)
    return pool or BudgetedPool(_check_in_worker, workers=workers, total_memory=total_memory_bytes(),
                                over_budget=_over_budget, setup=_serve_bank)


def _give_back(pool: BudgetedPool[Job, Checked]) -> None:
    pool.cancel()  # a scan stopped early: what its workers still do is not wanted
    pool.use(None)  # the workers let go of the database until the next scan
    with _idle_lock:
        spare = _idle_pools.get(pool.workers) is not None
        if not spare:
            _idle_pools[pool.workers] = pool
    if spare:
        pool.close()


def close_idle_workers() -> None:
    """End the worker processes kept for the next scan (done at exit, too)."""
    with _idle_lock:
        pools = list(_idle_pools.values())
        _idle_pools.clear()
    for pool in pools:
        pool.close()


atexit.register(close_idle_workers)
os.register_at_fork(after_in_child=_idle_pools.clear)  # a forked process has no workers of its own yet


class DaskEngine(Engine):
    """Hashing and matching on a Dask cluster (the ``cluster`` extra).

    The bank (a :class:`ClusterBank`: hashes, never pictures) is sent once to every worker,
    which builds its matcher from it on its first task; suspect bytes are read or downloaded
    here and sent with each task. Results come back here, where the case database is written:
    the cluster keeps no record.
    """

    def __init__(self, client: Client, bank: ClusterBank | Sequence[StoredSignal], *,
                 options: HashOptions | None = None, owns_client: bool = False) -> None:
        self._client, self._owns_client = client, owns_client
        self._options = options or {}
        packed = bank if isinstance(bank, ClusterBank) else ClusterBank.from_signals(bank)
        self._bank = client.scatter(packed, broadcast=True)
        threads = sum(client.nthreads().values()) or 1
        self._queue = threads * _CLUSTER_QUEUE_PER_THREAD

    @classmethod
    def connect(cls, scheduler: str, bank: ClusterBank | Sequence[StoredSignal], *,
                options: HashOptions | None = None) -> DaskEngine:
        """Connect to the scheduler at ``scheduler`` (e.g. ``tcp://10.0.0.5:8786``)."""
        return cls(_dask_client(scheduler), bank, options=options, owns_client=True)

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
class ClusterBank:
    """A bank as sent to cluster workers, compact: the whole-picture hashes, the region index's
    arrays, and the region signatures end to end in one buffer (``ends[i]`` closes item
    ``items[i]``'s), read only for a suspect's candidates. ``token`` names this bank."""

    token: str
    whole: tuple[StoredSignal, ...]
    index: dict[str, np.ndarray] = field(default_factory=dict)
    items: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    ends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    signatures: bytes | bytearray = b""

    @classmethod
    def of(cls, store: Store, case_ids: Sequence[str], item_ids: Iterable[int]) -> ClusterBank:
        """The bank of these cases (whose protected items are ``item_ids``), its region index
        the one local scans share (built once into the cache folder)."""
        item_ids = sorted(set(item_ids))
        _, folder = shared_region_index(store, item_ids)
        index = (RegionIndex.open(folder, store) if folder is not None and folder.is_dir()
                 else RegionIndex.from_store(store, item_ids))
        whole = tuple(row for case_id in case_ids for row in store.protected_signals(case_id, without=Regions.name))
        return cls._packed(whole, index, store)

    @classmethod
    def from_signals(cls, protected: Sequence[StoredSignal]) -> ClusterBank:
        """The bank of these stored signals (e.g. ``store.protected_signals(case_id)``)."""
        regions = {row.owner_id: row.value for row in protected
                   if row.signal == Regions.name and row.variant == 0 and isinstance(row.value, bytes)}
        index = RegionIndex()
        for owner, value in regions.items():
            index.add(owner, RegionSignature.from_bytes(value))
        return cls._packed(tuple(row for row in protected if row.signal != Regions.name), index,
                           _PackedSignatures.of(regions))

    @classmethod
    def _packed(cls, whole: tuple[StoredSignal, ...], index: RegionIndex, source: RegionStore) -> ClusterBank:
        arrays = {name: np.ascontiguousarray(array) for name, array in index.arrays().items()}
        items = np.unique(arrays["owners"]).astype(np.int64)
        packed = _PackedSignatures.of({})
        for start in range(0, len(items), 500):  # a bounded number of signatures read at a time
            packed.extend(source.region_signatures([int(i) for i in items[start : start + 500]]))
        return cls(uuid.uuid4().hex, whole, arrays, packed.items, packed.ends, packed.buffer)

    def matcher(self) -> CaseMatcher:
        signatures = _PackedSignatures(self.items, self.ends, self.signatures)
        return CaseMatcher.with_regions(self.whole, RegionIndex.from_arrays(self.index, signatures)
                                        if self.index else RegionIndex())


class _PackedSignatures:
    """Region signatures end to end in one buffer, read as a case database reads them."""

    write_refusal: str | None = "the signatures sent to a cluster worker are only read"

    def __init__(self, items: np.ndarray, ends: np.ndarray, buffer: bytes | bytearray) -> None:
        self.items, self.ends, self.buffer = items, ends, buffer

    @classmethod
    def of(cls, signatures: Mapping[int, bytes]) -> _PackedSignatures:
        packed = cls(np.zeros(0, np.int64), np.zeros(0, np.int64), bytearray())
        packed.extend(signatures)
        return packed

    def extend(self, signatures: Mapping[int, bytes]) -> None:
        assert isinstance(self.buffer, bytearray)
        ordered = sorted(signatures.items())
        lengths = np.array([len(value) for _, value in ordered], np.int64)
        self.items = np.concatenate([self.items, np.array([item for item, _ in ordered], np.int64)])
        self.ends = np.concatenate([self.ends, len(self.buffer) + np.cumsum(lengths)])
        for _, value in ordered:
            self.buffer += value

    def region_signatures(self, item_ids: Sequence[int]) -> dict[int, bytes]:
        at = np.searchsorted(self.items, item_ids)
        found = {}
        for item, i in zip(item_ids, at, strict=True):
            if i < len(self.items) and self.items[i] == item:
                start = int(self.ends[i - 1]) if i else 0
                found[int(item)] = bytes(self.buffer[start : int(self.ends[i])])
        return found

    def region_postings(self, item_ids: Sequence[int] | None = None) -> list[tuple[int, bytes | None]]:
        return []  # the index comes built

    def put_region_postings(self, rows: Sequence[tuple[int, bytes]]) -> None:
        raise AssertionError(self.write_refusal)


_cluster_matchers: dict[str, CaseMatcher] = {}  # on a cluster worker: one matcher per scan, built once
_cluster_lock = threading.Lock()


def _check_on_cluster(job: Job, bank: ClusterBank, options: HashOptions) -> Checked:
    with _cluster_lock:
        matcher = _cluster_matchers.get(bank.token)
        if matcher is None:
            _cluster_matchers.clear()  # a worker keeps only the bank of the scan it works for
            matcher = _cluster_matchers[bank.token] = bank.matcher()
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
    client: Client, protected: ClusterBank | Sequence[StoredSignal], paths: Sequence[str | Path],
    options: HashOptions | None = None,
) -> Iterator[Checked]:
    """The library entry point for a cluster: check every file under ``paths`` against the
    protected hashes (``ClusterBank.of(store, case_ids, item_ids)``, or stored signals such as
    ``store.protected_signals(case_id)``) on the Dask cluster of ``client``, yielding results as
    they come (record them yourself, or use :func:`stopncii_tools.workflow.scan.scan_cases` with
    ``engine="dask"``, which records them)."""
    from ..media.files import iter_files

    engine = DaskEngine(client, protected, options=options)
    jobs = (Job(key, found) for key, found in enumerate(iter_files(paths)))
    yield from engine.run(jobs)
