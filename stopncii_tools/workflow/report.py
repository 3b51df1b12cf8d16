"""The case report: what was found where and when, what was sent to whom and what happened.

:func:`build_report` gathers the facts from the case database into typed records; the
sightings, notices, notice texts and the timeline are read from the database as they are
written out (a case of 10,000 sightings never sits in memory whole). :func:`write_report`
writes it as HTML, PDF or JSON. Nothing in a report is a picture, a thumbnail or a file path:
protected items are "item N" (their labels only when asked for), and with ``redact`` the
person is shown by initials with no contact details.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import datetime
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default as default_policy
from functools import cache, lru_cache
from itertools import islice
from pathlib import Path
from typing import Any, TypeVar

from .. import __version__
from .. import clock as clocks
from .._errors import NotFound, StoreError
from ..countries import country_name
from ..matching import explain
from ..notices import get_framework
from ..notices.platforms import PlatformDirectory, load_directory
from ..signals import SIGNALS
from ..store import (
    Case,
    Event,
    MatchRecord,
    NoticePayload,
    RemovalCheck,
    SendAttempt,
    Sighting,
    Store,
    StoredNotice,
    Watch,
)
from ..store.notice_states import OPEN_AFTER_SENDING
from .outbox import payload_text

FORMATS = ("pdf", "html", "json")
LEFT_OUT = "[left out]"
_Record = TypeVar("_Record")

_OUTCOMES = {
    "present": "still online",
    "removed": "removed: the address no longer serves it",
    "gone_from_page": "no longer on the page it was found on",
    "replaced": "the address now serves something else",
    "unreachable": "could not be reached",
}
_STATUSES = {
    "draft": "drafted, not sent", "queued": "ready to send, not sent yet", "sending": "being sent",
    "sent": "sent, no answer recorded yet", "acknowledged": "the platform acknowledged it",
    "removed": "the content was removed", "refused": "the platform refused it", "withdrawn": "withdrawn",
}


METHOD = (
    ("Hashes, not pictures",
     "Each protected picture or video was hashed on the person's own computer. A hash is a short "
     "fingerprint computed from the picture: it cannot be turned back into the picture. Only the hashes, "
     "the size and the format were kept. No protected picture was stored by this tool or sent anywhere, "
     "and none is in this report."),
    ("How copies were found",
     "Addresses were fetched, and what they served was hashed in memory and thrown away at once: nothing "
     "downloaded was saved. For each item the case keeps the address, the page it was on, the time, the "
     "server's answer (status and content type) and the SHA-256 of the exact bytes received. The SHA-256 "
     "identifies those bytes: anyone holding a copy can compute it and compare."),
    ("What a match means",
     "A match means the hashes of the item found are close to the hashes of a protected item: PDQ (Meta's "
     "perceptual hash, used by StopNCII; 31 or fewer of 256 bits different) and other perceptual hashes "
     "for resized or re-encoded copies, exact digests (SHA-256, MD5) for the same file, frame-by-frame PDQ "
     "for videos, and distinctive regions for crops, screenshots and pictures made from a photo. Each match "
     "lists the signals that agreed and by how much. A person then looked at each match and confirmed "
     "or rejected it; only confirmed matches went into notices. A case can be set to let its regular "
     "checks confirm new copies of a photo the person had already confirmed (the same file, or an exact or "
     "high-confidence copy); such matches say 'by the case's drafting rule'."),
    ("What a match does not prove",
     "A match is strong evidence that two pictures are the same or that one was made from the other; it is "
     "not proof of who made, posted or shared the item, of when it was first posted, or that the person "
     "consented or did not. Perceptual hashes can, rarely, call two different pictures close: that is why a "
     "person confirmed each match. Times are those of this computer's clock when the event was recorded."),
    ("Removal checks",
     "After a notice was sent, its addresses were fetched again. An address answering 404 or 410, a page "
     "that no longer shows the item, or an address now serving a different picture that no longer matches, "
     "counts as removed. A removal is recorded when it was seen, which may be later than when it happened."),
    ("The record",
     "Every step was written to the case's event log as it happened. Each event carries the SHA-256 of the "
     "event before it, so an event changed, removed or reordered afterwards no longer fits the chain; "
     "'stopncii case verify' recomputes it. A signature, when present, shows that this file is unchanged "
     "since it was signed with the key named in it."),
)


# -- the records a report is made of --------------------------------------------------------


@dataclass(frozen=True)
class Moment:
    """One time, in UTC and in the local time of the computer that wrote the report."""

    utc: str  # 2026-06-01 09:00:00 UTC
    local: str  # 2026-06-01 11:00:00 CEST (UTC+02:00)
    iso: str  # as stored: 2026-06-01T09:00:00+00:00

    def __str__(self) -> str:
        return f"{self.utc} ({self.local})"


@lru_cache(maxsize=4096)  # the same times recur: a sighting's event, its first sight, its match
def moment(stamp: str | datetime) -> Moment:
    at = clocks.parse_time(stamp, "time") if isinstance(stamp, str) else stamp
    local = at.astimezone()
    offset = local.strftime("%z")
    return Moment(at.strftime("%Y-%m-%d %H:%M:%S UTC"),
                  f"{local:%Y-%m-%d %H:%M:%S} {local.tzname() or ''} (UTC{offset[:3]}:{offset[3:]})".replace("  ", " "),
                  clocks.iso(at))


def _maybe(stamp: str | None) -> Moment | None:
    return moment(stamp) if stamp else None


@dataclass(frozen=True)
class Person:
    """Who the case is about (or who acts for them); with ``redact``: initials and no contacts."""

    name: str
    role: str
    contact: tuple[tuple[str, str], ...]  # (what, value): e-mail, phone, postal address, organisation
    redacted: bool


@dataclass(frozen=True)
class Counts:
    protected: int
    found: int  # sightings
    matched: int  # matches not rejected
    confirmed: int
    notices: int
    sent: int  # went out (sent, acknowledged, removed or refused)
    removed: int  # notices whose content was removed
    overdue: int  # out, not removed, past the deadline


@dataclass(frozen=True)
class Summary:
    case_id: str
    title: str | None  # None with redact: a title often holds a name
    jurisdiction: str | None
    status: str
    person: Person | None
    counts: Counts
    created: Moment
    closed: Moment | None
    first_found: Moment | None
    last_event: Moment | None
    generated: Moment
    tool_version: str
    redacted: bool
    labels_included: bool
    signing_key: str | None  # the fingerprint of the key the report is signed with


@dataclass(frozen=True)
class ChainStatus:
    """The event log's hash chain as recomputed while the report was written."""

    events: int
    head: str | None
    intact: bool
    problem: str | None
    verify_command: str

    @property
    def how_to_verify(self) -> str:
        return ("Each event carries the SHA-256 of the one before it. On the computer that holds the case, run "
                f"'{self.verify_command}': it recomputes every link, names the first event that does not fit, and "
                "checks that the log still holds the head above, so no event up to this report was changed or "
                "deleted since. Keep this head (keep the report, or write the head down): without it, deleting the "
                "newest events would leave a log that still fits.")


