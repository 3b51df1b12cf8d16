"""The hash-bank client against a loopback HMA stand-in that answers like the real server."""

from __future__ import annotations

import json
import re
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopncii_tools._errors import InvalidHash, SendError, TemporarySendError
from stopncii_tools.submit import HashBankClient, RetryPolicy
from stopncii_tools.submit.hashbank import check_bank_hash, check_bank_name

from .hma_fake import FakeHMA, HMAState

# The hashes from ../shared/hma-api/examples.md: F is H with 4 bits flipped, F40 with 40.
H = "f8f8f0cce0f4e84d0e370a22028f67f0b36e2ed596623e1d33e6339c4e9c9b22"
F = "fcf8f0cce0f4e94d0e370a22028f67f0b36e2ec596623e1d33e6339c4e9c9b2a"
F40 = "60f0d0dce1d4ca510f330a620a0d67f0e2626edf96603e0f37c6339c0b9d9bc3"
R1 = "d23f0824128b2f330c5c7fd0a6a3a4506513270e269e0d37f2a74de452e6b438"
MD5 = "d41d8cd98f00b204e9800998ecf8427e"
# what a real HMA 1.1.7 server answered, kept beside the project (never copied into it)
RECORDED = Path(__file__).resolve().parents[1].parent / "shared" / "hma-api" / "examples.md"


