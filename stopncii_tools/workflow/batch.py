"""Batch work for caseworkers: a CSV of reported addresses in, scanned, drafted and sent.

Columns (a header row is required; names in any case and order):

- ``case`` (required): a case id (like ``k7m3qx``), or a title. A title that names no case yet
  creates one; the same title later in the file, or in a later run, means that same case.
  Something written like a case id (six lower-case letters and digits) that names no case is
  refused as a mistyped id, unless the row says ``new_case = yes``.
- ``new_case``: ``yes`` to create a case called what ``case`` says when none is.
- ``url`` (required): the web address of a picture, a video or a page showing them.
- ``platform``: the platform it is on, when the address does not say (``telegram``).
- ``framework``: the law to use instead of the one chosen from the country.
- ``jurisdiction``: the person's country, for a new case (``US``, ``DE``...).
- ``confirmed``: ``yes`` when a caseworker has looked and the content does show this person.
- ``note``: free words for your records; kept in the report and the case's event log only.

A match is only used in a notice once a person confirmed it. A batch confirms the matches found
at a row's address only when that row says ``confirmed = yes``, or when the whole run is given
``confirm_matches`` (the caseworker states they have checked every address in the file).
Other matches wait for ``stopncii matches confirm``.

Running the same file again repeats no work: addresses already seen in the case are not
fetched again (their stored hashes are matched again, in case protected items were added),
matches, confirmations and notices are never duplicated, and notices already sent stay sent.
A malformed row is reported with its line number and skipped; the other rows go on.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .. import clock as clocks
from .._errors import InputFileError, InvalidURL, NotFound, NoticeError, StopNCIIError
from ..csvfile import read_csv
from ..matching.case import CaseMatcher
from ..notices import Requester, framework_ids, normalise_jurisdiction
from ..notices.platforms import PlatformDirectory
from ..store import Case, MatchRecord, Sighting, Store
from ..submit.config import SendingConfig
from ..web.urls import parse_web_address
from .outbox import SendResult, send_notices
from .records import stored_suspect
from .scan import ScanOptions, scan_sources
from .takedown import case_requester, draft_for_matches, platform_of, save_requester
from .watch import run_watches

COLUMNS = ("case", "url", "platform", "framework", "jurisdiction", "confirmed", "note", "new_case")
CHUNK = 20  # rows fetched together: fetches run concurrently, and progress moves every chunk
_CASE_ID = re.compile(r"[2-9a-hjkmnp-z]{6}")  # the form of the ids the case database gives
_YES = {"yes", "y", "true", "1", "x"}
_NO = {"no", "n", "false", "0", ""}


@dataclass(frozen=True)
class BatchRow:
    line: int
    case: str
    url: str
    platform: str | None = None
    framework: str | None = None
    jurisdiction: str | None = None
    confirmed: bool = False
    note: str | None = None
    new_case: bool = False


@dataclass(frozen=True)
class BatchOptions:
    """``confirm_statements``: the caseworker has read the statements each law needs and
    confirms them for every notice drafted (without it, a batch scans and matches only)."""

    send: bool = False
    confirm_matches: bool = False
    confirm_statements: bool = False
    refresh: bool = False
    jurisdiction: str | None = None
    requester_from: str | None = None
    scan: ScanOptions = field(default_factory=ScanOptions)
    watches: bool = False  # also check the due watched pages of the batch's cases


@dataclass
class RowResult:
    line: int
    url: str
    case: str | None = None
    status: str = "skipped"  # scanned | already_seen | failed | skipped (malformed)
    sightings: int = 0
    matches: int = 0
    confirmed: int = 0
    pending: int = 0
    error: str | None = None
    note: str | None = None


@dataclass
class CaseResult:
    case: str
    title: str
    created: bool = False
    drafted: list[int] = field(default_factory=list)
    notices: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@dataclass
class BatchReport:
    file: str
    started_at: str
    rows: list[RowResult] = field(default_factory=list)
    cases: dict[str, CaseResult] = field(default_factory=dict)
    sends: list[SendResult] = field(default_factory=list)
    first_sent: set[int] = field(default_factory=set)  # notices this run queued for the first time
    watches: list[dict[str, Any]] = field(default_factory=list)  # the watched pages of the batch's cases

    @property
    def failed_rows(self) -> list[RowResult]:
        return [r for r in self.rows if r.status in ("failed", "skipped")]

    def to_json(self) -> dict[str, Any]:
        """The machine-readable report: rows, cases, what was sent, and totals."""
        sends = [{"notice": s.notice.id, "case": s.notice.case_id, "platform": s.notice.platform,
                  "outcome": s.outcome, "status": s.notice.status, "detail": s.detail,
                  "new": s.notice.id in self.first_sent} for s in self.sends]
        return {
            "file": self.file, "started_at": self.started_at,
            "summary": {
                "rows": len(self.rows), "failed_rows": len(self.failed_rows),
                "cases": len(self.cases), "cases_created": sum(c.created for c in self.cases.values()),
                "matches": sum(r.matches for r in self.rows), "confirmed": sum(r.confirmed for r in self.rows),
                "pending_confirmation": sum(r.pending for r in self.rows),
                "notices": sum(len(c.notices) for c in self.cases.values()),
                "sent": sum(s.outcome == "sent" for s in self.sends),
                "watches": len(self.watches), "watches_due": sum(w["due"] for w in self.watches),
                "watches_run": sum(w["ran"] for w in self.watches),
            },
            "rows": [asdict(r) for r in self.rows],
            "cases": [asdict(c) for c in self.cases.values()],
            "sends": sends,
            "watches": self.watches,
        }


Progress = Callable[[int, int], None]


def read_batch(path: Path) -> tuple[list[BatchRow], list[RowResult]]:
    """The good rows, and a result naming the line and the reason for each malformed one."""
    table = read_csv(path, required=("case", "url"), known=COLUMNS)
    rows: list[BatchRow] = []
    problems: list[RowResult] = []
    for row in table.rows:
        try:
            rows.append(_row(row.line, row.values, list(row.extra)))
        except StopNCIIError as exc:
            problems.append(RowResult(row.line, row.values.get("url", ""), row.values.get("case") or None,
                                      error=f"line {row.line}: {exc.reason}"))
    return rows, problems


def _row(line: int, values: dict[str, str], extra: list[str] | None) -> BatchRow:
    if extra:
        raise InputFileError(f"the row has {len(extra)} more values than the header has columns")
    if not values.get("case"):
        raise InputFileError("the case column is empty (give a case id or a title)")
    url = values.get("url", "")
    if not url:
        raise InputFileError("the url column is empty")
    try:
        url = str(parse_web_address(url))
    except InvalidURL as exc:
        raise InputFileError(f"{url[:80]!r} is not a web address: {exc.reason}") from None
    framework = values.get("framework") or None
    if framework and framework not in framework_ids():
        raise InputFileError(f"the framework {framework!r} is not one we know; use one of {', '.join(framework_ids())}")
    confirmed, new_case = _yes_or_no(values, "confirmed"), _yes_or_no(values, "new_case")
    jurisdiction = values.get("jurisdiction") or None
    try:
        jurisdiction = normalise_jurisdiction(jurisdiction) if jurisdiction else None
    except NoticeError as exc:
        raise InputFileError(exc.reason) from None
    return BatchRow(line, values["case"], url, values.get("platform") or None, framework, jurisdiction,
                    confirmed, values.get("note") or None, new_case)


def _yes_or_no(values: dict[str, str], column: str) -> bool:
    answer = values.get(column, "").strip().lower()
    if answer not in _YES | _NO:
        raise InputFileError(f"{column} should be yes or no, not {values[column]!r}")
    return answer in _YES


def run_batch(
    store: Store, path: Path, options: BatchOptions, directory: PlatformDirectory, config: SendingConfig, *,
    clock: clocks.Clock = clocks.now, progress: Progress | None = None,
) -> BatchReport:
    """Scan every row, confirm where the rows say so, draft per case and platform, then send."""
    rows, problems = read_batch(path)
    report = BatchReport(str(path), clocks.iso(clock()), rows=list(problems))
    cases: dict[str, Case] = {}
    batch_matches: dict[str, set[int]] = {}
    frameworks: dict[tuple[str, str], tuple[str, int]] = {}  # (case, platform) -> framework, line
    matchers: dict[str, CaseMatcher] = {}
    for start in range(0, len(rows), CHUNK):
        chunk = [_Pending(row, RowResult(row.line, row.url, note=row.note)) for row in rows[start:start + CHUNK]]
        _fetch_chunk(store, chunk, options, directory, cases, report)
        for pending in chunk:
            row, result = pending.row, pending.result
            try:
                if pending.failure is not None:
                    raise pending.failure
                assert pending.case is not None
                sightings = _sightings(store, pending, result)
                matches = _row_matches(store, pending.case, row, sightings, directory, options, frameworks,
                                       matchers, result)
                confirmed = (m.id for m in matches if m.status == "confirmed")
                batch_matches.setdefault(pending.case.id, set()).update(confirmed)
                if row.note:
                    store.log(pending.case.id, "batch.note", line=row.line, note=row.note)
            except StopNCIIError as exc:
                result.status, result.error = "failed", f"line {row.line}: {exc.reason if exc.item is None else exc}"
            report.rows.append(result)
        if progress is not None:
            progress(start + len(chunk), len(rows))
    report.rows.sort(key=lambda r: r.line)
    notice_ids: list[int] = []
    for case_id, match_ids in batch_matches.items():
        outcome = report.cases[case_id]
        if options.confirm_statements and match_ids:
            _draft(store, cases[case_id], match_ids, options, directory, frameworks, outcome)
        batch_notices = [n for n in store.notices(case_id) if set(n.match_ids) & match_ids]
        notice_ids += [n.id for n in batch_notices]
        outcome.notices = [{"id": n.id, "platform": n.platform, "status": n.status} for n in batch_notices]
    if options.send and notice_ids:
        report.first_sent = {n.id for n in map(store.notice, notice_ids) if n.status == "draft"}
        report.sends = list(send_notices(store, config, directory, notice_ids=notice_ids, resume=True, clock=clock))
        status = {s.notice.id: s.notice.status for s in report.sends}
        for outcome in report.cases.values():
            for entry in outcome.notices:
                entry["status"] = status.get(entry["id"], entry["status"])
    report.watches = _watches(store, list(report.cases), options, directory, clock)
    return report


def _watches(store: Store, case_ids: list[str], options: BatchOptions, directory: PlatformDirectory,
             clock: clocks.Clock) -> list[dict[str, Any]]:
    """The watched pages of the batch's cases and what their last run found; with
    ``options.watches`` the due ones are checked now (after sending: what a watch drafts is
    never sent by the batch)."""
    ran: dict[int, list[str]] = {}
    if options.watches:
        for case_id in case_ids:
            for run in run_watches(store, case_id=case_id, options=options.scan, directory=directory, clock=clock):
                ran[run.watch.id] = run.problems
    now = clocks.iso(clock())
    entries = []
    for case_id in case_ids:
        for watch in store.watches(case_id):
            last = watch.last_summary
            entries.append({
                "watch": watch.id, "case": case_id, "url": watch.url, "ran": watch.id in ran,
                "due": watch.next_due_at <= now, "problems": ran.get(watch.id, []),
                "last_run_at": watch.last_run_at, "next_due_at": watch.next_due_at,
                "pages_read": last.get("pages_read", 0), "checked": last.get("checked", 0),
                "new_matches": last.get("new_matches", 0), "drafted": last.get("drafted", 0),
                "nothing_checked": bool(watch.last_run_at and last.get("nothing_checked")),
            })
    return entries


@dataclass
class _Pending:
    """A row on its way: its case, whether its address is fetched now, and what went wrong."""

    row: BatchRow
    result: RowResult
    case: Case | None = None
    fetch: bool = False
    failure: StopNCIIError | None = None
    scan_errors: list[str] = field(default_factory=list)


def _fetch_chunk(
    store: Store, chunk: list[_Pending], options: BatchOptions, directory: PlatformDirectory,
    cases: dict[str, Case], report: BatchReport,
) -> None:
    """Find each row's case, then fetch the addresses not seen before, one scan per case (concurrent)."""
    for pending in chunk:
        try:
            if pending.row.platform:
                directory.get(pending.row.platform)  # an unknown name is the row's mistake: fetch nothing
            pending.case = _case_for(store, pending.row, options, cases, report)
            pending.result.case = pending.case.id
        except StopNCIIError as exc:
            pending.failure = exc
            continue
        pending.fetch = options.refresh or not store.sightings_at(pending.case.id, pending.row.url)
    by_case: dict[str, list[_Pending]] = {}
    for pending in chunk:
        if pending.fetch and pending.case is not None:
            by_case.setdefault(pending.case.id, []).append(pending)
    for case_id, waiting in by_case.items():
        urls = list(dict.fromkeys(p.row.url for p in waiting))
        for outcome in scan_sources(store, cases[case_id], urls, options.scan):
            if outcome.error and not outcome.skipped:
                for pending in waiting:
                    if outcome.source == pending.row.url:
                        pending.scan_errors.append(outcome.error)