@dataclass(frozen=True)
class TimelineEntry:
    event: int
    when: Moment
    who: str
    what: str


@dataclass(frozen=True)
class MatchLine:
    match: int
    item: str  # "item 3", or its label when labels are included
    kind: str
    confidence: str
    how: tuple[str, ...]  # plain words, one line per signal that agreed
    status: str
    decided_by: str | None
    decided: Moment | None


@dataclass(frozen=True)
class CheckLine:
    check: int
    when: Moment
    outcome: str
    outcome_words: str
    http_status: int | None
    sha256: str | None
    detail: str


@dataclass(frozen=True)
class SightingEntry:
    number: int
    address: str
    page: str | None
    platform: str | None
    first_seen: Moment
    last_seen: Moment
    http_status: int | None
    content_type: str | None
    media: str
    sha256: str
    matches: tuple[MatchLine, ...]
    checks: tuple[CheckLine, ...]
    notices: tuple[int, ...]


@dataclass(frozen=True)
class AttemptLine:
    number: int
    channel: str
    started: Moment
    outcome: str
    detail: str


@dataclass(frozen=True)
class ReplyLine:
    when: Moment
    status: str
    note: str | None


@dataclass(frozen=True)
class NoticeEntry:
    number: int
    framework: str
    citation: str
    reason: str
    platform: str
    recipient: str | None
    channel: str | None
    language: str
    status: str
    status_words: str
    drafted: Moment
    sent: Moment | None
    sent_how: tuple[tuple[str, str], ...]  # message id, ticket, server reply ...
    deadline_hours: int | None
    due: Moment | None
    deadline: str  # met, not met, open, or none set, in words
    replies: tuple[ReplyLine, ...]
    attempts: tuple[AttemptLine, ...]
    sightings: tuple[int, ...]
    checks: tuple[tuple[int, CheckLine], ...]  # (sighting, check)
    next_step: str | None  # follow-up and escalation, when the notice needs one
    text_sha256: str | None  # of the exact bytes that went out (or were frozen to go)
    text_kind: str | None


