"""Scan suspect content once for one or many cases: hash it in worker processes, record what matched.

A source is a file or folder, an http(s) URL of a picture, video or web page, ``@FILE`` (a
list of sources, one per line), or a hash list. Every item is decoded, hashed and compared
with the protected items of all the chosen cases in a budgeted worker process (or on a Dask
cluster), so each file is hashed once however many cases there are. Downloaded bytes are
hashed in memory and dropped; nothing fetched is written to disk.

The main process writes what the workers found in batches, one transaction each: a scan
stopped at any point keeps every batch written before it, and can simply be run again
(nothing is recorded twice). Scanning for one case keeps every item checked as a sighting of
that case (a watch uses it to leave alone what it saw); scanning for several keeps a
sighting only in the cases it matched, not every unrelated file of a crawl in every case.

A web page is read for every picture it shows (CSS backgrounds and Telegram posts included),
and pages of older posts are followed up to ``ScanOptions.max_pages``. Each page source ends
with a :class:`PageReport` saying how many pictures it showed and how many were checked: a
page where nothing could be checked is reported as such, never as "0 matched".
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Final

from .._errors import FetchError, InputFileError, StopNCIIError
from ..csvfile import read_csv, read_lines, read_text
from ..matching.case import CaseMatcher, MatchFound
from ..matching.pipeline import BankSource, Checked, ClusterBank, DaskEngine, Engine, Job, LocalEngine
from ..media.files import FoundFile, count_files, iter_files, short_name
from ..media.pictures import sniff
from ..signals import SignalValue
from ..signals.hashing import MediaHashes
from ..signals.hashlists import HashEntry, looks_like_hash_list, parse_hash_list
from ..signals.region_index import RegionIndex, keep_region_keys
from ..store import Case, MatchRecord, Sighting, SightingSource, Store
from ..store.rows import MediaRecord, SignalRow
from .records import media_record, signal_rows

if TYPE_CHECKING:  # fetching and the directory load only when a URL is scanned
    from ..notices.platforms import PlatformDirectory
    from ..web.fetch import FetchedResource, Fetcher
    from ..web.pages import MediaLink, PageReading

DEFAULT_MAX_PAGES = 5
DEFAULT_BATCH = 64  # items written per transaction
_BATCH_SECONDS: Final = 1.0  # and at least this often, so matches show while a slow scan runs
ENGINES = ("local", "dask")
NO_PICTURES_REASON = (
    "it shows no pictures or videos we could find. Some sites show them only after logging in: "
    "open the page in your browser and save the picture, or copy the links of the posts"
)


@dataclass
class ScanOutcome:
    """One scanned item: the sighting and its matches, or the reason it failed.

    ``sightings`` has one sighting per case it was recorded in (``sighting`` is the first);
    each match names its case.
    """

    source: str
    sighting: Sighting | None = None
    new: bool = False
    matches: list[MatchRecord] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    page: PageReport | None = None  # set on the one outcome that sums up a page source
    sightings: list[Sighting] = field(default_factory=list)


@dataclass
class PageReport:
    """What a web page (and the pages of older posts followed from it) gave.

    ``found`` counts the pictures and videos it showed, ``checked`` those hashed and compared,
    ``failed`` those that could not be read, ``known`` those left alone because an earlier run
    had them already (``only_new``). ``newest_post`` is the highest post number seen.
    """

    url: str
    pages: int = 0
    found: int = 0
    checked: int = 0
    failed: int = 0
    known: int = 0
    newest_post: int | None = None
    stopped: str | None = None  # why older pages were not read further

    @property
    def nothing_checked(self) -> bool:
        return self.checked == 0 and self.known == 0


@dataclass(frozen=True)
class ScanOptions:
    """How to scan. ``hosts`` maps host names to addresses, like an /etc/hosts entry (for the
    demo and tests, which serve pages on this computer under example names). ``engine`` is
    ``local`` (worker processes here, ``jobs`` of them) or ``dask`` (the cluster whose scheduler
    is at ``scheduler``; needs the ``cluster`` extra)."""

    allow_private: bool = False
    jobs: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    hosts: Mapping[str, str] = field(default_factory=dict)
    max_pages: int = DEFAULT_MAX_PAGES  # a page and the pages of older posts followed from it
    only_new: bool = False  # leave alone what this case has seen before (watch runs; one case only)
    after_post: int | None = None  # with only_new: a finished run saw the posts up to this number
    covered_until: str | None = None  # with only_new: when the last finished run ended (what it saw is covered)
    engine: str = "local"
    scheduler: str | None = None
    batch_size: int = DEFAULT_BATCH


@dataclass
class _Plan:
    paths: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    hash_lists: list[tuple[str, str]] = field(default_factory=list)
    uploads: list[tuple[str, bytes]] = field(default_factory=list)  # (name, bytes) held in memory
    problems: list[ScanOutcome] = field(default_factory=list)


@dataclass
class _PageTrack:
    """A page source while its pictures are being checked: its summary comes after the last one."""

    report: PageReport
    pending: int = 0
    queued_all: bool = False

    @property
    def finished(self) -> bool:
        return self.queued_all and self.pending == 0


@dataclass(frozen=True)
class _PageEnd:
    track: _PageTrack


@dataclass(frozen=True)
class _Expected:
    """What the main process keeps about an item in flight (never its bytes)."""

    where: SightingSource
    page: _PageTrack | None = None


def scan_sources(
    store: Store, case: Case, sources: Sequence[str], options: ScanOptions = ScanOptions()
) -> Iterator[ScanOutcome]:
    """Scan every source for one case and yield one outcome per item found, as each is recorded."""
    yield from scan_cases(store, [case], sources, options)


def scan_cases(
    store: Store, cases: Sequence[Case], sources: Sequence[str], options: ScanOptions = ScanOptions()
) -> Iterator[ScanOutcome]:
    """Scan every source once for all ``cases`` and yield one outcome per item, as each batch
    is recorded. Each match is recorded under the case whose protected item it matched."""
    if not cases:
        raise InputFileError("there is no open case to scan for: create one with 'stopncii case new'")
    if options.only_new and len(cases) > 1:
        raise InputFileError("only new items can be scanned for one case at a time")
    if options.engine not in ENGINES:
        raise InputFileError(f"there is no engine {options.engine!r}; choose one of: {', '.join(ENGINES)}")
    plan = _Plan()
    for source in sources:
        _plan_source(source, plan, depth=0)
    yield from _run(store, cases, plan, options)


def _run(store: Store, cases: Sequence[Case], plan: _Plan, options: ScanOptions) -> Iterator[ScanOutcome]:
    yield from plan.problems
    owners = {item.id: case.id for case in cases for item in store.protected_items(case.id)}
    recorder = _Recorder(store, cases, owners, keep_unmatched=len(cases) == 1, batch_size=options.batch_size)
    if plan.hash_lists:
        # hash lists hold only whole-picture hashes: no region index is built for them
        matcher = CaseMatcher.for_cases(store, [case.id for case in cases], RegionIndex())
        for name, text in plan.hash_lists:
            yield from _scan_hash_list(recorder, matcher, name, text)
        yield from recorder.flush()
    if not plan.paths and not plan.urls and not plan.uploads:
        return
    if store.write_refusal is None:
        keep_region_keys(store, owners)  # the workers open the database read-only: they only read the keys
    expected: dict[int, _Expected] = {}
    engine = _engine(store, cases, owners, options)
    try:
        for piece in engine.run(_work(store, cases, plan, options, expected)):
            if isinstance(piece, Checked):
                yield from _take(piece, expected.pop(piece.key), recorder)
            elif isinstance(piece, _PageEnd):
                piece.track.queued_all = True
                if piece.track.finished:
                    yield from recorder.flush()
                    yield _page_outcome(piece.track.report)
            else:
                yield piece
        yield from recorder.flush()
    except GeneratorExit:  # the caller stopped early: what the workers found is still kept
        recorder.flush()
        raise
    finally:
        engine.close()


def _engine(store: Store, cases: Sequence[Case], owners: Mapping[int, str], options: ScanOptions) -> Engine:
    case_ids = tuple(case.id for case in cases)
    if options.engine == "dask":
        if not options.scheduler:
            raise InputFileError("scanning on a Dask cluster needs the address of its scheduler (--scheduler)")
        return DaskEngine.connect(options.scheduler, ClusterBank.of(store, case_ids, owners))
    # the bank's region index is built once here and shared by the workers (memory-mapped)
    return LocalEngine(BankSource.of(store, case_ids, owners), jobs=options.jobs)


def _take(checked: Checked, item: _Expected, recorder: _Recorder) -> Iterator[ScanOutcome]:
    """One worker result: recorded (in the next batch), or its error passed on; a page's
    summary follows its last picture."""
    track = item.page
    if track is not None:
        track.pending -= 1
        if checked.hashes is None:
            track.report.failed += 1
        else:
            track.report.checked += 1
    if checked.hashes is None:
        yield ScanOutcome(checked.name, error=checked.error, skipped=checked.skipped)
    else:
        recorder.add(item.where, checked.hashes, None, list(checked.matches))
    if recorder.due or (track is not None and track.finished):
        yield from recorder.flush()
    if track is not None and track.finished:
        yield _page_outcome(track.report)


@dataclass
class _Seen:
    where: SightingSource
    media: MediaRecord | None
    rows: list[SignalRow]
    found: list[MatchFound]


class _Recorder:
    """Writes sightings and their matches in batches, one transaction per batch."""

    def __init__(self, store: Store, cases: Sequence[Case], owners: dict[int, str], *, keep_unmatched: bool,
                 batch_size: int) -> None:
        self._store, self._cases, self._owners = store, cases, owners
        self._keep_unmatched, self._batch_size = keep_unmatched, max(1, batch_size)
        self._waiting: list[_Seen] = []
        self._since = 0.0

    def add(self, where: SightingSource, hashes: MediaHashes | None, listed: SignalValue | None,
            found: list[MatchFound]) -> None:
        """``hashes`` is None for an entry of a hash list: ``listed`` is then the hash that was seen."""
        if not self._waiting:
            self._since = time.monotonic()
        if hashes is not None:
            self._waiting.append(_Seen(where, media_record(hashes), signal_rows(hashes), found))
        else:
            assert listed is not None
            self._waiting.append(_Seen(where, None, [SignalRow(listed.signal, 0, listed.value, None)], found))

    @property
    def due(self) -> bool:
        return bool(self._waiting) and (len(self._waiting) >= self._batch_size
                                        or time.monotonic() - self._since >= _BATCH_SECONDS)

    def flush(self) -> list[ScanOutcome]:
        if not self._waiting:
            return []
        with self._store.transaction():
            outcomes = [self._write(seen) for seen in self._waiting]
        self._waiting.clear()
        return outcomes

    def _write(self, seen: _Seen) -> ScanOutcome:
        by_case: dict[str, list[MatchFound]] = {}
        for match in seen.found:
            case_id = self._owners.get(match.item_id)  # None: protected after this scan started
            if case_id is not None:
                by_case.setdefault(case_id, []).append(match)
        outcome = ScanOutcome(seen.where.url or seen.where.source)
        for case in self._cases:
            if case.id not in by_case and not self._keep_unmatched:
                continue
            sighting, new = self._store.add_sighting(case.id, seen.where, seen.media, seen.rows)
            outcome.sightings.append(sighting)
            outcome.new = outcome.new or new
            outcome.matches += [self._store.record_match(case.id, sighting.id, m.item_id, m.kind, m.confidence,
                                                         m.evidence)[0] for m in by_case.get(case.id, [])]
        outcome.sighting = outcome.sightings[0] if outcome.sightings else None
        return outcome


def count_items(sources: Sequence[str], include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> int:
    """About how many items a scan of ``sources`` checks (files in folders, addresses, hash list
    entries count one each; archives and pages one each too), for a progress estimate."""
    plan = _Plan()
    for source in sources:
        _plan_source(source, plan, depth=0)
    return len(plan.urls) + len(plan.hash_lists) + len(plan.problems) + count_files(plan.paths, include, exclude)


def _plan_source(source: str, plan: _Plan, depth: int) -> None:
    source = source.strip()
    if source.lower().startswith(("http://", "https://")):
        plan.urls.append(source)
    elif source.startswith("@"):
        if depth > 0:
            plan.problems.append(ScanOutcome(source, error=f"{source}: a list cannot name another list"))
            return
        try:
            for entry in read_source_list(Path(source[1:])):
                _plan_source(entry, plan, depth + 1)
        except StopNCIIError as exc:
            plan.problems.append(ScanOutcome(source, error=str(exc)))
    else:
        path = Path(source).expanduser()
        if path.is_dir():
            plan.paths.append(str(path))
        elif path.is_file() and _is_hash_list(path):
            plan.hash_lists.append((source, path.read_text(errors="replace")))
        elif path.exists() or path.is_symlink():
            plan.paths.append(str(path))
        else:
            plan.problems.append(ScanOutcome(source, error=f"{source}: no such file or folder, and not a web address"))


def _is_hash_list(path: Path) -> bool:
    with open(path, "rb") as f:
        head = f.read(4096)
    if sniff(head) is not None or b"\0" in head:
        return False
    return looks_like_hash_list(head.decode("utf-8", errors="replace"))


def read_source_list(path: Path) -> list[str]:
    """Sources from a text or CSV file: one per line, '#' comments and blank lines allowed.

    A CSV with a header names the column: 'url', 'path' or 'source' (the first one found).
    """
    text = read_text(path)
    lines = read_lines(text)
    if lines and "," in lines[0]:
        table = read_csv(path, text=text, comments=True)
        column = next((c for c in ("url", "path", "source") if c in table.columns), None)
        if column is not None:
            return [row.values[column] for row in table.rows if row.values[column]]
    return lines


def _platforms() -> PlatformDirectory:
    from ..notices.platforms import load_directory

    return load_directory()


def _scan_hash_list(recorder: _Recorder, matcher: CaseMatcher, name: str, text: str) -> Iterator[ScanOutcome]:
    try:
        entries = list(parse_hash_list(text))
    except InputFileError as exc:
        yield ScanOutcome(name, error=str(exc.for_item(name)))
        return
    for entry in entries:
        if not isinstance(entry, HashEntry):
            yield ScanOutcome(f"{name}, {entry.where}", error=f"{name}, {entry.where}: {entry.reason}")
            continue
        listed = SignalValue(entry.signal, entry.value)
        where = SightingSource(source=f"{entry.signal} {entry.value}")  # the hash is what was seen
        recorder.add(where, None, listed, matcher.match({listed.signal: listed}))
        if recorder.due:
            yield from recorder.flush()


def _work(
    store: Store, cases: Sequence[Case], plan: _Plan, options: ScanOptions, expected: dict[int, _Expected],
) -> Iterator[Job | ScanOutcome | _PageEnd]:
    """Every item to check, read as the workers are ready for it: files, then addresses, then
    what each page shows. Errors found on the way (a download refused) come as outcomes."""
    keys = iter(range(1 << 62))
    for name, data in plan.uploads:
        key = next(keys)
        expected[key] = _Expected(SightingSource(source=short_name(name)))
        yield Job(key, FoundFile(Path(name), explicit=True, data=data, name=name))
    for found in iter_files(plan.paths, include=options.include, exclude=options.exclude):
        key = next(keys)
        # the name only: folders can be private
        expected[key] = _Expected(SightingSource(source=short_name(found.label)))
        yield Job(key, found)
    if not plan.urls:
        return
    from ..web.fetch import Fetcher, FetchLimits, resolve_host
    from ..web.pages import public_view, read_page

    directory = _platforms()

    def resolve(host: str, port: int) -> list[str]:
        return [options.hosts[host]] if host in options.hosts else resolve_host(host, port)

    def download(result: FetchedResource, page_url: str | None, track: _PageTrack | None) -> Job:
        key = next(keys)
        expected[key] = _Expected(SightingSource(
            source=result.url, url=result.url, final_url=result.final_url, page_url=page_url,
            http_status=result.status, content_type=result.content_type,
            platform=directory.detect(page_url or result.url).id, seen_at=result.fetched_at,
        ), track)
        # decoded in a worker within its budget, like a file; in memory only, never written anywhere
        return Job(key, FoundFile(Path(result.url), explicit=True, data=result.body, name=result.url))

    with Fetcher(FetchLimits(), allow_private=options.allow_private, resolver=resolve) as fetcher:
        pages: list[tuple[str, FetchedResource]] = []
        for url, result in fetcher.get_many(public_view(u) for u in plan.urls):
            if isinstance(result, FetchError):
                yield ScanOutcome(url, error=str(result.for_item(url)))
            elif result.kind == "html":
                pages.append((url, result))  # read after the direct links, one page at a time
            else:
                yield download(result, None, None)
        for url, first in pages:
            track = _PageTrack(PageReport(url))
            yield from _page_work(store, cases[0], fetcher, read_page(first.body, first.final_url),
                                  first.final_url, track, options, download)
            yield _PageEnd(track)


def _page_work(
    store: Store, case: Case, fetcher: Fetcher, reading: PageReading, page_url: str, track: _PageTrack,
    options: ScanOptions, download: Callable[[FetchedResource, str | None, _PageTrack | None], Job],
) -> Iterator[Job | ScanOutcome]:
    """What the page shows, then each page of older posts, up to ``options.max_pages``."""
    from ..web.pages import read_page

    report = track.report
    seen: set[str] = set()
    while True:
        report.pages += 1
        links = [link for link in reading.media if link.url not in seen]
        seen.update(link.url for link in links)
        report.found += len(links)
        posts = [n for n in map(_post_number, links) if n is not None]
        if posts:
            report.newest_post = max(posts + ([report.newest_post] if report.newest_post else []))
        before = {link.url: _seen_before(store, case, link, options) if options.only_new else None for link in links}
        wanted = [link for link in links if before[link.url] is None]
        report.known += len(links) - len(wanted)
        by_url = {link.url: link for link in wanted}
        for url, result in fetcher.get_many(by_url):
            if isinstance(result, FetchError):
                report.failed += 1
                yield ScanOutcome(url, error=str(result.for_item(url)))
            elif result.kind == "html":
                yield ScanOutcome(url, skipped=True, error=f"a web page linked from {page_url}; pages are not followed")
            else:
                track.pending += 1
                yield download(result, by_url[url].post or page_url, track)
        older = reading.older_page
        if older is None:
            return
        if "covered" in before.values():  # a finished run read on from here; a stopped one may not have
            report.stopped = "the rest was checked before"
            return
        if report.pages >= options.max_pages:
            report.stopped = f"older pages were not read (at most {options.max_pages}; see --pages)"
            return
        try:
            next_page = fetcher.get(older)
        except FetchError as exc:
            report.stopped = f"the page of older posts could not be read: {exc.reason}"
            return
        if next_page.kind != "html":
            report.stopped = "the link to older posts does not lead to a page"
            return
        page_url, reading = next_page.final_url, read_page(next_page.body, next_page.final_url)


def _post_number(link: MediaLink) -> int | None:
    """The number of the post a picture belongs to (``https://t.me/NAME/1202`` gives 1202)."""
    tail = (link.post or "").rsplit("/", 1)[-1]
    return int(tail) if tail.isdigit() else None


def _seen_before(store: Store, case: Case, link: MediaLink, options: ScanOptions) -> str | None:
    """``covered`` when a finished run saw it (older pages were read then too), ``recorded`` when
    only a run that may have been stopped did, None when it is new."""
    post = _post_number(link)
    if post is not None and options.after_post is not None and post <= options.after_post:
        return "covered"
    sightings = store.sightings_at(case.id, link.url)
    if not sightings:
        return None
    first = min(s.first_seen_at for s in sightings)
    return "covered" if options.covered_until is not None and first <= options.covered_until else "recorded"


def _page_outcome(report: PageReport) -> ScanOutcome:
    """The line that sums up a page: what was checked there, or why nothing could be."""
    if not report.nothing_checked:
        return ScanOutcome(report.url, page=report)
    reason = (NO_PICTURES_REASON if report.found == 0 else
              f"none of the {report.found} pictures and videos it shows could be read")
    return ScanOutcome(report.url, page=report, error=f"{report.url}: nothing could be checked on this page: {reason}")


def scan_in_memory(
    store: Store, case: Case, files: Iterable[tuple[str, bytes]], options: ScanOptions = ScanOptions()
) -> Iterator[ScanOutcome]:
    """Scan pictures and videos held in memory (the local web page's uploads), one outcome each.

    They are decoded in the same budgeted workers as files; only each file's name is kept as
    where it was seen, and the bytes are dropped once hashed.
    """
    plan = _Plan(uploads=list(files))
    yield from _run(store, [case], plan, options)
