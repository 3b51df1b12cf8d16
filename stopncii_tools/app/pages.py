"""The pages: each reads a form, calls the same workflow function the CLI calls, and renders.

Work that touches the case database or the network runs in a worker thread with its own
:class:`Store`, opened and closed per request (as each CLI command does).
"""

from __future__ import annotations

import io
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

from jinja2 import Environment, PackageLoader, StrictUndefined
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException
from starlette.formparsers import MultiPartParser
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from .. import clock as clocks
from .. import paths
from .._errors import MediaError, NoticeError, StopNCIIError
from ..countries import ISO_3166_CODES, country_name
from ..matching.explain import KIND_WORDS, explain
from ..media.pictures import open_picture
from ..notices import Notice, Requester, render_statements, render_text
from ..notices.platforms import PlatformDirectory, load_directory
from ..store import MatchRecord, Store, StoredNotice
from ..store.notice_states import targets
from ..submit.config import SendingConfig, load_sending_config, save_smtp_settings
from ..workflow.outbox import mark_reply, mark_sent, payload_text, route_for, send_notices
from ..workflow.protect import protect_bytes
from ..workflow.report import ReportOptions, build_report, write_report
from ..workflow.scan import ScanOptions
from ..workflow.takedown import case_requester, plan_notices, save_plan, save_requester
from ..workflow.tracking import CheckOptions, check_removals, follow_up, status_board
from .guard import REPORT_POLICY, Session
from .jobs import Jobs
from .messages import CATALOGUE, DEFAULT_LANGUAGE, EN, LANGUAGE_NAMES, translate

MAX_UPLOAD_BYTES = 512 * 1024 * 1024  # one form's files, held in memory: a larger upload is refused, not spooled
SHOWN_SIDE = 800  # the found picture is shown at most this large
STEPS = ("protect", "find", "review", "takedown", "track")
T = TypeVar("T")


class _InMemoryParser(MultiPartParser):
    spool_max_size = MAX_UPLOAD_BYTES + 1  # uploads stay in memory: the request is refused before this


@dataclass(frozen=True)
class AppSettings:
    """What the page works on. ``hosts`` and ``allow_private`` serve test pages on this computer."""

    db_path: Path
    hosts: dict[str, str] = field(default_factory=dict)
    allow_private: bool = False
    max_pages: int = 5
    channel_config: Path | None = None


@dataclass
class Context:
    """What every page handler needs: the settings, the session, the running searches, notes."""

    settings: AppSettings
    session: Session
    jobs: Jobs = field(default_factory=Jobs)
    notes: dict[str, list[str]] = field(default_factory=dict)  # shown once after a redirect
    _templates: Environment = field(init=False)

    def __post_init__(self) -> None:
        self._templates = Environment(loader=PackageLoader("stopncii_tools.app", "templates"), autoescape=True,
                                      undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)

    def language(self, request: Request) -> str:
        chosen = request.cookies.get("lang", DEFAULT_LANGUAGE)
        return chosen if chosen in CATALOGUE else DEFAULT_LANGUAGE

    def render(self, request: Request, name: str, status_code: int = 200, **values: Any) -> HTMLResponse:
        language = self.language(request)
        note_key = request.query_params.get("note")
        html = self._templates.get_template(name).render(
            t=partial(translate, language), lang=language, languages=LANGUAGE_NAMES, csrf=self.session.csrf,
            path=request.url.path, notes=self.notes.pop(note_key, []) if note_key else [], steps=STEPS,
            case=values.pop("case", None), step=values.pop("step", None), **values)
        return HTMLResponse(html, status_code)

    def remember(self, lines: list[str]) -> str:
        key = secrets.token_urlsafe(8)
        self.notes[key] = lines
        return key

    def back(self, path: str, lines: list[str] | None = None) -> RedirectResponse:
        """Post, then redirect, then get: a reload never repeats the action."""
        return RedirectResponse(f"{path}?note={self.remember(lines)}" if lines else path, 303)

    async def work(self, function: Callable[..., T], *args: Any) -> T:
        """Run ``function(store, *args)`` in a worker thread with its own connection."""
        def call() -> T:
            with Store(self.settings.db_path) as store:
                return function(store, *args)
        return await run_in_threadpool(call)

    def sending_config(self) -> SendingConfig:
        return load_sending_config(self.settings.channel_config)

    async def form(self, request: Request) -> dict[str, Any]:
        """The posted form, files in memory, after checking its CSRF code (403 without it)."""
        length = request.headers.get("content-length")
        if length is None or not length.isdigit() or int(length) > MAX_UPLOAD_BYTES:
            raise HTTPException(413, "Too much at once: choose fewer or smaller files.")
        if request.headers.get("content-type", "").startswith("multipart/form-data"):
            parsed = await _InMemoryParser(request.headers, request.stream(), max_files=10_000,
                                           max_fields=10_000).parse()
        else:
            parsed = await request.form()
        if not self.session.csrf_ok(str(parsed.get("csrf") or "")):
            raise HTTPException(403, translate(self.language(request), "refused.form"))
        values: dict[str, Any] = {}
        for key, value in parsed.multi_items():
            values.setdefault(key, []).append(value)
        return values