@dataclass(frozen=True)
class WatchEntry:
    """A page the case re-checks on a schedule, and what its last run did."""

    number: int
    page: str
    every: str
    added: Moment
    last_run: Moment | None
    next_due: Moment
    pages_read: int
    pictures_found: int
    pictures_checked: int
    new_matches: int
    last_result: str  # in words


@dataclass(frozen=True)
class NoticeText:
    number: int
    kind: str
    sha256: str
    text: str


@dataclass(frozen=True)
class SignalWords:
    name: str
    description: str


@dataclass(frozen=True)
class ReportOptions:
    redact: bool = False
    include_labels: bool = False
    signing_key: str | None = None


@dataclass
class CaseReport:
    """A case's report. The long parts are read from the store each time they are iterated."""

    store: Store
    case: Case
    options: ReportOptions
    summary: Summary
    chain: ChainStatus
    signals: tuple[SignalWords, ...]
    directory: PlatformDirectory
    now: datetime
    _redactor: Redactor
    _actors: dict[str, str] = field(default_factory=dict)
    _items: dict[int, str] = field(default_factory=dict)
    _platforms: dict[str, str] = field(default_factory=dict)

    def actor(self, name: str) -> str:
        """The account that did something; numbered instead of named when redacted."""
        if not self.options.redact:
            return name
        return self._actors.setdefault(name, f"account {len(self._actors) + 1}")

    def item(self, item_id: int) -> str:
        if item_id not in self._items:
            label = None
            if self.options.include_labels:
                try:
                    label = self.store.protected_item(item_id).label
                except NotFound:
                    label = None
            self._items[item_id] = f"item {item_id}" + (f" ({label})" if label else "")
        return self._items[item_id]

    def method(self) -> tuple[tuple[str, str], ...]:
        """How the facts were found, what a match proves and what it does not, in plain words."""
        used = "; ".join(f"{s.name}: {s.description}" for s in self.signals) or "none yet"
        return (
            *METHOD,
            ("Signals kept for this case", used + "."),
            ("The tool", f"stopncii-tools {__version__}, an open-source program run by the person or their "
                         "helper on their own computer. This report was written from its case database."),
        )

    def timeline(self) -> Iterator[TimelineEntry]:
        for chunk in _chunks(self.store.iter_events(self.case.id)):
            found = self.store.matches_by_id([int(e.detail.get("match", 0)) for e in chunk
                                              if e.action == "match.found"])
            for event in chunk:
                yield TimelineEntry(event.id, moment(event.at), self.actor(event.actor),
                                    self._redactor(_words(self, event, found)))

    def sightings(self) -> Iterator[SightingEntry]:
        deciders = {int(e.detail.get("match", 0)): (e.actor, "rule" in e.detail)
                    for action in ("match.confirmed", "match.rejected")
                    for e in self.store.iter_events(self.case.id, action)}
        for chunk in _chunks(self.store.iter_sightings(self.case.id)):
            ids = [s.id for s in chunk]  # what belongs to a few hundred sightings is read in one query each
            matches, checks = self.store.matches_of_sightings(ids), self.store.removal_checks_of(ids)
            notices = self.store.notice_ids_of_sightings(ids)
            for sighting in chunk:
                yield self._sighting(sighting, deciders, matches.get(sighting.id, []), checks.get(sighting.id, []),
                                     notices.get(sighting.id, []))

    def notices(self) -> Iterator[NoticeEntry]:
        for chunk in _chunks(self.store.iter_notices(self.case.id)):
            ids = [n.id for n in chunk]
            sighting_of = {m.id: m.sighting_id
                           for m in self.store.matches_by_id([m for n in chunk for m in n.match_ids]).values()}
            checks = self.store.removal_checks_of(list(dict.fromkeys(sighting_of.values())))
            payloads, attempts = self.store.notice_payloads(ids), self.store.send_attempts_of(ids)
            for notice in chunk:
                sightings = tuple(dict.fromkeys(sighting_of[m] for m in notice.match_ids if m in sighting_of))
                yield self._notice(notice, payloads.get(notice.id), attempts.get(notice.id, []), sightings,
                                   tuple((s, _check(c)) for s in sightings for c in checks.get(s, [])))

    def watches(self) -> list[WatchEntry]:
        """The case's watched pages (a case has a handful: read at once)."""
        return [_watch_entry(w) for w in self.store.watches(self.case.id)]

    def notice_texts(self) -> Iterator[NoticeText]:
        """The exact text of each notice that was frozen to go out (redacted when asked)."""
        for chunk in _chunks(self.store.iter_notices(self.case.id)):
            payloads = self.store.notice_payloads([n.id for n in chunk])
            for notice in chunk:
                payload = payloads.get(notice.id)
                if payload is not None:
                    yield NoticeText(notice.id, payload.kind, _sha256(payload.body),
                                     self._redactor(readable(payload)))

    # -- one sighting, one notice -----------------------------------------------------------

    def _sighting(self, sighting: Sighting, deciders: dict[int, tuple[str, bool]], matches: list[MatchRecord],
                  checks: list[RemovalCheck], notices: list[int]) -> SightingEntry:
        platform = self._platform_name(sighting.platform) if sighting.platform else None
        return SightingEntry(
            number=sighting.id, address=self._address(sighting), page=sighting.page_url, platform=platform,
            first_seen=moment(sighting.first_seen_at), last_seen=moment(sighting.last_seen_at),
            http_status=sighting.http_status, content_type=sighting.content_type, media=_media(sighting),
            sha256=sighting.sha256,
            matches=tuple(self._match(m, deciders.get(m.id)) for m in matches),
            checks=tuple(_check(c) for c in checks), notices=tuple(notices),
        )

    def _address(self, sighting: Sighting) -> str:
        if sighting.final_url or sighting.url:
            return sighting.final_url or sighting.url or ""
        if sighting.kind == "hash":
            return f"an entry of a hash list: {sighting.source}"
        name = f" ({sighting.source})" if self.options.include_labels else ""
        return f"a file checked on this computer{name}"

    def _match(self, match: MatchRecord, decider: tuple[str, bool] | None) -> MatchLine:
        """``decider``: who decided, and whether the case's drafting rule did it for them."""
        by_rule = bool(decider and decider[1] and match.status == "confirmed")
        return MatchLine(
            match=match.id, item=self.item(match.item_id), kind=explain.summary(match.kind),
            confidence=match.confidence, how=tuple(explain.explain(match.kind, match.evidence)),
            status={"confirmed": "confirmed: it shows the person", "rejected": "rejected: it does not show the person",
                    "pending": "not yet confirmed"}.get(match.status, match.status),
            decided_by=(self.actor(decider[0]) + (" (by the case's drafting rule)" if by_rule else "")
                        if decider and match.status != "pending" else None),
            decided=_maybe(match.decided_at) if match.status != "pending" else None,
        )

    def _notice(self, notice: StoredNotice, payload: NoticePayload | None, attempts: list[SendAttempt],
                sightings: tuple[int, ...], checks: tuple[tuple[int, CheckLine], ...]) -> NoticeEntry:
        framework = get_framework(notice.framework)
        evidence = notice.evidence
        hours = evidence.get("deadline_hours", framework.deadline_hours if notice.sent_at else None)
        return NoticeEntry(
            number=notice.id, framework=framework.title, citation=framework.citation,
            reason=self._redactor(notice.framework_reason), platform=self._platform_name(notice.platform),
            recipient=notice.channel_address, channel=notice.channel_kind, language=notice.language,
            status=notice.status, status_words=_STATUSES.get(notice.status, notice.status),
            drafted=moment(notice.created_at), sent=_maybe(notice.sent_at), sent_how=_sent_how(evidence),
            deadline_hours=hours, due=_maybe(notice.due_at), deadline=self._deadline(notice, hours),
            replies=tuple(ReplyLine(moment(r["at"]), r["status"], self._redactor(r["note"]) if r.get("note") else None)
                          for r in evidence.get("replies", [])),
            attempts=tuple(AttemptLine(a.number, a.channel, moment(a.started_at), a.outcome, a.detail)
                           for a in attempts),
            sightings=sightings, checks=checks, next_step=self._next_step(notice, framework.escalation),
            text_sha256=_sha256(payload.body) if payload else None, text_kind=payload.kind if payload else None,
        )

    def _platform_name(self, platform: str) -> str:
        if platform not in self._platforms:
            try:
                self._platforms[platform] = self.directory.get(platform).name
            except NotFound:
                self._platforms[platform] = platform
        return self._platforms[platform]

    def _deadline(self, notice: StoredNotice, hours: int | None) -> str:
        if not notice.sent_at:
            return "not sent, so no deadline runs"
        if not notice.due_at:
            return "no deadline: the law gives none for this notice"
        due = clocks.parse_time(notice.due_at, "due date")
        removed = _removed_at(notice)
        limit = f"{hours} hours" if hours else "the time allowed"
        if removed is not None:
            after = _hours(removed - clocks.parse_time(notice.sent_at, "sent"))
            if removed <= due:
                return f"met: the removal was seen {after} after sending, within {limit}"
            return (f"not met: the removal was first seen {after} after sending, later than {limit} "
                    "(it may have gone earlier, between two checks)")
        if notice.status in OPEN_AFTER_SENDING and due < self.now:
            return f"not met: overdue by {_hours(self.now - due)} at the time of this report"
        if notice.status == "refused":
            return "the platform refused it"
        return f"open: {_hours(due - self.now)} left at the time of this report"

    def _next_step(self, notice: StoredNotice, escalation: str) -> str | None:
        overdue = (notice.status in OPEN_AFTER_SENDING and notice.due_at
                   and clocks.parse_time(notice.due_at, "due date") < self.now)
        if notice.status == "refused" or overdue:
            return (f"a reminder and the escalation packet can be drafted with 'stopncii notice follow-up "
                    f"{notice.id}'. Where to turn next: {escalation}")
        return None


