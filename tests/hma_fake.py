"""A loopback stand-in for Meta's HMA 2.0 hash bank server, faithful to ../shared/hma-api.

It answers the endpoints our client uses with the statuses and bodies recorded from a real
server (examples.md), including its quirks: a push answers 200 with ``{"id", "signals"}``; the
same hash pushed twice becomes two items; the PDQ check is ``re.match("^[0-9a-f]{64}$")`` so a
trailing newline gets through; lookups see a push only after ``index_delay`` seconds; an index
holding a single distinct PDQ hash never matches; content routes ignore which bank owns an id;
the first ``not_ready_lookups`` lookups answer 503 "index not yet ready". Every request is
recorded so tests can assert what was (or was not) sent.
"""

from __future__ import annotations

import json
import re
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

_BANK = re.compile(r"[A-Z_][A-Z0-9_]*")
_PDQ = "^[0-9a-f]{64}$"  # re.match with "$": the real server's check, newline quirk included
_MD5 = "^[0-9a-f]{32}$"
_HTML_404 = (
    '<!doctype html>\n<html lang=en>\n<title>404 Not Found</title>\n<h1>Not Found</h1>\n'
    "<p>The requested URL was not found on the server. If you entered the URL manually please "
    "check your spelling and try again.</p>\n"
)
SERVER_ERROR = (  # the real server's words for a 500, word for word
    "The server encountered an internal error and was unable to complete your request. "
    "Either the server is overloaded or there is an error in the application."
)


@dataclass
class Recorded:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes


@dataclass
class Content:
    id: int
    bank: str
    signals: dict[str, str]
    created: float


@dataclass
class HMAState:
    index_delay: float = 0.0
    not_ready_lookups: int = 0
    fail_next_push: int | None = None  # answer the next push with this status, storing nothing
    banks: dict[str, float] = field(default_factory=dict)
    contents: dict[int, Content] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def sent(self, method: str, path_prefix: str = "") -> list[Recorded]:
        return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]


class _Handler(BaseHTTPRequestHandler):
    state: HMAState

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        parts = urlsplit(self.path)
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        query = parse_qs(parts.query)
        with self.state.lock:
            self.state.requests.append(
                Recorded(method, parts.path, query, dict(self.headers.items()), body)
            )
            status, payload = _route(self.state, method, parts.path, query, self.headers, body)
        if isinstance(payload, str):
            data, ctype = payload.encode(), "text/html; charset=utf-8"
        else:
            data, ctype = (json.dumps(payload, separators=(",", ":")) + "\n").encode(), "application/json"
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _route(state: HMAState, method: str, path: str, query: dict, headers: Any, body: bytes) -> tuple[int, Any]:
    segments = path.strip("/").split("/")
    if method == "POST" and segments == ["c", "banks"]:
        return _create_bank(state, body)
    if method == "GET" and len(segments) == 3 and segments[:2] == ["c", "bank"]:
        name = segments[2]
        if name not in state.banks:
            return 404, {"message": f"bank '{name}' not found"}
        return 200, {"matching_enabled_ratio": state.banks[name], "name": name}
    if method == "POST" and len(segments) == 4 and segments[:2] == ["c", "bank"] and segments[3] == "signal":
        return _add_signal(state, segments[2], headers, body)
    if method == "GET" and len(segments) == 5 and segments[:2] == ["c", "bank"] and segments[3] == "content":
        return _get_content(state, segments[2], segments[4], query)
    if method == "GET" and segments == ["m", "raw_lookup"]:
        return _raw_lookup(state, query)
    return 404, _HTML_404


def _create_bank(state: HMAState, body: bytes) -> tuple[int, Any]:
    try:
        data = json.loads(body) if body else None
    except ValueError:
        data = None
    if not isinstance(data, dict):
        return 422, [{"type": "model_type", "loc": [],
                      "msg": "Input should be a valid dictionary or instance of BankCreateRequest", "input": data}]
    if "name" not in data:
        return 422, [{"type": "missing", "loc": ["name"], "msg": "Field required", "input": data}]
    name = data["name"]
    if not isinstance(name, str) or not _BANK.fullmatch(name):
        return 400, {"message": "Bank names must be UPPER_WITH_UNDERSCORE"}
    if name in state.banks:
        return 403, {"message": "Bank already exists"}
    state.banks[name] = float(data.get("enabled_ratio", 1.0))
    return 201, {"matching_enabled_ratio": state.banks[name], "name": name}


