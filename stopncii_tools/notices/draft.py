"""Choosing the legal framework, drafting notices for a platform, and refusing incomplete ones."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from datetime import datetime

from .. import clock as clocks
from .._errors import InvalidURL, MissingFields, NoticeError
from ..countries import country_name, normalise_jurisdiction
from ._base import Framework, Situation, is_email_address
from ._templates import available_languages
from .frameworks import applicable_framework, fallback_framework, get_framework
from .model import DEFAULT_ASKS, FrameworkChoice, Notice, NoticeItem, Requester
from .platforms import DOMAIN_PLACEHOLDER, OTHER_ID, Platform, ReportingChannel

__all__ = [
    "choose_framework",
    "country_name",
    "default_language",
    "draft_notices",
    "is_email_address",
    "notice_languages",
    "recipient_channel",
    "without_site_name",
    "normalise_jurisdiction",
    "validate",
]

# Russian is offered by default only where the platform works in Russian and so does the person.
_RUSSIAN_SPEAKING = frozenset({"RU", "BY", "KZ", "KG"})


def choose_framework(jurisdiction: str, platform: Platform, override: str | None = None) -> FrameworkChoice:
    """The framework for a person in ``jurisdiction`` reporting to ``platform``, with the reason.

    Each registered framework says whether it applies (US -> TAKE IT DOWN Act, an EU member ->
    DSA Article 16, GB -> UK Online Safety Act, AU -> eSafety); when none does, the platform's
    own rules. The DMCA is only used when the person asks for it (``override="dmca"``), and its
    reason carries the warnings.
    """
    where = normalise_jurisdiction(jurisdiction)
    name = "the website" if platform.id == OTHER_ID else platform.name
    situation = Situation(where, platform, name)
    if override is not None:
        chosen = get_framework(override)
        return FrameworkChoice(chosen.id, chosen.reason_when_chosen(situation))
    framework = applicable_framework(situation)
    return FrameworkChoice(framework.id, framework.reason(situation))


def default_language(platform: Platform, jurisdiction: str) -> str:
    """English, or Russian when the platform works in Russian (Telegram, VK) and the person is in
    a Russian-speaking country."""
    if "ru" in platform.languages and normalise_jurisdiction(jurisdiction) in _RUSSIAN_SPEAKING:
        return "ru"
    return "en"


def notice_languages(platform: Platform, jurisdiction: str, framework: str) -> tuple[str, ...]:
    """The languages to draft in when the person names none: every language the platform reads
    that the law has words in (the person's default first, so it is read first), else the default."""
    default = default_language(platform, jurisdiction)
    spoken = [lang for lang in platform.languages
              if lang in available_languages() and lang in get_framework(framework).languages()]
    if len(spoken) < 2:
        return (default,)
    return tuple(sorted(spoken, key=lambda lang: lang != default))


def recipient_channel(address: str, framework: str) -> ReportingChannel:
    """An e-mail channel to an address the person gave (a hosting provider's abuse desk), for
    web addresses that have no site name to write to."""
    if not is_email_address(address):
        raise NoticeError(f"{address.strip()!r} is not an e-mail address (like abuse@hosting.example)")
    return ReportingChannel(kind="email", address=address.strip(), frameworks=(framework,), languages=(),
                            source=None, verified_on=None, note="the address you gave")


def without_site_name(platform: Platform, framework: str, items: Iterable[NoticeItem]) -> list[NoticeItem]:
    """The items whose report would go to ``abuse@<site name>`` but whose address has no site
    name (an IP number, a name on no public suffix): someone must say where they go."""
    channel = _channel_for(platform, get_framework(framework))
    if channel is None or DOMAIN_PLACEHOLDER not in channel.address:
        return []
    missing = []
    for item in items:
        try:
            channel.address_for(item.url)
        except InvalidURL:
            missing.append(item)
    return missing


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
    to: str | None = None,
) -> list[Notice]:
    """Notices asking ``platform`` to remove ``items``: one per item when the platform wants
    one report per item, else one for all. Items with the same URL are sent once.

    ``attach_hashes=None`` attaches hashes when any item has one. The notices are drafts: call
    :func:`validate` to learn what is still missing (for example statements not yet confirmed);
    every renderer refuses a notice that is not complete. ``to`` sends them all by e-mail to
    that address instead of the platform's channel (see :func:`recipient_channel`).
    """
    where = normalise_jurisdiction(jurisdiction)
    choice = choose_framework(where, platform, framework)
    lang = language or default_language(platform, where)
    if lang not in available_languages():
        raise NoticeError(
            f"notices can be written in {', '.join(available_languages())}; not in {lang!r}"
        )
    chosen = get_framework(choice.id)
    if lang not in chosen.languages():
        raise NoticeError(
            f"{chosen.short_name}: notices can be written in {', '.join(chosen.languages())}; not in {lang!r}"
        )
    unique = _unique_by_url(items)
    if not unique:
        raise NoticeError(f"there is nothing to report to {platform.name}: no web addresses were given")
    hashes = attach_hashes if attach_hashes is not None else any(i.sha256 or i.pdq for i in unique)
    channel = recipient_channel(to, choice.id) if to else _channel_for(platform, chosen)
    batches = _by_address(channel, unique)
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


def _channel_for(platform: Platform, framework: Framework) -> ReportingChannel | None:
    channel = platform.preferred_channel(framework.id)
    if channel is not None or framework.reports_to_authority:
        return channel
    # Any platform takes reports under its own rules, so its rules channel is the fallback.
    channel = platform.preferred_channel(fallback_framework().id)
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