# -- gathering ------------------------------------------------------------------------------


def build_report(
    store: Store, case_id: str | None, options: ReportOptions = ReportOptions(), *,
    directory: PlatformDirectory | None = None, clock: clocks.Clock = clocks.now,
) -> CaseReport:
    """The report of one case (the only open case when ``case_id`` is None)."""
    case = store.resolve_case(case_id)
    now = clock()
    requester = store.requester(case.id)
    redactor = Redactor.for_person(requester) if options.redact else Redactor(())
    person = None
    if requester is not None and (requester.name or requester.email):
        contact = tuple((what, value) for what, value in (
            ("e-mail", requester.email), ("phone", requester.phone), ("postal address", requester.postal_address),
            ("organisation", requester.organisation), ("acting for", requester.on_behalf_of)) if value)
        person = Person(initials(requester.name) if options.redact else requester.name, requester.role,
                        () if options.redact else contact, options.redact)
    check = store.verify_chain(case.id)
    problem = None if check.intact else (
        f"event {check.broken_at} ({check.broken_action}, {check.broken_time}) does not fit: {check.reason}")
    chain = ChainStatus(check.events, check.head, check.intact, problem,
                        f"stopncii case verify --case {case.id}" + (f" --head {check.head}" if check.head else ""))
    summary = Summary(
        case_id=case.id, title=None if options.redact else case.title,
        jurisdiction=f"{country_name(case.jurisdiction)} ({case.jurisdiction})" if case.jurisdiction else None,
        status=case.status, person=person, counts=_counts(store, case.id, now),
        created=moment(case.created_at), closed=_maybe(case.closed_at),
        first_found=_maybe(store.first_sighting_time(case.id)), last_event=_maybe(store.last_event_time(case.id)),
        generated=moment(now), tool_version=__version__, redacted=options.redact,
        labels_included=options.include_labels, signing_key=options.signing_key,
    )
    used = {s.signal for s in store.protected_signals(case.id)}
    signals = tuple(SignalWords(name, SIGNALS[name].description) for name in SIGNALS if name in used)
    return CaseReport(store, case, options, summary, chain, signals, directory or load_directory(), now, redactor)


