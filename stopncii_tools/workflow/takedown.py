"""Turn a case's confirmed matches into takedown notices, and read them back for rendering.

Only matches the person confirmed are used, and only those seen at a web address. Items are
built from sightings (addresses, dates, hashes of what was found online), never from the
protected pictures, so no label, file name or path can reach a notice.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime

from .._errors import InvalidURL, NoticeError, StopNCIIError
from ..countries import normalise_jurisdiction
from ..notices import (
    Notice,
    NoticeItem,
    Requester,
    choose_framework,
    draft_notices,
    render_statements,
    validate,
)
from ..notices.draft import is_email_address, notice_languages, recipient_channel, without_site_name
from ..notices.platforms import Platform, PlatformDirectory, ReportingChannel
from ..store import Case, MatchRecord, NewNotice, Sighting, Store, StoredNotice, StoredRequester
from ..store.notice_states import COMMITTED


@dataclass
class DraftPlan:
    """What ``notice draft`` will do, before anything is stored."""

    notices: list[tuple[Notice, str, list[int]]] = field(default_factory=list)  # notice, reason, match ids
    not_on_web: int = 0
    already_requested: int = 0
    problems: list[str] = field(default_factory=list)  # a platform that gets no notice, and why
    waiting: list[str] = field(default_factory=list)  # addresses that wait for a recipient, and why


def notice_items(store: Store, matches: Iterable[MatchRecord]) -> dict[str, list[tuple[NoticeItem, int]]]:
    """Notice items grouped by the platform of each sighting; local files are left out."""
    grouped: dict[str, list[tuple[NoticeItem, int]]] = defaultdict(list)
    for match in matches:
        sighting = store.sighting(match.sighting_id)
        url = sighting.final_url or sighting.url
        if not url:
            continue
        pdq = next((str(s.value) for s in store.sighting_signals(sighting.id) if s.signal == "pdq"), None)
        item = NoticeItem(
            url=url, page_url=sighting.page_url, seen_at=datetime.fromisoformat(sighting.first_seen_at),
            match_kind=match.kind, sha256=sighting.sha256 or None, pdq=pdq,
        )
        grouped[sighting.platform or ""].append((item, match.id))
    return grouped


def plan_notices(
    store: Store, case: Case, directory: PlatformDirectory, requester: Requester, *,
    platform: str | None = None, framework: str | None = None, language: str | None = None,
    context: str | None = None, original_work: str | None = None, attach_hashes: bool | None = None,
    to: str | None = None,
) -> DraftPlan:
    """Draft (in memory) one notice per platform and language, or per item where the platform
    asks for that. Without ``language``, a platform that reads several (Telegram and VK: Russian
    and English) gets one notice in each, side by side; the person sends either or both.

    Addresses without a site name (an IP number) cannot go to ``abuse@<site>``: with ``to`` they
    go to that e-mail address (the hosting provider's abuse desk); without it they wait, with
    the reason in ``plan.waiting``, and never hold back the other notices.
    """
    if not case.jurisdiction:
        raise NoticeError("the case has no country set; it decides which law applies "
                          "(set it with 'stopncii case edit --jurisdiction US', using the person's country code)",
                          item=f"case {case.id}")
    if to is not None and not is_email_address(to):
        raise NoticeError(f"{to.strip()!r} is not an e-mail address (like abuse@hosting.example)", item="--to")
    confirmed_matches = store.matches(case.id, "confirmed")
    if not confirmed_matches:
        raise NoticeError("there are no confirmed matches yet: check them with 'stopncii matches' and "
                          "confirm the ones that are you with 'stopncii matches confirm ID'", item=f"case {case.id}")
    taken = store.matches_in_notices(case.id, COMMITTED)
    plan = DraftPlan(already_requested=sum(1 for m in confirmed_matches if m.id in taken))
    wanted = directory.get(platform) if platform else None
    fresh = [m for m in confirmed_matches if m.id not in taken]
    grouped = notice_items(store, fresh)
    plan.not_on_web = len(fresh) - sum(len(v) for v in grouped.values())
    by_platform: dict[str, tuple[Platform, list[tuple[NoticeItem, int]]]] = {}
    for platform_id, entries in grouped.items():
        for item, match_id in entries:
            target = directory.get(platform_id) if platform_id else directory.detect(item.url)
            if wanted is not None and target.id != wanted.id:
                continue
            by_platform.setdefault(target.id, (target, []))[1].append((item, match_id))
    for target, entries in by_platform.values():
        matches_of: dict[str, list[int]] = defaultdict(list)
        for item, match_id in entries:
            matches_of[item.url].append(match_id)
        try:
            choice = choose_framework(case.jurisdiction, target, framework)
            items = [item for item, _ in entries]
            unnamed = without_site_name(target, choice.id, items)
            named = [item for item in items if item not in unnamed]
            if unnamed and to is None:
                plan.waiting += [f"{item.url}: this address has no site name (an IP number or a private name), "
                                 "so there is no site to write to; give the hosting provider's abuse address with "
                                 "'stopncii notice draft --to ADDRESS'" for item in unnamed]
            drafts: list[Notice] = []
            for lang in (language,) if language else notice_languages(target, case.jurisdiction, choice.id):
                for group, recipient in ((named, None), (unnamed if to else [], to)):
                    if group:
                        drafts += draft_notices(case.id, case.jurisdiction, requester, group, target, choice.id,
                                                lang, to=recipient, context=context, original_work=original_work,
                                                attach_hashes=attach_hashes)
        except StopNCIIError as exc:  # one platform's problem spares the rest
            plan.problems.append(f"no notice to {target.name}: {exc}")
            continue
        for notice in drafts:
            ids = sorted(m for item in notice.items for m in matches_of[item.url])
            plan.notices.append((notice, choice.reason, ids))
    return plan


def platform_of(sighting: Sighting, directory: PlatformDirectory) -> str:
    """The platform a sighting is on: as recorded, else told from its address."""
    return sighting.platform or directory.detect(sighting.location).id


def draft_for_matches(
    store: Store, case: Case, directory: PlatformDirectory, requester: Requester, match_ids: Iterable[int], *,
    framework_of: Callable[[str], str | None] = lambda platform: None,
) -> tuple[list[int], list[str]]:
    """Draft and store the notices for the platforms of these confirmed matches, with the
    statements each law needs confirmed (the caller has the person's word for them). A plan
    whose notices are all stored already is not stored again. Returns the new notices' ids and
    one line per platform that could not be drafted."""
    drafted: list[int] = []
    problems: list[str] = []
    platforms = {platform_of(store.sighting(store.match(m).sighting_id), directory) for m in match_ids}
    for platform in sorted(platforms):
        try:
            plan = plan_notices(store, case, directory, requester, platform=platform, framework=framework_of(platform))
            plan.notices = [(n.with_confirmed(sid for sid, _ in render_statements(n)), why, ids)
                            for n, why, ids in plan.notices]
            if not plan.notices or all(store.notice_by_key(n.notice_key) for n, _, _ in plan.notices):
                continue
            saved = save_plan(store, case, plan)
        except StopNCIIError as exc:  # one platform's problem spares the rest
            problems.append(f"{platform}: {exc}")
            continue
        drafted += [n.id for n, created in saved if created]
    return drafted, problems


def save_plan(store: Store, case: Case, plan: DraftPlan) -> list[tuple[StoredNotice, bool]]:
    """Replace the unsent drafts of the planned platforms with the planned notices, in one
    transaction (drafts for other platforms, or for one left out of the plan, stay).

    Every notice is validated first: one missing element refuses them all, with the list.
    """
    for notice, _, _ in plan.notices:
        validate(notice)
    with store.transaction():
        for platform_id in sorted({notice.platform.id for notice, _, _ in plan.notices}):
            store.delete_drafts(case.id, platform_id)
        return [store.save_notice(case.id, new_notice(notice, reason, ids)) for notice, reason, ids in plan.notices]


def new_notice(notice: Notice, reason: str, match_ids: Sequence[int]) -> NewNotice:
    """The row the case keeps for a drafted notice (its items are kept as the matches it covers)."""
    return NewNotice(
        notice_key=notice.notice_key, platform=notice.platform.id, framework=notice.framework,
        framework_reason=reason, language=notice.language,
        channel_kind=notice.channel.kind if notice.channel else None,
        channel_address=notice.channel.address if notice.channel else None,
        confirmed=tuple(sorted(notice.confirmed)), attach_hashes=notice.attach_hashes, context=notice.context,
        original_work=notice.original_work, created_at=notice.created_at, match_ids=tuple(match_ids),
    )


def case_requester(store: Store, case_id: str) -> Requester | None:
    """Who sends this case's notices, if the person has said."""
    stored = store.requester(case_id)
    return Requester(**asdict(stored)) if stored else None


def save_requester(store: Store, case_id: str, requester: Requester) -> None:
    """Keep who sends this case's notices in the case (an e-mail address must be one)."""
    if requester.email and not is_email_address(requester.email):
        raise NoticeError(f"{requester.email.strip()!r} is not an e-mail address: it needs one '@', a dot in the "
                          "part after it, and no spaces (like jane.reports@example.org)", item="--email")
    store.set_requester(case_id, StoredRequester(**asdict(requester)))


def load_notice(store: Store, stored: StoredNotice, directory: PlatformDirectory) -> Notice:
    """Rebuild the full notice (for rendering or sending) from what the case keeps."""
    case = store.get_case(stored.case_id)
    requester = case_requester(store, case.id)
    if requester is None:
        raise NoticeError("the case has no requester details any more", item=f"notice {stored.id}")
    platform = directory.get(stored.platform)
    items = [item for _, entries in notice_items(store, [store.match(m) for m in stored.match_ids]).items()
             for item, _ in entries]
    channel = _stored_channel(platform, stored, items)
    return Notice(
        case_ref=case.id, jurisdiction=normalise_jurisdiction(case.jurisdiction or ""), platform=platform,
        channel=channel, framework=stored.framework, language=stored.language, requester=requester,
        items=tuple(items), created_at=datetime.fromisoformat(stored.created_at),
        attach_hashes=stored.attach_hashes, confirmed=frozenset(stored.confirmed), context=stored.context,
        original_work=stored.original_work,
    )


def _stored_channel(platform: Platform, stored: StoredNotice, items: Sequence[NoticeItem]) -> ReportingChannel | None:
    """The directory's channel the notice was drafted for, else the address the person gave."""
    for channel in platform.channels:
        if channel.kind != stored.channel_kind or not items:
            continue
        try:
            if channel.address_for(items[0].url) == stored.channel_address:
                return replace(channel, address=stored.channel_address)
        except InvalidURL:  # an address with no site name: it went to the recipient the person gave
            continue
    if stored.channel_kind == "email" and stored.channel_address:
        return recipient_channel(stored.channel_address, stored.framework)
    return None
