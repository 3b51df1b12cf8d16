"""``stopncii case ...``, ``protect``, ``scan`` and ``matches``: the case workflow."""

from __future__ import annotations

from collections import Counter
from typing import Any

import click

from ..matching import explain
from ..store import Case, MatchRecord, Store
from ..workflow.protect import protect_paths
from ..workflow.report import build_report
from ..workflow.scan import DEFAULT_MAX_PAGES, ENGINES, PageReport, ScanOptions, count_items, scan_cases
from . import _output as o
from ._common import case_option, db_option, file_options, host_map, open_store, resolve_option, with_store

CASE_COLUMNS = ("id", "title", "jurisdiction", "status", "protected", "sightings", "matches", "created_at")
CASE_TABLE = ("id", "title", "jurisdiction", "status", "protected", "matches")  # fits 80 columns


def _case_record(store: Store, case: Case) -> dict[str, Any]:
    return {"id": case.id, "title": case.title, "jurisdiction": case.jurisdiction, "status": case.status,
            "notes": case.notes, "created_at": case.created_at, "closed_at": case.closed_at,
            "draft_watch_matches": case.draft_watch_matches, **store.case_counts(case.id)}


@click.group(name="case")
def case_group() -> None:
    """Create, list and close cases. A case holds one person's hashes and what was found."""


@case_group.command(name="new")
@click.argument("title")
@click.option("--jurisdiction", "-j", metavar="CODE",
              help="Country of the person, e.g. US, GB, DE, AU (chooses the law for notices).")
@click.option("--notes", help="Free notes for you or your caseworker.")
@o.output_options
@with_store
def case_new(
    store: Store, title: str, jurisdiction: str | None, notes: str | None, as_json: bool, as_csv: bool
) -> None:
    """Open a new case.

    \b
    Example:
      stopncii case new "My photos" --jurisdiction US
    """
    case = store.create_case(title, jurisdiction, notes)
    record = _case_record(store, case)
    if o.choose_format(as_json, as_csv) == "table":
        o.out.print(f"Case [bold]{case.id}[/bold] created: {o.escape(case.title)}")
        o.status(f"Stored in {store.path} (private to your account). Next: stopncii protect PHOTO...")
    else:
        o.render([record], CASE_COLUMNS, o.choose_format(as_json, as_csv))


@case_group.command(name="list")
@click.option("--all", "show_all", is_flag=True, help="Include closed cases.")
@o.output_options
@with_store
def case_list(store: Store, show_all: bool, as_json: bool, as_csv: bool) -> None:
    """List cases with how many items are protected, seen and matched.

    \b
    Example:
      stopncii case list --all --json
    """
    cases = store.list_cases(None if show_all else "open")
    fmt = o.choose_format(as_json, as_csv)
    o.render([_case_record(store, c) for c in cases], CASE_TABLE if fmt == "table" else CASE_COLUMNS, fmt,
             title="Cases")


@case_group.command(name="show")
@case_option
@o.output_options
@with_store
def case_show(store: Store, case_id: str | None, as_json: bool, as_csv: bool) -> None:
    """Show one case: details, protected items and the event log.

    \b
    Example:
      stopncii case show --case k7m3qx
    """
    case = store.resolve_case(case_id)
    record = _case_record(store, case)
    items = store.protected_items(case.id)
    watches = store.watches(case.id)
    fmt = o.choose_format(as_json, as_csv)
    if fmt != "table":
        record["items"] = [{"id": i.id, "label": i.label, "kind": i.kind, "sha256": i.sha256} for i in items]
        words = {e.event: e.what for e in build_report(store, case.id).timeline()}
        record["events"] = [{"at": e.at, "actor": e.actor, "action": e.action, "what": words.get(e.id)}
                            for e in store.events(case.id)]
        record["watches"] = [{"id": w.id, "url": w.url, "every_seconds": w.every_seconds, "next_due_at": w.next_due_at}
                             for w in watches]
        o.render([record], CASE_COLUMNS, fmt)
        return
    o.render([record], CASE_COLUMNS, fmt, title=f"Case {case.id}")
    o.table("Protected items (hashes only)", ("id", "label", "kind", "size", "sha256"),
            ((i.id, i.label or "(no name)", i.kind, f"{i.width}x{i.height}" if i.width else "", i.sha256[:16] + "...")
             for i in items))
    if watches:
        o.table("Watched pages", ("id", "url", "next check"), ((w.id, w.url, w.next_due_at) for w in watches))
    o.table("What happened", ("when", "who", "what"),
            ((e.when.utc, e.who, e.what) for e in build_report(store, case.id).timeline()))