def _counts(store: Store, case_id: str, now: datetime) -> Counts:
    basic = store.case_counts(case_id)
    notices = sent = removed = overdue = 0
    for notice in store.iter_notices(case_id):
        notices += 1
        sent += notice.sent_at is not None
        removed += notice.status == "removed"
        overdue += bool(notice.status in OPEN_AFTER_SENDING and notice.due_at
                        and clocks.parse_time(notice.due_at, "due date") < now)
    return Counts(basic["protected"], basic["sightings"], basic["matches"], basic["confirmed"], notices, sent,
                  removed, overdue)


# -- words ----------------------------------------------------------------------------------


def initials(name: str) -> str:
    """``Jane Doe`` -> ``J. D.``: enough to tell cases apart, not enough to name anyone."""
    return " ".join(f"{part[0].upper()}." for part in name.split() if part) or LEFT_OUT


class Redactor:
    """Replaces the person's name, its parts and their contact details by ``[left out]``."""

    def __init__(self, secrets: tuple[str, ...]) -> None:
        words = sorted({s.strip() for s in secrets if s and len(s.strip()) >= 2}, key=len, reverse=True)
        self._pattern = (re.compile("|".join(rf"(?<!\w){re.escape(w)}(?!\w)" for w in words), re.IGNORECASE)
                         if words else None)

    @classmethod
    def for_person(cls, requester: Any) -> Redactor:
        if requester is None:
            return cls(())
        whole = (requester.name, requester.email, requester.signature, requester.phone, requester.postal_address,
                 requester.on_behalf_of)
        parts = [p for text in (requester.name, requester.signature, requester.on_behalf_of) if text
                 for p in re.split(r"[\s/,]+", text)]
        lines = [line for line in (requester.postal_address or "").splitlines()]
        return cls(tuple(t for t in (*whole, *parts, *lines) if t))

    def __call__(self, text: str) -> str:
        return self._pattern.sub(LEFT_OUT, text) if self._pattern else text


