"""Client for Meta's hash bank server (HMA 2.0 / Open Media Match), as it really behaves.

What the server does that its OpenAPI document does not say (see docs/hashbank.md):
bank names must be UPPER_SNAKE; a push answers 200 (not 201) with the new content id; the
same hash pushed twice becomes two items (no dedupe); a hash with a trailing newline is
accepted and then stops every later index build, so hashes are checked here before sending;
a pushed hash is matchable only after the next index build and reload (20-90 s).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import httpx

from .. import clock as clocks
from .._errors import InvalidHash, SendError, TemporarySendError
from ..retry import parse_retry_after
from ._retry import RateLimiter, RetryPolicy, call_with_retries
from ._secrets import check_endpoint, get_secret, scrub

log = logging.getLogger(__name__)

BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]*")
HEX_LENGTHS = {"pdq": 64, "video_md5": 32}  # HMA's built-in signal types
_HEX = re.compile(r"[0-9a-f]+")

Outcome = Literal["added", "already_present", "invalid", "failed"]


@dataclass(frozen=True)
class BankMatch:
    """One hit from the server's match index: the bank content id and the bit distance.

    ``distance`` is None when the index compares exactly (``video_md5``): HMA answers ``"-"``
    there, as an exact index has no distance, and every hit is the same hash.
    """

    content_id: int
    distance: int | None

    @property
    def identical(self) -> bool:
        return self.distance in (0, None)


@dataclass(frozen=True)
class PushResult:
    """What happened to one hash of a push; ``reason`` says why when it was not stored."""

    signal_type: str
    value: str
    outcome: Outcome
    content_id: int | None = None
    reason: str | None = None
    retryable: bool = False


@dataclass(frozen=True)
class PushReport:
    """Per-hash results of :meth:`HashBankClient.push_case_hashes`, in input order."""

    bank: str
    results: tuple[PushResult, ...]

    def with_outcome(self, outcome: Outcome) -> list[PushResult]:
        return [r for r in self.results if r.outcome == outcome]

    @property
    def complete(self) -> bool:
        """True when every hash is in the bank (newly added or already there)."""
        return all(r.outcome in ("added", "already_present") for r in self.results)


def check_bank_name(name: str) -> str:
    """Return ``name`` if HMA accepts it as a bank name, else explain the rule."""
    if BANK_NAME.fullmatch(name):
        return name
    suggestion = re.sub(r"[^A-Z0-9_]", "_", name.strip().upper())
    if not BANK_NAME.fullmatch(suggestion):
        suggestion = "BANK_" + suggestion
    raise SendError(
        f"bank names may use only capital letters A-Z, digits and underscores, and may not "
        f"start with a digit; {name!r} could be written {suggestion!r}"
    )


def check_bank_hash(signal_type: str, value: str) -> str:
    """Return ``value`` if it is exactly what HMA stores safely, else :class:`InvalidHash`."""
    length = HEX_LENGTHS.get(signal_type)
    form = f"{length} lowercase hexadecimal characters" if length else "lowercase hexadecimal"
    if value != value.strip():
        problem = "starts or ends with a line break or space"
    elif value.lower() != value:
        problem = "has capital letters"
    elif not _HEX.fullmatch(value):
        problem = "is empty" if not value else "has characters other than 0-9 and a-f"
    elif length is not None and len(value) != length:
        problem = f"is {len(value)} characters long"
    else:
        return value
    raise InvalidHash(
        f"this {signal_type} hash {problem}; a hash bank needs exactly {form} and nothing else "
        "(it was not sent)"
    )


BANK_RETRIES = RetryPolicy(max_attempts=4, backoff_base=1.0, max_wait=30.0)


class HashBankClient:
    """Talks to one HMA server. No credentials by default: HMA itself checks none.

    ``token_env`` adds ``Authorization: Bearer`` for servers put behind an authenticating
    proxy. Reads and bank creation are retried on busy or unreachable servers. A push is
    never repeated on its own: if the first one did land, HMA would store a second copy.
    Rerunning :meth:`push_case_hashes` later is the safe way to finish a failed push.
    """

    def __init__(
        self,
        base_url: str,
        timeout: float = 30.0,
        *,
        token_env: str | None = None,
        keyring_service: str | None = "stopncii-tools",
        policy: RetryPolicy = BANK_RETRIES,
        limiter: RateLimiter | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        check_endpoint(base_url, "hash bank", carries_secret=bool(token_env))
        token = get_secret(token_env, keyring_service) if token_env else None
        self.base_url = base_url.rstrip("/")
        self.policy = policy
        self._token = token
        self._limiter = limiter
        self._sleep = sleep
        self._clock = clock
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, follow_redirects=False)

    def __repr__(self) -> str:
        return f"HashBankClient({self.base_url!r})"

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HashBankClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- banks --------------------------------------------------------------------------

    def create_bank(self, name: str) -> bool:
        """Create bank ``name``; True if made now, False if it already existed (not an error)."""
        check_bank_name(name)
        response = self._request("POST", "/c/banks", json={"name": name}, accept=(403,))
        if response.status_code == 403:
            if "already exists" not in _server_message(response):
                raise SendError(f"the hash bank refused to create {name}: {_server_message(response)}")
            return False
        log.info("created hash bank %s", name)
        return True

    def bank_exists(self, name: str) -> bool:
        check_bank_name(name)
        return self._request("GET", f"/c/bank/{name}", accept=(404,)).status_code != 404

    # -- signals ------------------------------------------------------------------------

    def add_signal(self, bank: str, signal_type: str, value: str, note: str | None = None) -> int:
        """Store one hash in ``bank`` and return its new content id (HMA answers 200)."""
        check_bank_name(bank)
        check_bank_hash(signal_type, value)
        body: dict[str, str] = {signal_type: value}
        if note is not None:
            body["note"] = note[:255]  # HMA refuses longer notes
        response = self._request(
            "POST", f"/c/bank/{bank}/signal", json=body, accept=(404,), repeatable=False
        )
        if response.status_code == 404:
            raise SendError(f"the hash bank has no bank called {bank}; create it first")
        content_id = _json(response).get("id")
        if not isinstance(content_id, int):
            raise SendError("the hash bank stored the hash but did not say under which id")
        log.info("pushed a %s hash to %s as content %d", signal_type, bank, content_id)
        return content_id

    def stored_signals(self, bank: str, content_id: int) -> dict[str, str] | None:
        """The hashes stored under ``content_id`` in ``bank``, or None if it is not there.

        HMA serves any content id under any existing bank name, so the bank is checked here.
        """
        check_bank_name(bank)
        response = self._request(
            "GET", f"/c/bank/{bank}/content/{int(content_id)}",
            params={"include_signals": "true"}, accept=(404,),
        )
        if response.status_code == 404:
            return None
        data = _json(response)
        if (data.get("bank") or {}).get("name") != bank:
            return None
        signals = data.get("signals")
        return dict(signals) if isinstance(signals, dict) else {}

    def raw_lookup(
        self, signal_type: str, value: str, banks: Sequence[str] | None = None
    ) -> list[BankMatch]:
        """Matches from the server's current index (which lags pushes by 20-90 s)."""
        check_bank_hash(signal_type, value)
        params = {"signal_type": signal_type, "signal": value, "include_distance": "true"}
        if banks:
            params["banks"] = ",".join(check_bank_name(b) for b in banks)
        data = _json(self._request("GET", "/m/raw_lookup", params=params))
        try:
            return [
                BankMatch(int(m["bank_content_id"]), _distance(m["distance"])) for m in data["matches"]
            ]
        except (KeyError, TypeError, ValueError):
            raise SendError("the hash bank answered a lookup in an unexpected form") from None

    def push_case_hashes(
        self,
        bank: str,
        hashes: Iterable[tuple[str, str]],
        known: Mapping[tuple[str, str], int] | None = None,
        notes: Mapping[tuple[str, str], str] | None = None,
    ) -> PushReport:
        """Put every ``(signal_type, hex)`` into ``bank`` once, and report on each.

        ``notes`` gives the note stored beside a newly added hash (HMA keeps it with the content).

        A hash is skipped as ``already_present`` when ``known`` (content ids recorded from
        earlier pushes) points at it, or when the index already holds the identical hash in
        this bank. A push made in the last minute or two and not recorded cannot be seen yet:
        record the ids this returns.
        """
        if not self.bank_exists(bank):
            raise SendError(f"the hash bank has no bank called {bank}; create it first")
        known = known or {}
        notes = notes or {}
        results: list[PushResult] = []
        seen: set[tuple[str, str]] = set()
        for pair in hashes:
            if pair not in seen:  # the same hash twice in the list is pushed once
                seen.add(pair)
                results.append(self._push_one(bank, *pair, known_id=known.get(pair), note=notes.get(pair)))
        return PushReport(bank, tuple(results))

    def wait_until_matchable(
        self,
        signal_type: str,
        value: str,
        *,
        content_id: int | None = None,
        banks: Sequence[str] | None = None,
        timeout: float = 150.0,
        interval: float = 5.0,
    ) -> list[BankMatch]:
        """Poll :meth:`raw_lookup` until the hash (or ``content_id``) matches; return the matches."""
        deadline = self._clock() + timeout
        last_problem = ""
        while True:
            try:
                matches = self.raw_lookup(signal_type, value, banks)
            except TemporarySendError as exc:
                matches, last_problem = [], f" (last try: {exc.reason})"  # loading = "not yet"
            if matches and (content_id is None or any(m.content_id == content_id for m in matches)):
                return matches
            if self._clock() + interval > deadline:
                raise TemporarySendError(
                    f"the hash bank did not list this {signal_type} hash as matchable within "
                    f"{timeout:g} s{last_problem}. HMA rebuilds its index about once a minute and "
                    "reloads it every 30 s, so up to two minutes is normal. If it never appears: "
                    "a server holding only one distinct PDQ hash never matches it (add a second, "
                    "unrelated one), or an entry with a stray line break is blocking its indexer"
                )
            self._sleep(interval)

    # -- plumbing -----------------------------------------------------------------------

    def _push_one(
        self, bank: str, signal_type: str, value: str, *, known_id: int | None, note: str | None = None
    ) -> PushResult:
        try:
            check_bank_hash(signal_type, value)
        except InvalidHash as exc:
            return PushResult(signal_type, value, "invalid", reason=exc.reason)
        try:
            present = self._already_in(bank, signal_type, value, known_id)
            if present is not None:
                return PushResult(signal_type, value, "already_present", present)
            return PushResult(signal_type, value, "added", self.add_signal(bank, signal_type, value, note))
        except SendError as exc:
            return PushResult(signal_type, value, "failed", reason=exc.reason, retryable=exc.retryable)

    def _already_in(
        self, bank: str, signal_type: str, value: str, known_id: int | None
    ) -> int | None:
        if known_id is not None:
            stored = self.stored_signals(bank, known_id) or {}
            if stored.get(signal_type) == value:
                return known_id
        exact = [m.content_id for m in self.raw_lookup(signal_type, value, [bank]) if m.identical]
        return min(exact) if exact else None

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        accept: tuple[int, ...] = (),
        repeatable: bool = True,
    ) -> httpx.Response:
        """Send one request (retrying when safe); return 2xx or an ``accept``-ed status."""
        headers = {"Authorization": "Bearer " + self._token.reveal()} if self._token else {}

        def attempt() -> httpx.Response:
            try:
                response = self._http.request(
                    method, path, json=json, params=params, headers=headers
                )
            except httpx.ConnectError:
                raise TemporarySendError(f"could not reach the hash bank at {self.base_url}") from None
            except httpx.TransportError:
                raise TemporarySendError(
                    f"the connection to the hash bank at {self.base_url} broke or timed out"
                ) from None
            return _judge(response, accept, clocks.now())

        if repeatable:
            return call_with_retries(attempt, self.policy, sleep=self._sleep, limiter=self._limiter)
        # A push that may have landed must not be repeated here: HMA would store it twice.
        return call_with_retries(attempt, RetryPolicy(max_attempts=1), limiter=self._limiter)


