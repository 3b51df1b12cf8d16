"""The outbox: how a drafted notice is queued, sent, and followed to its end, kept in the case.

A notice moves only along the arrows of the state table (``store/notice_states.py``).
Every move is a committed transaction, made before and after each network call. Queuing
freezes the exact bytes to send (the e-mail, the JSON, the form packet), so a retry or a resume
sends the same bytes with the same idempotency key (the notice key) as the first try.

A run killed at any instant leaves each notice either where it was, or in ``sending``. Resuming
(``resume=True``) sends those again with the same key: an API that honours Idempotency-Key
drops the copy; over SMTP a copy can arrive twice, carrying the same Message-ID and
Idempotency-Key, so the receiver can recognise it (see docs/sending.md).

Two runs at once never both send a notice: each takes the notice's lease in the transaction
that moves it to ``sending`` and leaves alone a notice whose lease a live process holds; a
lease whose process is gone is taken over by the next resuming run.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import parseaddr
from typing import Any

from .. import clock as clocks
from .._errors import NoticeError, SecretMissing, SendError, StoreError
from ..notices import Notice, render_email, render_form_packet, render_json
from ..notices.platforms import PlatformDirectory
from ..store import NoticePayload, Store, StoredNotice
from ..store.notice_states import allowed_move, sources, targets
from ..store.notices import Sender
from ..submit import (
    Channel,
    HTTPChannel,
    ManualChannel,
    ManualPacket,
    Outgoing,
    SMTPChannel,
    get_secret,
)
from ..submit.config import SendingConfig
from .takedown import load_notice

MANUAL_KINDS = ("web_form", "in_app")


@dataclass(frozen=True)
class Route:
    """How one notice leaves: ``smtp``, ``http``, ``by_hand``, or ``unconfigured`` (with why)."""

    method: str
    destination: str
    payload_kind: str  # email | json | form
    why: str = ""


@dataclass(frozen=True)
class SendResult:
    """What happened to one notice in a send run.

    ``outcome``: sent, retry_later, held (a final refusal: fix, then send with retry_held),
    by_hand (the person submits the packet, then records it with mark-sent), unconfigured,
    waiting (a retry is scheduled later), interrupted (left in 'sending' by a stopped run; resume
    it), not_ready (could not be queued: the reason says what is missing), other_run (another
    run is sending it now, or dealt with it meanwhile; this run left it alone).
    """

    notice: StoredNotice
    outcome: str
    route: Route | None = None
    detail: str = ""
    packet: str | None = None


@dataclass(frozen=True)
class Preview:
    """What a send would put on the wire for one notice, without changing anything."""

    notice: StoredNotice
    route: Route
    text: str


# -- routes and payloads --------------------------------------------------------------------


def route_for(stored: StoredNotice, config: SendingConfig) -> Route:
    """Which way a notice goes with these settings."""
    kind, address = stored.channel_kind, stored.channel_address or ""
    if kind == "email":
        if config.smtp is None:
            return Route("by_hand", address, "email", "no mail server is set up in sending.toml")
        return Route("smtp", address, "email")
    if kind == "api":
        api = config.api_for(address)
        if api is None:
            return Route("unconfigured", address, "json",
                         f"sending.toml has no [[api]] entry with address = \"{address}\"")
        return Route("http", api.settings.url, "json")
    if kind in MANUAL_KINDS:
        return Route("by_hand", address, "form")
    return Route("unconfigured", address, "form", "the platform directory gives no address for this notice")


def render_payload(notice: Notice, route: Route, config: SendingConfig) -> bytes:
    """The exact bytes that go out by this route (validating the notice first)."""
    if route.payload_kind == "email":
        sender = config.smtp.sender if config.smtp is not None else None
        message = render_email(notice, sender=sender)
        # The channel stamps these last; stamping them here in the same order keeps the bytes identical.
        for name in ("Idempotency-Key", "X-StopNCII-Notice-Key"):
            del message[name]
            message[name] = notice.notice_key
        return bytes(message)
    if route.payload_kind == "json":
        return json.dumps(render_json(notice), ensure_ascii=False).encode("utf-8")
    return render_form_packet(notice).text.encode("utf-8")


def payload_text(payload: NoticePayload) -> str:
    """The frozen payload as a person reads it (an .eml, pretty JSON, or the packet)."""
    if payload.kind == "json":
        return json.dumps(json.loads(payload.body), indent=2, ensure_ascii=False) + "\n"
    return payload.body.decode("utf-8", errors="replace")


def _outgoing_payload(stored: StoredNotice, payload: NoticePayload) -> EmailMessage | dict[str, Any] | ManualPacket:
    if payload.kind == "email":
        message = message_from_bytes(payload.body, policy=SMTP)
        assert isinstance(message, EmailMessage)
        return message
    if payload.kind == "json":
        data = json.loads(payload.body)
        assert isinstance(data, dict)
        return data
    return ManualPacket(stored.channel_address or "", payload.body.decode("utf-8"))


# -- queueing -------------------------------------------------------------------------------


def queue_notice(
    store: Store, stored: StoredNotice, config: SendingConfig, directory: PlatformDirectory,
    clock: clocks.Clock = clocks.now,
) -> StoredNotice:
    """draft -> queued: render the notice, freeze its bytes and its legal deadline."""
    allowed_move(stored.status, "queued", "queue", item=f"notice {stored.id}")
    notice = load_notice(store, stored, directory)
    route = route_for(stored, config)
    body = render_payload(notice, route, config)
    now = clock()
    with store.transaction():
        store.save_payload(stored.id, route.payload_kind, body, notice.deadline_hours, now)
        return store.move_notice(stored, "queued", step="queue", at=now, detail={"route": route.method},
                                 next_attempt_at=clocks.iso(now), last_error=None)


# -- sending --------------------------------------------------------------------------------


def send_notices(
    store: Store, config: SendingConfig, directory: PlatformDirectory, *,
    case_id: str | None = None, notice_ids: Sequence[int] = (), resume: bool = False,
    retry_held: bool = False, clock: clocks.Clock = clocks.now,
) -> Iterator[SendResult]:
    """Queue the drafts in scope, then send every notice that is due, one at a time.

    Scope: ``notice_ids`` if given, else the notices of ``case_id``, else of every case.
    ``resume`` also sends notices a stopped run left in 'sending' (same bytes, same key).
    ``retry_held`` also tries notices held after a final refusal (after the person fixed it).
    """
    channels = _Channels(config)
    sender = Sender.this_process()
    for listed in _in_scope(store, case_id, notice_ids):
        stored = store.notice(listed.id)  # as it is now: another run may have moved it since
        if stored.status in sources("queue"):
            try:
                stored = queue_notice(store, stored, config, directory, clock)
            except NoticeError as exc:
                yield SendResult(stored, "not_ready", detail=exc.reason)
                continue
            except StoreError:  # another run queued it first
                stored = store.notice(stored.id)
        if stored.status not in sources("claim"):
            continue
        yield _send_or_explain(store, stored, config, channels, sender, resume, retry_held, clock)


def _in_scope(store: Store, case_id: str | None, notice_ids: Sequence[int]) -> list[StoredNotice]:
    if notice_ids:
        return [store.notice(i) for i in notice_ids]
    return store.notices(case_id)


def _send_or_explain(
    store: Store, stored: StoredNotice, config: SendingConfig, channels: _Channels, sender: Sender,
    resume: bool, retry_held: bool, clock: clocks.Clock,
) -> SendResult:
    route = route_for(stored, config)
    now = clock()
    if stored.status == "sending":
        holder = store.sending_now(stored.id, now)
        if holder is not None and holder != sender:
            return _left_to(stored, route, holder)
        if not resume:
            return _interrupted(stored, route)
    if route.method == "by_hand" and route.payload_kind == "email":
        return SendResult(stored, "by_hand", route, (
            f"{route.why}: send it from your own mailbox (open the file made by 'stopncii notice show "
            f"{stored.id} --format email > notice-{stored.id}.eml' in your mail program), then record it "
            f"with 'stopncii notice mark-sent {stored.id}'"))
    if route.method == "by_hand":
        payload = store.notice_payload(stored.id)
        return SendResult(stored, "by_hand", route, route.why, payload_text(payload) if payload else None)
    if route.method == "unconfigured":
        return SendResult(stored, "unconfigured", route, route.why)
    if stored.status == "queued":
        if stored.next_attempt_at is None and not retry_held:
            return SendResult(stored, "held", route, f"held after: {stored.last_error}; fix it, then "
                              "run 'stopncii notice send --retry-held'")
        if stored.next_attempt_at is not None and clocks.parse_time(stored.next_attempt_at, "next try") > now:
            return SendResult(stored, "waiting", route, f"next try after {stored.next_attempt_at}"
                              + (f" (last time: {stored.last_error})" if stored.last_error else ""))
    channel = channels.get(route)
    if isinstance(channel, str):
        return SendResult(stored, "unconfigured", route, channel)
    return _attempt(store, stored, route, channel, config, sender, resume, clock)


def _interrupted(stored: StoredNotice, route: Route) -> SendResult:
    return SendResult(stored, "interrupted", route, "a run stopped while sending it; "
                      "run 'stopncii notice send --resume' to finish it (same bytes, same key)")


def _left_to(stored: StoredNotice, route: Route, holder: Sender | None) -> SendResult:
    if holder is not None:
        why = f"another run ({holder.describe()}) is sending it right now; this run left it to that one"
    else:
        why = f"another run dealt with it at the same time; it is {stored.status} now"
    return SendResult(stored, "other_run", route, why)


def _attempt(
    store: Store, stored: StoredNotice, route: Route, channel: Channel, config: SendingConfig,
    sender: Sender, resume: bool, clock: clocks.Clock,
) -> SendResult:
    """One try: claim the notice (lease and 'sending', committed), call the channel, commit what happened."""
    payload = store.notice_payload(stored.id)
    if payload is None:
        raise NoticeError("its frozen copy is missing, so it cannot be sent again safely",
                          item=f"notice {stored.id}")
    claim = store.claim_notice(stored.id, sender, channel=route.method, at=clock(), resume=resume)
    if claim.outcome == "stopped":
        return _interrupted(claim.notice, route)
    if claim.outcome != "claimed":
        return _left_to(claim.notice, route, claim.holder)
    claimed, attempt_id = claim.notice, claim.attempt_id
    outgoing = Outgoing(notice_id=stored.notice_key, idempotency_key=stored.notice_key,
                        payload=_outgoing_payload(stored, payload))
    try:
        delivery = channel.send(outgoing)
    except SendError as exc:
        return _failed(store, claimed, route, attempt_id, exc, config, clock)
    sent_at = clock()
    hours = payload.deadline_hours or config.default_deadline_hours
    evidence = {**delivery.evidence, "channel": delivery.channel, "deadline_hours": hours}
    with store.transaction():
        store.finish_attempt(attempt_id, "delivered", sent_at, _evidence_line(evidence))
        done = store.move_notice(
            claimed, "sent", step="deliver", at=sent_at, detail={"channel": route.method},
            sent_at=clocks.iso(sent_at), due_at=clocks.iso(sent_at + timedelta(hours=hours)),
            next_attempt_at=None, last_error=None, evidence=evidence)
    return SendResult(done, "sent", route, _evidence_line(evidence))


def _failed(
    store: Store, claimed: StoredNotice, route: Route, attempt_id: int, exc: SendError,
    config: SendingConfig, clock: clocks.Clock,
) -> SendResult:
    now = clock()
    if exc.retryable:
        retry_at = now + timedelta(seconds=config.retry_wait(claimed.attempts, getattr(exc, "retry_after", None)))
        next_at: str | None = clocks.iso(retry_at)
        outcome, detail = "retry_later", f"{exc.reason}; next try after {clocks.iso(retry_at)}"
    elif isinstance(exc, SecretMissing):
        next_at, outcome, detail = clocks.iso(now), "unconfigured", exc.reason
    else:
        next_at, outcome, detail = None, "held", exc.reason
    with store.transaction():
        store.finish_attempt(attempt_id, "temporary" if exc.retryable else "failed", now, exc.reason)
        back = store.move_notice(claimed, "queued", step="fail", at=now, detail={"retryable": exc.retryable},
                                 next_attempt_at=next_at, last_error=exc.reason)
    return SendResult(back, outcome, route, detail)


def _evidence_line(evidence: dict[str, Any]) -> str:
    parts = []
    for key in ("message_id", "server_reply", "status", "response_id", "ticket"):
        if evidence.get(key) not in (None, ""):
            parts.append(f"{key.replace('_', ' ')} {evidence[key]}")
    return "; ".join(parts)


class _Channels:
    """The channel objects of one run, built when first needed; a missing secret is said once."""

    def __init__(self, config: SendingConfig) -> None:
        self._config = config
        self._built: dict[str, Channel | str] = {}

    def get(self, route: Route) -> Channel | str:
        """The channel for ``route``, or the reason it cannot be used."""
        key = route.method + " " + route.destination if route.method == "http" else route.method
        if key not in self._built:
            try:
                self._built[key] = self._build(route)
            except SendError as exc:
                self._built[key] = exc.reason
        return self._built[key]

    def _build(self, route: Route) -> Channel:
        config = self._config
        if route.method == "smtp" and config.smtp is not None:
            smtp = config.smtp
            settings = smtp.settings
            if settings.username:  # ask now, so a missing password stops nothing half-way
                get_secret(settings.password_env, settings.keyring_service, settings.username)
            envelope = parseaddr(smtp.sender)[1] if smtp.sender else None
            if envelope:
                settings = replace(settings, from_addr=envelope)
            return SMTPChannel(settings, limiter=config.limiter("smtp", smtp.min_interval, smtp.per_minute))
        api = next((a for a in config.apis if a.settings.url == route.destination), None)
        if route.method == "http" and api is not None:
            if api.settings.token_env:
                get_secret(api.settings.token_env, api.settings.keyring_service)
            return HTTPChannel(api.settings, limiter=config.limiter(api.address, api.min_interval, api.per_minute))
        raise SendError(f"no way to send by {route.method} is set up")


# -- dry run --------------------------------------------------------------------------------


def preview_notices(
    store: Store, config: SendingConfig, directory: PlatformDirectory, *,
    case_id: str | None = None, notice_ids: Sequence[int] = (),
) -> Iterator[Preview | SendResult]:
    """Exactly what a send would put out for each notice in scope; nothing is stored or sent."""
    for stored in _in_scope(store, case_id, notice_ids):
        if stored.status not in (*sources("queue"), *sources("claim")):  # not out yet
            continue
        route = route_for(stored, config)
        payload = store.notice_payload(stored.id)
        if payload is not None:
            yield Preview(stored, route, payload_text(payload))
            continue
        try:
            body = render_payload(load_notice(store, stored, directory), route, config)
        except NoticeError as exc:
            yield SendResult(stored, "not_ready", route, exc.reason)
            continue
        kind = route.payload_kind
        yield Preview(stored, route, payload_text(NoticePayload(stored.id, kind, body, None, "")))


# -- the person's records: sent by hand, and the platform's replies -------------------------


def mark_sent(
    store: Store, notice_id: int, config: SendingConfig, directory: PlatformDirectory, *,
    ticket: str | None = None, sent_at: datetime | None = None, clock: clocks.Clock = clocks.now,
) -> StoredNotice:
    """Record that the person submitted a notice themselves (a web form, the app, their mailbox)."""
    stored = store.notice(notice_id)
    item = f"notice {notice_id}"
    if stored.status in sources("queue"):  # freeze what was submitted, as a send would
        stored = queue_notice(store, stored, config, directory, clock)
    allowed_move(stored.status, "sent", "mark_sent", item)
    when = sent_at or clock()
    if stored.channel_kind in MANUAL_KINDS or ticket:
        if not ticket:
            raise NoticeError("give the ticket or reference number the form or app showed you, with "
                              "--ticket (write 'none' if it gave none)", item=item)
        form_url = stored.channel_address if stored.channel_kind == "web_form" else None
        try:
            evidence: dict[str, Any] = dict(ManualChannel().mark_sent(str(notice_id), ticket, form_url).evidence)
        except SendError as exc:
            raise NoticeError(exc.reason, item=item) from None
    else:
        evidence = {}
    payload = store.notice_payload(stored.id)
    hours = (payload.deadline_hours if payload else None) or config.default_deadline_hours
    evidence |= {"channel": "by_hand", "deadline_hours": hours}
    return store.move_notice(
        stored, "sent", step="mark_sent", at=clock(), detail={"channel": "by_hand"},
        sent_at=clocks.iso(when), due_at=clocks.iso(when + timedelta(hours=hours)), next_attempt_at=None,
        last_error=None, evidence=evidence)


def mark_reply(
    store: Store, notice_id: int, status: str, *, note: str | None = None, clock: clocks.Clock = clocks.now,
) -> StoredNotice:
    """Record the platform's answer (acknowledged, removed, refused) or withdraw the notice."""
    replies = targets("reply")
    if status not in replies:
        raise NoticeError(f"a notice can be marked {', '.join(replies)}; not {status!r}", item=f"notice {notice_id}")
    stored = store.notice(notice_id)
    now = clock()
    answers = [*stored.evidence.get("replies", []), {"status": status, "at": clocks.iso(now), "note": note}]
    return store.move_notice(stored, status, step="reply", at=now, evidence={**stored.evidence, "replies": answers})
