"""``stopncii requester``, ``notice`` and ``platforms``: who asks, what is asked, and where to."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import click

from .._errors import NoticeError
from ..notices import (
    Requester,
    available_languages,
    framework_ids,
    render_email,
    render_form_packet,
    render_json,
    render_statements,
    render_text,
)
from ..notices.platforms import load_directory
from ..store import Store, StoredNotice
from ..workflow.takedown import case_requester, load_notice, plan_notices, save_plan, save_requester
from . import _output as o
from ._common import case_option, with_store

REQUESTER_OPTIONS = {
    "name": "Your full name (or the representative's).",
    "email": "Contact e-mail for replies (a separate address just for this is a good idea).",
    "signature": "Typed signature: your name between slashes, like /Jane Doe/.",
    "role": "'self' if you are the person shown; 'representative' if you act for them.",
    "postal_address": "Postal address (only the DMCA needs it).",
    "phone": "Telephone (only the DMCA needs it).",
    "organisation": "Organisation of a representative (an advocate or NGO).",
    "on_behalf_of": "Name of the person you act for, or 'the person I represent'.",
    "authorisation": "One sentence saying that person has authorised you.",
}


@click.group(name="requester")
def requester_group() -> None:
    """Who sends the case's notices: the person shown, or someone acting for them."""


@requester_group.command(name="set")
@case_option
@click.option("--name")
@click.option("--email")
@click.option("--signature")
@click.option("--role", type=click.Choice(["self", "representative"]))
@click.option("--postal-address", "postal_address")
@click.option("--phone")
@click.option("--organisation")
@click.option("--on-behalf-of", "on_behalf_of")
@click.option("--authorisation")
@with_store
def requester_set(store: Store, case_id: str | None, **given: str | None) -> None:
    """Set the details that go into this case's notices (only the options you give change).

    Your name and e-mail are sent to the platform with each notice; platforms may pass a
    DMCA notice on to the uploader. A separate e-mail address just for this is a good idea.
    These details stay in the case and are never put into hash exports.

    \b
    Examples:
      stopncii requester set --name "Jane Doe" --email jane.reports@example.org --signature "/Jane Doe/"
      stopncii requester set --role representative --name "A. Advocate" --organisation "Help NGO" \\
        --email cases@help.example --signature "/A. Advocate/" --on-behalf-of "the person I represent" \\
        --authorisation "The person shown has asked me in writing to act for them."
    """
    case = store.resolve_case(case_id)
    current = case_requester(store, case.id) or Requester(name="", email="")
    changes = {k: v for k, v in given.items() if v is not None}
    save_requester(store, case.id, replace(current, **changes))
    o.status(f"Requester details saved in case {case.id}.")


@requester_group.command(name="show")
@case_option
@o.output_options
@with_store
def requester_show(store: Store, case_id: str | None, as_json: bool, as_csv: bool) -> None:
    """Show the requester details of a case.

    \b
    Example:
      stopncii requester show
    """
    case = store.resolve_case(case_id)
    requester = store.requester(case.id)
    if requester is None:
        o.status("No requester details yet: set them with 'stopncii requester set'.")
        return
    record = {k: getattr(requester, k) for k in REQUESTER_OPTIONS}
    o.render([record], list(REQUESTER_OPTIONS), o.choose_format(as_json, as_csv), title="Requester")


@click.group(name="notice")
def notice_group() -> None:
    """Draft, read and export takedown notices for confirmed matches."""


NOTICE_COLUMNS = ("id", "case", "status", "platform", "framework", "language", "channel", "address", "items",
                  "created_at", "sent_at", "due_at", "notice_key", "why")
NOTICE_TABLE = ("id", "platform", "language", "status", "address", "items")  # fits 80 columns


def render_notices(records: list[dict[str, Any]], fmt: str, title: str) -> None:
    o.render(records, NOTICE_TABLE if fmt == "table" else NOTICE_COLUMNS, fmt, title=title, cut=("address",))


def notice_record(notice: StoredNotice) -> dict[str, Any]:
    return {"id": notice.id, "case": notice.case_id, "status": notice.status, "platform": notice.platform,
            "framework": notice.framework, "language": notice.language, "channel": notice.channel_kind,
            "address": notice.channel_address, "items": len(notice.match_ids), "created_at": notice.created_at,
            "sent_at": notice.sent_at, "due_at": notice.due_at, "notice_key": notice.notice_key,
            "why": notice.framework_reason, "evidence": notice.evidence}


