"""Scan suspect content: hash it in memory, record where it was seen, match it to the case.

A source is a file or folder, an http(s) URL of a picture, video or web page, ``@FILE`` (a
list of sources, one per line), or a hash list. Downloaded bytes are hashed in memory and
dropped; nothing fetched is written to disk. Each sighting and its matches are committed
together, so a scan stopped at any point can simply be run again.

A web page is read for every picture it shows (CSS backgrounds and Telegram posts included),
and pages of older posts are followed up to ``ScanOptions.max_pages``. Each page source ends
with a :class:`PageReport` saying how many pictures it showed and how many were checked: a
page where nothing could be checked is reported as such, never as "0 matched".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from .._errors import FetchError, InputFileError, MediaError, StopNCIIError
from ..csvfile import read_csv, read_lines, read_text
from ..matching.case import CaseMatcher, MatchFound
from ..media.files import iter_files, short_name
from ..media.pictures import sniff
from ..signals import SignalValue
from ..signals.hashing import MediaHashes, hash_bytes, hash_files
from ..signals.hashlists import HashEntry, looks_like_hash_list, parse_hash_list
from ..store import Case, MatchRecord, Sighting, SightingSource, Store
from ..store.rows import SignalRow
from .records import media_record, signal_rows

if TYPE_CHECKING:  # fetching and the directory load only when a URL is scanned
    from ..notices.platforms import PlatformDirectory
    from ..web.fetch import FetchedResource, Fetcher
    from ..web.pages import MediaLink, PageReading

DEFAULT_MAX_PAGES = 5
NO_PICTURES_REASON = (
    "it shows no pictures or videos we could find. Some sites show them only after logging in: "
    "open the page in your browser and save the picture, or copy the links of the posts"
)


@dataclass
class ScanOutcome:
    """One scanned item: the sighting and its matches, or the reason it failed."""

    source: str
    sighting: Sighting | None = None
    new: bool = False
    matches: list[MatchRecord] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False
    page: PageReport | None = None  # set on the one outcome that sums up a page source


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
    demo and tests, which serve pages on this computer under example names)."""

    allow_private: bool = False
    jobs: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    hosts: Mapping[str, str] = field(default_factory=dict)
    max_pages: int = DEFAULT_MAX_PAGES  # a page and the pages of older posts followed from it
    only_new: bool = False  # leave alone what this case has seen before (watch runs)
    after_post: int | None = None  # with only_new: a finished run saw the posts up to this number
    covered_until: str | None = None  # with only_new: when the last finished run ended (what it saw is covered)


@dataclass
class _Plan:
    paths: list[str] = field(default_factory=list)
    urls: list[str] = field(default_factory=list)
    hash_lists: list[tuple[str, str]] = field(default_factory=list)
    problems: list[ScanOutcome] = field(default_factory=list)


def scan_sources(
    store: Store, case: Case, sources: Sequence[str], options: ScanOptions = ScanOptions()
) -> Iterator[ScanOutcome]:
    """Scan every source and yield one outcome per item found, as each is done."""
    plan = _Plan()
    for source in sources:
        _plan_source(source, plan, depth=0)
    yield from plan.problems
    matcher = CaseMatcher.for_case(store, case.id)
    for name, text in plan.hash_lists:
        yield from _scan_hash_list(store, case, matcher, name, text)
    files = iter_files(plan.paths, include=options.include, exclude=options.exclude)
    for outcome in hash_files(files, jobs=options.jobs, on_request=matcher.on_request):
        if outcome.hashes is None:
            yield ScanOutcome(outcome.path, error=outcome.error, skipped=outcome.skipped)
            continue
        where = SightingSource(source=short_name(outcome.path))  # the name only: folders can be private
        yield _record(store, case, matcher, where, outcome.hashes)
    if plan.urls:
        yield from _scan_urls(store, case, matcher, plan.urls, options, _platforms())


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


def _record(
    store: Store, case: Case, matcher: CaseMatcher, where: SightingSource, hashes: MediaHashes | None,
    listed: SignalValue | None = None,
) -> ScanOutcome:
    """Store the sighting and its matches in one transaction (a rerun repeats nothing).

    ``hashes`` is None for an entry of a hash list: ``listed`` is then the hash that was seen.
    """
    if hashes is not None:
        found = matcher.match(hashes.signals)
        media, rows = media_record(hashes), signal_rows(hashes)
    else:
        assert listed is not None
        found = matcher.match({listed.signal: listed})
        media, rows = None, [SignalRow(listed.signal, 0, listed.value, None)]
    with store.transaction():
        sighting, new = store.add_sighting(case.id, where, media, rows)
        records = [_store_match(store, case, sighting, m) for m in found]
    return ScanOutcome(where.url or where.source, sighting=sighting, new=new, matches=records)


