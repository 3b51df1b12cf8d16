"""The local web page's server: routes, errors, and running it on 127.0.0.1 until it is closed."""

from __future__ import annotations

import socket
import sqlite3
import threading
import time
import webbrowser
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from .._errors import StopNCIIError
from ..store import explain_database_error
from . import pages
from .guard import Guard, Session
from .messages import translate
from .pages import AppSettings, Context

if TYPE_CHECKING:
    import uvicorn

Handler = Callable[[Request, Context], Awaitable[Response]]
HEARTBEAT_SECONDS = 30  # how often an open page says it is still open (static/app.js)


def create_app(settings: AppSettings, session: Session) -> tuple[Starlette, Context]:
    """The page as an ASGI app, guarded by ``session``; the context holds its running searches."""
    ctx = Context(settings, session)

    def bind(handler: Handler) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            return await handler(request, ctx)
        return endpoint

    def get(path: str, handler: Handler) -> Route:
        return Route(path, bind(handler), methods=["GET"])

    def post(path: str, handler: Handler) -> Route:
        return Route(path, bind(handler), methods=["POST"])

    case = "/case/{case_id:str}"
    routes = [
        get("/", pages.start), post("/cases", pages.create_case), post("/language", pages.set_language),
        get("/away", pages.away), post("/alive", pages.alive),
        get(f"{case}/protect", pages.protect_page), post(f"{case}/protect", pages.protect_post),
        get(f"{case}/find", pages.find_page), post(f"{case}/find", pages.find_post),
        get(f"{case}/find/{{job_id:str}}", pages.find_progress),
        get(f"{case}/review", pages.review_page), post(f"{case}/review/{{match_id:int}}", pages.decide),
        get(f"{case}/review/{{match_id:int}}/look", pages.look),
        get(f"{case}/review/{{match_id:int}}/picture.png", pages.picture),
        get(f"{case}/takedown", pages.takedown_page), post(f"{case}/requester", pages.requester_post),
        post(f"{case}/notices", pages.notices_post), post(f"{case}/smtp", pages.smtp_post),
        post(f"{case}/notice/{{notice_id:int}}/send", pages.send_post),
        post(f"{case}/notice/{{notice_id:int}}/sent", pages.mark_sent_post),
        post(f"{case}/notice/{{notice_id:int}}/reply", pages.reply_post),
        get(f"{case}/notice/{{notice_id:int}}/follow-up", pages.follow_up_page),
        get(f"{case}/track", pages.track_page), post(f"{case}/check", pages.check_post),
        post(f"{case}/report", pages.report_post), get(f"{case}/report", pages.report_page),
        Mount("/static", StaticFiles(packages=[("stopncii_tools.app", "static")]), name="static"),
    ]

    async def problem(request: Request, exc: Exception) -> Response:
        if isinstance(exc, HTTPException):
            status, reason = exc.status_code, exc.detail
        elif isinstance(exc, sqlite3.Error):
            status, reason = 500, explain_database_error(exc)
        else:
            status, reason = 400, str(exc)
        return ctx.render(request, "problem.html", status_code=status,
                          message=translate(ctx.language(request), "error", reason=reason))

    refused = translate("en", "refused.token") + "\n\n" + translate("ru", "refused.token")
    app = Starlette(routes=routes, middleware=[Middleware(Guard, session=session, refused_text=refused)],
                    exception_handlers={HTTPException: problem, StopNCIIError: problem, sqlite3.Error: problem})
    return app, ctx


def serve(settings: AppSettings, *, open_browser: bool = True, idle_minutes: float = 15.0,
          announce: Callable[[str], None] = print) -> None:
    """Serve the page on 127.0.0.1 (a free port) until Ctrl-C, or until no page has been open
    for ``idle_minutes`` while no search runs."""
    import uvicorn

    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)  # from now on the browser's first request waits for the server instead of failing
    session = Session(port=listener.getsockname()[1])
    app, ctx = create_app(settings, session)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off",
                                           server_header=False, date_header=False))
    announce(session.start_url())
    watcher = threading.Thread(target=_watch, args=(server, session, ctx, idle_minutes * 60, open_browser,
                                                    announce), daemon=True)
    watcher.start()
    server.run(sockets=[listener])


def _watch(server: uvicorn.Server, session: Session, ctx: Context, idle_seconds: float, open_browser: bool,
           announce: Callable[[str], None]) -> None:
    """Open the browser once the server listens; stop it when the page was closed long enough."""
    while not server.started:
        time.sleep(0.05)
    if open_browser:
        webbrowser.open(session.start_url(), new=1)
    while not server.should_exit:
        time.sleep(1.0)
        if time.monotonic() - session.last_heard > idle_seconds and not ctx.jobs.running():
            announce("Stopped: the page was closed (nothing heard from it for a while). Your case is kept.")
            server.should_exit = True