@case_group.command(name="edit")
@case_option
@click.option("--title", help="A new title.")
@click.option("--jurisdiction", "-j", metavar="CODE", help="Country of the person, e.g. US, GB, DE, AU.")
@click.option("--notes", help="New notes (replace the old ones).")
@click.option("--draft-watch-matches/--no-draft-watch-matches", "draft_watch_matches", default=None,
              help="Let 'watch run' confirm new copies of photos you already confirmed and draft their notices "
                   "(never sent), confirming the statements each notice needs for you; other matches still wait "
                   "for you.")
@with_store
def case_edit(
    store: Store, case_id: str | None, title: str | None, jurisdiction: str | None, notes: str | None,
    draft_watch_matches: bool | None,
) -> None:
    """Change a case's title, country, notes, or whether watching drafts notices.

    With --draft-watch-matches, a new match found by 'watch run' is confirmed and its notice
    drafted when it is a copy of a photo you already confirmed: byte for byte the same file as
    one you confirmed, or an exact or high-confidence copy of a protected photo you confirmed a
    copy of. Pictures made from your photo, or parts of it, always wait for you. Nothing is
    sent: read the drafts with 'stopncii notice list'.

    \b
    Examples:
      stopncii case edit --jurisdiction GB
      stopncii case edit --case k7m3qx --draft-watch-matches
    """
    case = store.update_case(store.resolve_case(case_id).id, title=title, jurisdiction=jurisdiction, notes=notes,
                             draft_watch_matches=draft_watch_matches)
    o.status(f"Case {case.id} updated: {case.title} ({case.jurisdiction or 'no country set'}).")
    if draft_watch_matches is not None:
        o.status("'watch run' now drafts notices (never sends them) for new copies of photos you confirmed."
                 if case.draft_watch_matches else "'watch run' no longer drafts notices: new matches wait for you.")


@case_group.command(name="close")
@case_option
@with_store
def case_close(store: Store, case_id: str | None) -> None:
    """Close a case: it stays on record, and no longer counts as open.

    \b
    Example:
      stopncii case close --case k7m3qx
    """
    case = store.close_case(store.resolve_case(case_id).id)
    o.status(f"Case {case.id} closed. Its record is kept; 'stopncii case delete' removes it.")


@case_group.command(name="verify")
@case_option
@click.option("--head", "kept_head", metavar="HEX", callback=lambda _c, _p, v: _kept_head(v),
              help="A chain head you kept (from a report, or an earlier 'case verify'): check that the log "
                   "still holds it, so no event up to it was deleted.")
@with_store
def case_verify(store: Store, case_id: str | None, kept_head: str | None) -> None:
    """Check that the case's event log was not changed since it was written.

    Each event carries the SHA-256 of the event before it. This recomputes every link and
    names the first event that does not fit (exit code 1), or prints the chain's head: the
    same head as in a report means the log is as it was when the report was written.

    Deleting the newest events leaves a chain that still fits. To notice that, keep the head
    a report prints (write it down, or keep the report) and give it with --head: the log must
    end at it or go on from it.

    \b
    Examples:
      stopncii case verify --case k7m3qx
      stopncii case verify --head 3f9a0c...  (the head printed in the report)
    """
    case = store.resolve_case(case_id)
    check = store.verify_chain(case.id, kept_head)
    if not check.intact:
        o.error_line(f"Case {case.id}: event {check.broken_at} ({check.broken_action}, {check.broken_time}) does not "
                     f"fit the chain: {check.reason}.")
        raise SystemExit(1)
    if kept_head and check.kept_head_event is None:
        o.error_line(f"Case {case.id}: the head you kept ({kept_head}) is not in the event log: events up to it "
                     "were deleted or changed since it was printed.")
        raise SystemExit(1)
    o.out.print(f"Case {case.id}: the event log is intact ({check.events} events).")
    if kept_head:
        o.out.print(f"The head you kept is event {check.kept_head_event}; "
                    + ("the log ends there." if not check.events_after_kept else
                       "1 event was written after it." if check.events_after_kept == 1 else
                       f"{check.events_after_kept} events were written after it."))
    o.out.print(f"Chain head: {check.head or 'none (no events)'}")


