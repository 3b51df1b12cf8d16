"""The words of a follow-up: the reminder to the platform and the escalation packet.

The tracker gathers the facts (:class:`FollowUpFacts`: what was sent, when, what the checks
found, what the platform answered); :func:`render_follow_up` puts them into words with the
templates of the notice's language (``templates/<language>/follow_up.j2``) and the
framework's own (``frameworks/<id>.j2``: ``law`` and ``route``, where the language needs them).
Pure: nothing here reads the case database or the network.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from ._templates import macros
from .frameworks import get_framework
from .model import Requester


@dataclass(frozen=True)
class ItemState:
    """One address the notice asked about, and what the last removal check found there."""

    url: str
    found_at: str  # "YYYY-MM-DD HH:MM" UTC
    outcome: str | None = None  # None: not checked since it was found
    detail: str | None = None  # the check's own words (English), kept with the record
    http_status: int | None = None
    checked_at: str | None = None  # "YYYY-MM-DD HH:MM" UTC


@dataclass(frozen=True)
class Reply:
    """An answer from the platform, as the person recorded it."""

    at: str
    status: str
    note: str | None = None


@dataclass(frozen=True)
class FollowUpFacts:
    """Everything a follow-up says, as facts; the words come from the templates."""

    framework: str
    language: str
    platform: str
    notice_key: str
    sent_at: str  # ISO 8601, as recorded
    sent_how: tuple[str, str]  # ("message_id" | "response_id" | "ticket" | "channel", value)
    deadline_hours: int | None
    due_at: datetime | None
    now: datetime
    items: tuple[ItemState, ...]
    replies: tuple[Reply, ...]
    requester: Requester | None

    @property
    def overdue(self) -> bool:
        return self.due_at is not None and self.due_at < self.now


@dataclass(frozen=True)
class FollowUpWords:
    """A follow-up in the notice's language: the reminder for the platform and the packet."""

    subject: str
    reminder: str
    route: str | None  # the formal next step the law gives, if any
    packet_heading: str  # the route, or what the packet is for when the law gives none
    packet: tuple[tuple[str, str], ...]


@dataclass(frozen=True)
class _FollowUpView:
    """What ``follow_up.j2`` may use, already formatted."""

    framework: str
    law_title: str
    law_citation: str
    route: str | None
    deadline_by_law: bool  # the framework itself fixes the deadline (TAKE IT DOWN, eSafety)
    platform: str
    ref: str
    sent_day: str
    sent_at: str
    sent_how: tuple[str, str]
    deadline_hours: int | None
    due: str | None
    overdue: bool
    hours_late: int | None  # whole hours since the deadline, when it has passed
    items: tuple[ItemState, ...]
    still_online: bool
    replies: tuple[Reply, ...]
    email: str | None
    signer: str


def render_follow_up(facts: FollowUpFacts) -> FollowUpWords:
    """The reminder and escalation packet for ``facts``, in ``facts.language``."""
    framework = get_framework(facts.framework)
    requester = facts.requester
    late = (facts.now - facts.due_at).total_seconds() / 3600 if facts.due_at else None
    view = _FollowUpView(
        framework=framework.id,
        law_title=framework.title,
        law_citation=framework.citation,
        route=framework.escalation_route,
        deadline_by_law=framework.deadline_hours is not None,
        platform=facts.platform,
        ref=facts.notice_key[:12],
        sent_day=facts.sent_at[:10],
        sent_at=facts.sent_at,
        sent_how=facts.sent_how,
        deadline_hours=facts.deadline_hours,
        due=facts.due_at.strftime("%Y-%m-%d %H:%M UTC") if facts.due_at else None,
        overdue=facts.overdue,
        hours_late=round(late) if late is not None and late > 0 else None,
        items=facts.items,
        still_online=any(i.outcome == "present" for i in facts.items),
        replies=facts.replies,
        email=requester.email if requester and requester.email else None,
        signer=(requester.signature or requester.name) if requester else "",
    )
    words = macros(facts.language, "follow_up.j2", view)
    route = str(words.route()).strip() or None
    packet = tuple(
        (str(label).strip(), str(value).strip())
        for label, value in (
            (words.label("platform"), view.platform),
            (words.label("request"), words.request()),
            (words.label("law"), words.law_line()),
            *([(words.label("deadline"), words.deadline_line())] if view.due else []),
            (words.label("items"), words.item_lines()),
            (words.label("answer"), words.answers()),
            *([(words.label("contact"), f"{requester.name} <{requester.email}>")] if requester else []),
        )
    )
    return FollowUpWords(
        subject=str(words.subject()).strip(),
        reminder=str(words.reminder()).strip(),
        route=route,
        packet_heading=route or str(words.no_route()).strip(),
        packet=packet,
    )
