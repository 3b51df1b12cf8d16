"""Real loopback servers and a ready case for the outbox, tracking, batch and export tests.

- ``Intake``: an NGO/platform intake API on 127.0.0.1 that honours Idempotency-Key (a repeat
  gets the first answer back and is not accepted twice), answers from a script (200, 429 with
  Retry-After, 500, slow) and records every request.
- ``Mailbox``: an aiosmtpd server that keeps every message it accepted.
- ``Site``: a folder served over HTTP, whose files a test can delete or replace.
- ``make_case``: protected photos, copies on the site found by a scan, matches confirmed,
  requester set, notices drafted (statements confirmed), like a person would do by hand.
"""

from __future__ import annotations

import asyncio
import functools
import http.server
import json
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import SMTP
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from stopncii_tools import paths
from stopncii_tools.media.samples import write_edits, write_photos
from stopncii_tools.notices import Requester, render_statements
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths
from stopncii_tools.workflow.scan import ScanOptions, scan_sources
from stopncii_tools.workflow.takedown import plan_notices, save_plan, save_requester

INTAKE_ADDRESS = "https://intake.example/v1/notices"
PICS_HOST = "pics.example"
REQUESTER = Requester(name="Jane Doe", email="jane.reports@example.org", signature="/Jane Doe/")


# -- an intake API --------------------------------------------------------------------------


@dataclass
class Received:
    key: str | None
    headers: dict[str, str]
    body: bytes
    status: int


@dataclass
class Intake:
    """What the API received, and the answers still to give (then 200 for ever)."""

    port: int = 0
    delay: float = 0.0
    script: list[tuple[int, dict[str, str], float]] = field(default_factory=list)
    received: list[Received] = field(default_factory=list)
    accepted: dict[str, tuple[str, bytes]] = field(default_factory=dict)  # key -> (id, first body)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1/notices"

    def answer(self, status: int, headers: dict[str, str] | None = None, delay: float = 0.0) -> None:
        self.script.append((status, headers or {}, delay))

    def keys(self) -> list[str | None]:
        return [r.key for r in self.received if r.status == 200]


@contextmanager
def intake_server(delay: float = 0.0) -> Iterator[Intake]:
    intake = Intake(delay=delay)

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            key = self.headers.get("Idempotency-Key")
            with intake.lock:
                status, headers, pause = intake.script.pop(0) if intake.script else (200, {}, intake.delay)
            time.sleep(pause)
            with intake.lock:
                if status == 200 and key:
                    first = intake.accepted.setdefault(key, (f"R-{len(intake.accepted) + 1}", body))
                    reply: dict[str, Any] = {"id": first[0]}
                else:
                    reply = {"error": "busy"}
                intake.received.append(Received(key, dict(self.headers.items()), body, status))
            data = json.dumps(reply).encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except OSError:  # the client gave up waiting (a timeout test)
                pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    intake.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield intake
    finally:
        server.shutdown()
        server.server_close()


# -- a mailbox ------------------------------------------------------------------------------


@dataclass
class Mailbox:
    port: int = 0
    raw: list[bytes] = field(default_factory=list)
    hang_up_after_data: int = 0  # take the next N messages, then drop the line before "250"
    delay: float = 0.0

    def messages(self) -> list[EmailMessage]:
        return [message_from_bytes(m, policy=SMTP) for m in self.raw]  # type: ignore[misc]

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(self.delay)
        self.raw.append(envelope.original_content or envelope.content)
        if self.hang_up_after_data:
            self.hang_up_after_data -= 1
            server.transport.close()
        return "250 2.0.0 Ok: queued as TEST123"


@contextmanager
def mailbox_server(**options: Any) -> Iterator[Mailbox]:
    box = Mailbox()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        box.port = s.getsockname()[1]
    controller = Controller(box, hostname="127.0.0.1", port=box.port, **options)
    controller.start()
    try:
        yield box
    finally:
        controller.stop()


# -- a website ------------------------------------------------------------------------------


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def site_server(folder: Path) -> Iterator[int]:
    folder.mkdir(parents=True, exist_ok=True)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(_Quiet, directory=str(folder)))
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


# -- settings files -------------------------------------------------------------------------


def write_intake_platform(kind: str = "api", address: str = INTAKE_ADDRESS) -> Path:
    """A platform of our own in the person's directory: pics.example, one report per item."""
    path = paths.config_dir() / "platforms.toml"
    path.write_text(f"""
[[platform]]
id = "intake"
name = "Intake Test"
hosts = ["{PICS_HOST}"]
languages = ["en"]
one_report_per_item = true

[[platform.channel]]
kind = "{kind}"
address = "{address}"
frameworks = ["take_it_down", "platform_policy"]
""")
    return path


def write_sending(text: str) -> Path:
    path = paths.config_dir() / "sending.toml"
    path.write_text(text)
    return path


def intake_settings(intake: Intake, **extra: Any) -> str:
    lines = ["[[api]]", f'address = "{INTAKE_ADDRESS}"', f'url = "{intake.url}"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


def smtp_settings(box: Mailbox, **extra: Any) -> str:
    lines = ["[smtp]", 'host = "127.0.0.1"', f"port = {box.port}", 'security = "none"']
    lines += [f"{k} = {json.dumps(v)}" for k, v in extra.items()]
    return "\n".join(lines) + "\n"


# -- a case ---------------------------------------------------------------------------------


@dataclass
class MadeCase:
    db: Path
    case_id: str
    urls: list[str]
    site: Path
    copies: list[str]  # file names on the site, in the order of ``urls``


def copies_on_site(tmp: Path, site: Path, seeds: list[int]) -> tuple[Path, list[str]]:
    photos = write_photos(tmp / "mine", seeds)
    truth = write_edits(site, photos)
    return tmp / "mine", sorted(truth)


def make_case(
    tmp: Path, site: Path, port: int, *, count: int, host: str = PICS_HOST, jurisdiction: str = "US",
    draft: bool = True, seeds: tuple[int, ...] = (401, 402, 403), language: str | None = "en",
) -> MadeCase:
    """A case whose ``count`` copies on ``host`` are found, confirmed and (by default) drafted,
    in English only (``language=None``: every language the platform reads, as ``notice draft``)."""
    mine, names = copies_on_site(tmp, site, list(seeds[: -(-count // 6)]))  # six copies per photo
    names = names[:count]
    db = tmp / "cases.db"
    urls = [f"http://{host}:{port}/{name}" for name in names]
    with Store(db) as store:
        case = store.create_case("Casework", jurisdiction)
        list(protect_paths(store, case, [mine], jobs=1))
        options = ScanOptions(allow_private=True, hosts={host: "127.0.0.1"})
        outcomes = list(scan_sources(store, case, urls, options))
        assert all(o.matches for o in outcomes), [o.error for o in outcomes]
        for outcome in outcomes:
            for match in outcome.matches:
                store.decide_match(match.id, "confirmed")
        save_requester(store, case.id, REQUESTER)
        if draft:
            plan = plan_notices(store, case, load_directory(), REQUESTER, language=language)
            plan.notices = [(n.with_confirmed(s for s, _ in render_statements(n)), why, ids)
                            for n, why, ids in plan.notices]
            save_plan(store, case, plan)
    return MadeCase(db, case.id, urls, site, names)