def _kept_head(value: str | None) -> str | None:
    if value is None:
        return None
    head = value.strip().rstrip(".…").lower()
    if len(head) < 16 or len(head) > 64 or any(c not in "0123456789abcdef" for c in head):
        raise click.BadParameter(f"{value!r} is not a chain head: give the 16 to 64 hexadecimal digits the "
                                 "report prints")
    return head


@case_group.command(name="delete")
@click.option("--case", "case_id", metavar="ID", default=None, help="Case id to delete.")
@click.option("--finish", is_flag=True,
              help="Finish rewriting the file after a delete that could not (another program was reading it).")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@with_store
def case_delete(store: Store, case_id: str | None, finish: bool, yes: bool) -> None:
    """Delete a case and everything stored for it, for good.

    The rows are deleted and the database file is rewritten, so nothing of the case stays
    in it. This cannot be undone. While another program is reading the file the rewrite
    cannot finish: the command says so, and --finish completes it later.

    \b
    Examples:
      stopncii case delete --case k7m3qx
      stopncii case delete --finish
    """
    if finish:
        left = store.scrub()
        if left:
            o.warn(f"The database file could not be rewritten yet: {left}.")
            raise SystemExit(1)
        o.status(f"Done: the database file {store.path} was rewritten; nothing of deleted cases remains in it.")
        return
    if not case_id:
        raise click.UsageError("name the case with --case ID (or use --finish)")
    case = store.get_case(case_id)
    if not yes and not click.confirm(f"Delete case {case.id} ({case.title}) and all its hashes for good?", err=True):
        raise SystemExit(1)
    left = store.delete_case(case.id)
    if left:
        o.warn(f"Case {case.id} deleted, not yet wiped: {left}.")
        raise SystemExit(1)
    o.status(f"Case {case.id} deleted. Nothing of it remains in {store.path}.")


@click.command(name="protect")
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@case_option
@click.option("--no-names", is_flag=True, help="Do not keep file names as labels (items get numbers only).")
@file_options
@o.output_options
@with_store
def protect_command(store: Store, paths: tuple[str, ...], case_id: str | None, no_names: bool,
                    include: tuple[str, ...], exclude: tuple[str, ...], jobs: int | None,
                    as_json: bool, as_csv: bool) -> None:
    """Protect your pictures and videos: hash them on this computer and keep only the hashes.

    PATHS are files or folders. For each picture the case keeps its hashes (PDQ, including
    its 8 rotations and mirror images, pHash and others, SHA-256), its size and its file
    name (leave names out with --no-names). The pictures themselves are never copied,
    uploaded or stored, and neither is where they are on your computer.

    \b
    Examples:
      stopncii protect ~/Pictures/private
      stopncii protect --case k7m3qx --no-names photo1.jpg photo2.heic
    """
    case = store.resolve_case(case_id)
    fmt = o.choose_format(as_json, as_csv)
    columns = ("path", "status", "item", "label", "sha256", "error")
    records: list[dict[str, Any]] = []
    added, known, failed = 0, 0, 0
    notes: dict[str, None] = {}  # each note once, in order
    with o.progress("Protecting") as bar:
        task = bar.add_task("Protecting", total=None)
        for outcome in protect_paths(store, case, paths, store_names=not no_names,
                                     include=include, exclude=exclude, jobs=jobs):
            bar.advance(task)
            if outcome.skipped:
                o.status(f"skipped {outcome.path}: {outcome.error}")
                continue
            if outcome.item is None:
                failed += 1
                o.error_line(outcome.error or outcome.path)
                records.append({"path": outcome.path, "status": "failed", "error": outcome.error})
                continue
            notes.update(dict.fromkeys(outcome.notes))
            status = "added" if outcome.created else "already protected"
            added += outcome.created
            known += not outcome.created
            if not outcome.created:
                o.status(f"{outcome.path}: already protected in this case (item {outcome.item.id}); "
                         "its hashes are up to date")
            records.append({"path": outcome.path, "status": status, "item": outcome.item.id,
                            "label": outcome.item.label, "sha256": outcome.item.sha256})
    o.render(records, ("path", "status", "item") if fmt == "table" else columns, fmt,
             title=f"Protected in case {case.title}", cut=("path",))
    for note in notes:
        o.warn(f"Note: {note}")
    o.status(f"{added} added, {known} already protected, {failed} could not be read. "
             "Only hashes were stored; your pictures stayed where they are.")
    if failed:
        raise SystemExit(1)