def _words(report: CaseReport, event: Event, found: dict[int, MatchRecord]) -> str:
    """What ``event`` did, in plain words (``found``: the matches of the match.found events near it)."""
    d = event.detail
    notice = f"notice {d.get('notice')}"
    match d, event.action:
        case _, "case.created":
            return "The case was opened" + (f" (country: {country_name(d['jurisdiction'])})"
                                            if d.get("jurisdiction") else "") + "."
        case _, "case.updated":
            return f"The case's {', '.join(d.get('fields', []))} changed."
        case _, "case.closed":
            return "The case was closed."
        case _, "requester.updated":
            return "The details of the person sending the notices were saved" + (
                " (a representative acting for the person)." if d.get("role") == "representative" else ".")
        case _, "media.protected":
            return (f"{report.item(int(d.get('item', 0))).capitalize()} was protected: {d.get('signals')} hashes of "
                    f"the {d.get('kind', 'picture')} were stored; the {d.get('kind', 'picture')} itself was not.")
        case _, "sighting.recorded":
            where = d.get("url") or "a file checked on this computer, or a hash list entry"
            return f"Sighting {d.get('sighting')} was recorded: {where}."
        case _, "sighting.platform_set":
            return f"Sighting {d.get('sighting')} was assigned to {report._platform_name(str(d.get('platform')))}."
        case _, "sighting.checked":
            status = f" (HTTP {d['status']})" if d.get("status") else ""
            return (f"Removal check of sighting {d.get('sighting')}: "
                    f"{_OUTCOMES.get(str(d.get('outcome')), d.get('outcome'))}{status}.")
        case _, "match.found":
            match = found.get(int(d.get("match", 0)))
            what = explain.summary(str(d.get("kind")))
            return (f"Match {d.get('match')}: sighting {match.sighting_id} ({report.item(match.item_id)}): {what}."
                    if match else f"Match {d.get('match')}: {what}.")
        case _, "match.confirmed":
            if d.get("rule"):
                return f"Match {d.get('match')} was confirmed by the case's drafting rule: {d['rule']}."
            return f"Match {d.get('match')} was confirmed: it shows the person."
        case _, "match.rejected":
            return f"Match {d.get('match')} was rejected: it does not show the person."
        case _, "match.pending":
            return f"Match {d.get('match')} was set back to undecided."
        case _, "notice.drafted":
            return (f"Notice {d.get('notice')} to {report._platform_name(str(d.get('platform')))} was drafted "
                    f"({_framework_title(str(d.get('framework')))}).")
        case _, "notice.drafts_replaced":
            return f"{d.get('count')} unsent draft notices were replaced by new drafts."
        case _, "notice.queued":
            return f"The text of {notice} was frozen, ready to send."
        case _, "notice.sending":
            return f"Sending {notice} started."
        case _, "notice.sent":
            return f"{notice.capitalize()} was sent" + (" by hand." if d.get("by") == "hand" else ".")
        case _, "notice.send_failed":
            return f"Sending {notice} did not succeed this time; it is tried again later."
        case _, "notice.acknowledged":
            return f"The platform acknowledged {notice}."
        case _, "notice.removed":
            how = " (a removal check found it gone)" if d.get("by") == "check" else ""
            return f"The content {notice} asked about was removed{how}."
        case _, "notice.refused":
            return f"The platform refused {notice}."
        case _, "notice.withdrawn":
            return f"{notice.capitalize()} was withdrawn."
        case _, "notice.redrafted":
            return f"{notice.capitalize()} was drafted again."
        case _, "watch.added":
            return f"A regular check of {d.get('url')} was set up."
        case _, "watch.removed":
            return f"The regular check of {d.get('url')} was stopped."
        case _, "watch.ran":
            return f"The regular check {d.get('watch')} ran."
        case _, "batch.note":
            return f"Note from the batch list (line {d.get('line')}): {d.get('note')}"
    return f"{event.action}: " + ", ".join(f"{k} {v}" for k, v in d.items())