@notice_group.command(name="draft")
@case_option
@click.option("--platform", help="Only this platform (id or name, see 'stopncii platforms list').")
@click.option("--framework", type=click.Choice(framework_ids()),
              help="Use this law instead of the one chosen from the case's country.")
@click.option("--language", type=click.Choice(available_languages()),
              help="Only this language (default: each language the platform reads: Telegram and VK get "
                   "a Russian and an English notice, side by side).")
@click.option("--to", "to", metavar="ADDRESS",
              help="E-mail address for addresses with no site name (an IP number): the hosting provider's "
                   "abuse desk. Without it, those addresses wait and the other notices go ahead.")
@click.option("--context", help="A few words of your own added to the notice (optional).")
@click.option("--original-work", help="DMCA only: the photo you took, in a few words.")
@click.option("--hashes/--no-hashes", "attach_hashes", default=None,
              help="Attach hashes of the found content (default: when known).")
@click.option("--yes", is_flag=True, help="Confirm the statements without asking (you have read them).")
@o.output_options
@with_store
def notice_draft(store: Store, case_id: str | None, platform: str | None, framework: str | None,
                 language: str | None, to: str | None, context: str | None, original_work: str | None,
                 attach_hashes: bool | None, yes: bool, as_json: bool, as_csv: bool) -> None:
    """Draft takedown notices from the case's confirmed matches, one per platform.

    The law is chosen from the case's country and the platform (and explained); --framework
    overrides it. Each notice lists every address, the date it was seen and what is asked:
    removal, and removal of known identical copies. You confirm the statements the law needs.
    A notice missing something is refused with the list of what is missing.
    Platforms that read Russian (Telegram, VK) get a Russian and an English notice side by
    side: send either or both. An address with an IP number instead of a site name waits
    for --to (the hosting provider's abuse address); the other notices go ahead.
    Nothing is sent: see 'stopncii notice show' and 'stopncii notice export'.

    \b
    Examples:
      stopncii notice draft
      stopncii notice draft --platform telegram --language ru
      stopncii notice draft --to abuse@hosting.example
    """
    case = store.resolve_case(case_id)
    requester = case_requester(store, case.id)
    if requester is None:
        raise NoticeError("a notice says who is asking: set your details first with "
                          "'stopncii requester set --name ... --email ... --signature ...'", item=f"case {case.id}")
    directory = load_directory()
    plan = plan_notices(store, case, directory, requester, platform=platform, framework=framework,
                        language=language, context=context, original_work=original_work,
                        attach_hashes=attach_hashes, to=to)
    if plan.not_on_web:
        o.warn(f"{plan.not_on_web} confirmed matches were found in files, not at a web address; "
               "scan the address where each was seen to include it.")
    for problem in plan.problems:
        o.error_line(problem)
    for waiting in plan.waiting:
        o.warn(f"Waiting: {waiting}")
    if plan.already_requested:
        o.status(f"{plan.already_requested} confirmed matches are already in notices that went out; not repeated.")
    confirmed_plan = []
    answers: dict[tuple[str, tuple[int, ...]], bool] = {}  # one answer per platform and matches, in any language
    for notice, reason, ids in plan.notices:
        statements = render_statements(notice)
        key = (notice.platform.id, tuple(ids))
        if key in answers:
            o.status(f"The {notice.language} notice to {notice.platform.name} says the same in its language.")
        else:
            o.status(f"\nNotice to {notice.platform.name} ({notice.language}): {reason}")
            for _, text in statements:
                o.status(f"  - {text}")
            answers[key] = not statements or yes or click.confirm("Are these statements true?", err=True)
        if not answers[key]:
            o.status(f"Left out: the notice to {notice.platform.name} ({notice.language}).")
            continue
        confirmed_plan.append((notice.with_confirmed(sid for sid, _ in statements), reason, ids))
    plan.notices = confirmed_plan
    saved = save_plan(store, case, plan)
    records = [notice_record(n) for n, _ in saved]
    render_notices(records, o.choose_format(as_json, as_csv), f"Notices drafted in case {case.title}")
    o.status(f"{len(saved)} notices drafted. Nothing was sent. Read one with 'stopncii notice show ID'.")
    if plan.problems:
        raise SystemExit(1)