# every field, for --csv (--json has these and the evidence itself)
MATCH_COLUMNS = ("match", "case", "case_title", "status", "kind", "confidence", "found_at", "page", "platform",
                 "item", "label", "item_sha256", "signal", "distance", "why", "seen")
# what fits 80 columns; 'stopncii matches show N' has the rest
MATCH_TABLE = ("match", "case", "found", "where", "your_photo", "status")


def match_record(store: Store, match: MatchRecord) -> dict[str, Any]:
    sighting = store.sighting(match.sighting_id)
    item = store.protected_item(match.item_id)
    best = match.evidence[0] if match.evidence else {}  # the signal that decided the match
    return {
        "match": match.id, "case": match.case_id, "case_title": store.get_case(match.case_id).title,
        "status": match.status, "kind": match.kind, "confidence": match.confidence,
        "found_at": sighting.location, "page": sighting.page_url, "platform": sighting.platform,
        "item": item.id, "label": item.label, "item_sha256": item.sha256,
        "signal": best.get("signal"), "distance": best.get("distance"), "evidence": match.evidence,
        "why": explain.summary(match.kind), "seen": sighting.last_seen_at,
    }


def page_record(report: PageReport) -> dict[str, Any]:
    return {"url": report.url, "pages_read": report.pages, "found": report.found, "checked": report.checked,
            "failed": report.failed, "seen_before": report.known, "newest_post": report.newest_post,
            "stopped": report.stopped}


def page_line(report: PageReport) -> str:
    """One line for a page: what it showed and what was checked, in plain words."""
    pages = f" on {report.pages} pages" if report.pages > 1 else ""
    parts = [f"{report.found} pictures and videos found{pages}", f"{report.checked} checked"]
    if report.failed:
        parts.append(f"{report.failed} could not be read")
    if report.known:
        parts.append(f"{report.known} seen before")
    return f"{report.url}: " + ", ".join(parts) + (f" ({report.stopped})" if report.stopped else "") + "."


def _match_row(record: dict[str, Any]) -> dict[str, Any]:
    """A match as the short table shows it."""
    return {**record, "case": _short(record["case_title"], 18),
            "found": f"{explain.KIND_SHORT.get(record['kind'], record['kind'])} ({record['confidence']})",
            "where": short_address(record["found_at"]), "your_photo": record["label"] or f"item {record['item']}"}


def _short(text: str, most: int) -> str:
    """``text`` cut at a space to at most ``most`` characters, ending in '…' when cut."""
    if len(text) <= most:
        return text
    head = text[: most - 1].rsplit(" ", 1)[0] if " " in text[: most - 1] else text[: most - 1]
    return head.rstrip(" ,;:") + "…"


def short_address(location: str) -> str:
    """An address shortened for a table: the site and the last part of the path."""
    if "://" not in location:
        return location
    host, _, path = location.split("://", 1)[1].partition("/")
    tail = path.rstrip("/").rsplit("/", 1)[-1]
    return host if not tail else f"{host}/{tail}" if tail == path.rstrip("/") else f"{host}/…/{tail}"


def render_matches(records: list[dict[str, Any]], fmt: str, title: str) -> None:
    if fmt == "table":
        o.render([_match_row(r) for r in records], MATCH_TABLE, fmt, title=title, cut=("where", "your_photo"))
    else:
        o.render(records, MATCH_COLUMNS, fmt)


@click.command(name="scan")
@click.argument("sources", nargs=-1, required=True)
@click.option("--case", "case_ids", metavar="ID", multiple=True,
              help="Case id; repeat it to scan once for several cases (may be left out when exactly one case is open).")
@click.option("--all-cases", is_flag=True,
              help="Scan once for every open case: each file is checked against all of them.")
@click.option("--allow-private", is_flag=True,
              help="Allow addresses on private networks and this computer (for testing).")
@click.option("--pages", "max_pages", type=click.IntRange(1, 1000), default=DEFAULT_MAX_PAGES, show_default=True,
              help="For a page of posts (a Telegram channel, a gallery): how many pages of older posts to read.")
@click.option("--engine", type=click.Choice(ENGINES), default="local", show_default=True,
              help="Where files are hashed and compared: worker processes on this computer, or a Dask cluster.")
@click.option("--scheduler", metavar="ADDRESS", default=None,
              help="With --engine dask: the cluster's scheduler, e.g. tcp://10.0.0.5:8786.")