def _framework_title(framework_id: str) -> str:
    try:
        return get_framework(framework_id).title
    except Exception:  # a framework registered from outside and no longer present
        return framework_id


def _media(sighting: Sighting) -> str:
    parts = [p for p in (sighting.kind, sighting.format) if p]
    if sighting.width and sighting.height:
        parts.append(f"{sighting.width}x{sighting.height}")
    if sighting.size:
        parts.append(f"{sighting.size:,} bytes")
    return ", ".join(parts)


def _watch_entry(watch: Watch) -> WatchEntry:
    last = watch.last_summary
    hours = watch.every_seconds / 3600
    every = f"every {hours:g} hours" if hours >= 1 else f"every {watch.every_seconds // 60} minutes"
    if not watch.last_run_at:
        result = "not checked yet"
    elif last.get("nothing_checked"):
        result = "nothing could be checked on the page at the last run"
    else:
        result = (f"{last.get('pages_read', 0)} pages read, {last.get('found', 0)} pictures and videos found, "
                  f"{last.get('checked', 0)} new ones checked, {last.get('new_matches', 0)} new matches"
                  + (f", {last['drafted']} notices drafted" if last.get("drafted") else ""))
    return WatchEntry(watch.id, watch.url, every, moment(watch.created_at), _maybe(watch.last_run_at),
                      moment(watch.next_due_at), int(last.get("pages_read", 0)), int(last.get("found", 0)),
                      int(last.get("checked", 0)), int(last.get("new_matches", 0)), result)


def _check(check: RemovalCheck) -> CheckLine:
    return CheckLine(check.id, moment(check.checked_at), check.outcome, _OUTCOMES.get(check.outcome, check.outcome),
                     check.http_status, check.sha256, check.detail)


