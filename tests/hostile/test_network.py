"""Hostile servers, and a second run sending at the same time, recreated on loopback.

Every attack input is made on the fly (no stored bombs). Memory bounds are asserted in a child
process under ``RLIMIT_AS``; times with wall-clock caps far above what the bound allows, so
these are bounds that hold, not timing tests.
"""

from __future__ import annotations

import contextlib
import gzip
import http.server
import json
import os
import resource
import signal
import socket
import struct
import subprocess
import sys
import threading
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from stopncii_tools._errors import FetchError
from stopncii_tools.media.samples import write_photos
from stopncii_tools.store import Store
from stopncii_tools.web.fetch import Fetcher, FetchLimits
from stopncii_tools.workflow.protect import protect_paths
from tests._casework import (
    PICS_HOST,
    mailbox_server,
    make_case,
    site_server,
    smtp_settings,
    write_intake_platform,
    write_sending,
)

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="needs RLIMIT_AS and SIGKILL (POSIX)")

ROOT = Path(__file__).resolve().parents[2]
MP4_HEAD = b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x00\x00\x00\x08free"
MEMORY_CAP = 1_500_000_000  # bytes of address space for a child process

Route = Callable[[http.server.BaseHTTPRequestHandler], None]


@contextmanager
def hostile_server(routes: dict[str, Route]) -> Iterator[str]:
    """An HTTP server on 127.0.0.1 whose paths answer however a test wants; yields its base URL."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            with contextlib.suppress(OSError):  # the client hung up, as it should on a hostile answer
                routes[self.path](self)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def loopback_fetcher(**limits: Any) -> Fetcher:
    return Fetcher(FetchLimits(retries=0, **limits), allowed_networks=["127.0.0.1/32"])


def run_capped(
    args: list[str], env: dict[str, str] | None = None, timeout: float = 120, memory: int = MEMORY_CAP,
) -> subprocess.CompletedProcess[str]:
    """Run a child process that may use at most ``memory`` bytes of address space."""

    def cap() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    # glibc reserves 64 MB of address space per thread arena: two arenas make the cap count real use
    return subprocess.run(args, capture_output=True, text=True, timeout=timeout, preexec_fn=cap,
                          env={**os.environ, "MALLOC_ARENA_MAX": "2", **(env or {})}, cwd=ROOT, check=False)


# -- 1. a stacked compression bomb -------------------------------------------------------------


def gzip_of_zeros(size_mib: int) -> bytes:
    """A valid gzip member of ``size_mib`` MiB of zeros, built without compressing them all:
    once the window is full of zeros, every further MiB compresses to the same bytes."""
    mib = bytes(1 << 20)
    packer = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    first = packer.compress(mib) + packer.flush(zlib.Z_SYNC_FLUSH)
    steady = packer.compress(mib) + packer.flush(zlib.Z_SYNC_FLUSH)
    crc = 0
    for _ in range(size_mib):
        crc = zlib.crc32(mib, crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = struct.pack("<II", crc, (size_mib << 20) & 0xFFFFFFFF)
    return header + first + steady * (size_mib - 1) + packer.flush() + trailer


def test_a_stacked_gzip_bomb_is_stopped_at_the_size_limit_while_it_unpacks() -> None:
    bomb = gzip.compress(gzip_of_zeros(4096), 9)  # 4 GiB of zeros, packed twice
    assert len(bomb) < 20_000

    def send_bomb(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Type", "image/jpeg")
        handler.send_header("Content-Encoding", "gzip, gzip")  # sent even though we ask for none
        handler.send_header("Content-Length", str(len(bomb)))
        handler.end_headers()
        handler.wfile.write(bomb)

    script = """if True:
        import sys
        from stopncii_tools._errors import FetchError
        from stopncii_tools.web.fetch import Fetcher, FetchLimits
        with Fetcher(FetchLimits(retries=0), allowed_networks=["127.0.0.1/32"]) as fetcher:
            try:
                fetcher.get(sys.argv[1])
                print("downloaded")
            except FetchError as exc:
                print(exc)
    """
    with hostile_server({"/photo.jpg": send_bomb}) as base:
        started = time.monotonic()
        done = run_capped([sys.executable, "-c", script, base + "/photo.jpg"])
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == (f"{base}/photo.jpg: the file is larger than the 50 MB limit for pictures "
                                   "and pages; the download was stopped")
    assert time.monotonic() - started < 60


@pytest.mark.parametrize(("encoding", "body", "reason"), [
    ("gzip, gzip, gzip", gzip.compress(gzip.compress(gzip.compress(b"<html>hi</html>"))),
     "the server packed the file in 3 layers of compression; the tool unpacks at most 2 "
     "(more is a known trick to exhaust memory)"),
    ("br", b"\x0b\x02\x80hello\x03", "the server packed the file with 'br', which the tool does not unpack "
                                     "(it asked for no compression)"),
], ids=["three-layers", "brotli"])
def test_more_layers_or_unknown_packing_is_refused_in_one_line(encoding: str, body: bytes, reason: str) -> None:
    def send(handler: http.server.BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Encoding", encoding)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    with hostile_server({"/page": send}) as base, loopback_fetcher() as fetcher, \
            pytest.raises(FetchError) as refused:
        fetcher.get(base + "/page")
    assert refused.value.reason == reason


# -- 2. refused downloads are let go at once ---------------------------------------------------


@contextmanager
def video_hosts(count: int) -> Iterator[list[str]]:
    """``count`` web servers on loopback addresses 127.0.0.2, .3, ... (separate hosts to the
    fetcher), each serving any path as an 80 MiB video with no length given."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            try:
                self.send_response(200)  # no length: the limit can only be found while reading
                self.send_header("Content-Type", "video/mp4")
                self.end_headers()
                self.wfile.write(MP4_HEAD)
                chunk = bytes(1 << 20)
                for _ in range(80):
                    self.wfile.write(chunk)
                    time.sleep(0.01)  # slow enough that the downloads overlap
            except OSError:
                pass

    try:
        servers = [http.server.ThreadingHTTPServer((f"127.0.0.{2 + n}", 0), Handler) for n in range(count)]
    except OSError:
        pytest.skip("this system has only 127.0.0.1 on loopback")
    for server in servers:
        server.daemon_threads = True
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield [f"http://127.0.0.{2 + n}:{server.server_address[1]}" for n, server in enumerate(servers)]
    finally:
        for server in servers:
            server.shutdown()
            server.server_close()