class FakeTime:
    """A clock whose sleep only moves the clock: polling tests finish at once."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@pytest.fixture
def hma() -> Iterator[FakeHMA]:
    with FakeHMA() as server:
        yield server


@pytest.fixture
def client(hma: FakeHMA) -> Iterator[HashBankClient]:
    with HashBankClient(hma.url, timeout=5, sleep=lambda s: None) as c:
        yield c


def test_create_bank_makes_it_once_and_an_existing_bank_is_fine(hma: FakeHMA, client: HashBankClient) -> None:
    assert client.create_bank("CASE_2026_001") is True
    assert client.create_bank("CASE_2026_001") is False
    assert client.bank_exists("CASE_2026_001")
    assert [json.loads(r.body) for r in hma.state.sent("POST", "/c/banks")] == [{"name": "CASE_2026_001"}] * 2


@pytest.mark.parametrize("name, suggestion",
                         [("my-bank", "MY_BANK"), ("Test_Bank", "TEST_BANK"), ("1BANK", "BANK_1BANK"), ("", "BANK_")])
def test_bad_bank_name_is_explained_before_any_request(
    hma: FakeHMA, client: HashBankClient, name: str, suggestion: str
) -> None:
    with pytest.raises(SendError) as err:
        client.create_bank(name)
    assert "capital letters A-Z, digits and underscores" in str(err.value)
    assert repr(suggestion) in str(err.value)
    assert hma.state.requests == []


def test_push_answers_200_with_the_new_content_id(hma: FakeHMA, client: HashBankClient) -> None:
    client.create_bank("VICTIM")
    first = client.add_signal("VICTIM", "pdq", H)
    second = client.add_signal("VICTIM", "video_md5", MD5, note="clip")
    assert (first, second) == (1, 2)
    assert client.stored_signals("VICTIM", first) == {"pdq": H}
    assert client.stored_signals("VICTIM", 99) is None
    assert json.loads(hma.state.sent("POST", "/c/bank/VICTIM/signal")[1].body) == {"video_md5": MD5, "note": "clip"}


def test_push_to_a_missing_bank_says_to_create_it(client: HashBankClient) -> None:
    with pytest.raises(SendError, match="no bank called NOPE; create it first") as err:
        client.add_signal("NOPE", "pdq", H)
    assert not err.value.retryable


@pytest.mark.parametrize(
    "bad, problem",
    [
        (H + "\n", "line break or space"),
        (" " + H, "line break or space"),
        (H.upper(), "capital letters"),
        (H[:-1], "63 characters long"),
        ("0x" + H[2:], "other than 0-9 and a-f"),
        ("", "is empty"),
    ],
)
def test_bad_hash_is_refused_before_any_request(hma: FakeHMA, client: HashBankClient, bad: str, problem: str) -> None:
    client.create_bank("VICTIM")
    before = len(hma.state.requests)
    for call in (lambda: client.add_signal("VICTIM", "pdq", bad), lambda: client.raw_lookup("pdq", bad)):
        with pytest.raises(InvalidHash) as err:
            call()
        assert problem in str(err.value)
        assert "it was not sent" in str(err.value)
    assert len(hma.state.requests) == before


def test_the_server_itself_would_store_a_trailing_newline(hma: FakeHMA, client: HashBankClient) -> None:
    # Why the client checks: HMA's own check lets the newline through (examples.md E111).
    client.create_bank("VICTIM")
    raw = httpx.post(f"{hma.url}/c/bank/VICTIM/signal", json={"pdq": H + "\n"})
    assert raw.status_code == 200 and raw.json()["signals"]["pdq"] == H + "\n"


@given(st.text(alphabet=" \t\r\n", min_size=1, max_size=3), st.booleans())
def test_any_surrounding_whitespace_is_refused(space: str, before: bool) -> None:
    with pytest.raises(InvalidHash):
        check_bank_hash("pdq", space + H if before else H + space)


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64))
def test_every_well_formed_pdq_hash_passes(value: str) -> None:
    assert check_bank_hash("pdq", value) == value


def test_check_bank_name_accepts_upper_snake() -> None:
    assert check_bank_name("_PRIVATE_2") == "_PRIVATE_2"


def test_lookup_sees_a_push_only_after_the_index_catches_up() -> None:
    with FakeHMA(HMAState(index_delay=0.3)) as hma, HashBankClient(hma.url) as client:
        client.create_bank("VICTIM")
        seed = client.add_signal("VICTIM", "pdq", R1)  # a second distinct hash: see examples.md section 4
        pushed = client.add_signal("VICTIM", "pdq", H)
        assert client.raw_lookup("pdq", H) == []
        started = time.monotonic()
        matches = client.wait_until_matchable("pdq", H, content_id=pushed, timeout=5, interval=0.05)
        assert 0.2 < time.monotonic() - started < 3
        assert [(m.content_id, m.distance) for m in matches] == [(pushed, 0)]
        assert [(m.content_id, m.distance) for m in client.raw_lookup("pdq", F)] == [(pushed, 4)]
        assert client.raw_lookup("pdq", F40) == []
        assert client.raw_lookup("pdq", R1, banks=["VICTIM"])[0].content_id == seed
        assert client.raw_lookup("pdq", R1, banks=["OTHER"]) == []


def test_waiting_gives_up_with_advice_when_the_hash_never_matches(hma: FakeHMA) -> None:
    fake = FakeTime()
    with HashBankClient(hma.url, sleep=fake.sleep, clock=fake.clock) as client:
        client.create_bank("VICTIM")
        client.add_signal("VICTIM", "pdq", H)  # alone in the index: the real server never matches it
        with pytest.raises(TemporarySendError) as err:
            client.wait_until_matchable("pdq", H, timeout=120, interval=5)
    assert "within 120 s" in str(err.value) and "only one distinct PDQ hash" in str(err.value)
    assert err.value.retryable
    assert sum(fake.sleeps) <= 120 and len(hma.state.sent("GET", "/m/raw_lookup")) == len(fake.sleeps) + 1


def test_push_case_hashes_reports_each_hash_and_never_pushes_twice(hma: FakeHMA, client: HashBankClient) -> None:
    client.create_bank("VICTIM")
    report = client.push_case_hashes(
        "VICTIM", [("pdq", H), ("pdq", R1), ("pdq", H), ("pdq", H + "\n"), ("video_md5", MD5)])
    assert [(r.value, r.outcome, r.content_id) for r in report.results] == [
        (H, "added", 1), (R1, "added", 2), (H + "\n", "invalid", None), (MD5, "added", 3),
    ]
    assert not report.complete
    assert "line break" in (report.with_outcome("invalid")[0].reason or "")
    pushes = len(hma.state.sent("POST", "/c/bank/VICTIM/signal"))
    assert pushes == 3

    # Rerun at once: the index has not caught up, but the recorded ids prove the hashes are there.
    known = {(r.signal_type, r.value): r.content_id for r in report.with_outcome("added")}
    again = client.push_case_hashes("VICTIM", [("pdq", H), ("pdq", R1), ("video_md5", MD5)], known=known)
    assert [(r.outcome, r.content_id) for r in again.results] == [
        ("already_present", 1), ("already_present", 2), ("already_present", 3)]
    assert again.complete

    # Rerun without the ids: the index (already built, delay 0) shows them at distance 0.
    third = client.push_case_hashes("VICTIM", [("pdq", H), ("pdq", R1)])
    assert [r.outcome for r in third.results] == ["already_present", "already_present"]
    assert len(hma.state.sent("POST", "/c/bank/VICTIM/signal")) == pushes


def test_a_known_id_from_another_bank_is_not_trusted(hma: FakeHMA, client: HashBankClient) -> None:
    # HMA serves any content id under any bank path (examples.md E92), so the owner is checked.
    for bank in ("OTHER", "VICTIM"):
        client.create_bank(bank)
    other_id = client.add_signal("OTHER", "pdq", H)
    hma.state.index_delay = 3600  # nothing is visible to lookups during this test
    report = client.push_case_hashes("VICTIM", [("pdq", H)], known={("pdq", H): other_id})
    assert [(r.outcome, r.content_id) for r in report.results] == [("added", other_id + 1)]


def test_push_to_missing_bank_fails_as_a_whole(hma: FakeHMA, client: HashBankClient) -> None:
    with pytest.raises(SendError, match="no bank called GHOST"):
        client.push_case_hashes("GHOST", [("pdq", H)])
    assert hma.state.sent("POST") == []


def test_a_failed_push_is_not_repeated_blindly(hma: FakeHMA, client: HashBankClient) -> None:
    client.create_bank("VICTIM")
    hma.state.fail_next_push = 500
    report = client.push_case_hashes("VICTIM", [("pdq", H), ("pdq", R1)])
    failed, added = report.results
    assert (failed.outcome, failed.retryable) == ("failed", True)
    assert "HTTP 500" in (failed.reason or "")
    assert (added.outcome, added.content_id) == ("added", 1)
    assert len(hma.state.sent("POST", "/c/bank/VICTIM/signal")) == 2  # one try each, no repeat


def test_index_not_ready_is_waited_out(hma: FakeHMA) -> None:
    hma.state.not_ready_lookups = 2
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=4, backoff_base=1, max_wait=30)
    with HashBankClient(hma.url, policy=policy, sleep=fake.sleep, clock=fake.clock) as client:
        assert client.raw_lookup("pdq", H) == []
    assert fake.sleeps == [1, 2]
    assert len(hma.state.sent("GET", "/m/raw_lookup")) == 3


def test_unreachable_server_is_a_temporary_failure() -> None:
    with FakeHMA() as hma:
        url = hma.url
    fake = FakeTime()
    policy = RetryPolicy(max_attempts=2, backoff_base=1)
    with (HashBankClient(url, timeout=1, policy=policy, sleep=fake.sleep) as client,
          pytest.raises(TemporarySendError, match="could not reach the hash bank") as err):
        client.bank_exists("VICTIM")
    assert "after 2 attempts" in str(err.value) and fake.sleeps == [1]


def test_unexpected_route_error_is_reported_in_plain_text(hma: FakeHMA) -> None:
    with HashBankClient(hma.url + "/wrong-prefix", sleep=lambda s: None) as client, pytest.raises(SendError) as err:
        client.create_bank("VICTIM")
    assert "HTTP 404" in str(err.value) and "Not Found" in str(err.value)
    assert "<" not in str(err.value)


def test_token_over_plain_http_is_refused_for_remote_servers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMA_TOKEN", "s3cret-token")
    with pytest.raises(SendError, match="unencrypted") as err:
        HashBankClient("http://hma.example.org", token_env="HMA_TOKEN")
    assert "s3cret-token" not in str(err.value)


def test_token_is_sent_to_a_proxy_when_configured(hma: FakeHMA, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HMA_TOKEN", "s3cret-token")
    with HashBankClient(hma.url, token_env="HMA_TOKEN") as client:
        client.bank_exists("VICTIM")
        assert "s3cret-token" not in repr(client)
    assert hma.state.requests[0].headers["Authorization"] == "Bearer s3cret-token"


def test_a_video_md5_is_pushed_and_waited_for_against_the_exact_index(hma: FakeHMA) -> None:
    fake = FakeTime()
    with HashBankClient(hma.url, sleep=fake.sleep, clock=fake.clock) as client:
        client.create_bank("VICTIM")
        pushed = client.add_signal("VICTIM", "video_md5", MD5)
        matches = client.wait_until_matchable("video_md5", MD5, content_id=pushed, timeout=10, interval=1)
    assert [(m.content_id, m.distance, m.identical) for m in matches] == [(pushed, None, True)]


def test_the_fake_answers_a_video_md5_lookup_as_the_real_server_does(hma: FakeHMA, client: HashBankClient) -> None:
    # The real answer, from the addendum of the recorded examples: {"matches":[{"bank_content_id":22,"distance":"-"}]}
    client.create_bank("VICTIM")
    pushed = client.add_signal("VICTIM", "video_md5", MD5)
    raw = httpx.get(f"{hma.url}/m/raw_lookup", params={"signal_type": "video_md5", "signal": MD5, "include_distance": "true"})
    assert raw.json() == {"matches": [{"bank_content_id": pushed, "distance": "-"}]}


def test_a_rerun_without_recorded_ids_finds_video_md5s_already_in_the_bank(hma: FakeHMA, client: HashBankClient) -> None:
    client.create_bank("VICTIM")
    first = client.push_case_hashes("VICTIM", [("video_md5", MD5), ("pdq", H), ("pdq", R1)])
    assert first.complete
    again = client.push_case_hashes("VICTIM", [("video_md5", MD5), ("pdq", H)])  # no known ids
    assert [(r.outcome, r.content_id) for r in again.results] == [("already_present", 1), ("already_present", 2)]
    assert len(hma.state.sent("POST", "/c/bank/VICTIM/signal")) == 3


@pytest.mark.parametrize("answer", [{"bank_content_id": 1, "distance": True}, {"bank_content_id": 1, "distance": "far"},
                                    {"bank_content_id": 1}, {"distance": "3"}])
def test_a_lookup_answer_in_another_form_is_one_clear_error(answer: dict[str, object]) -> None:
    with FakeHMA() as hma, HashBankClient(hma.url) as client:
        hma.state.lookup_answer = {"matches": [answer]}
        with pytest.raises(SendError, match="the hash bank answered a lookup in an unexpected form"):
            client.raw_lookup("pdq", H)


@dataclass(frozen=True)
class Exchange:
    """One request and the answer the real server gave, as recorded."""

    number: int
    method: str
    path: str
    content_type: str | None
    body: str | None
    status: int
    answer_type: str
    answer: str


_EXCHANGE = re.compile(
    r"\*\*E(?P<number>\d+)\. [^\n]*\n\n- Request: `(?P<method>[A-Z]+) (?P<path>[^`]+)`\n"
    r"(?:- Request header: `Content-Type: (?P<content_type>[^`]+)`\n)?"
    r"- Request body:(?: none\n|\n\n  ```\n(?P<body>.*?)\n  ```\n)"
    r"- Response: \*\*(?P<status>\d+)\*\*, `Content-Type: (?P<answer_type>[^`]+)`, body:\n\n  ```\n(?P<answer>.*?)\n  ```",
    re.S,
)


def _recorded_exchanges() -> dict[int, Exchange]:
    if not RECORDED.exists():
        pytest.skip("../shared/hma-api is not present beside the project")
    found = {}
    for m in _EXCHANGE.finditer(RECORDED.read_text()):
        body = textwrap.dedent(m["body"]) if m["body"] is not None else None
        found[int(m["number"])] = Exchange(int(m["number"]), m["method"], m["path"], m["content_type"], body,
                                           int(m["status"]), m["answer_type"], textwrap.dedent(m["answer"]))
    return found


# Replayed in this order against a fresh fake; together they build the state each answer needs
# (TEST_BANK holding H as content 1 and R1 with a note as content 2).
REPLAYED = [6, 7, 8, 9, 10, 11, 19, 21, 22, 23, 24, 25, 26, 32, 33, 34, 35, 36, *range(37, 60), *range(63, 68),
            74, 75, 110, 112, 113, 122, 123]


def test_hma_fake_replays_the_recorded_answers() -> None:
    recorded = _recorded_exchanges()
    assert len(recorded) > 100  # the parse found the whole log
    with FakeHMA() as hma:
        for number in REPLAYED:
            e = recorded[number]
            headers = {"Content-Type": e.content_type} if e.content_type else {}
            got = httpx.request(e.method, hma.url + e.path, headers=headers,
                                content=e.body.encode() if e.body is not None else None)
            assert (got.status_code, got.headers["Content-Type"]) == (e.status, e.answer_type), f"E{number}"
            if e.answer_type == "application/json":
                assert got.json() == json.loads(e.answer), f"E{number}"
            else:
                assert got.text.strip() == e.answer.strip(), f"E{number}"
