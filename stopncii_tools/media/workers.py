"""Worker processes that decode one item at a time within a time and memory budget.

A file that takes longer than its wall-clock budget gets its worker killed and replaced; a
worker that dies (out of memory, a crash in a decoder) is replaced too. Either way that item
gets a one-line reason and the run goes on. The budgets:

- **Memory** is bounded in total, not per worker: an item starts only while the budgets of
  the items in flight fit within :func:`~.budgets.total_memory_bytes`, so more cores mean
  more parallel files only while memory allows. On Linux each worker's address space is also
  capped (``RLIMIT_AS``) at its own size plus the item's budget, so a decoder that tries to
  allocate more fails inside the worker. Elsewhere (macOS does not enforce ``RLIMIT_AS``,
  Windows has no such limit) the estimate from the header and the total bound still hold.
- **Time**: the parent kills a worker whose item is past its deadline.
- **Orphans**: workers die with their parent. On Linux the kernel sends them SIGKILL when
  the parent dies (``PR_SET_PDEATHSIG``); elsewhere a thread in each worker watches the pipe
  to the parent and ends the worker when it closes.
"""

from __future__ import annotations

import contextlib
import ctypes
import ctypes.util
import multiprocessing
import multiprocessing.connection
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any, Final, Generic, TypeVar

from .budgets import MB, Budget

Item = TypeVar("Item")
Result = TypeVar("Result")

_PR_SET_PDEATHSIG: Final = 1
_M_ARENA_MAX: Final = -8
# a worker whose own size grew by this much (memory the allocator keeps) is replaced after its item
_RETIRE_GROWTH: Final = 256 * MB
_START_SECONDS: Final = 120.0
_READY: Final = "ready"
_ITEM: Final = "item"
_SETUP: Final = "setup"


@dataclass
class _Busy(Generic[Item]):
    item: Item
    budget: Budget
    deadline: float