PAGE_MEMORY_CAP = 700_000_000  # goes over without the held-bytes limit, or with refused bodies kept till the GC runs


def test_a_page_of_twenty_oversized_videos_gives_twenty_one_line_errors_under_a_memory_cap(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    write_photos(tmp_path / "mine", [11])
    with Store(db) as store:
        case = store.create_case("Hostile page", "US")
        list(protect_paths(store, case, [tmp_path / "mine"], jobs=1))
    limits = {"STOPNCII_FETCH_MAX_VIDEO_BYTES": "60000000", "STOPNCII_FETCH_MAX_HELD_BYTES": "100000000",
              "STOPNCII_FETCH_MAX_HOST_HELD_BYTES": "100000000"}
    with video_hosts(8) as hosts:
        links = [f"{hosts[n % len(hosts)]}/v{n}.mp4" for n in range(20)]
        page = "".join(f'<video src="{link}"></video>' for link in links).encode()

        def send_page(handler: http.server.BaseHTTPRequestHandler) -> None:
            handler.send_response(200)
            handler.send_header("Content-Type", "text/html")
            handler.end_headers()
            handler.wfile.write(b"<!doctype html><html><body>" + page + b"</body></html>")

        with hostile_server({"/page.html": send_page}) as base:
            done = run_capped([sys.executable, "-m", "stopncii_tools", "scan", "--db", str(db), "--allow-private",
                               base + "/page.html"], env=limits, timeout=300, memory=PAGE_MEMORY_CAP)
    output = done.stdout + done.stderr
    assert "Traceback" not in output and "MemoryError" not in output, output[-3000:]
    refused = sorted(line for line in output.splitlines() if "larger than the 60 MB limit for videos" in line)
    assert refused == sorted(f"{link}: the file is larger than the 60 MB limit for videos; the download was stopped"
                             for link in links), output[-3000:]


# -- 5. a server that trickles its headers -----------------------------------------------------


@contextmanager
def trickling_server(first: bytes, then: bytes, every: float) -> Iterator[str]:
    """A raw TCP server that sends ``first``, then ``then`` one byte every ``every`` seconds,
    then keeps the connection open and silent."""
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.recv(65536)
            try:
                conn.sendall(first)
                for byte in then:
                    if stop.wait(every):
                        return
                    conn.sendall(bytes([byte]))
            except OSError:
                return
            stop.wait()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    threading.Thread(target=accept, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/slow"
    finally:
        stop.set()
        listener.close()


def test_headers_sent_one_byte_at_a_time_are_cut_at_the_total_time_limit() -> None:
    endless_header = b"X-Padding: " + b"a" * 10_000
    with trickling_server(b"HTTP/1.1 200 OK\r\n", endless_header, every=0.2) as url, \
            loopback_fetcher(total_timeout=3, read_timeout=2) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError) as stopped:
            fetcher.get(url)
        took = time.monotonic() - started
    assert stopped.value.reason == ("the server took longer than 3 s in all and was stopped "
                                    "(it may be sending very slowly on purpose)")
    assert took < 30  # the bound is 3 s; without it this ran for 10,000 bytes x 0.2 s


def test_a_body_sent_one_byte_at_a_time_is_cut_at_the_total_time_limit() -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Type: image/jpeg\r\nContent-Length: 100000\r\n\r\n"
    with trickling_server(head, b"\xff" * 100_000, every=0.2) as url, \
            loopback_fetcher(total_timeout=2, read_timeout=2) as fetcher:
        started = time.monotonic()
        with pytest.raises(FetchError, match="longer than 2 s in all"):
            fetcher.get(url)
        assert time.monotonic() - started < 30


def test_a_server_that_accepts_and_says_nothing_is_cut_at_the_read_timeout() -> None:
    with trickling_server(b"", b"", every=0.2) as url, loopback_fetcher(read_timeout=1) as fetcher, \
            pytest.raises(FetchError) as stopped:
        fetcher.get(url)
    assert stopped.value.reason == "the server stopped sending for 1 s (timed out)"


# -- 3. two runs sending at once ---------------------------------------------------------------


def send_command(db: Path) -> list[str]:
    return [sys.executable, "-m", "stopncii_tools", "notice", "send", "--resume", "--db", str(db), "--json"]


def delivered_keys(box: Any) -> Counter[str]:
    return Counter(str(m["Idempotency-Key"]) for m in box.messages())


@pytest.fixture
def email_case(tmp_path: Path) -> Iterator[tuple[Any, Path]]:
    """Six drafted e-mail notices and a mailbox on loopback that takes each in about 0.15 s."""
    write_intake_platform(kind="email", address="abuse@pics.example")
    with site_server(tmp_path / "site") as port, mailbox_server() as box:
        box.delay = 0.15
        write_sending(smtp_settings(box))
        made = make_case(tmp_path, tmp_path / "site", port, count=6, host=PICS_HOST)
        yield box, made.db


def all_sent_with_no_attempt_left_open(db: Path) -> None:
    with Store(db) as store:
        notices = store.notices()
        assert {n.status for n in notices} == {"sent"}
        attempts = [a for n in notices for a in store.send_attempts(n.id)]
        leases = store.conn.execute("SELECT COUNT(*) FROM send_leases").fetchone()[0]
    assert all(a.outcome != "started" for a in attempts)
    assert leases == 0


def test_two_runs_sending_at_once_deliver_every_notice_exactly_once(email_case: tuple[Any, Path]) -> None:
    box, db = email_case
    runs = [subprocess.Popen(send_command(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    with Store(db) as store:
        keys = {n.notice_key for n in store.notices()}
    assert delivered_keys(box) == Counter({key: 1 for key in keys})
    results = [json.loads(line) for out, _ in outputs for line in out.splitlines() if line.startswith("{")]
    assert Counter(r["outcome"] for r in results)["sent"] == len(keys)
    all_sent_with_no_attempt_left_open(db)


def test_a_killed_run_is_finished_by_the_next_runs_and_only_its_notice_in_flight_can_repeat(
    email_case: tuple[Any, Path],
) -> None:
    box, db = email_case
    first = subprocess.Popen(send_command(db), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(box.raw) < 2 and first.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    first.send_signal(signal.SIGKILL)
    first.wait()
    with Store(db) as store:
        stuck = [n.notice_key for n in store.notices() if n.status == "sending"]
    assert len(stuck) <= 1  # one notice at a time is in flight
    racers = [subprocess.Popen(send_command(db), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
              for _ in range(2)]
    outputs = [run.communicate(timeout=120) for run in racers]
    assert all(run.returncode == 0 for run in racers), outputs
    copies = delivered_keys(box)
    with Store(db) as store:
        keys = {n.notice_key for n in store.notices()}
    assert set(copies) == keys
    repeated = {key for key, count in copies.items() if count > 1}
    assert repeated <= set(stuck) and all(copies[key] == 2 for key in repeated)  # the after-DATA case only
    all_sent_with_no_attempt_left_open(db)
    with Store(db) as store:
        for key in stuck:
            notice = store.notice_by_key(key)
            assert notice is not None
            assert [a.outcome for a in store.send_attempts(notice.id)] == ["interrupted", "delivered"]


# -- 4. a receiver that echoes our token -------------------------------------------------------

TOKEN = "tok_live_Zq8v3NfXk2Lr9Pw4Hm6T"
JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJjYXNld29ya2VyIn0.c2lnbmF0dXJlLWJ5dGVz"  # a session the API hands out


@contextmanager
def echoing_api(statuses: list[int]) -> Iterator[tuple[int, list[dict[str, str]]]]:
    """An intake API that answers each POST with every header it got, the token included."""
    seen: list[dict[str, str]] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            headers = dict(self.headers.items())
            seen.append(headers)
            status = statuses.pop(0) if statuses else 200
            token = headers.get("Authorization", "").removeprefix("Bearer ")
            if status == 200:
                body = json.dumps({"id": token, "session": JWT, "you_sent": headers}).encode()
            else:
                body = ("Request rejected. Headers: "
                        + "; ".join(f"{k}: {v}" for k, v in headers.items()) + f" token={token}").encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json" if status == 200 else "text/plain")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def test_a_token_echoed_by_the_receiver_is_kept_nowhere_and_shown_nowhere(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from stopncii_tools.cli import cli
    from tests._casework import INTAKE_ADDRESS

    write_intake_platform()
    with site_server(tmp_path / "site") as site_port, echoing_api([503, 401]) as (api_port, seen):
        write_sending(f'[[api]]\naddress = "{INTAKE_ADDRESS}"\nurl = "http://127.0.0.1:{api_port}/v1/notices"\n'
                      'token_env = "INTAKE_TOKEN"\nmax_attempts = 1\n')
        made = make_case(tmp_path, tmp_path / "site", site_port, count=2)
        db = str(made.db)
        runner = CliRunner()
        later = {"INTAKE_TOKEN": TOKEN, "STOPNCII_NOW": "2099-01-01T00:00:00+00:00"}
        runs = [
            runner.invoke(cli, ["notice", "send", "--json", "--db", db], env={"INTAKE_TOKEN": TOKEN}),  # 503, 401
            runner.invoke(cli, ["status", "--json", "--db", db], env=later),
            runner.invoke(cli, ["notice", "send", "--retry-held", "--db", db], env=later),  # both 200
            runner.invoke(cli, ["notice", "list", "--json", "--db", db], env=later),
            runner.invoke(cli, ["status", "--db", db], env=later),
        ]
    assert [h.get("Authorization") for h in seen] == [f"Bearer {TOKEN}"] * 4  # the echoes carried it
    printed = "".join(run.output for run in runs)
    assert "retry" in runs[0].output and "HTTP 401" in runs[0].output  # the replies are still reported
    with Store(made.db) as store:
        notices = store.notices()
        assert {n.status for n in notices} == {"sent"}
        assert all(n.evidence["response_id"] == "********" for n in notices)
    stored = b"".join(path.read_bytes() for path in made.db.parent.glob(made.db.name + "*"))
    for secret in (TOKEN, JWT):
        assert secret not in printed
        assert secret.encode() not in stored


def test_two_batch_runs_at_once_deliver_every_notice_exactly_once(tmp_path: Path) -> None:
    write_intake_platform(kind="email", address="abuse@pics.example")
    with site_server(tmp_path / "site") as port, mailbox_server() as box:
        box.delay = 0.15
        write_sending(smtp_settings(box))
        made = make_case(tmp_path, tmp_path / "site", port, count=6, draft=False)
        csv = tmp_path / "reports.csv"
        csv.write_text("case,url,confirmed\n" + "".join(f"{made.case_id},{url},yes\n" for url in made.urls))
        command = [sys.executable, "-m", "stopncii_tools", "batch", "run", str(csv), "--db", str(made.db), "--yes",
                   "--send", "--allow-private", "--resolve", f"{PICS_HOST}=127.0.0.1"]
        runs = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
        outputs = [run.communicate(timeout=180) for run in runs]
    assert all(run.returncode == 0 for run in runs), outputs
    with Store(made.db) as store:
        keys = {n.notice_key for n in store.notices()}
    assert len(keys) == 6
    assert delivered_keys(box) == Counter({key: 1 for key in keys})
    all_sent_with_no_attempt_left_open(made.db)
