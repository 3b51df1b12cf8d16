"""``stopncii notice send``, ``mark-sent``, ``mark`` and ``follow-up``: notices out, and answers in."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from .. import clock as clocks
from ..notices.platforms import load_directory
from ..store import Store
from ..store.notice_states import targets
from ..submit.config import SendingConfig, load_sending_config
from ..workflow.outbox import (
    Preview,
    SendResult,
    mark_reply,
    mark_sent,
    preview_notices,
    send_notices,
)
from ..workflow.tracking import follow_up
from . import _output as o
from ._common import case_option, with_store

SEND_COLUMNS = ("notice", "case", "platform", "route", "outcome", "detail")


def sending_options(func: Any) -> Any:
    """``--channel-config`` and ``--default-deadline-hours``, shared by the commands that send."""
    func = click.option("--default-deadline-hours", type=click.IntRange(1), default=None, metavar="HOURS",
                        help="Hours a platform has when neither the law nor the directory says (default 168).")(func)
    func = click.option("--channel-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
                        help="Sending settings file (default: sending.toml in your config folder).")(func)
    return func


def load_config(channel_config: Path | None, default_deadline_hours: int | None) -> SendingConfig:
    return load_sending_config(channel_config, default_deadline_hours=default_deadline_hours)


def send_record(result: SendResult) -> dict[str, Any]:
    route = result.route
    return {"notice": result.notice.id, "case": result.notice.case_id, "platform": result.notice.platform,
            "route": route.method if route else None, "to": route.destination if route else None,
            "outcome": result.outcome, "status": result.notice.status, "detail": result.detail,
            "due_at": result.notice.due_at, "packet": result.packet}


def render_sends(results: list[SendResult], fmt: str) -> None:
    """The table of what happened; by-hand packets after it, for the person to copy."""
    records = [send_record(r) for r in results]
    o.render(records, SEND_COLUMNS, fmt, title="Sending")
    if fmt != "table":
        return
    for result in results:
        if result.outcome == "by_hand" and result.packet:
            where = result.route.destination if result.route else ""
            o.status(f"\nNotice {result.notice.id} to {result.notice.platform} goes by hand ({where}). "
                     f"When done: stopncii notice mark-sent {result.notice.id} --ticket NUMBER")
            click.echo(result.packet, nl=False)


def summarise_sends(results: list[SendResult]) -> None:
    counts: dict[str, int] = {}
    for result in results:
        counts[result.outcome] = counts.get(result.outcome, 0) + 1
    if not counts:
        o.status("Nothing to send.")
        return
    words = {"sent": "sent", "retry_later": "will be tried again later", "held": "held (see the detail)",
             "by_hand": "to submit by hand", "unconfigured": "need sending settings", "waiting": "waiting for a retry",
             "interrupted": "interrupted (use --resume)", "not_ready": "not ready (see the detail)",
             "other_run": "left to another run sending at the same time"}
    o.status(", ".join(f"{n} {words.get(k, k)}" for k, n in counts.items()) + ".")


@click.command(name="send")
@click.argument("notice_ids", nargs=-1, type=int)
@case_option
@click.option("--all-cases", is_flag=True, help="Notices of every case.")
@click.option("--resume", is_flag=True, help="Also finish notices a stopped run left half-sent (same bytes, same key).")
@click.option("--retry-held", is_flag=True, help="Also try again notices held after a refusal (once you fixed it).")
@click.option("--dry-run", is_flag=True, help="Print exactly what would go out, and change nothing.")
@sending_options
@o.output_options
@with_store
def notice_send(store: Store, notice_ids: tuple[int, ...], case_id: str | None, all_cases: bool, resume: bool,
                retry_held: bool, dry_run: bool, channel_config: Path | None, default_deadline_hours: int | None,
                as_json: bool, as_csv: bool) -> None:
    """Send drafted and queued notices: e-mail by SMTP, JSON to an API, forms by hand.

    Drafts are queued first: each is checked and its exact bytes are kept, so every later
    try sends the same thing with the same idempotency key. E-mail goes through the mail
    server in sending.toml (the password comes from an environment variable or the system
    keyring, never from a file). Web forms and in-app reports are printed for you to submit;
    record the ticket with 'stopncii notice mark-sent'. Busy servers are tried again later
    ('next try after' says when); run the command again then.

    \b
    Examples:
      stopncii notice send --dry-run
      stopncii notice send
      stopncii notice send --all-cases --resume
      stopncii notice send 4 5 --channel-config ~/ngo-sending.toml
    """
    case = None if all_cases or notice_ids else store.resolve_case(case_id)
    scope_case = case.id if case else None
    config = load_config(channel_config, default_deadline_hours)
    directory = load_directory()
    fmt = o.choose_format(as_json, as_csv)
    if dry_run:
        _print_previews(list(preview_notices(store, config, directory, case_id=scope_case, notice_ids=notice_ids)), fmt)
        return
    results = []
    with o.progress("Sending") as bar:
        task = bar.add_task("Sending", total=None)
        for result in send_notices(store, config, directory, case_id=scope_case, notice_ids=notice_ids,
                                   resume=resume, retry_held=retry_held):
            bar.advance(task)
            results.append(result)
    render_sends(results, fmt)
    summarise_sends(results)
    if any(r.outcome in ("retry_later", "held", "not_ready", "unconfigured", "interrupted") for r in results):
        raise SystemExit(1)


def _print_previews(previews: list[Preview | SendResult], fmt: str) -> None:
    for preview in previews:
        if isinstance(preview, SendResult):
            o.error_line(f"notice {preview.notice.id}: not ready: {preview.detail}")
            continue
        route = preview.route
        if fmt == "json":
            o.json_line({"notice": preview.notice.id, "route": route.method, "to": route.destination,
                         "payload": preview.text})
            continue
        o.status(f"--- notice {preview.notice.id} to {preview.notice.platform}: {route.method} "
                 f"to {route.destination}{' (' + route.why + ')' if route.why else ''} ---")
        click.echo(preview.text, nl=not preview.text.endswith("\n"))
    o.status(f"Dry run: {len(previews)} notices shown; nothing was sent or changed.")


@click.command(name="mark-sent")
@click.argument("notice_id", type=int)
@click.option("--ticket", help="The ticket or reference number the form, app or platform gave you.")
@click.option("--sent-at", help="When you submitted it, if not just now (e.g. 2026-06-01T09:30, UTC).")
@sending_options
@with_store
def notice_mark_sent(store: Store, notice_id: int, ticket: str | None, sent_at: str | None,
                     channel_config: Path | None, default_deadline_hours: int | None) -> None:
    """Record that you submitted a notice yourself (a web form, the app, your own e-mail).

    The deadline counts from when it was submitted. Web forms and in-app reports need the
    ticket or reference number you got (write 'none' if there was none).

    \b
    Examples:
      stopncii notice mark-sent 7 --ticket 4711-AB
      stopncii notice mark-sent 8 --ticket none --sent-at 2026-06-01T09:30
    """
    when = clocks.parse_time(sent_at, "--sent-at") if sent_at else None
    notice = mark_sent(store, notice_id, load_config(channel_config, default_deadline_hours), load_directory(),
                       ticket=ticket, sent_at=when)
    o.status(f"Notice {notice.id} recorded as sent at {notice.sent_at}; due by {notice.due_at}.")


@click.command(name="mark")
@click.argument("notice_id", type=int)
@click.argument("status", type=click.Choice(targets("reply")))
@click.option("--note", help="A few words for the record (what the platform said).")
@with_store
def notice_mark(store: Store, notice_id: int, status: str, note: str | None) -> None:
    """Record the platform's answer, or withdraw a notice.

    acknowledged: they confirmed receipt; removed: the content is gone; refused: they said no
    (see 'stopncii notice follow-up' for where to turn next); withdrawn: you take it back.

    \b
    Examples:
      stopncii notice mark 7 acknowledged --note "auto-reply, ticket 99812"
      stopncii notice mark 7 refused --note "they say it does not break their rules"
    """
    notice = mark_reply(store, notice_id, status, note=note)
    o.status(f"Notice {notice.id} is now {notice.status}.")


@click.command(name="follow-up")
@click.argument("notice_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Print it as one JSON object.")
@with_store
def notice_follow_up(store: Store, notice_id: int, as_json: bool) -> None:
    """Draft the reminder for a notice past its deadline, and the escalation packet.

    The reminder refers to the original request, its date and its deadline, and says what the
    last check found. The packet is what to give where the law lets you turn next: the FTC
    for the TAKE IT DOWN Act, the platform's internal complaint system under the DSA
    (Article 20), the eSafety Commissioner in Australia. Nothing is sent.

    \b
    Example:
      stopncii notice follow-up 7
    """
    draft = follow_up(store, notice_id, load_directory())
    if as_json:
        o.json_line({"notice": notice_id, "overdue": draft.overdue, "to": draft.to, "subject": draft.subject,
                     "reminder": draft.reminder, "route": draft.route, "escalation": draft.escalation,
                     "packet": dict(draft.packet)})
        return
    click.echo(draft.text, nl=False)


NOTICE_COMMANDS = (notice_send, notice_mark_sent, notice_mark, notice_follow_up)