def first(form: dict[str, Any], key: str, default: str = "") -> str:
    value = form.get(key, [default])[0]
    return value.strip() if isinstance(value, str) else default


async def uploads(form: dict[str, Any], *keys: str) -> list[tuple[str, bytes]]:
    files = []
    for key in keys:
        for value in form.get(key, []):
            if isinstance(value, UploadFile) and value.filename:
                files.append((value.filename, await value.read()))
                await value.close()
    return files


# -- start ----------------------------------------------------------------------------------


def _countries() -> list[tuple[str, str]]:
    return sorted(((code, f"{country_name(code)} ({code})" if country_name(code) != code else code)
                   for code in ISO_3166_CODES), key=lambda pair: (pair[1] == pair[0], pair[1].removeprefix("the ")))


async def start(request: Request, ctx: Context) -> Response:
    def load(store: Store) -> list[tuple[Any, dict[str, int]]]:
        return [(case, store.case_counts(case.id)) for case in store.list_cases("open")]
    return ctx.render(request, "start.html", cases=await ctx.work(load), countries=_countries())


async def create_case(request: Request, ctx: Context) -> Response:
    form = await ctx.form(request)
    title, country = first(form, "title"), first(form, "country")
    case = await ctx.work(lambda store: store.create_case(title or "My case", country or None))
    return ctx.back(f"/case/{case.id}/protect")


async def set_language(request: Request, ctx: Context) -> Response:
    form = await ctx.form(request)
    back = first(form, "back", "/")
    response = RedirectResponse(back if back.startswith("/") and not back.startswith("//") else "/", 303)
    language = first(form, "lang")
    if language in CATALOGUE:
        response.set_cookie("lang", language, httponly=True, samesite="strict", path="/")
    return response


async def away(request: Request, ctx: Context) -> Response:
    return ctx.render(request, "away.html")


async def alive(request: Request, ctx: Context) -> Response:
    await ctx.form(request)
    return Response(status_code=204)


# -- protect --------------------------------------------------------------------------------