def _add_signal(state: HMAState, bank: str, headers: Any, body: bytes) -> tuple[int, Any]:
    if not (headers.get("Content-Type") or "").startswith("application/json"):
        return 415, {"message": "Did not attempt to load JSON data because the request Content-Type was not "
                                "'application/json'."}
    if bank not in state.banks:
        return 404, {"message": f"bank '{bank}' not found"}
    if state.fail_next_push is not None:
        status, state.fail_next_push = state.fail_next_push, None
        return status, {"message": SERVER_ERROR}
    data = json.loads(body)
    if not isinstance(data, dict):
        return 500, {"message": SERVER_ERROR}
    note = data.pop("note", None)
    if note is not None and len(note) > 255:
        return 400, {"message": "note must be at most 255 characters"}
    if not data:
        return 400, {"message": "No signals given"}
    for signal_type, value in data.items():
        pattern = {"pdq": _PDQ, "video_md5": _MD5}.get(signal_type)
        if pattern is None:
            return 400, {"message": f"No such signal type {signal_type}"}
        if not isinstance(value, str) or not re.match(pattern, value):
            kind = "PDQ" if signal_type == "pdq" else "MD5"
            return 400, {"message": f"Invalid {signal_type} signal: invalid {kind} hash"}
    content_id = max(state.contents, default=0) + 1
    state.contents[content_id] = Content(content_id, bank, dict(data), time.monotonic())
    return 200, {"id": content_id, "signals": dict(data)}


def _get_content(state: HMAState, bank: str, raw_id: str, query: dict) -> tuple[int, Any]:
    if bank not in state.banks:
        return 404, {"message": f"bank '{bank}' not found"}
    content = state.contents.get(int(raw_id))
    if content is None:
        return 404, {"message": f"content '{raw_id}' not found"}
    # The real server answers with the owning bank, whatever bank the path names (E92).
    answer: dict[str, Any] = {
        "bank": {"matching_enabled_ratio": state.banks[content.bank], "name": content.bank},
        "disable_until_ts": 1,
        "id": content.id,
        "original_media_uri": None,
    }
    if query.get("include_signals") == ["true"]:
        answer["signals"] = content.signals
    return 200, answer


def _raw_lookup(state: HMAState, query: dict) -> tuple[int, Any]:
    if "signal" not in query:
        return 422, [{"type": "missing", "loc": ["signal"], "msg": "Field required",
                      "input": {k: v[0] for k, v in query.items()}}]
    signal_type, value = query.get("signal_type", [""])[0], query["signal"][0]
    pattern = {"pdq": _PDQ, "video_md5": _MD5}.get(signal_type)
    if pattern is None:
        return 400, {"message": f"No such SignalType '{signal_type}'"}
    if not re.match(pattern, value):
        return 400, {"message": f"invalid signal: invalid {'PDQ' if signal_type == 'pdq' else 'MD5'} hash"}
    if state.not_ready_lookups > 0:
        state.not_ready_lookups -= 1
        return 503, {"message": "index not yet ready"}
    now = time.monotonic()
    indexed = [
        c for c in state.contents.values()
        if signal_type in c.signals and c.created + state.index_delay <= now
    ]
    if signal_type == "pdq" and len({c.signals["pdq"] for c in indexed}) == 1:
        indexed = []  # the single-distinct-hash index bug (examples.md section 4)
    banks = query.get("banks", [""])[0].split(",") if "banks" in query else None
    hits = []
    for c in sorted(indexed, key=lambda c: -c.id):
        if banks is not None and c.bank not in banks:
            continue
        stored = c.signals[signal_type]
        if signal_type == "pdq":
            distance = (int(stored, 16) ^ int(value, 16)).bit_count()
        else:
            distance = 0 if stored == value else 999
        if distance <= (31 if signal_type == "pdq" else 0):
            hits.append({"bank_content_id": c.id, "distance": str(distance)})
    if query.get("include_distance") != ["true"]:
        return 200, {"matches": [h["bank_content_id"] for h in hits]}
    return 200, {"matches": hits}


class FakeHMA:
    """Runs the fake on 127.0.0.1 in a thread; ``url`` is its base address."""

    def __init__(self, state: HMAState | None = None) -> None:
        self.state = state or HMAState()
        handler = type("Handler", (_Handler,), {"state": self.state})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
        )

    def __enter__(self) -> FakeHMA:
        self._thread.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._server.shutdown()
        self._server.server_close()
