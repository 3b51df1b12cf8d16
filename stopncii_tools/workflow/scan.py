"""Scan suspect content: hash it in memory, record where it was seen, match it to the case.

A source is a file or folder, an http(s) URL of a picture, video or web page, ``@FILE`` (a
list of sources, one per line), or a hash list. Downloaded bytes are hashed in memory and
dropped; nothing fetched is written to disk. Each sighting and its matches are committed
together, so a scan stopped at any point can simply be run again.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
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
    from ..web.fetch import FetchedResource



@dataclass
class ScanOutcome:
    """One scanned item: the sighting and its matches, or the reason it failed."""

    source: str
    sighting: Sighting | None = None
    new: bool = False
    matches: list[MatchRecord] = field(default_factory=list)
    error: str | None = None
    skipped: bool = False


@dataclass(frozen=True)
class ScanOptions:
    """How to scan. ``hosts`` maps host names to addresses, like an /etc/hosts entry (for the
    demo and tests, which serve pages on this computer under example names)."""

    allow_private: bool = False
    jobs: int | None = None
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    hosts: Mapping[str, str] = field(default_factory=dict)


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
    from ..web.pages import find_media

    def resolve(host: str, port: int) -> list[str]:
        return [options.hosts[host]] if host in options.hosts else resolve_host(host, port)

    with Fetcher(FetchLimits(), allow_private=options.allow_private, resolver=resolve) as fetcher:
        pages: list[tuple[str, list[str]]] = []
        for url, result in fetcher.get_many(urls):
            if isinstance(result, FetchError):
                yield ScanOutcome(url, error=str(result.for_item(url)))
                continue
            if result.kind == "html":
                links = [link.url for link in find_media(result.body, result.final_url)]
                if not links:
                    yield ScanOutcome(url, error=f"{url}: the page shows no pictures or videos we could find")
                pages.append((result.final_url, links))
                continue
            yield _record_fetched(store, case, matcher, result, None, directory)
        for page_url, links in pages:
            for url, result in fetcher.get_many(links):
                if isinstance(result, FetchError):
                    yield ScanOutcome(url, error=str(result.for_item(url)))
                elif result.kind == "html":
                    yield ScanOutcome(url, skipped=True,
                                      error=f"a web page linked from {page_url}; pages are not followed")
                else:
                    yield _record_fetched(store, case, matcher, result, page_url, directory)


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