def _case_for(store: Store, row: BatchRow, options: BatchOptions, cases: dict[str, Case], report: BatchReport) -> Case:
    key = row.case.strip()
    case = cases.get(key)
    if case is None:
        case = _find_or_create(store, key, row.jurisdiction or options.jurisdiction, row.new_case, report)
        cases[key] = cases[case.id] = case
    if row.jurisdiction and case.jurisdiction and row.jurisdiction != case.jurisdiction:
        raise InputFileError(f"case {case.id} is for {case.jurisdiction}, but this row says {row.jurisdiction}")
    return case


def _find_or_create(store: Store, key: str, jurisdiction: str | None, new_case: bool, report: BatchReport) -> Case:
    if _CASE_ID.fullmatch(key):
        try:
            case = store.get_case(key)
        except NotFound:
            case = None
        if case is not None:
            report.cases.setdefault(case.id, CaseResult(case.id, case.title))
            return case
        if not new_case and not store.cases_titled(key):  # a mistyped id must not quietly become a new case
            raise InputFileError(f"there is no case with id {key!r}; check the id with 'stopncii case list', "
                                 "or write new_case=yes on the row to open a new case called that")
    titled = store.cases_titled(key)
    if len(titled) > 1:
        raise InputFileError(f"{len(titled)} cases are called {key!r}; write the case id instead")
    if titled:
        report.cases.setdefault(titled[0].id, CaseResult(titled[0].id, titled[0].title))
        return titled[0]
    case = store.create_case(key, jurisdiction, notes="Created by a batch run.")
    report.cases[case.id] = CaseResult(case.id, case.title, created=True)
    return case


