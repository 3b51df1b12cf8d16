"""After a notice went out: the status board, removal checks, and follow-ups when time is up.

``status_board`` ranks every open notice across cases, most urgent first. ``check_removals``
fetches each address a sent notice asked about, through the same guarded :class:`Fetcher` as
scanning (bytes hashed in memory and dropped), and keeps what it found with the time as
evidence: gone (404/410), no longer on its page, replaced by other bytes that no longer match,
or still there. A notice whose items are all gone becomes 'removed'. ``follow_up`` drafts the
reminder for an overdue notice and the escalation packet the law gives, in the notice's
language, asking the notice's framework for its words and its route.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from .. import clock as clocks
from .._errors import FetchError, HTTPStatusError, MediaError, NoticeError
from ..matching.case import CaseMatcher
from ..notices import FollowUpFacts, ItemState, Reply, get_framework, render_follow_up
from ..notices.platforms import PlatformDirectory
from ..signals.hashing import hash_bytes
from ..store import RemovalCheck, Sighting, Store, StoredNotice
from ..store.notice_states import OPEN_AFTER_SENDING, sources
from ..submit.config import SendingConfig
from ..web.fetch import Fetcher, FetchLimits, resolve_host
from ..web.pages import find_media
from .outbox import MANUAL_KINDS, route_for
from .takedown import case_requester

SOON_HOURS = 12.0
MAX_PAGE_RECHECK = 60  # pictures of a page looked at when the found address is no longer on it
GONE = ("removed", "gone_from_page", "replaced")  # outcomes that count as taken down
CHECKED_STATES = sources("check")  # a refused notice too: a later removal still counts
_RANKS = ("overdue", "due soon", "refused", "interrupted", "held", "by hand", "to send", "sending", "retrying",
          "waiting", "closed")


# -- the status board -----------------------------------------------------------------------


@dataclass(frozen=True)
class BoardRow:
    """One notice on the board: how urgent, when it is due, and the next thing to do."""

    notice: StoredNotice
    state: str  # one of _RANKS
    due_at: datetime | None
    hours_left: float | None  # negative: overdue by that many hours
    next_step: str

    @property
    def rank(self) -> int:
        return _RANKS.index(self.state)


def status_board(
    store: Store, config: SendingConfig, *, case_id: str | None = None, soon_hours: float = SOON_HOURS,
    include_closed: bool = False, clock: clocks.Clock = clocks.now,
) -> list[BoardRow]:
    """Every open notice (of one case, or all), most urgent first."""
    now = clock()
    rows = [_board_row(n, config, now, soon_hours, n.status == "sending" and store.sending_now(n.id, now) is not None)
            for n in store.notices(case_id)]
    kept = [r for r in rows if include_closed or r.state != "closed"]
    far = datetime.max.replace(tzinfo=now.tzinfo)
    return sorted(kept, key=lambda r: (r.rank, r.due_at or far, r.notice.id))


def _board_row(n: StoredNotice, config: SendingConfig, now: datetime, soon_hours: float, live: bool) -> BoardRow:
    due = clocks.parse_time(n.due_at, "due date") if n.due_at else None
    left = (due - now).total_seconds() / 3600 if due else None
    if n.status in ("removed", "withdrawn"):
        return BoardRow(n, "closed", due, left, n.status)
    if n.status == "refused":
        return BoardRow(n, "refused", due, left, f"escalate: stopncii notice follow-up {n.id}")
    if n.status in OPEN_AFTER_SENDING:
        if left is None:
            return BoardRow(n, "waiting", due, left, "see whether it is gone: stopncii check")
        if left < 0:
            return BoardRow(n, "overdue", due, left, f"follow up: stopncii notice follow-up {n.id}")
        state = "due soon" if left <= soon_hours else "waiting"
        return BoardRow(n, state, due, left, "see whether it is gone: stopncii check")
    if n.status == "sending" and live:  # another run holds its lease right now
        return BoardRow(n, "sending", due, left, "another run is sending it now; look again in a moment")
    if n.status == "sending":
        return BoardRow(n, "interrupted", due, left, "stopncii notice send --resume")
    route = route_for(n, config)
    if route.method == "unconfigured":
        return BoardRow(n, "to send", due, left, f"set up sending first: {route.why}")
    if n.status == "queued" and route.method != "by_hand":
        if n.next_attempt_at is None:
            return BoardRow(n, "held", due, left, f"fix: {n.last_error}; then stopncii notice send --retry-held")
        if clocks.parse_time(n.next_attempt_at, "next try") > now:
            return BoardRow(n, "retrying", due, left, f"next try after {n.next_attempt_at}")
    if route.method == "by_hand" and n.status == "queued":
        how = "the form or app" if n.channel_kind in MANUAL_KINDS else "your own mailbox"
        return BoardRow(n, "by hand", due, left,
                        f"submit it through {how}, then: stopncii notice mark-sent {n.id} --ticket T")
    return BoardRow(n, "to send", due, left, f"stopncii notice send --case {n.case_id}")


# -- removal checks -------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOptions:
    """How to fetch: the same guard as scanning. ``hosts`` maps names to addresses (tests)."""

    allow_private: bool = False
    hosts: Mapping[str, str] = field(default_factory=dict)
    limits: FetchLimits = field(default_factory=lambda: FetchLimits(retries=1, backoff=0.5))


@dataclass(frozen=True)
class ItemCheck:
    """One address of one notice: what the check found, and the notice afterwards."""

    notice: StoredNotice
    sighting: Sighting
    check: RemovalCheck
    fresh: bool  # False: it was already known to be gone, so it was not fetched again

    @property
    def gone(self) -> bool:
        return self.check.outcome in GONE


def check_removals(
    store: Store, *, case_id: str | None = None, options: CheckOptions = CheckOptions(),
    clock: clocks.Clock = clocks.now,
) -> Iterator[ItemCheck]:
    """Fetch every open sighting of the notices that went out, and record what is there now."""
    notices = [n for n in store.notices(case_id) if n.status in CHECKED_STATES]
    if not notices:
        return

    def resolve(host: str, port: int) -> list[str]:
        return [options.hosts[host]] if host in options.hosts else resolve_host(host, port)

    done: dict[int, tuple[RemovalCheck, bool]] = {}
    matchers: dict[str, CaseMatcher] = {}
    with Fetcher(options.limits, allow_private=options.allow_private, resolver=resolve) as fetcher:
        for notice in notices:
            checks: list[tuple[Sighting, RemovalCheck, bool]] = []
            for sighting in _notice_sightings(store, notice):
                if sighting.id not in done:
                    gone_before = _last_gone(store, sighting.id)
                    if gone_before is not None:
                        done[sighting.id] = (gone_before, False)
                    else:
                        if notice.case_id not in matchers:
                            matchers[notice.case_id] = CaseMatcher.for_case(store, notice.case_id)
                        done[sighting.id] = (_check_one(store, fetcher, matchers[notice.case_id], sighting,
                                                        clock()), True)
                checks.append((sighting, *done[sighting.id]))
            after = notice
            if checks and all(c.outcome in GONE for _, c, _ in checks):
                after = _mark_removed(store, notice, [c for _, c, _ in checks], clock())
            for sighting, check, fresh in checks:
                yield ItemCheck(after, sighting, check, fresh)


def _notice_sightings(store: Store, notice: StoredNotice) -> list[Sighting]:
    ids = dict.fromkeys(store.match(m).sighting_id for m in notice.match_ids)
    return [s for s in (store.sighting(i) for i in ids) if s.final_url or s.url]


def _last_gone(store: Store, sighting_id: int) -> RemovalCheck | None:
    checks = store.removal_checks(sighting_id)
    return checks[-1] if checks and checks[-1].outcome in GONE else None


def _check_one(store: Store, fetcher: Fetcher, matcher: CaseMatcher, sighting: Sighting, at: datetime) -> RemovalCheck:
    url = sighting.final_url or sighting.url or ""
    outcome, status, sha, detail = _look(fetcher, matcher, sighting, url)
    return store.record_removal_check(sighting.case_id, sighting.id, outcome, at, http_status=status,
                                      sha256=sha, detail=detail)


def _look(
    fetcher: Fetcher, matcher: CaseMatcher, sighting: Sighting, url: str,
) -> tuple[str, int | None, str | None, str]:
    """(outcome, HTTP status, SHA-256 of what is there now, words for the record).

    What the address serves now is hashed with every signal the case has, as a scan hashes it,
    and it is still there when the case's matcher finds any protected item in it.
    """
    if sighting.page_url:
        try:
            page = fetcher.get(sighting.page_url)
        except HTTPStatusError as exc:
            if exc.status in (404, 410):
                return "gone_from_page", exc.status, None, f"the page {sighting.page_url} is gone (HTTP {exc.status})"
        except FetchError:
            pass  # the page cannot be read now; the item's own address still tells
        else:
            if page.kind == "html":
                links = [link.url for link in find_media(page.body, page.final_url)]
                if not {url, sighting.url} & set(links):
                    # sites re-serve the same picture at new addresses (CDN tokens, sizes): look
                    return _on_page_elsewhere(fetcher, matcher, sighting.page_url, links, page.status)
    try:
        found = fetcher.get(url)
    except HTTPStatusError as exc:
        if exc.status in (404, 410):
            return "removed", exc.status, None, f"HTTP {exc.status}: the address no longer serves it"
        return "unreachable", exc.status, None, exc.reason
    except FetchError as exc:
        return "unreachable", None, None, exc.reason
    if found.sha256 == sighting.sha256:
        return "present", found.status, found.sha256, "still online: the same file as when it was found"
    try:  # in memory only; the bytes are dropped with `found`
        hashes = hash_bytes(found.body, on_request=matcher.on_request)
    except MediaError:
        return "replaced", found.status, found.sha256, "the address now serves something that is not a picture or video"
    if matcher.match(hashes.signals):
        return "present", found.status, found.sha256, "still online: a different file that still shows the picture"
    return "replaced", found.status, found.sha256, "the address now serves a different picture that does not match"


def _on_page_elsewhere(
    fetcher: Fetcher, matcher: CaseMatcher, page_url: str, links: list[str], status: int,
) -> tuple[str, int | None, str | None, str]:
    """The page no longer links the address that was found: is the picture shown there still?

    Gone only when every picture the page shows was looked at and none is a protected one.
    """
    unread = max(0, len(links) - MAX_PAGE_RECHECK)
    for link, result in fetcher.get_many(links[:MAX_PAGE_RECHECK]):
        if isinstance(result, FetchError):
            unread += 1
            continue
        if result.kind == "html":
            continue
        try:  # in memory only, as in a scan
            hashes = hash_bytes(result.body, on_request=matcher.on_request)
        except MediaError:
            continue
        if matcher.match(hashes.signals):
            return ("present", result.status, result.sha256,
                    f"still shown on {page_url}, now from another address: {link}")
    if unread:
        return ("unreachable", status, None, f"the page {page_url} no longer links the address found, and "
                f"{unread} of its pictures could not be looked at, so it is not known whether it is gone")
    return "gone_from_page", status, None, f"the page {page_url} no longer shows it"


def _mark_removed(store: Store, notice: StoredNotice, checks: list[RemovalCheck], at: datetime) -> StoredNotice:
    removal = {"seen_at": max(c.checked_at for c in checks), "checks": [c.id for c in checks]}
    return store.move_notice(notice, "removed", step="check", at=at, detail={"by": "check"},
                             evidence={**notice.evidence, "removal": removal})


# -- follow-ups -----------------------------------------------------------------------------


@dataclass(frozen=True)
class FollowUp:
    """A reminder to send the platform, and where to turn next with the facts to give there.

    The reminder and the packet are in the notice's language; the notes are for the person.
    """

    notice: StoredNotice
    overdue: bool
    to: str | None
    subject: str
    reminder: str
    route: str | None  # the escalation route the law gives, if any
    escalation: str
    packet_heading: str  # the route, or what the packet is for
    packet: tuple[tuple[str, str], ...]

    @property
    def text(self) -> str:
        lines = ["NOTES FOR YOU (not part of the reminder)"]
        if not self.overdue:
            lines.append(f"- The deadline has not passed yet (due {self.notice.due_at}).")
        lines += [f"- Where to turn next: {self.escalation}", "",
                  f"REMINDER to send to {self.to or 'the platform'}", "=" * 72,
                  f"Subject: {self.subject}", "", self.reminder, ""]
        lines += [f"ESCALATION PACKET: {self.packet_heading}", "=" * 72, ""]
        for label, value in self.packet:
            lines += [f"{label}:", value, ""]
        return "\n".join(lines).rstrip("\n") + "\n"


def follow_up(
    store: Store, notice_id: int, directory: PlatformDirectory, *, clock: clocks.Clock = clocks.now,
) -> FollowUp:
    """The follow-up for a notice that went out (drafted; nothing is sent or stored), in the
    notice's language, with the words and the escalation route of its framework."""
    notice = store.notice(notice_id)
    if notice.status not in CHECKED_STATES or not notice.sent_at:
        raise NoticeError(f"it is {notice.status}; a follow-up is for a notice that went out "
                          "(sent, acknowledged or refused)", item=f"notice {notice_id}")
    facts = FollowUpFacts(
        framework=notice.framework,
        language=notice.language,
        platform=directory.get(notice.platform).name,
        notice_key=notice.notice_key,
        sent_at=notice.sent_at,
        sent_how=_how(notice),
        deadline_hours=notice.evidence.get("deadline_hours"),
        due_at=clocks.parse_time(notice.due_at, "due date") if notice.due_at else None,
        now=clock(),
        items=tuple(_item_state(store, s) for s in _notice_sightings(store, notice)),
        replies=tuple(Reply(r["at"], r["status"], r.get("note")) for r in notice.evidence.get("replies", [])),
        requester=case_requester(store, notice.case_id),
    )
    words = render_follow_up(facts)
    return FollowUp(notice, facts.overdue, notice.channel_address, words.subject, words.reminder, words.route,
                    get_framework(notice.framework).escalation, words.packet_heading, words.packet)


def _item_state(store: Store, sighting: Sighting) -> ItemState:
    url = sighting.final_url or sighting.url or ""
    found = _minute_text(sighting.first_seen_at)
    checks = store.removal_checks(sighting.id)
    if not checks:
        return ItemState(url, found)
    last = checks[-1]
    return ItemState(url, found, last.outcome, last.detail, last.http_status, _minute_text(last.checked_at))


def _how(notice: StoredNotice) -> tuple[str, str]:
    """How the request went out, as (kind, value): the evidence a regulator asks for."""
    evidence = notice.evidence
    for key in ("message_id", "response_id", "ticket"):
        if evidence.get(key):
            return key, str(evidence[key])
    return "channel", str(evidence.get("channel", notice.channel_kind))


def _minute_text(stamp: str) -> str:
    return stamp[:16].replace("T", " ")