def _sent_how(evidence: dict[str, Any]) -> tuple[tuple[str, str], ...]:
    names = (("message_id", "message id"), ("response_id", "receipt number"), ("ticket", "ticket"),
             ("server_reply", "server reply"), ("form_url", "form"), ("channel", "sent by"))
    return tuple((label, str(evidence[key])) for key, label in names if evidence.get(key) not in (None, ""))


def _removed_at(notice: StoredNotice) -> datetime | None:
    removal = notice.evidence.get("removal", {}).get("seen_at")
    if not removal:
        removal = next((r["at"] for r in notice.evidence.get("replies", []) if r.get("status") == "removed"), None)
    return clocks.parse_time(removal, "removal") if removal else None


def _hours(span: Any) -> str:
    hours = span.total_seconds() / 3600
    return f"{hours:.0f} hours" if abs(hours) >= 1.5 else f"{span.total_seconds() / 60:.0f} minutes"


def _sha256(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def readable(payload: NoticePayload) -> str:
    """A frozen notice as a person reads it: an e-mail's main headers and its text, decoded."""
    if payload.kind != "email":
        return payload_text(payload)
    message = message_from_bytes(payload.body, policy=default_policy)
    assert isinstance(message, EmailMessage)
    lines = [f"{name}: {message[name]}" for name in ("From", "To", "Reply-To", "Subject", "Date", "Message-ID")
             if message[name]]
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    return "\n".join(lines) + "\n\n" + str(text).strip() + "\n"


# -- writing --------------------------------------------------------------------------------


def as_json(record: Any) -> Any:
    """A report record as JSON-ready data (times with their UTC, local and stored forms); like
    ``dataclasses.asdict`` without its deep copies, which took most of the JSON report's time."""
    if isinstance(record, tuple | list):
        return [as_json(value) for value in record]
    names = _field_names(record.__class__)
    if names:
        return {name: as_json(getattr(record, name)) for name in names}
    return record


@cache
def _field_names(kind: type) -> tuple[str, ...]:
    return tuple(f.name for f in fields(kind)) if is_dataclass(kind) else ()


def _chunks(records: Iterator[_Record], size: int = 500) -> Iterator[list[_Record]]:
    """``records`` a few hundred at a time: few queries, and memory bounded whatever the case's size."""
    while chunk := list(islice(records, size)):
        yield chunk


Writer = Callable[[CaseReport, Path], None]


def write_report(report: CaseReport, fmt: str, out: Path) -> Path:
    """Write ``report`` as ``fmt`` to ``out``, a file only this account can read (it holds personal data)."""
    if fmt not in FORMATS:
        raise StoreError(f"a report can be written as {', '.join(FORMATS)}; not {fmt!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    partial = out.with_name(out.name + ".part")
    try:
        fd = os.open(partial, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
        os.close(fd)
        _writers()[fmt](report, partial)
        partial.replace(out)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise StoreError(f"the report could not be written: {exc.strerror or exc}", str(out)) from None
    return out


def _writers() -> dict[str, Writer]:
    return {"html": _write_html, "pdf": _write_pdf, "json": write_json}


def _write_html(report: CaseReport, path: Path) -> None:
    from .report_html import write_html  # jinja2 is imported only when an HTML report is written

    write_html(report, path)


def _write_pdf(report: CaseReport, path: Path) -> None:
    from .report_pdf import write_pdf  # fpdf2 takes a second to import: only when a PDF is written

    write_pdf(report, path)


def write_json(report: CaseReport, path: Path) -> None:
    """One JSON document, written part by part as the records are read."""
    with path.open("w", encoding="utf-8") as out:
        head = {"format": "stopncii-case-report/1", "summary": as_json(report.summary),
                "event_chain": as_json(report.chain), "signals": [as_json(s) for s in report.signals],
                "watches": as_json(report.watches())}
        out.write(json.dumps(head, ensure_ascii=False, indent=1)[:-2])
        for name, records in (("sightings", report.sightings()), ("notices", report.notices()),
                              ("notice_texts", report.notice_texts()), ("timeline", report.timeline())):
            out.write(f',\n "{name}": [')
            for number, record in enumerate(records):
                out.write(("," if number else "") + "\n  " + json.dumps(as_json(record), ensure_ascii=False))
            out.write("\n ]")
        out.write("\n}\n")