def _sightings(store: Store, pending: _Pending, result: RowResult) -> list[Sighting]:
    """The row's sightings (just fetched, or stored from an earlier run)."""
    assert pending.case is not None
    sightings = store.sightings_at(pending.case.id, pending.row.url)
    if not sightings:
        raise InputFileError(pending.scan_errors[0] if pending.scan_errors
                             else "nothing that could be checked was found at this address")
    result.status = "scanned" if pending.fetch else "already_seen"
    if pending.scan_errors:
        result.error = f"line {pending.row.line}: " + "; ".join(pending.scan_errors)
    return sightings


def _row_matches(
    store: Store, case: Case, row: BatchRow, sightings: list[Sighting], directory: PlatformDirectory,
    options: BatchOptions, frameworks: dict[tuple[str, str], tuple[str, int]], matchers: dict[str, CaseMatcher],
    result: RowResult,
) -> list[MatchRecord]:
    platform = directory.get(row.platform).id if row.platform else None
    matcher = None
    if result.status == "already_seen":  # protected items may have been added since
        if case.id not in matchers:
            matchers[case.id] = CaseMatcher.for_case(store, case.id)
        matcher = matchers[case.id]
    for sighting in sightings:
        if platform:
            store.set_sighting_platform(sighting.id, platform)
        if matcher is not None:
            _match_again(store, case, matcher, sighting)
    ids = {s.id for s in sightings}
    matches = [m for m in store.matches(case.id) if m.sighting_id in ids]
    _remember_framework(store, row, case, matches, directory, frameworks)  # before confirming anything
    if row.confirmed or options.confirm_matches:
        matches = [store.decide_match(m.id, "confirmed") if m.status == "pending" else m for m in matches]
    result.sightings = len(sightings)
    result.matches = sum(m.status != "rejected" for m in matches)
    result.confirmed = sum(m.status == "confirmed" for m in matches)
    result.pending = sum(m.status == "pending" for m in matches)
    return matches


