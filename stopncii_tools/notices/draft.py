"""Choosing the legal framework, drafting notices for a platform, and refusing incomplete ones."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from .. import clock as clocks
from .._errors import MissingFields, NoticeError
from .platforms import DOMAIN_PLACEHOLDER, OTHER_ID, Platform, ReportingChannel
from ._base import Framework
from ._templates import available_languages
from .dsa_art16 import EU_MEMBERS
from .frameworks import get_framework
from .model import DEFAULT_ASKS, FrameworkChoice, Notice, NoticeItem, Requester

_ALIASES = {"UK": "GB", "EL": "GR"}  # common names that are not the ISO 3166 code

_COUNTRY_NAMES = {
    "US": "the US", "GB": "the UK", "AU": "Australia", "AT": "Austria", "BE": "Belgium",
    "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
    "EE": "Estonia", "ES": "Spain", "FI": "Finland", "FR": "France", "GR": "Greece",
    "HR": "Croatia", "HU": "Hungary", "IE": "Ireland", "IT": "Italy", "LT": "Lithuania",
    "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta", "NL": "the Netherlands", "PL": "Poland",
    "PT": "Portugal", "RO": "Romania", "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
}  # fmt: skip

# Russian is offered by default only where the platform works in Russian and so does the person.
_RUSSIAN_PLATFORMS = frozenset({"telegram", "vk"})
_RUSSIAN_SPEAKING = frozenset({"RU", "BY", "KZ", "KG"})


def normalise_jurisdiction(code: str) -> str:
    """The two-letter ISO 3166 country code for ``code`` (``UK`` is read as ``GB``)."""
    text = code.strip().upper()
    text = _ALIASES.get(text, text)
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise NoticeError(
            f"{code!r} is not a country code; use the two letters of the country, like US, DE, GB or AU"
        )
    return text


def choose_framework(jurisdiction: str, platform: Platform, override: str | None = None) -> FrameworkChoice:
    """The framework for a person in ``jurisdiction`` reporting to ``platform``, with the reason.

    US -> TAKE IT DOWN Act; an EU member -> DSA Article 16; GB -> UK Online Safety Act;
    AU -> eSafety; anywhere else -> the platform's own rules. The DMCA is only used when the
    person asks for it (``override="dmca"``), and its reason carries the warnings.
    """
    where = normalise_jurisdiction(jurisdiction)
    name = "the website" if platform.id == OTHER_ID else platform.name
    if override is not None:
        return _chosen(get_framework(override), where, name)
    if where in get_framework("take_it_down").jurisdictions:
        return FrameworkChoice(
            "take_it_down",
            f"You are in the US and {name} is an online service used in the US, so the TAKE IT "
            f"DOWN Act applies: {name} must remove the images within 48 hours of a valid request.",
        )
    if where in EU_MEMBERS:
        return FrameworkChoice(
            "dsa_art16",
            f"You are in {country_name(where)}, in the EU, and {name} offers its service in the "
            f"EU, so the Digital Services Act applies: an Article 16 notice obliges {name} to act "
            "on it promptly and to tell you its decision and how to challenge it.",
        )
    if where == "GB":
        return FrameworkChoice(
            "uk_osa",
            "You are in the UK, so the Online Safety Act 2023 applies: sharing intimate images "
            f"without consent is a priority offence, and {name} must take such content down "
            "swiftly once told about it.",
        )
    if where == "AU":
        return FrameworkChoice(
            "au_esafety",
            f"You are in Australia, so you can report to the eSafety Commissioner, who can order "
            f"{name} to remove the images within 24 hours. You may report to {name} first, but "
            "you do not have to.",
        )
    return FrameworkChoice(
        "platform_policy",
        f"This tool has no takedown law for {country_name(where)} yet, so the request relies on "
        f"{name}'s own rules against sharing intimate images without consent, which apply in "
        "every country.",
    )


def country_name(code: str) -> str:
    """A readable name for the countries this module names in sentences; else the code."""
    return _COUNTRY_NAMES.get(code, code)


def default_language(platform: Platform, jurisdiction: str) -> str:
    """English, or Russian for Telegram and VK when the person is in a Russian-speaking country."""
    if platform.id in _RUSSIAN_PLATFORMS and normalise_jurisdiction(jurisdiction) in _RUSSIAN_SPEAKING:
        return "ru"
    return "en"


def draft_notices(
    case_ref: str,
    jurisdiction: str,
    requester: Requester,
    items: Iterable[NoticeItem],
    platform: Platform,
    framework: str | None = None,
    language: str | None = None,
    *,
    created_at: datetime | None = None,
    attach_hashes: bool | None = None,
    confirmed: Iterable[str] = (),
    context: str | None = None,
    original_work: str | None = None,
    asks: tuple[str, ...] = DEFAULT_ASKS,
) -> list[Notice]:
    """Notices asking ``platform`` to remove ``items``: one per item when the platform wants
    one report per item, else one for all. Items with the same URL are sent once.

    ``attach_hashes=None`` attaches hashes when any item has one. The notices are drafts: call
    :func:`validate` to learn what is still missing (for example statements not yet confirmed);
    every renderer refuses a notice that is not complete.
    """
    where = normalise_jurisdiction(jurisdiction)
    choice = choose_framework(where, platform, framework)
    lang = language or default_language(platform, where)
    if lang not in available_languages():
        raise NoticeError(
            f"notices can be written in {', '.join(available_languages())}; not in {lang!r}"
        )
    unique = _unique_by_url(items)
    if not unique:
        raise NoticeError(f"there is nothing to report to {platform.name}: no web addresses were given")
    hashes = attach_hashes if attach_hashes is not None else any(i.sha256 or i.pdq for i in unique)
    batches = _by_address(_channel_for(platform, get_framework(choice.id)), unique)
    if platform.one_report_per_item:
        batches = [(channel, (item,)) for channel, group in batches for item in group]
    return [
        Notice(
            case_ref=case_ref,
            jurisdiction=where,
            platform=platform,
            channel=channel,
            framework=choice.id,
            language=lang,
            requester=requester,
            items=group,
            created_at=created_at or clocks.now(),
            asks=asks,
            attach_hashes=hashes,
            confirmed=frozenset(confirmed),
            context=context,
            original_work=original_work,
        )
        for channel, group in batches
    ]


def validate(notice: Notice) -> None:
    """Raise :class:`MissingFields` listing every missing or invalid element of ``notice``."""
    framework = get_framework(notice.framework)
    problems = framework.validate(notice)
    if problems:
        raise MissingFields(framework.short_name, problems, item=f"notice to {notice.platform.name}")


def _chosen(fw: Framework, where: str, platform_name: str) -> FrameworkChoice:
    reason = f"You chose the {fw.title}."
    if not fw.applies_in(where):
        reason += (
            f" It protects people in {fw.region}, and you are in {country_name(where)}, so "
            f"{platform_name} may not accept it."
        )
    if fw.id == "dmca":  # never chosen for the person: they must read what it costs them
        reason += " " + " ".join(fw.warnings)
    return FrameworkChoice(fw.id, reason)


def _channel_for(platform: Platform, framework: Framework) -> ReportingChannel | None:
    channel = platform.preferred_channel(framework.id)
    if channel is not None or framework.reports_to_authority:
        return channel
    # Any platform takes reports under its own rules, so its rules channel is the fallback.
    channel = platform.preferred_channel("platform_policy")
    return channel if channel is not None or not platform.channels else platform.channels[0]


def _by_address(
    channel: ReportingChannel | None, items: tuple[NoticeItem, ...]
) -> list[tuple[ReportingChannel | None, tuple[NoticeItem, ...]]]:
    """Items grouped by the address they go to: ``abuse@{domain}`` differs per website."""
    if channel is None or DOMAIN_PLACEHOLDER not in channel.address:
        return [(channel, items)]
    groups: dict[str, list[NoticeItem]] = {}
    for item in items:
        groups.setdefault(channel.address_for(item.url), []).append(item)
    return [(replace(channel, address=address), tuple(group)) for address, group in groups.items()]


def _unique_by_url(items: Iterable[NoticeItem]) -> tuple[NoticeItem, ...]:
    seen: set[str] = set()
    unique = []
    for item in items:
        if item.url not in seen:
            seen.add(item.url)
            unique.append(item)
    return tuple(unique)