async def protect_page(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    case, items = await ctx.work(lambda store: (store.get_case(case_id), store.protected_items(case_id)))
    return ctx.render(request, "protect.html", case=case, step="protect", items=items)


async def protect_post(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    form = await ctx.form(request)
    files = await uploads(form, "files")
    keep_names = first(form, "names") == "yes"
    language = ctx.language(request)

    def protect(store: Store) -> list[str]:
        case = store.get_case(case_id)
        outcomes = [protect_bytes(store, case, name, data, store_names=keep_names) for name, data in files]
        lines = [o.error for o in outcomes if o.error]
        added = sum(1 for o in outcomes if o.created)
        known = sum(1 for o in outcomes if o.item is not None and not o.created)
        lines.insert(0, translate(language, "protect.added", added))
        if known:
            lines.insert(1, translate(language, "protect.known", known))
        lines += sorted({note for o in outcomes for note in o.notes})
        return lines
    return ctx.back(f"/case/{case_id}/protect", await ctx.work(protect))


# -- find -----------------------------------------------------------------------------------


async def find_page(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    case = await ctx.work(lambda store: store.get_case(case_id))
    return ctx.render(request, "find.html", case=case, step="find")


async def find_post(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    form = await ctx.form(request)
    links = [line.strip() for line in first(form, "links").splitlines() if line.strip()]
    files = await uploads(form, "files", "folder")
    if not links and not files:
        return ctx.back(f"/case/{case_id}/find", [translate(ctx.language(request), "find.nothing")])
    await ctx.work(lambda store: store.get_case(case_id))  # an unknown case is refused before starting
    settings = ctx.settings
    options = ScanOptions(allow_private=settings.allow_private, hosts=settings.hosts, max_pages=settings.max_pages)
    job = ctx.jobs.start_scan(settings.db_path, case_id, links, files, options)
    return RedirectResponse(f"/case/{case_id}/find/{job.id}", 303)


async def find_progress(request: Request, ctx: Context) -> Response:
    case_id, job_id = request.path_params["case_id"], request.path_params["job_id"]
    case, counts = await ctx.work(lambda store: (store.get_case(case_id), store.case_counts(case_id)))
    job = ctx.jobs.get(job_id)
    template = "find_part.html" if request.query_params.get("part") else "find_progress.html"
    return ctx.render(request, template, case=case, step="find", job=job, counts=counts)


# -- review ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class MatchView:
    """A match as the review page shows it: where, what kind, and why, in words."""

    match: MatchRecord
    where: str
    what: str
    why: list[str]
    yours: str | None


def _match_view(store: Store, match: MatchRecord) -> MatchView:
    sighting, item = store.sighting(match.sighting_id), store.protected_item(match.item_id)
    return MatchView(match, sighting.location, KIND_WORDS.get(match.kind, match.kind),
                     explain(match.kind, match.evidence), item.label)


async def review_page(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]

    def load(store: Store) -> tuple[Any, list[MatchView]]:
        return store.get_case(case_id), [_match_view(store, m) for m in store.matches(case_id)]
    case, views = await ctx.work(load)
    return ctx.render(request, "review.html", case=case, step="review", views=views)


async def decide(request: Request, ctx: Context) -> Response:
    case_id, match_id = request.path_params["case_id"], int(request.path_params["match_id"])
    form = await ctx.form(request)
    decision = {"confirm": "confirmed", "reject": "rejected"}.get(first(form, "decision"))
    if decision is None:
        raise HTTPException(400, "confirm or reject")

    def record(store: Store) -> None:
        if store.match(match_id).case_id != case_id:
            raise HTTPException(404)
        store.decide_match(match_id, decision)
    await ctx.work(record)
    return RedirectResponse(f"/case/{case_id}/review#match-{match_id}", 303)


async def look(request: Request, ctx: Context) -> Response:
    case_id, match_id = request.path_params["case_id"], int(request.path_params["match_id"])

    def load(store: Store) -> tuple[Any, MatchView, str | None, str | None]:
        match = store.match(match_id)
        if match.case_id != case_id:
            raise HTTPException(404)
        sighting = store.sighting(match.sighting_id)
        return store.get_case(case_id), _match_view(store, match), sighting.final_url or sighting.url, sighting.kind
    case, view, url, kind = await ctx.work(load)
    return ctx.render(request, "look.html", case=case, step="review", view=view, url=url, kind=kind)


async def picture(request: Request, ctx: Context) -> Response:
    """The found picture, downloaded again into memory and sent as PNG; never stored."""
    case_id, match_id = request.path_params["case_id"], int(request.path_params["match_id"])

    def address(store: Store) -> str | None:
        match = store.match(match_id)
        if match.case_id != case_id:
            raise HTTPException(404)
        sighting = store.sighting(match.sighting_id)
        return sighting.final_url or sighting.url
    url = await ctx.work(address)
    if url is None:
        raise HTTPException(404)
    try:
        body = await run_in_threadpool(_fetch_picture, url, ctx.settings)
    except StopNCIIError as exc:
        raise HTTPException(502, str(exc)) from None
    return Response(body, media_type="image/png")


def _fetch_picture(url: str, settings: AppSettings) -> bytes:
    from ..web.fetch import Fetcher, FetchLimits, resolve_host

    def resolve(host: str, port: int) -> list[str]:
        return [settings.hosts[host]] if host in settings.hosts else resolve_host(host, port)

    with Fetcher(FetchLimits(), allow_private=settings.allow_private, resolver=resolve) as fetcher:
        found = fetcher.get(url)
    if found.kind != "image":
        raise MediaError("it is not a picture", item=url)
    shown = open_picture(found.body, side=SHOWN_SIDE).image
    out = io.BytesIO()
    shown.save(out, "PNG")
    return out.getvalue()


# -- take down ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Proposal:
    """A notice the plan would draft: its statements to tick, and its text to read first."""

    key: str
    platform: str
    language: str
    reason: str
    statements: list[tuple[str, str]]
    text: str


@dataclass(frozen=True)
class Ready:
    """A notice not sent yet: how it would go, and the text to copy when it goes by hand."""

    notice: StoredNotice
    method: str
    address: str
    packet: str | None


def _proposal_key(platform: str, language: str, ids: list[int]) -> str:
    return f"{platform}|{language}|{'-'.join(map(str, ids))}"


def _proposal(notice: Notice, reason: str, ids: list[int]) -> Proposal:
    """A planned notice with its statements, and its text as it reads once they are ticked."""
    statements = render_statements(notice)
    return Proposal(_proposal_key(notice.platform.id, notice.language, ids), notice.platform.name, notice.language,
                    reason, statements, render_text(notice.with_confirmed(sid for sid, _ in statements)))


async def takedown_page(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    config = ctx.sending_config()

    def load(store: Store) -> dict[str, Any]:
        case = store.get_case(case_id)
        requester = case_requester(store, case_id)
        proposals, problems = [], []
        if requester is not None and store.matches(case_id, "confirmed"):
            try:
                plan = plan_notices(store, case, load_directory(), requester)
                problems = plan.problems + plan.waiting
                proposals = [_proposal(notice, reason, ids) for notice, reason, ids in plan.notices]
            except NoticeError as exc:
                problems = [str(exc)]
        ready = []
        for stored in store.notices(case_id):
            if stored.status not in ("draft", "queued"):
                continue
            route = route_for(stored, config)
            payload = store.notice_payload(stored.id) if stored.status == "queued" else None
            ready.append(Ready(stored, route.method, route.destination,
                               payload_text(payload) if payload and route.method == "by_hand" else None))
        return {"case": case, "requester": requester, "proposals": proposals, "problems": problems, "ready": ready}
    values = await ctx.work(load)
    return ctx.render(request, "takedown.html", step="takedown", smtp=config.smtp, platform_names=_platform_names(),
                      **values)


def _platform_names() -> dict[str, str]:
    return {platform.id: platform.name for platform in load_directory().all()}


async def requester_post(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    form = await ctx.form(request)
    fields = ("name", "email", "signature", "postal_address", "phone", "organisation", "on_behalf_of",
              "authorisation")
    given = {name: first(form, name) or None for name in fields}
    role = "representative" if first(form, "role") == "representative" else "self"
    requester = Requester(name=given.pop("name") or "", email=given.pop("email") or "",
                          signature=given.pop("signature") or "", role=role, **given)
    await ctx.work(lambda store: save_requester(store, case_id, requester))
    return ctx.back(f"/case/{case_id}/takedown", [translate(ctx.language(request), "td.saved")])


async def notices_post(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    form = await ctx.form(request)
    ticked = set(form.get("statement", []))
    language = ctx.language(request)

    def draft(store: Store) -> list[str]:
        case = store.get_case(case_id)
        requester = case_requester(store, case_id)
        if requester is None:
            raise NoticeError("set who sends the requests first", item=f"case {case_id}")
        plan = plan_notices(store, case, load_directory(), requester)
        kept, left = [], 0
        for notice, reason, ids in plan.notices:
            key = _proposal_key(notice.platform.id, notice.language, ids)
            statements = [sid for sid, _ in render_statements(notice)]
            if all(f"{key}|{sid}" in ticked for sid in statements):
                kept.append((notice.with_confirmed(statements), reason, ids))
            else:
                left += 1
        plan.notices = kept
        saved = save_plan(store, case, plan)
        return [translate(language, "td.prepared", len(saved))] + ([translate(language, "td.left", left)] if left
                                                                   else [])
    return ctx.back(f"/case/{case_id}/takedown", await ctx.work(draft))


async def send_post(request: Request, ctx: Context) -> Response:
    case_id, notice_id = request.path_params["case_id"], int(request.path_params["notice_id"])
    await ctx.form(request)
    config, language = ctx.sending_config(), ctx.language(request)

    def send(store: Store) -> list[str]:
        if store.notice(notice_id).case_id != case_id:
            raise HTTPException(404)
        return [translate(language, "td.sent", id=r.notice.id, outcome=translate(language, f"outcome.{r.outcome}"))
                + (f" {r.detail}" if r.detail else "")
                for r in send_notices(store, config, load_directory(), notice_ids=[notice_id])]
    return ctx.back(f"/case/{case_id}/takedown", await ctx.work(send))


async def mark_sent_post(request: Request, ctx: Context) -> Response:
    case_id, notice_id = request.path_params["case_id"], int(request.path_params["notice_id"])
    form = await ctx.form(request)
    config = ctx.sending_config()
    ticket = first(form, "ticket") or "none"
    await ctx.work(lambda store: mark_sent(store, notice_id, config, load_directory(), ticket=ticket))
    return ctx.back(f"/case/{case_id}/track")


async def smtp_post(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    form = await ctx.form(request)
    language = ctx.language(request)
    port = first(form, "port", "587")
    settings: dict[str, str | int] = {"host": first(form, "host"), "port": int(port) if port.isdigit() else 587,
                                      "security": first(form, "security", "starttls")}
    settings.update({key: first(form, key) for key in ("username", "from") if first(form, key)})
    path = await run_in_threadpool(save_smtp_settings, settings, ctx.settings.channel_config)
    lines = [translate(language, "td.smtp.saved", path=path)]
    password = first(form, "password")
    if password:
        problem = await run_in_threadpool(_keep_password, ctx.sending_config(), password)
        if problem:
            lines.append(translate(language, "td.smtp.nokeyring", reason=problem))
    return ctx.back(f"/case/{case_id}/takedown", lines)


def _keep_password(config: SendingConfig, password: str) -> str | None:
    """Put the mail password in the system keyring, where sending looks for it; or why not."""
    assert config.smtp is not None
    smtp = config.smtp.settings
    try:
        import keyring

        keyring.set_password(smtp.keyring_service or "stopncii-tools", smtp.password_env, password)
    except Exception as exc:  # no keyring package, no backend, a locked store: say so, keep going
        return f"{type(exc).__name__}: this computer's password store is not available"
    return None


# -- track ----------------------------------------------------------------------------------


def _next_words(state: str) -> str:
    return {"overdue": "next.followup", "refused": "next.followup", "waiting": "next.check",
            "due soon": "next.check", "to send": "next.send", "by hand": "next.send", "held": "next.send",
            "interrupted": "next.send"}.get(state, "next.none")


async def track_page(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    config = ctx.sending_config()
    case, rows = await ctx.work(lambda store: (store.get_case(case_id),
                                               status_board(store, config, case_id=case_id, include_closed=True)))
    report = _latest_report(case_id)
    return ctx.render(request, "track.html", case=case, step="track", rows=rows, next_words=_next_words,
                      replies=targets("reply"), report=report, report_time=_report_time(report),
                      platform_names=_platform_names())


async def check_post(request: Request, ctx: Context) -> Response:
    case_id = request.path_params["case_id"]
    await ctx.form(request)
    options = CheckOptions(allow_private=ctx.settings.allow_private, hosts=ctx.settings.hosts)
    language = ctx.language(request)

    def check(store: Store) -> list[str]:
        return [translate(language, "track.checked", url=c.sighting.location,
                          outcome=_check_words(language, c.check.outcome))
                for c in check_removals(store, case_id=case_id, options=options)]
    return ctx.back(f"/case/{case_id}/track", await ctx.work(check))


def _check_words(language: str, outcome: str) -> str:
    return translate(language, f"check.{outcome}") if f"check.{outcome}" in EN else outcome


async def reply_post(request: Request, ctx: Context) -> Response:
    case_id, notice_id = request.path_params["case_id"], int(request.path_params["notice_id"])
    form = await ctx.form(request)
    await ctx.work(lambda store: mark_reply(store, notice_id, first(form, "status"), note=first(form, "note") or None))
    return ctx.back(f"/case/{case_id}/track")


async def follow_up_page(request: Request, ctx: Context) -> Response:
    case_id, notice_id = request.path_params["case_id"], int(request.path_params["notice_id"])
    directory: PlatformDirectory = load_directory()
    case, draft = await ctx.work(lambda store: (store.get_case(case_id), follow_up(store, notice_id, directory)))
    return ctx.render(request, "follow_up.html", case=case, step="track", draft=draft)


def _reports_dir() -> Path:
    return paths.private_dir(paths.data_dir() / "reports")


def _latest_report(case_id: str) -> Path | None:
    written = sorted(_reports_dir().glob(f"case-report-{case_id}-*.html"))
    return written[-1] if written else None


def _report_time(report: Path | None) -> str | None:
    """When a report was written, from its name (``case-report-ID-20261201-094500.html``)."""
    if report is None:
        return None
    day, hour = report.stem.rsplit("-", 2)[1:]
    return f"{day[:4]}-{day[4:6]}-{day[6:]} {hour[:2]}:{hour[2:4]}"


async def report_post(request: Request, ctx: Context) -> Response:
    """The case report, written where the CLI would write it (a private file), as HTML."""
    case_id = request.path_params["case_id"]
    await ctx.form(request)
    target = _reports_dir() / f"case-report-{case_id}-{clocks.now():%Y%m%d-%H%M%S}.html"
    await ctx.work(lambda store: write_report(build_report(store, case_id, ReportOptions()), "html", target))
    return ctx.back(f"/case/{case_id}/track",
                    [translate(ctx.language(request), "track.report.written", path=target)])


async def report_page(request: Request, ctx: Context) -> Response:
    report = _latest_report(request.path_params["case_id"])
    if report is None:
        raise HTTPException(404)
    response = FileResponse(report, media_type="text/html; charset=utf-8")
    response.headers["Content-Security-Policy"] = REPORT_POLICY
    return response