def _match_again(store: Store, case: Case, matcher: CaseMatcher, sighting: Sighting) -> None:
    """Match stored hashes against the case's protected items as they are now (no download)."""
    for found in matcher.match(stored_suspect(store.sighting_signals(sighting.id))):
        store.record_match(case.id, sighting.id, found.item_id, found.kind, found.confidence, found.evidence)


def _remember_framework(
    store: Store, row: BatchRow, case: Case, matches: list[MatchRecord], directory: PlatformDirectory,
    frameworks: dict[tuple[str, str], tuple[str, int]],
) -> None:
    if not row.framework:
        return
    for match in matches:
        key = (case.id, platform_of(store.sighting(match.sighting_id), directory))
        earlier = frameworks.setdefault(key, (row.framework, row.line))
        if earlier[0] != row.framework:
            raise InputFileError(f"line {earlier[1]} asks for {earlier[0]} for the same case and platform; "
                                 "one notice cannot use two laws")


def _draft(
    store: Store, case: Case, match_ids: set[int], options: BatchOptions, directory: PlatformDirectory,
    frameworks: dict[tuple[str, str], tuple[str, int]], outcome: CaseResult,
) -> None:
    """One plan per platform of the batch's confirmed matches; stored only if it is new."""
    try:
        requester = _requester(store, case, options)
    except StopNCIIError as exc:
        outcome.errors.append(str(exc))
        return
    drafted, problems = draft_for_matches(
        store, case, directory, requester, match_ids,
        framework_of=lambda platform: frameworks.get((case.id, platform), (None, 0))[0])
    outcome.drafted += drafted
    outcome.errors += problems


def _requester(store: Store, case: Case, options: BatchOptions) -> Requester:
    requester = case_requester(store, case.id)
    if requester is not None:
        return requester
    if options.requester_from:
        template = case_requester(store, store.get_case(options.requester_from).id)
        if template is None:
            raise NoticeError(f"case {options.requester_from} has no requester details to copy")
        save_requester(store, case.id, template)
        return template
    raise NoticeError("the case has no requester details: set them with 'stopncii requester set --case "
                      f"{case.id}', or give --requester-from CASE to copy them", item=f"case {case.id}")

