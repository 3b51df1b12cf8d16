"""The one interface every legal framework implements, and the checks they all share.

A framework is data (who it protects, when it applies, what a valid request must contain, how
long the platform has, where to turn next, where its templates are) plus
:meth:`Framework.validate`, which names every missing or invalid element in words the person
can act on. The drafter and the tracker ask the framework; none of them branches on its name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.resources import files
from importlib.resources.abc import Traversable
from typing import TYPE_CHECKING, ClassVar

from ..countries import country_name
from ..web.urls import is_web_address

if TYPE_CHECKING:
    from .model import Notice
    from .platforms import Platform


@dataclass(frozen=True)
class Statement:
    """A sentence the person must confirm as true before the notice can go out.

    ``name`` is how we refer to it when it has not been confirmed yet; its wording in each
    language lives in the templates (``statement`` macro in ``common.j2``).
    """

    id: str
    name: str


@dataclass(frozen=True)
class Situation:
    """What decides which framework applies: where the person is and which platform it is."""

    jurisdiction: str  # ISO 3166 code of the person's country
    platform: Platform
    platform_name: str  # for sentences: the platform's name, or "the website" for an unknown site

    @property
    def country(self) -> str:
        return country_name(self.jurisdiction)


# How each requester or notice field is named when it is missing.
FIELD_NAMES: dict[str, str] = {
    "name": "your name",
    "email": "your e-mail address",
    "signature": "your signature (your name typed between slashes, like /Jane Doe/)",
    "postal_address": "your postal address",
    "phone": "your telephone number",
    "on_behalf_of": "the name of the person you act for (or the words 'the person I represent')",
    "authorisation": "one sentence saying that the person you act for has authorised you",
    "original_work": "a short description of the original photo or video you took (the copyrighted work)",
    "items": "the web address (URL) of at least one picture or video",
    "channel": "an address or form to send it to (the platform directory has none for this platform)",
    "removal": "the request to remove the content",
}

_SINGLE_LINE = ("name", "email", "signature", "phone", "organisation", "on_behalf_of")
_EMAIL = re.compile(r"[^@\s<>\"',;]+@[^@\s<>\"',;]+\.[^@\s<>\"',;.]+")


def is_email_address(text: str) -> bool:
    """One rule for e-mail addresses: one '@', no spaces, a dot in the domain, no empty label."""
    text = text.strip()
    return bool(_EMAIL.fullmatch(text)) and "" not in text.rpartition("@")[2].split(".")


_BREAKS = re.compile(r"[\r\n\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class Framework:
    """A legal basis for a takedown request.

    Subclasses set the class attributes and say in :meth:`reason` why the framework applies.
    Its words for platforms live in ``<templates>/<language>/frameworks/<id>.j2``: the notice
    macros (``subject``, ``reason``, ``opening``, ``kind_term``, ``basis``, ``deadline``) and,
    where the language is not English, the follow-up macros ``law`` and ``route``.
    """

    id: ClassVar[str]
    title: ClassVar[str]  # full name, for people
    short_name: ClassVar[str]  # used in messages: "<short_name> needs: ..."
    citation: ClassVar[str]  # the provision the notice relies on
    jurisdictions: ClassVar[frozenset[str]]  # ISO 3166 codes where it applies; empty = anywhere
    region: ClassVar[str]  # those places in words: "the US", "the EU", "any country"
    requester_fields: ClassVar[tuple[str, ...]]  # Requester attributes that must be filled
    notice_fields: ClassVar[tuple[str, ...]] = ()  # Notice attributes that must be filled
    statements: ClassVar[tuple[Statement, ...]]
    deadline_hours: ClassVar[int | None] = None  # fixed by law; None = platform's default
    reports_to_authority: ClassVar[bool] = False  # True: the packet goes to a regulator's form
    document: ClassVar[str] = "notice"  # what the law calls the request: "notice" or "report"
    escalation: ClassVar[str]  # what to do when the platform does not act (for the person)
    escalation_route: ClassVar[str | None] = None  # the formal next step, with its address
    warnings: ClassVar[tuple[str, ...]] = ()  # read before sending (for the person)
    sources: ClassVar[tuple[str, ...]]
    fallback: ClassVar[bool] = False  # True: chosen only when no other framework applies
    templates: ClassVar[Traversable] = files("stopncii_tools.notices") / "templates"

    def applies_in(self, jurisdiction: str) -> bool:
        return not self.jurisdictions or jurisdiction in self.jurisdictions

    def applies(self, situation: Situation) -> bool:
        """True when this framework is the one to use without the person asking for it."""
        return situation.jurisdiction in self.jurisdictions

    def reason(self, situation: Situation) -> str:
        """Why this framework applies to ``situation``, in words the person can follow."""
        raise NotImplementedError(f"{type(self).__name__} does not say why it applies")

    def reason_when_chosen(self, situation: Situation) -> str:
        """What the person should know when they chose this framework themselves."""
        reason = f"You chose the {self.title}."
        if not self.applies_in(situation.jurisdiction):
            reason += (
                f" It protects people in {self.region}, and you are in {situation.country}, so "
                f"{situation.platform_name} may not accept it."
            )
        return reason

    def template(self, language: str) -> Traversable:
        """The file holding this framework's words in ``language`` (it may not exist)."""
        return self.templates / language / "frameworks" / f"{self.id}.j2"

    def languages(self) -> tuple[str, ...]:
        """The languages this framework has words in."""
        return tuple(
            sorted(
                p.name
                for p in self.templates.iterdir()
                if p.is_dir() and not p.name.startswith("_") and self.template(p.name).is_file()
            )
        )

    def validate(self, notice: Notice) -> list[str]:
        """Every missing or invalid element of ``notice``, named for the person; [] when ready."""
        problems: list[str] = []
        requester = notice.requester
        needed = list(self.requester_fields)
        if requester.is_representative:
            needed += [f for f in ("name", "on_behalf_of", "authorisation") if f not in needed]
        for name in needed:
            if not _filled(getattr(requester, name)):
                problems.append(FIELD_NAMES[name])
        for name in _SINGLE_LINE:
            value = getattr(requester, name)
            if value and _BREAKS.search(value):
                problems.append(f"{_field_label(name)} on one line (it contains a line break)")
        if _filled(requester.email) and not is_email_address(requester.email):
            problems.append(f"a valid e-mail address ({requester.email.strip()!r} is not one)")
        for name in self.notice_fields:
            if not _filled(getattr(notice, name)):
                problems.append(FIELD_NAMES[name])
        problems += _item_problems(notice)
        if "removal" not in notice.asks:
            problems.append(FIELD_NAMES["removal"])
        if notice.channel is None:
            problems.append(FIELD_NAMES["channel"])
        for statement in self.statements:
            if statement.id not in notice.confirmed:
                problems.append(f"your confirmation of {statement.name}")
        return problems


def _item_problems(notice: Notice) -> list[str]:
    if not notice.items:
        return [FIELD_NAMES["items"]]
    problems = []
    for item in notice.items:
        for address in (item.url, item.page_url):
            if address is not None and not is_web_address(address):
                problems.append(
                    f"a full web address starting with https:// or http:// (not {address[:80]!r})"
                )
    return problems


def _filled(value: object) -> bool:
    return value is not None and (not isinstance(value, str) or bool(value.strip()))


def _field_label(name: str) -> str:
    return FIELD_NAMES.get(name, "your organisation's name").split(" (")[0]