def _store_match(store: Store, case: Case, sighting: Sighting, found: MatchFound) -> MatchRecord:
    record, _ = store.record_match(case.id, sighting.id, found.item_id, found.kind, found.confidence, found.evidence)
    return record



def _scan_hash_list(store: Store, case: Case, matcher: CaseMatcher, name: str, text: str) -> Iterator[ScanOutcome]:
    try:
        entries = list(parse_hash_list(text))
    except InputFileError as exc:
        yield ScanOutcome(name, error=str(exc.for_item(name)))
        return
    for entry in entries:
        if not isinstance(entry, HashEntry):
            yield ScanOutcome(f"{name}, {entry.where}", error=f"{name}, {entry.where}: {entry.reason}")
            continue
        where = SightingSource(source=f"{entry.signal} {entry.value}")  # the hash is what was seen
        yield _record(store, case, matcher, where, None, SignalValue(entry.signal, entry.value))


def _scan_urls(
    store: Store, case: Case, matcher: CaseMatcher, urls: list[str], options: ScanOptions,
    directory: PlatformDirectory,
) -> Iterator[ScanOutcome]:
    from ..web.fetch import Fetcher, FetchLimits, resolve_host
    from ..web.pages import public_view, read_page

    def resolve(host: str, port: int) -> list[str]:
        return [options.hosts[host]] if host in options.hosts else resolve_host(host, port)

    with Fetcher(FetchLimits(), allow_private=options.allow_private, resolver=resolve) as fetcher:
        pages: list[tuple[str, FetchedResource]] = []
        for url, result in fetcher.get_many(public_view(u) for u in urls):
            if isinstance(result, FetchError):
                yield ScanOutcome(url, error=str(result.for_item(url)))
            elif result.kind == "html":
                pages.append((url, result))  # read after the direct links, one page at a time
            else:
                yield _record_fetched(store, case, matcher, result, None, directory)
        for url, first in pages:
            report = PageReport(url)
            yield from _scan_page(store, case, matcher, fetcher, read_page(first.body, first.final_url),
                                  first.final_url, report, options, directory)
            yield _page_outcome(report)


def _scan_page(
    store: Store, case: Case, matcher: CaseMatcher, fetcher: Fetcher, reading: PageReading, page_url: str,
    report: PageReport, options: ScanOptions, directory: PlatformDirectory,
) -> Iterator[ScanOutcome]:
    """Check what the page shows, then each page of older posts, up to ``options.max_pages``."""
    from ..web.pages import read_page

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
                outcome = _record_fetched(store, case, matcher, result, by_url[url].post or page_url, directory)
                if outcome.error:
                    report.failed += 1
                else:
                    report.checked += 1
                yield outcome
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


def _record_fetched(
    store: Store, case: Case, matcher: CaseMatcher, result: FetchedResource, page_url: str | None,
    directory: PlatformDirectory,
) -> ScanOutcome:
    where = SightingSource(
        source=result.url, url=result.url, final_url=result.final_url, page_url=page_url,
        http_status=result.status, content_type=result.content_type,
        platform=directory.detect(page_url or result.url).id, seen_at=result.fetched_at,
    )
    try:
        hashes = hash_bytes(result.body, on_request=matcher.on_request)  # in memory; never written anywhere
    except MediaError as exc:
        return ScanOutcome(result.url, error=str(exc.for_item(result.url)))
    return _record(store, case, matcher, where, hashes)


def scan_in_memory(store: Store, case: Case, files: Iterable[tuple[str, bytes]]) -> Iterator[ScanOutcome]:
    """Scan pictures and videos held in memory (the local web page's uploads), one outcome each.

    Only the file's name is kept as where it was seen; the bytes are hashed and dropped.
    """
    matcher = CaseMatcher.for_case(store, case.id)
    for name, data in files:
        try:
            hashes = hash_bytes(data, on_request=matcher.on_request)
        except MediaError as exc:
            yield ScanOutcome(name, error=str(exc.for_item(name)))
            continue
        yield _record(store, case, matcher, SightingSource(source=short_name(name)), hashes)