class _Worker(Generic[Item]):
    """One worker process and the pipe to it."""

    def __init__(self, context: Any, run: Callable[[Any], Any], prepare: Callable[[], None] | None,
                 setup: Callable[[Any], None] | None, setting: Any) -> None:
        self.conn, child_end = context.Pipe()
        self.process = context.Process(
            target=_serve, args=(child_end, run, prepare, setup, setting, os.getpid()), daemon=True)
        self.process.start()
        child_end.close()
        self.busy: _Busy[Item] | None = None
        self.setting = setting
        self.ready()

    def ready(self) -> None:
        """Wait until it has loaded what it needs, so that time does not count against an item."""
        try:
            if self.conn.poll(_START_SECONDS) and self.conn.recv() == _READY:
                return
        except (EOFError, OSError):
            pass
        self.stop()
        raise OSError("a worker process for decoding could not start")

    def start(self, item: Item, budget: Budget) -> None:
        self.conn.send((_ITEM, item, budget.memory))
        self.busy = _Busy(item, budget, time.monotonic() + budget.seconds)

    def stop(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.close()
        if self.process.is_alive():
            self.process.kill()
        self.process.join()


class BudgetedPool(Generic[Item, Result]):
    """At most ``workers`` processes running ``run(item)``, each item within its budget.

    The caller starts items while :meth:`can_start` allows and collects results with
    :meth:`wait`, so it can stream items of its own (and pass on outcomes that need no worker)
    with a bounded number in flight. An item past its time budget or whose worker dies gives
    ``over_budget(item, reason)``. ``run`` and ``prepare`` (called once in each worker, e.g. to
    import decoders before the worker's size is measured) must be picklable.

    ``setup(setting)`` runs in each worker (outside any item's limits, before its size is
    measured again) whenever :meth:`use` gives a new setting, and in a new worker after
    ``prepare``: a pool kept for several runs (e.g. scans against a changing bank) starts its
    processes once and only reloads what the setting names.
    """

    def __init__(
        self,
        run: Callable[[Item], Result],
        *,
        workers: int,
        total_memory: int,
        over_budget: Callable[[Item, str], Result],
        prepare: Callable[[], None] | None = None,
        setup: Callable[[Any], None] | None = None,
    ) -> None:
        self._run, self._prepare, self._over_budget = run, prepare, over_budget
        self._setup: Callable[[Any], None] | None = setup
        self._setting: Any = None
        self._workers, self._total_memory = max(1, workers), total_memory
        self._context = multiprocessing.get_context()
        self._pool: list[_Worker[Item]] = []

    @property
    def workers(self) -> int:
        return self._workers

    @property
    def pids(self) -> list[int]:
        """The process ids of the workers running now."""
        return [w.process.pid for w in self._pool if w.process.pid is not None]

    def use(self, setting: Any) -> None:
        """Give every worker (now and later) ``setting``: each whose setting differs runs
        ``setup(setting)`` before its next item; they do so side by side, and this waits for them."""
        self._setting = setting
        changing = [w for w in self._pool if w.setting != setting]
        broken = []
        for worker in changing:
            try:
                worker.conn.send((_SETUP, setting, 0))
            except OSError:
                broken.append(worker)
        for worker in changing:
            try:
                if worker in broken:
                    raise OSError("its pipe is closed")
                worker.ready()
                worker.setting = setting
            except OSError:  # it is replaced by a new worker when one is needed
                self._pool.remove(worker)
                worker.stop()

    def cancel(self) -> None:
        """Stop the items in flight (their results are dropped): the pool is free for another run."""
        for worker in [w for w in self._pool if w.busy]:
            self._retire(worker)

    @property
    def in_flight(self) -> int:
        return sum(1 for w in self._pool if w.busy)

    def can_start(self, budget: Budget) -> bool:
        """A worker is free and ``budget`` fits in memory beside the items in flight (one item
        always may start, whatever its budget)."""
        busy = [w.busy for w in self._pool if w.busy]
        if len(busy) >= self._workers:
            return False
        return not busy or sum(b.budget.memory for b in busy) + budget.memory <= self._total_memory

    def start(self, item: Item, budget: Budget) -> None:
        worker = next((w for w in self._pool if not w.busy), None)
        if worker is None:
            worker = _Worker[Item](self._context, self._run, self._prepare, self._setup, self._setting)
            self._pool.append(worker)
        worker.start(item, budget)

    def wait(self) -> list[Result]:
        """The results ready now, waiting for at least one (or for the nearest deadline)."""
        busy = [w for w in self._pool if w.busy]
        if not busy:
            return []
        timeout = max(0.0, min(w.busy.deadline for w in busy if w.busy) - time.monotonic())
        ready = multiprocessing.connection.wait([w.conn for w in busy], timeout=timeout)
        results: list[Result] = []
        for worker in busy:
            task = worker.busy
            assert task is not None
            if worker.conn in ready:
                try:
                    result, retire = worker.conn.recv()
                except (EOFError, OSError):
                    results.append(self._over_budget(task.item, _death_reason(worker, task.budget)))
                    self._retire(worker)
                    continue
                worker.busy = None
                results.append(result)
                if retire:
                    self._retire(worker)
            elif time.monotonic() >= task.deadline:
                self._retire(worker)
                results.append(self._over_budget(task.item, (
                    f"decoding took longer than {task.budget.seconds:.0f} seconds, the time limit for "
                    "this file, and was stopped (set STOPNCII_ITEM_SECONDS to change it)")))
        return results

    def _retire(self, worker: _Worker[Item]) -> None:
        self._pool.remove(worker)
        worker.stop()

    def close(self) -> None:
        for worker in self._pool:
            worker.stop()
        self._pool.clear()

    def __enter__(self) -> BudgetedPool[Item, Result]:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def run_within_budgets(
    run: Callable[[Item], Result],
    items: Iterable[tuple[Item, Budget]],
    *,
    workers: int,
    total_memory: int,
    over_budget: Callable[[Item, str], Result],
    prepare: Callable[[], None] | None = None,
) -> Iterator[Result]:
    """``run(item)`` for every item in a :class:`BudgetedPool`, yielding results as they are
    ready; ``items`` is read only as workers become free, so memory stays flat."""
    with BudgetedPool(run, workers=workers, total_memory=total_memory, over_budget=over_budget,
                      prepare=prepare) as pool:
        for item, budget in items:
            while not pool.can_start(budget):
                yield from pool.wait()
            pool.start(item, budget)
        while pool.in_flight:
            yield from pool.wait()


def _death_reason(worker: _Worker[Any], budget: Budget) -> str:
    worker.process.join(timeout=5)
    code = worker.process.exitcode
    if code == -signal.SIGKILL:  # the kernel's out-of-memory killer, or another program
        return "the process decoding this file was killed (the computer may be out of memory)"
    return (f"the process decoding this file stopped (exit code {code}); it may have needed more than "
            f"its memory limit of {budget.memory / MB:,.0f} MB (set STOPNCII_ITEM_MEMORY_MB to change it)")


# -- inside a worker ---------------------------------------------------------------------


def _serve(conn: Connection, run: Callable[[Any], Any], prepare: Callable[[], None] | None,
           setup: Callable[[Any], None] | None, setting: Any, parent: int) -> None:
    _die_with_parent(parent)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is for the parent, which stops us
    if prepare is not None:
        prepare()
    if setup is not None and setting is not None:
        setup(setting)
    _few_malloc_arenas()
    own_size = _address_space()
    conn.send(_READY)
    while True:
        try:
            kind, item, memory = conn.recv()
        except (EOFError, OSError):
            return
        if kind == _SETUP:
            _limit_address_space(None, 0)  # a new setting loads outside the last item's limit
            if setup is not None:
                setup(item)
            own_size = _address_space()
            conn.send(_READY)
            continue
        _limit_address_space(own_size, memory)
        result = run(item)
        grown = own_size is not None and (_address_space() or 0) > own_size + _RETIRE_GROWTH
        conn.send((result, grown))
        if grown:
            return


def _die_with_parent(parent: int) -> None:
    """End this worker when ``parent`` dies, even by SIGKILL."""
    if sys.platform.startswith("linux"):
        libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
        if libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) == 0:
            if os.getppid() != parent:  # it died before the request took effect
                os._exit(1)
            return
    watched = multiprocessing.parent_process()
    if watched is None or watched.sentinel is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([watched.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _few_malloc_arenas() -> None:
    """glibc reserves 64 MB of address space for each thread's arena; decoders start threads."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(ctypes.util.find_library("c")).mallopt(_M_ARENA_MAX, 2)


def _address_space() -> int | None:
    """This process's address space in bytes (Linux only)."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmSize:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _limit_address_space(own_size: int | None, memory: int) -> None:
    """Cap this process at its own size plus ``memory``; with no size, lift the cap to the hard limit."""
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    soft = hard if own_size is None else own_size + memory
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))