@resolve_option
@file_options
@o.output_options
@with_store
def scan_command(store: Store, sources: tuple[str, ...], case_ids: tuple[str, ...], all_cases: bool,
                 allow_private: bool, max_pages: int, engine: str, scheduler: str | None, resolve: tuple[str, ...],
                 include: tuple[str, ...], exclude: tuple[str, ...], jobs: int | None, as_json: bool,
                 as_csv: bool) -> None:
    """Look for copies of your protected pictures in files, web pages and hash lists.

    SOURCES are files or folders, web addresses of pictures, videos or pages (the pictures
    on a page are checked), @FILE for a list of sources (one per line, or a CSV with a 'url'
    column), or hash lists: 'pdq <hash>' and 'video_md5 <hash>' lines (python-threatexchange's
    local files), CSV with 'signal' and 'hash' columns, StopNCII hash records (JSON) or HMA
    bank content (JSON).

    With --all-cases (or several --case), each file is hashed once and checked against the
    protected pictures of all those cases; a match is recorded in the case it belongs to,
    and the other cases keep nothing of it.

    Downloaded content is hashed in memory and thrown away: it is never saved. The case
    keeps where each item was seen (address, date, file hash) as evidence.

    \b
    Examples:
      stopncii scan ~/Downloads/reported
      stopncii scan https://example.com/post/123 @links.txt
      stopncii scan --json platform-hashes.txt > found.jsonl
      stopncii scan --all-cases --json ~/crawl > found.jsonl
      stopncii scan --all-cases --engine dask --scheduler tcp://10.0.0.5:8786 /mnt/crawl
    """
    if all_cases:
        cases = store.list_cases(status="open")
    else:
        cases = [store.resolve_case(c) for c in dict.fromkeys(case_ids)] or [store.resolve_case(None)]
    fmt = o.choose_format(as_json, as_csv)
    options = ScanOptions(allow_private=allow_private, jobs=jobs, include=include, exclude=exclude,
                          max_pages=max_pages, hosts=host_map(resolve), engine=engine, scheduler=scheduler)
    scanned = failed = 0
    found: list[dict[str, Any]] = []
    quiet = fmt == "json" or not o.err.is_terminal
    with o.progress("Scanning", quiet=quiet) as bar:
        task = bar.add_task("Scanning", total=None if quiet else count_items(sources, include, exclude))
        for outcome in scan_cases(store, cases, sources, options):
            bar.advance(task)
            if outcome.skipped:
                o.status(f"skipped {outcome.source}: {outcome.error}")
                continue
            if outcome.page is not None:
                if fmt == "json":
                    problem = {"error": outcome.error} if outcome.error else {}
                    o.json_line({"source": outcome.source, "page_summary": page_record(outcome.page), **problem})
                if not outcome.error:
                    o.status(page_line(outcome.page))
                    continue
            if outcome.error:
                failed += 1
                o.error_line(outcome.error)
                if fmt == "json" and outcome.page is None:
                    o.json_line({"source": outcome.source, "error": outcome.error})
                continue
            scanned += 1
            for match in outcome.matches:
                record = match_record(store, match)
                found.append(record)
                if fmt == "json":
                    o.json_line({"source": outcome.source, **record})
    if fmt != "json":
        render_matches(found, fmt, "Matches")
    if len(cases) > 1:
        per_case = Counter(record["case"] for record in found)
        for case in cases:
            if fmt == "json":
                o.json_line({"case_summary": case.id, "case_title": case.title, "matched": per_case[case.id]})
            elif per_case[case.id]:
                o.status(f"{case.title} ({case.id}): {per_case[case.id]} matched.")
    o.status(f"{scanned} scanned, {failed} failed, {len(found)} matched your protected items"
             f"{f' in {len(cases)} cases' if len(cases) > 1 else ''}. Nothing downloaded was saved.")
    if not scanned:
        o.status("Nothing could be checked, so this says nothing yet about where your pictures are.")
    if found:
        o.status("Check each match with 'stopncii matches show ID', then 'stopncii matches confirm ID'.")
    if failed:
        raise SystemExit(1)


@click.group(name="matches", invoke_without_command=True)
@db_option
@click.option("--case", "case_id", metavar="ID", default=None, help="Only this case (default: every open case).")
@click.option("--all-cases", is_flag=True, help="Every case, closed ones too.")
@click.option("--status", type=click.Choice(["pending", "confirmed", "rejected"]),
              help="Only matches with this status.")
