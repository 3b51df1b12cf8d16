"""Turning a complete notice into text, an e-mail, JSON, or a packet for a web form.

Every word a platform reads comes from the jinja2 templates in ``templates/<language>/``; a
translation is a new folder with the same files. Notes for the person (warnings, an address
we could not confirm, where to turn next) are in English, the language of the tool itself.
Every renderer validates first: an incomplete notice is refused, never rendered half-made.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .._errors import NoticeError
from ..web.urls import registrable_domain
from ._base import Framework
from ._templates import environment, macros
from .draft import validate
from .frameworks import fallback_framework, get_framework
from .model import Notice, NoticeItem, Requester
from .platforms import OTHER_ID

if TYPE_CHECKING:
    from .platforms import ReportingChannel

UNVERIFIED_NOTE = (
    "This address comes from public information that we could not confirm; check it before "
    "relying on it."
)
JSON_SCHEMA = "stopncii-tools/notice/1"

_KIND_WORDS = {"email": "e-mail", "web_form": "web form", "in_app": "in the app", "api": "API"}

_SEND_HOW = {
    "email": "Send it by e-mail to {address}.",
    "web_form": "Open the form at {address} and copy each field below into it.",
    "in_app": "Report it inside the app ({address}) and copy each field below into the report.",
    "api": "It is sent through the platform's reporting API ({address}).",
}


@dataclass(frozen=True)
class FormPacket:
    """What a person pastes into a web form: the form's address and labelled fields in order.

    ``notes`` are for the person (not part of the notice). ``text`` lays it all out as plain
    text, ready to read and copy.
    """

    notice_key: str
    form_url: str | None
    how_to_send: str
    fields: tuple[tuple[str, str], ...]
    notes: tuple[str, ...]

    @property
    def text(self) -> str:
        lines = _notes_block(self.notes)
        if self.form_url:
            lines.append(f"Form: {self.form_url}")
        lines += [self.how_to_send, f"Notice key: {self.notice_key}", "=" * 72, ""]
        for label, value in self.fields:
            lines += [f"{label}:", value, ""]
        return "\n".join(lines).rstrip("\n") + "\n"


@dataclass(frozen=True)
class _ItemView:
    number: int
    url: str
    page_url: str | None
    seen: str
    kind: str
    sha256: str | None
    pdq: str | None


@dataclass(frozen=True)
class _View:
    """Everything the templates may use, already formatted. Built from the notice alone."""

    framework: str
    platform: str
    requester: Requester
    rep: bool
    person: str
    items: tuple[_ItemView, ...]
    kinds: frozenset[str]
    hashes: bool
    asks_copies: bool
    deadline_hours: int | None
    date: str
    country: str
    unverified: bool
    ref: str
    context: str | None
    original_work: str | None
    statement_ids: tuple[str, ...]
    to_authority: bool
    document: str  # what the law calls the request: "notice" or "report"
    phone: str | None  # only when the framework requires it: nothing more is disclosed
    postal_address: str | None


@dataclass(frozen=True)
class _Rendered:
    subject: str
    text: str
    html: str
    statements: tuple[tuple[str, str], ...]


def render_statements(notice: Notice, language: str | None = None) -> list[tuple[str, str]]:
    """The statements the person must confirm, as ``(id, text)``, in ``language`` (default: the
    notice's). Show them before calling :meth:`Notice.with_confirmed`; this does not validate."""
    view = _view(notice)
    common = macros(language or notice.language, "common.j2", view)
    return [(sid, _clean(common.statement(sid))) for sid in view.statement_ids]


def render_text(notice: Notice) -> str:
    """The notice as plain text for the person and the record: notes, where to send it, the
    subject, then the notice itself."""
    rendered = _render(notice)
    fw = get_framework(notice.framework)
    lines = _notes_block(_person_notes(notice))
    lines.append(_send_to(notice))
    lines.append(f"Subject: {rendered.subject}")
    lines.append(f"Framework: {fw.title}: {fw.citation}")
    if notice.deadline_hours is not None:
        lines.append(f"Deadline: {notice.deadline_hours} hours")
    lines.append(f"Case: {notice.case_ref}    Notice key: {notice.notice_key}")
    lines += ["=" * 72, "", rendered.text]
    return "\n".join(lines).rstrip("\n") + "\n"


def render_email(notice: Notice, sender: str | None = None) -> EmailMessage:
    """An RFC 5322 message (text and HTML alternatives). ``To`` is the channel's address when it
    is an e-mail channel; ``From`` is ``sender`` if given, else the requester, and ``Reply-To``
    is always the requester. ``bytes(message)`` is the ``.eml`` file (CRLF line ends)."""
    rendered = _render(notice)
    requester = notice.requester
    key = notice.notice_key
    message = EmailMessage(policy=SMTP)
    try:
        reply_to = Address(display_name=requester.name.strip(), addr_spec=requester.email.strip())
        message["From"] = sender.strip() if sender else reply_to
        message["Reply-To"] = reply_to
        if notice.channel is not None and notice.channel.kind == "email":
            message["To"] = notice.channel.address.strip()
        message["Subject"] = rendered.subject
    except (ValueError, IndexError) as exc:  # the email package's header parser rejects the value
        raise NoticeError(f"an address cannot be written into an e-mail ({exc})", item=key) from None
    message["Date"] = format_datetime(notice.created_at.astimezone(UTC))
    # Derived from the notice key, so a message rebuilt for a retry keeps the same id.
    message["Message-ID"] = f"<{key}@{_domain(message['From'])}>"
    message["X-StopNCII-Notice-Key"] = key
    if notice.channel is not None and not notice.channel.verified:
        message["X-StopNCII-Unverified-Address"] = UNVERIFIED_NOTE
    message.set_content(rendered.text)
    message.add_alternative(rendered.html, subtype="html")
    message["Content-Language"] = notice.language  # after the body: set_content clears Content-*
    message.set_boundary(f"==stopncii-{key}==")  # fixed, so the same notice gives the same bytes
    return message


def render_json(notice: Notice) -> dict[str, Any]:
    """Every field of the notice by name, for machines and the record."""
    rendered = _render(notice)
    fw = get_framework(notice.framework)
    requester = notice.requester
    channel = notice.channel
    due = notice.due_at
    return {
        "schema": JSON_SCHEMA,
        "notice_key": notice.notice_key,
        "case_ref": notice.case_ref,
        "created_at": _iso(notice.created_at),
        "jurisdiction": notice.jurisdiction,
        "language": notice.language,
        "framework": {
            "id": fw.id,
            "title": fw.title,
            "citation": fw.citation,
            "escalation": fw.escalation,
            "warnings": list(fw.warnings),
            "reports_to_authority": fw.reports_to_authority,
            "sources": list(fw.sources),
        },
        "platform": {"id": notice.platform.id, "name": notice.platform.name},
        "channel": None
        if channel is None
        else {
            "kind": channel.kind,
            "address": channel.address,
            "verified": channel.verified,
            "verified_on": channel.verified_on.isoformat() if channel.verified_on else None,
            "source": channel.source,
            "note": channel.note or None,
        },
        "channel_warning": UNVERIFIED_NOTE if channel is not None and not channel.verified else None,
        "deadline": None
        if due is None
        else {"hours": notice.deadline_hours, "due_at": _iso(due)},
        "requester": {
            "role": requester.role,
            "name": requester.name,
            "email": requester.email,
            "signature": requester.signature,
            "postal_address": _disclosed(requester, "postal_address", fw),
            "phone": _disclosed(requester, "phone", fw),
            "organisation": requester.organisation,
            "on_behalf_of": requester.on_behalf_of,
            "authorisation": requester.authorisation,
        },
        "items": [_item_json(item, notice.attach_hashes) for item in notice.items],
        "asks": list(notice.asks),
        "attach_hashes": notice.attach_hashes,
        "statements": [
            {"id": sid, "text": text, "confirmed": sid in notice.confirmed}
            for sid, text in rendered.statements
        ],
        "context": notice.context,
        "original_work": notice.original_work,
        "subject": rendered.subject,
        "body": rendered.text,
        "notes": _person_notes(notice),
    }


def render_form_packet(notice: Notice) -> FormPacket:
    """The labelled fields to paste into a web form (or eSafety's report form), in order."""
    rendered = _render(notice)
    view = _view(notice)
    c = macros(notice.language, "common.j2", view)
    fw = macros(notice.language, f"frameworks/{notice.framework}.j2", view)
    framework = get_framework(notice.framework)
    requester = notice.requester

    fields: list[tuple[str, str]] = [(_clean(c.label("reason")), _clean(fw.reason()))]
    if framework.reports_to_authority:  # the packet goes to a regulator: name the platform
        fields.append((_clean(c.label("platform")), notice.platform.name))
    fields.append((_clean(c.label("urls")), "\n".join(i.url for i in view.items)))
    pages = [f"{i.number}. {i.page_url}" for i in view.items if i.page_url]
    if pages:
        fields.append((_clean(c.label("pages")), "\n".join(pages)))
    fields.append((_clean(c.label("seen")), "\n".join(f"{i.number}. {i.seen}" for i in view.items)))
    fields.append((_clean(c.label("description")), _clean(c.description())))
    if "original_work" in framework.notice_fields and view.original_work:
        fields.append((_clean(c.label("original_work")), view.original_work))
    fields.append((_clean(c.label("asks")), _clean(c.asks_text())))
    if view.hashes:
        fields.append((_clean(c.label("hashes")), _clean(c.hash_lines())))
    for name in ("name", "organisation", "on_behalf_of", "authorisation", "email"):
        value = getattr(requester, name)
        if value and value.strip():
            fields.append((_clean(c.label(name)), value.strip()))
    for name in ("phone", "postal_address"):
        value = getattr(view, name)
        if value:
            fields.append((_clean(c.label(name)), value))
    for sid, text in rendered.statements:
        fields.append((_clean(c.statement_label(sid)), text))
    if requester.signature.strip():
        fields.append((_clean(c.label("signature")), requester.signature.strip()))
    fields.append((_clean(c.label("date")), view.date))

    if notice.channel is None:
        form_url, how = None, f"No reporting address is known for {notice.platform.name}."
    else:
        form_url = notice.channel.address if notice.channel.kind == "web_form" else None
        how = _SEND_HOW.get(notice.channel.kind, "Send it to {address}.").format(
            address=notice.channel.address
        )
        first = _platform_first(notice)
        if first:
            how += f" {first}"
    return FormPacket(notice.notice_key, form_url, how, tuple(fields), tuple(_person_notes(notice)))


# -- helpers -----------------------------------------------------------------------------


def _render(notice: Notice) -> _Rendered:
    validate(notice)
    view = _view(notice)
    env = environment(notice.language)
    fw = macros(notice.language, f"frameworks/{notice.framework}.j2", view)
    common = macros(notice.language, "common.j2", view)
    return _Rendered(
        subject=_clean(fw.subject()),
        text=env.get_template("notice.txt.j2").render(v=view).strip() + "\n",
        html=env.get_template("notice.html.j2").render(v=view).strip() + "\n",
        statements=tuple((sid, _clean(common.statement(sid))) for sid in view.statement_ids),
    )


def _view(notice: Notice) -> _View:
    requester = notice.requester
    framework = get_framework(notice.framework)
    items = tuple(
        _ItemView(
            number=n,
            url=item.url,
            page_url=item.page_url,
            seen=_minute(item.seen_at),
            kind=item.match_kind,
            sha256=item.sha256 if notice.attach_hashes else None,
            pdq=item.pdq if notice.attach_hashes else None,
        )
        for n, item in enumerate(notice.items, start=1)
    )
    return _View(
        framework=notice.framework,
        platform=display_name(notice),
        requester=requester,
        rep=requester.is_representative,
        person=(requester.on_behalf_of or "").strip(),
        items=items,
        kinds=frozenset(i.kind for i in items),
        hashes=any(i.sha256 or i.pdq for i in items),
        asks_copies="identical_copies" in notice.asks,
        deadline_hours=notice.deadline_hours,
        date=notice.created_at.astimezone(UTC).date().isoformat(),
        country=notice.jurisdiction,
        unverified=notice.channel is not None and not notice.channel.verified,
        ref=notice.notice_key[:12],
        context=(notice.context or "").strip() or None,
        original_work=(notice.original_work or "").strip().rstrip(".").strip() or None,  # templates end the sentence
        statement_ids=tuple(s.id for s in framework.statements),
        to_authority=framework.reports_to_authority,
        document=framework.document,
        phone=_disclosed(requester, "phone", framework),
        postal_address=_disclosed(requester, "postal_address", framework),
    )


def display_name(notice: Notice) -> str:
    """The platform's name; for the ``other`` entry, the website's own domain (example.net)."""
    if notice.platform.id != OTHER_ID or not notice.items:
        return notice.platform.name
    host = urlsplit(notice.items[0].url).hostname
    return (registrable_domain(host) or host) if host else notice.platform.name


def _disclosed(requester: Requester, name: str, framework: Framework) -> str | None:
    """A contact detail the framework requires, else None: a notice gives away no more."""
    value = getattr(requester, name)
    return value.strip() if name in framework.requester_fields and value and value.strip() else None


def _clean(text: object) -> str:
    return str(text).strip()


def _person_notes(notice: Notice) -> list[str]:
    framework = get_framework(notice.framework)
    notes = []
    channel = notice.channel
    if channel is not None and not channel.verified:
        source = f" (source: {channel.source})" if channel.source else ""
        notes.append(f"{UNVERIFIED_NOTE[:-1]}{source}.")
    if channel is not None and channel.note:
        notes.append(f"About this address: {channel.note}")
    notes += framework.warnings
    notes.append(f"Where to turn next: {framework.escalation}")
    return notes


def _notes_block(notes: list[str] | tuple[str, ...]) -> list[str]:
    if not notes:
        return []
    return ["NOTES FOR YOU (not part of the notice)", *(f"- {n}" for n in notes), ""]


def _send_to(notice: Notice) -> str:
    channel = notice.channel
    if channel is None:
        return f"Send to: no reporting address is known for {notice.platform.name}"
    first = _platform_first(notice)
    return f"Send to: {_where(channel)}" + (f"\n{first}" if first else "")


def _platform_first(notice: Notice) -> str | None:
    """For a report to a regulator: the platform's own channel, which may be tried first."""
    if not get_framework(notice.framework).reports_to_authority:
        return None
    own = notice.platform.preferred_channel(fallback_framework().id)
    if own is None:
        return None
    return f"You may also report to {notice.platform.name} first: {_where(own)}."


def _where(channel: ReportingChannel) -> str:
    return f"{channel.address} ({_KIND_WORDS.get(channel.kind, channel.kind)})"


def _item_json(item: NoticeItem, attach_hashes: bool) -> dict[str, Any]:
    return {
        "url": item.url,
        "page_url": item.page_url,
        "seen_at": _iso(item.seen_at),
        "match_kind": item.match_kind,
        "sha256": item.sha256 if attach_hashes else None,
        "pdq": item.pdq if attach_hashes else None,
    }


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _minute(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _domain(from_header: object) -> str:
    address = str(from_header)
    domain = address.rpartition("@")[2].strip().rstrip(">").strip()
    return domain or "stopncii.invalid"
