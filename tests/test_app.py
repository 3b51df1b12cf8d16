"""The local web page in a real browser: Debian's chromium driven by Playwright, against real
loopback servers (a web site with copies, an aiosmtpd mailbox), over a real case database.

One browser for the module; each test starts its own page server. Screenshots of each step go
to docs/app/, where docs/app.md shows them. Every page is checked with axe-core in the browser.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import keyring
import pytest

from stopncii_tools.app import AppSettings, Session, create_app
from stopncii_tools.store import Store
from stopncii_tools.workflow.protect import protect_paths

from ._casework import (
    PICS_HOST,
    copies_on_site,
    mailbox_server,
    make_case,
    site_server,
    write_intake_platform,
)
from .test_submit_smtp import MemoryKeyring

playwright_api = pytest.importorskip("playwright.sync_api")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
if not Path(CHROMIUM).exists():
    pytest.skip("Debian's chromium is not installed (.ci/run installs it)", allow_module_level=True)

# the pictures of docs/app.md are retaken only when asked, so a test run leaves the checkout as it was
DOCS_SHOTS = (Path(__file__).resolve().parents[1] / "docs" / "app" if os.environ.get("STOPNCII_RETAKE_DOC_SHOTS")
              else Path(tempfile.gettempdir()) / f"stopncii-app-shots-{os.getpid()}")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ABUSE = "abuse@pics.example"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """One headless chromium for the module, with a fresh profile."""
    with playwright_api.sync_playwright() as p:
        context = p.chromium.launch_persistent_context(
            str(tmp_path_factory.mktemp("chromium-profile")), executable_path=CHROMIUM, headless=True, args=ARGS,
            viewport={"width": 1000, "height": 900}, locale="en-GB")
        context.set_default_timeout(20_000)
        yield context
        context.close()


@pytest.fixture
def tab(browser: Any) -> Iterator[Any]:
    browser.clear_cookies()
    page = browser.new_page()
    yield page
    for open_page in list(browser.pages):
        open_page.close()


@contextmanager
def page_server(settings: AppSettings) -> Iterator[Session]:
    """The page's server in a thread of this process (so the test's keyring and folders apply)."""
    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    session = Session(port=listener.getsockname()[1])
    app, _ = create_app(settings, session)
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    try:
        yield session
    finally:
        server.should_exit = True
        thread.join(10)


def accessible(page: Any) -> None:
    """axe-core, run in the page: no serious or critical violation."""
    import axe_playwright_python

    page.evaluate((Path(axe_playwright_python.__file__).parent / "axe.min.js").read_text())
    result = page.evaluate("axe.run(document, {resultTypes: ['violations']})")
    bad = [(v["id"], v["impact"], [n["target"] for n in v["nodes"]][:3]) for v in result["violations"]
           if v["impact"] in ("serious", "critical")]
    assert bad == [], f"{page.url}: {bad}"


def shot(page: Any, name: str) -> None:
    DOCS_SHOTS.mkdir(exist_ok=True)
    page.screenshot(path=str(DOCS_SHOTS / f"{name}.png"), full_page=True)


def write_page(site: Path, names: list[str], page: str = "post.html") -> str:
    site.joinpath(page).write_text("<html><body>" + "".join(f'<img src="{n}">' for n in names) + "</body></html>")
    return page


def test_the_whole_flow_in_the_browser(tab: Any, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    store_of_passwords = MemoryKeyring()  # the one in-memory keyring of the tests
    previous = keyring.get_keyring()
    keyring.set_keyring(store_of_passwords)
    request.addfinalizer(lambda: keyring.set_keyring(previous))
    write_intake_platform(kind="email", address=ABUSE)
    mine, copies = copies_on_site(tmp_path, tmp_path / "site", [401])
    post = write_page(tmp_path / "site", copies[:3])
    db = tmp_path / "cases.db"
    with site_server(tmp_path / "site") as port, mailbox_server() as box, \
            page_server(AppSettings(db, hosts={PICS_HOST: "127.0.0.1"}, allow_private=True)) as session:
        # Start: the token opens the page, then leaves the address bar
        tab.goto(session.start_url())
        assert "token" not in tab.url
        accessible(tab)
        shot(tab, "1-start")
        tab.get_by_label("A name for this case").fill("My photos")
        tab.get_by_label("Your country").select_option("US")
        tab.get_by_role("button", name="Start the case").click()

        # Protect: the photo is hashed in memory; the page shows what is stored
        tab.get_by_label("Photos and videos").set_input_files(str(mine / "photo401.jpg"))
        tab.get_by_role("button", name="Protect these").click()
        tab.get_by_text("1 picture protected.").wait_for()
        assert tab.get_by_role("cell", name="photo401.jpg").is_visible()
        accessible(tab)
        shot(tab, "2-protect")

        # Find: a page with three copies; it says how many pictures were checked there
        tab.get_by_role("link", name="Next: look for copies").click()
        accessible(tab)
        empty = write_page(tmp_path / "site", [], "empty.html")
        tab.get_by_label("Web addresses, one per line").fill(
            f"http://{PICS_HOST}:{port}/{post}\nhttp://{PICS_HOST}:{port}/{empty}")
        tab.get_by_role("button", name="Look for copies").click()
        tab.get_by_text("Finished.").wait_for()
        assert tab.get_by_text(f"http://{PICS_HOST}:{port}/{empty}: nothing could be checked on this page").is_visible()
        assert tab.get_by_text(f"http://{PICS_HOST}:{port}/{post}: 3 pictures checked.").is_visible()
        assert tab.get_by_text("3 possible copies found.").is_visible()
        accessible(tab)
        shot(tab, "3-find")

        # Review: the reason in words; the picture only when asked, blurred until revealed
        tab.get_by_role("link", name="Review what was found").click()
        assert tab.locator("img").count() == 0
        assert tab.get_by_text("PDQ (the fingerprint StopNCII uses)").first.is_visible()
        accessible(tab)
        shot(tab, "4-review")
        tab.get_by_role("link", name="Show me").first.click()
        picture = tab.locator("figure img")
        picture.wait_for()
        tab.wait_for_function("document.querySelector('figure img').naturalWidth > 0")
        assert "blur" in picture.evaluate("i => getComputedStyle(i).filter")
        accessible(tab)
        shot(tab, "5-look-blurred")
        tab.get_by_text("Show it clearly").click()
        assert picture.evaluate("i => getComputedStyle(i).filter") == "none"
        tab.get_by_text("Show it clearly").click()
        assert "blur" in picture.evaluate("i => getComputedStyle(i).filter")
        tab.get_by_role("button", name="Yes, this is me").click()
        assert tab.get_by_text("you confirmed it is you").count() == 1

        # Take down: who sends, the statements, the mail settings (password to the keyring), send
        tab.get_by_role("link", name="Take down").click()
        tab.get_by_label("Full name").fill("Jane Doe")
        tab.get_by_label("E-mail for replies").fill("jane.reports@example.org")
        tab.get_by_label("Typed signature").fill("/Jane Doe/")
        tab.get_by_role("button", name="Save these details").click()
        tab.get_by_text("Your details are saved in this case.").wait_for()
        statements = tab.locator("input[name=statement]")
        assert statements.count() == 1  # the TAKE IT DOWN Act's good-faith statement
        assert tab.get_by_text("not consensual").first.is_visible()
        accessible(tab)
        shot(tab, "6-takedown")
        tab.get_by_role("button", name="Prepare these requests").click()
        assert tab.get_by_text("0 requests prepared.").is_visible()  # nothing ticked: nothing prepared
        for box_number in range(tab.locator("input[name=statement]").count()):
            tab.locator("input[name=statement]").nth(box_number).check()
        tab.get_by_role("button", name="Prepare these requests").click()
        tab.get_by_text("1 request prepared.").wait_for()
        tab.get_by_label("Mail server").fill("127.0.0.1")
        tab.get_by_label("Port").fill(str(box.port))
        tab.get_by_label("Encryption").select_option("none")
        tab.get_by_label("Password").fill("mail-password-42")
        tab.get_by_role("button", name="Save e-mail settings").click()
        tab.get_by_text("E-mail settings saved in").wait_for()
        tab.get_by_role("button", name=f"Send by e-mail to {ABUSE}").click()
        tab.get_by_text("sent.").first.wait_for()
        assert len(box.messages()) == 1
        message = box.messages()[0]
        assert message["To"] == ABUSE
        assert f"http://{PICS_HOST}:{port}/" in message.get_body().get_content()  # type: ignore[union-attr]
        assert store_of_passwords.get_password("stopncii-tools", "STOPNCII_SMTP_PASSWORD") == "mail-password-42"
        assert b"mail-password-42" not in db.read_bytes()
        settings_file = Path(os.environ["STOPNCII_HOME"]) / "config" / "sending.toml"
        assert "mail-password-42" not in settings_file.read_text()

        # Track: the notice on the board, waiting for the platform, with its deadline
        tab.get_by_role("link", name="Track").click()
        assert tab.get_by_role("heading", name="Intake Test (en): waiting for the platform").is_visible()
        assert tab.get_by_text("Due by").is_visible()
        accessible(tab)
        tab.get_by_role("button", name="Check now whether they are gone").click()
        tab.get_by_text(re.compile(rf"http://{PICS_HOST}:{port}/photo401-\S+: still there")).first.wait_for()
        tab.get_by_role("button", name="Write the case report").click()
        tab.get_by_text("The report was written to").wait_for()
        shot(tab, "7-track")
        report_address = tab.get_by_role("link", name=re.compile("Open the case report")).get_attribute("href")
        tab.get_by_role("link", name="Write a follow-up").click()
        assert tab.get_by_text("The deadline has not passed yet").is_visible()
        accessible(tab)
        tab.goto(f"http://127.0.0.1:{session.port}{report_address}")
        assert tab.title() == f"Case report {store_case_id(db)}"
        tab.goto(f"http://127.0.0.1:{session.port}/case/{store_case_id(db)}/track")

        # Russian: the same page in the other language
        tab.get_by_role("button", name="Русский").click()
        assert tab.get_by_role("heading", name="Ваши запросы").is_visible()
        accessible(tab)

        # Leave quickly: a neutral page, put in the place of this one in the history
        pages_in_history = tab.evaluate("history.length")
        tab.get_by_role("link", name="Быстро уйти").click()
        tab.wait_for_url("**/away")
        assert tab.evaluate("history.length") == pages_in_history
        assert "чай" in tab.content().lower()
    with Store(db) as store:
        assert [m.status for m in store.matches(store.list_cases()[0].id, "confirmed")] != []
        assert all(item.label == "photo401.jpg" for item in store.protected_items(store.list_cases()[0].id))


def store_case_id(db: Path) -> str:
    with Store(db) as store:
        return store.list_cases()[0].id


def test_a_form_notice_is_copied_by_hand_and_recorded_as_sent(tab: Any, tmp_path: Path) -> None:
    write_intake_platform(kind="web_form", address="https://pics.example/report")
    with site_server(tmp_path / "site") as port:
        made = make_case(tmp_path, tmp_path / "site", port, count=1)
        with page_server(AppSettings(made.db, hosts={PICS_HOST: "127.0.0.1"}, allow_private=True)) as session:
            tab.goto(session.start_url())
            tab.goto(f"http://127.0.0.1:{session.port}/case/{made.case_id}/takedown")
            tab.get_by_role("button", name="Show the text to copy").click()
            packet = tab.locator("pre[id^=packet-]")
            assert made.urls[0] in packet.inner_text()
            assert tab.get_by_text("paste it into https://pics.example/report").is_visible()
            tab.context.grant_permissions(["clipboard-read", "clipboard-write"])
            tab.get_by_role("button", name="Copy the text").click()
            tab.get_by_role("button", name="Copied.").wait_for()
            assert made.urls[0] in tab.evaluate("navigator.clipboard.readText()")
            accessible(tab)
            tab.get_by_label("Ticket or reference number you got").fill("WF-2026-77")
            tab.get_by_role("button", name="I have sent it").click()
            tab.get_by_role("heading", name=re.compile("waiting for the platform")).wait_for()
    with Store(made.db) as store:
        sent = store.notices(made.case_id)[0]
        assert sent.status == "sent" and "WF-2026-77" in str(sent.evidence)


def test_a_wrong_token_a_wrong_host_and_a_form_without_its_code_are_refused(
        tab: Any, tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with page_server(AppSettings(db)) as session:
        base = f"http://127.0.0.1:{session.port}"
        with httpx.Client() as stranger:
            assert stranger.get(f"{base}/?token=not-the-token").status_code == 403
            assert stranger.get(f"{base}/").status_code == 403
            assert stranger.get(f"{base}/", headers={"Host": f"rebound.example:{session.port}"}).status_code == 421
        tab.goto(session.start_url())
        cookie = next(c for c in tab.context.cookies() if c["name"] == session.cookie_name)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"
        with httpx.Client(cookies={session.cookie_name: cookie["value"]}) as same_cookie:
            assert same_cookie.get(f"{base}/").status_code == 200
            assert same_cookie.post(f"{base}/cases", data={"title": "no code", "country": "US"}).status_code == 403
            assert same_cookie.post(f"{base}/cases", data={"title": "wrong", "country": "US", "csrf": "0" * 64}
                                    ).status_code == 403
            assert same_cookie.post(f"{base}/cases", headers={"Origin": "http://evil.example"},
                                    data={"title": "cross", "country": "US", "csrf": session.csrf}).status_code == 403
            answer = same_cookie.get(f"{base}/")
            assert "default-src 'self'" in answer.headers["content-security-policy"]
            assert answer.headers["cache-control"] == "no-store"
        with httpx.Client() as late:  # the token works once
            assert late.get(session.start_url()).status_code == 403
        # a second tab of the same browser works, and so do its forms
        second = tab.context.new_page()
        second.goto(f"{base}/")
        second.get_by_label("A name for this case").fill("From the second tab")
        second.get_by_label("Your country").select_option("GB")
        second.get_by_role("button", name="Start the case").click()
        second.get_by_role("heading", name="Protect your pictures").wait_for()
    with Store(db) as store:
        assert [c.title for c in store.list_cases()] == ["From the second tab"]


class _StallingSite(http.server.SimpleHTTPRequestHandler):
    """Serves the folder; the files named in ``stalling`` take 30 seconds: a search still running."""

    stalling: set[str] = set()

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.lstrip("/") in self.stalling:
            time.sleep(30)
        super().do_GET()


def _start_app(db: Path, home: Path) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "stopncii_tools", "app", "--no-browser", "--db", str(db), "--allow-private",
         "--resolve", f"{PICS_HOST}=127.0.0.1"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env={**os.environ, "STOPNCII_HOME": str(home)})
    assert process.stdout is not None
    return process, process.stdout.readline().strip()


def test_a_server_killed_mid_search_loses_nothing_and_the_page_says_what_happened(
        tab: Any, tmp_path: Path) -> None:
    mine, copies = copies_on_site(tmp_path, tmp_path / "site", [401, 402])
    stalling = write_page(tmp_path / "site", copies[3:], "stalling.html")
    _StallingSite.stalling = {stalling}
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Interrupted", "US")
        list(protect_paths(store, case, [mine], jobs=1))
    site = http.server.ThreadingHTTPServer(("127.0.0.1", 0), lambda *a: _StallingSite(*a, directory=str(tmp_path / "site")))
    threading.Thread(target=site.serve_forever, daemon=True).start()
    process, url = _start_app(db, tmp_path / "home")
    try:
        tab.goto(url)
        tab.goto(f"{url.split('/?')[0]}/case/{case.id}/find")
        # three pictures they were sent are checked first, then the page, which does not answer yet
        tab.get_by_label("Pictures or videos you were sent").set_input_files(
            [str(tmp_path / "site" / name) for name in copies[:3]])
        tab.get_by_label("Web addresses, one per line").fill(f"http://{PICS_HOST}:{site.server_port}/{stalling}")
        tab.get_by_role("button", name="Look for copies").click()
        tab.get_by_text("3 items checked so far.").wait_for()  # the page updates itself
        job_path = urlsplit(tab.url).path
        process.send_signal(signal.SIGKILL)
        process.wait(10)
        with Store(db) as store:
            kept = len(store.sightings(case.id))
        assert kept == 3
        process, url = _start_app(db, tmp_path / "home")
        tab.goto(url)
        tab.goto(f"{url.split('/?')[0]}{job_path}")
        assert tab.get_by_text("This search is no longer running").is_visible()
        assert tab.get_by_text(f"Kept in this case now: {kept} items seen").is_visible()
        accessible(tab)
        with Store(db) as store:
            assert len(store.protected_items(case.id)) == 2 and len(store.sightings(case.id)) == kept
    finally:
        process.kill()
        process.wait(10)
        site.shutdown()
        site.server_close()