def _judge(response: httpx.Response, accept: tuple[int, ...], now: datetime) -> httpx.Response:
    status = response.status_code
    if 200 <= status < 300 or status in accept:
        return response
    said = f"the hash bank answered HTTP {status}: {_server_message(response)}"
    if status == 429 or status >= 500:
        wait = parse_retry_after(response.headers.get("Retry-After"), now)
        raise TemporarySendError(said, retry_after=wait)
    raise SendError(said)


def _distance(answered: object) -> int | None:
    """HMA sends the distance as a string: ``"4"``, or ``"-"`` from an exact-match index."""
    if answered == "-":
        return None
    if isinstance(answered, bool) or not isinstance(answered, (str, int)):
        raise ValueError(f"no distance: {answered!r}")
    return int(answered)


def _json(response: httpx.Response) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError:
        data = None
    if not isinstance(data, dict):
        raise SendError(f"the hash bank answered HTTP {response.status_code} without the expected JSON")
    return data


def _server_message(response: httpx.Response) -> str:
    """HMA's ``{"message": ...}``, its 422 list of field errors, or a short text excerpt."""
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return scrub(data["message"])
    if isinstance(data, list):
        return scrub("; ".join(
            f"{'.'.join(map(str, e.get('loc', [])))}: {e.get('msg', '')}".lstrip(": ")
            for e in data
            if isinstance(e, dict)
        ))
    text = scrub(" ".join(re.sub(r"<[^>]+>", " ", response.text).split()))
    return text[:200] or "(no details)"