@o.output_options
@click.pass_context
def matches_group(ctx: click.Context, db_path: str | None, case_id: str | None, all_cases: bool,
                  status: str | None, as_json: bool, as_csv: bool) -> None:
    """List what was found in your open cases, and confirm or reject each match.

    A match is only used in a takedown notice after you confirm it is you. The list is
    short and surest first; 'low' means only a little agrees (a watermark, logo or background
    other pictures can share), so look before you confirm. 'stopncii matches show ID' explains
    one match and its evidence in plain words.

    \b
    Examples:
      stopncii matches
      stopncii matches --status pending --json
      stopncii matches show 12
      stopncii matches confirm 12
      stopncii matches reject 13
    """
    if ctx.invoked_subcommand is not None:
        return
    store = open_store(db_path)
    ctx.call_on_close(store.close)
    if case_id:
        cases = [store.get_case(case_id)]
    else:
        cases = store.list_cases(None if all_cases else "open") or [store.resolve_case(None)]
    records = [match_record(store, m) for case in cases for m in store.matches(case.id, status)]
    records.sort(key=lambda r: explain.CONFIDENCE_ORDER.get(r["confidence"], len(explain.CONFIDENCE_ORDER)))
    title = f"Matches in case {cases[0].title}" if len(cases) == 1 else f"Matches in {len(cases)} cases"
    fmt = o.choose_format(as_json, as_csv)
    render_matches(records, fmt, title)
    if fmt == "table" and any(r["confidence"] == "low" for r in records):
        o.status(f"Surest first. 'low' means {explain.CONFIDENCE_WORDS['low']}.")


@matches_group.command(name="show")
@click.argument("match_id", type=int)
@db_option
@o.output_options
@click.pass_context
def matches_show(ctx: click.Context, match_id: int, db_path: str | None, as_json: bool, as_csv: bool) -> None:
    """Explain one match in plain words: what was found, where, and why it matched.

    \b
    Example:
      stopncii matches show 12
    """
    store = open_store(db_path or (ctx.parent.params.get("db_path") if ctx.parent else None))
    ctx.call_on_close(store.close)
    match = store.match(match_id)
    record = match_record(store, match)
    fmt = o.choose_format(as_json, as_csv)
    if fmt != "table":
        o.render([record], MATCH_COLUMNS, fmt)
        return
    decision = {"pending": "waiting for your decision", "confirmed": "you confirmed it is you",
                "rejected": "you said it is not you"}.get(match.status, match.status)
    lines = [f"Match {match.id}, in case {record['case_title']} ({record['case']}): {decision}.",
             f"What was found: {explain.summary(match.kind)}.",
             f"How sure: {match.confidence} ({explain.CONFIDENCE_WORDS.get(match.confidence, 'as the matcher said')}).",
             f"Where: {record['found_at']}"]
    if record["page"]:
        lines.append(f"On the page: {record['page']}")
    lines += [f"Last seen: {record['seen']}",
              f"Your photo: {record['label'] or 'no name kept'} (item {record['item']})",
              "Why it matched:"]
    lines += [o.wrapped(f"- {words}", "  ") for words in explain.explain(match.kind, match.evidence)]
    if match.status == "pending":
        lines.append(f"Next: 'stopncii matches confirm {match.id}' if this is you, "
                     f"'stopncii matches reject {match.id}' if it is not.")
    click.echo("\n".join(o.wrapped(line) if not line.startswith("  ") else line for line in lines))


def _decide(decision: str) -> click.Command:
    @click.command(name={"confirmed": "confirm", "rejected": "reject"}[decision])
    @click.argument("match_ids", nargs=-1, type=int, required=True)
    @db_option
    @click.pass_context
    def decide(ctx: click.Context, match_ids: tuple[int, ...], db_path: str | None) -> None:
        # 'stopncii matches --db X confirm 3' and 'stopncii matches confirm 3 --db X' mean the same
        store = open_store(db_path or (ctx.parent.params.get("db_path") if ctx.parent else None))
        ctx.call_on_close(store.close)
        for match_id in match_ids:
            store.match(match_id)  # every id must exist before any decision is recorded
        for match_id in match_ids:
            store.decide_match(match_id, decision)
            o.status(f"Match {match_id} {decision}.")

    decide.help = (f"Mark matches as {decision}" +
                   (" (it is you: the match can go into a notice)." if decision == "confirmed"
                    else " (it is not you: it is left out of notices).") +
                   f"\n\n\b\nExample:\n  stopncii matches {decide.name} 12 13")
    return decide


matches_group.add_command(_decide("confirmed"))
matches_group.add_command(_decide("rejected"))