@notice_group.command(name="list")
@case_option
@click.option("--all-cases", is_flag=True, help="Notices of every case.")
@click.option("--status", help="Only notices in this state (draft, sent, removed, ...).")
@o.output_options
@with_store
def notice_list(
    store: Store, case_id: str | None, all_cases: bool, status: str | None, as_json: bool, as_csv: bool
) -> None:
    """List notices and where each stands.

    \b
    Example:
      stopncii notice list --status draft
    """
    case = None if all_cases else store.resolve_case(case_id)
    notices = store.notices(case.id if case else None, status)
    render_notices([notice_record(n) for n in notices], o.choose_format(as_json, as_csv), "Notices")


RENDERINGS = ("text", "email", "json", "form")


def render_notice(store: Store, stored: StoredNotice, fmt: str) -> str:
    notice = load_notice(store, stored, load_directory())
    if fmt == "email":
        return bytes(render_email(notice)).decode("utf-8", errors="replace")
    if fmt == "json":
        import json

        return json.dumps(render_json(notice), indent=2, ensure_ascii=False) + "\n"
    if fmt == "form":
        return render_form_packet(notice).text
    return render_text(notice)


@notice_group.command(name="show")
@click.argument("notice_id", type=int)
@click.option("--format", "fmt", type=click.Choice(RENDERINGS), default="text", show_default=True,
              help="text, an e-mail (.eml), JSON, or a form packet to paste into a web form.")
@with_store
def notice_show(store: Store, notice_id: int, fmt: str) -> None:
    """Print one notice.

    \b
    Examples:
      stopncii notice show 4
      stopncii notice show 4 --format form
    """
    click.echo(render_notice(store, store.notice(notice_id), fmt), nl=False)


@notice_group.command(name="export")
@case_option
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), required=True,
              help="Folder to write the files into.")
@with_store
def notice_export(store: Store, case_id: str | None, out_dir: Path) -> None:
    """Write every notice of a case as .txt, .eml, .json and a form packet, for your records.

    \b
    Example:
      stopncii notice export --out ~/Documents/takedown-notices
    """
    case = store.resolve_case(case_id)
    out_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    written = 0
    for stored in store.notices(case.id):
        stem = f"notice-{stored.id}-{stored.platform}"
        for fmt, suffix in (("text", ".txt"), ("email", ".eml"), ("json", ".json"), ("form", "-form.txt")):
            path = out_dir / f"{stem}{suffix}"
            path.write_text(render_notice(store, stored, fmt), encoding="utf-8")
            path.chmod(0o600)
            written += 1
    o.status(f"{written} files written to {out_dir}.")


@click.group(name="platforms")
def platforms_group() -> None:
    """The platform directory: where and how each platform takes reports."""


@platforms_group.command(name="list")
@o.output_options
def platforms_list(as_json: bool, as_csv: bool) -> None:
    """List the platforms the tool knows, and whether each takes part in StopNCII.

    \b
    Example:
      stopncii platforms list
    """
    records = [{"id": p.id, "name": p.name, "stopncii_partner": p.stopncii_partner,
                "channels": len(p.channels), "hosts": ", ".join(p.hosts[:4])} for p in load_directory().all()]
    o.render(records, ("id", "name", "stopncii_partner", "channels", "hosts"), o.choose_format(as_json, as_csv),
             title="Platforms")


@platforms_group.command(name="show")
@click.argument("name")
@o.output_options
def platforms_show(name: str, as_json: bool, as_csv: bool) -> None:
    """Show one platform's reporting channels, with their source and whether they are verified.

    \b
    Example:
      stopncii platforms show telegram
    """
    platform = load_directory().get(name)
    records = [{"platform": platform.id, "kind": c.kind, "address": c.address, "frameworks": ", ".join(c.frameworks),
                "languages": ", ".join(c.languages), "verified": c.verified, "verified_on": c.verified_on,
                "source": c.source, "note": c.note} for c in platform.channels]
    o.render(records, ("kind", "address", "frameworks", "verified", "source"), o.choose_format(as_json, as_csv),
             title=f"{platform.name}: reporting channels")


@platforms_group.command(name="detect")
@click.argument("urls", nargs=-1, required=True)
@o.output_options
def platforms_detect(urls: tuple[str, ...], as_json: bool, as_csv: bool) -> None:
    """Say which platform hosts each web address.

    \b
    Example:
      stopncii platforms detect https://t.me/somechannel/123 https://i.redd.it/abc.jpg
    """
    directory = load_directory()
    records = [{"url": u, "platform": (p := directory.detect(u)).id, "name": p.name} for u in urls]
    o.render(records, ("url", "platform", "name"), o.choose_format(as_json, as_csv), title="Platforms")
