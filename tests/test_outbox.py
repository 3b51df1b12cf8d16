"""The outbox against real loopback servers: an intake API and an SMTP server (aiosmtpd)."""

from __future__ import annotations

import json
import time
import urllib.request
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword
from click.testing import CliRunner, Result

from stopncii_tools.cli import cli
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.store import Store
from stopncii_tools.store.notices import Sender
from stopncii_tools.submit.config import load_sending_config
from stopncii_tools.workflow.outbox import queue_notice
from tests._casework import (
    REQUESTER,
    intake_server,
    intake_settings,
    mailbox_server,
    make_case,
    site_server,
    smtp_settings,
    write_intake_platform,
    write_sending,
)

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
PASSWORD = "correct horse battery staple"


def run(*args: str, at: datetime = NOW) -> Result:
    return CliRunner().invoke(cli, list(args), env={"STOPNCII_NOW": at.isoformat()})


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


@pytest.fixture()
def intake_case(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Three notices to an API-reporting platform, and its intake server."""
    write_intake_platform()
    with site_server(tmp_path / "site") as port, intake_server() as intake:
        yield make_case(tmp_path, tmp_path / "site", port, count=3), intake


@pytest.fixture()
def telegram_case(tmp_path: Path):  # type: ignore[no-untyped-def]
    """One e-mail notice to Telegram (abuse@telegram.org) with two addresses."""
    with site_server(tmp_path / "site") as port:
        yield make_case(tmp_path, tmp_path / "site", port, count=2, host="t.me")


# -- an API ---------------------------------------------------------------------------------


def test_api_notices_arrive_once_each_with_their_key_and_frozen_bytes(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake))
    result = run("notice", "send", "--db", str(made.db), "--json")
    assert result.exit_code == 0, result.output
    records = [json.loads(line) for line in result.stdout.splitlines()]
    assert [r["outcome"] for r in records] == ["sent"] * 3
    with Store(made.db) as store:
        notices = store.notices(made.case_id)
        assert [r.key for r in intake.received] == [n.notice_key for n in notices]
        for notice, received in zip(notices, intake.received, strict=True):
            payload = store.notice_payload(notice.id)
            assert payload is not None and received.body == payload.body  # what was frozen is what went
            assert received.headers["X-StopNCII-Notice-Key"] == notice.notice_key
            assert notice.status == "sent" and notice.attempts == 1
            assert notice.sent_at == iso(NOW) and notice.due_at == iso(NOW + timedelta(hours=48))  # TAKE IT DOWN
            assert notice.evidence["response_id"] == intake.accepted[notice.notice_key][0]
            assert json.loads(received.body)["notice_key"] == notice.notice_key
    again = run("notice", "send", "--db", str(made.db))
    assert again.exit_code == 0 and "Nothing to send" in again.stderr
    assert len(intake.received) == 3


def test_429_with_retry_after_is_scheduled_and_kept(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake, max_wait=1.0))  # a longer wait is handed to the outbox
    intake.answer(429, {"Retry-After": "120"})
    result = run("notice", "send", "1", "--db", str(made.db), "--json")
    assert result.exit_code == 1
    assert "it asked us to wait 120 s" in json.loads(result.stdout)["detail"]
    with Store(made.db) as store:
        notice = store.notice(1)
        assert notice.status == "queued" and notice.next_attempt_at == iso(NOW + timedelta(seconds=120))
        assert [a.outcome for a in store.send_attempts(1)] == ["temporary"]
    early = run("notice", "send", "1", "--db", str(made.db), "--json", at=NOW + timedelta(seconds=60))
    assert json.loads(early.stdout)["outcome"] == "waiting" and len(intake.received) == 1  # not before the server said
    later = NOW + timedelta(seconds=121)
    assert run("notice", "send", "1", "--db", str(made.db), at=later).exit_code == 0
    with Store(made.db) as store:
        notice = store.notice(1)
        assert notice.status == "sent" and notice.attempts == 2 and notice.sent_at == iso(later)
    assert [r.key for r in intake.received] == [notice.notice_key] * 2


def test_500_is_retried_within_the_run_with_backoff_and_the_same_key(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake, max_attempts=3, backoff_base=0.05))
    intake.answer(500)
    intake.answer(503, {"Retry-After": "0"})
    result = run("notice", "send", "1", "--db", str(made.db), "--json")
    assert result.exit_code == 0, result.output
    with Store(made.db) as store:
        notice = store.notice(1)
    assert notice.status == "sent" and notice.evidence["attempts"] == 3
    assert {r.key for r in intake.received} == {notice.notice_key}
    assert len({r.body for r in intake.received}) == 1


def test_a_slow_answer_times_out_and_the_resend_is_dropped_by_the_receiver(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake, timeout=0.3, max_attempts=1))
    intake.answer(200, delay=1.0)  # it takes the notice, but answers after we gave up
    first = run("notice", "send", "1", "--db", str(made.db), "--json")
    assert first.exit_code == 1 and "may have arrived" in first.stdout
    time.sleep(0.8)  # let the server finish recording the first copy
    with Store(made.db) as store:
        waiting = store.notice(1)
    assert waiting.status == "queued" and waiting.next_attempt_at == iso(NOW + timedelta(seconds=60))
    assert run("notice", "send", "1", "--db", str(made.db), at=NOW + timedelta(minutes=2)).exit_code == 0
    with Store(made.db) as store:
        notice = store.notice(1)
    assert notice.status == "sent"
    assert len(intake.accepted) == 1 and notice.evidence["response_id"] == "R-1"  # one notice, known once


def test_rate_limit_spaces_the_requests(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake, min_interval=0.25))
    started = time.monotonic()
    assert run("notice", "send", "--db", str(made.db)).exit_code == 0
    assert time.monotonic() - started >= 0.5 and len(intake.received) == 3


def test_an_api_without_settings_is_not_posted_to(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    result = run("notice", "send", "--db", str(made.db), "--json")
    assert result.exit_code == 1
    assert 'no [[api]] entry with address = \\"https://intake.example/v1/notices\\"' in result.stdout
    assert intake.received == []


def test_resume_finishes_a_notice_a_stopped_run_left_sending(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake))
    assert run("notice", "send", "1", "3", "--db", str(made.db)).exit_code == 0
    with Store(made.db) as store:  # the steps a run takes for notice 2, up to the request
        queued = queue_notice(store, store.notice(2), load_sending_config(None), load_directory(), lambda: NOW)
        store.move_notice(queued, "sending", step="claim", at=NOW, attempts=1)
        store.start_attempt(2, 1, "http", NOW)
        payload = store.notice_payload(2)
    assert payload is not None
    request = urllib.request.Request(intake.url, data=payload.body, method="POST", headers={
        "Content-Type": "application/json", "Idempotency-Key": queued.notice_key})
    with urllib.request.urlopen(request, timeout=5):  # the receiver takes it; then the run is killed
        pass
    plain = run("notice", "send", "--db", str(made.db), "--json")
    assert plain.exit_code == 1 and "--resume" in plain.stdout
    resumed = run("notice", "send", "--db", str(made.db), "--resume")
    assert resumed.exit_code == 0
    with Store(made.db) as store:
        notice = store.notice(2)
        attempts = [a.outcome for a in store.send_attempts(2)]
    assert notice.status == "sent" and attempts == ["interrupted", "delivered"]
    assert len(intake.accepted) == 3 and len(intake.received) == 4  # the copy was recognised by its key



def test_the_board_tells_a_notice_another_run_is_sending_from_one_a_stopped_run_left(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake))
    with Store(made.db) as store:
        queued = queue_notice(store, store.notice(2), load_sending_config(None), load_directory(), lambda: NOW)
        claim = store.claim_notice(2, Sender.this_process(), channel="http", at=NOW, resume=False)
        assert claim.outcome == "claimed" and queued.id == 2
    live = [json.loads(line) for line in run("status", "--db", str(made.db), "--json").stdout.splitlines()]
    assert [(r["notice"], r["state"]) for r in live if r["notice"] == 2] == [(2, "sending")]  # this process holds it
    with Store(made.db) as store:  # the holder is gone: a process id that is not running
        store.conn.execute("UPDATE send_leases SET pid = 999999999 WHERE notice_id = 2")
    left = [json.loads(line) for line in run("status", "--db", str(made.db), "--json").stdout.splitlines()]
    assert [(r["notice"], r["state"], r["next_step"]) for r in left if r["notice"] == 2] == [
        (2, "interrupted", "stopncii notice send --resume")]

# -- e-mail ---------------------------------------------------------------------------------


def test_email_goes_by_smtp_byte_for_byte_with_its_message_id_kept(telegram_case) -> None:  # type: ignore[no-untyped-def]
    made = telegram_case
    with mailbox_server() as box:
        write_sending(smtp_settings(box, **{"from": "Help NGO <cases@ngo.example>"}))
        preview = run("notice", "send", "--db", str(made.db), "--dry-run")
        assert preview.exit_code == 0 and box.raw == []
        result = run("notice", "send", "--db", str(made.db))
        assert result.exit_code == 0, result.output
    [raw] = box.raw
    [message] = box.messages()
    with Store(made.db) as store:
        [notice] = store.notices()
        payload = store.notice_payload(notice.id)
    assert payload is not None and raw == payload.body
    assert preview.stdout.replace("\n", "\r\n").encode() == raw  # the dry run showed exactly this
    assert message["To"] == "abuse@telegram.org" and message["From"] == "Help NGO <cases@ngo.example>"
    assert message["Reply-To"] == f"{REQUESTER.name} <{REQUESTER.email}>"
    assert message["Idempotency-Key"] == notice.notice_key
    assert notice.evidence["message_id"] == message["Message-ID"]
    assert notice.evidence["server_reply"].startswith("250")


def test_a_line_dropped_after_data_is_resent_with_the_same_message_id(telegram_case) -> None:  # type: ignore[no-untyped-def]
    made = telegram_case
    with mailbox_server() as box:
        write_sending(smtp_settings(box))
        box.hang_up_after_data = 1
        first = run("notice", "send", "--db", str(made.db), "--json")
        assert first.exit_code == 1 and "may or may not have arrived" in first.stdout
        assert run("notice", "send", "--db", str(made.db), at=NOW + timedelta(minutes=5)).exit_code == 0
    one, two = box.messages()
    assert one["Message-ID"] == two["Message-ID"] and one["Idempotency-Key"] == two["Idempotency-Key"]
    assert box.raw[0] == box.raw[1]  # the receiver can drop the copy by either header


def test_smtp_down_is_tried_again_later_with_growing_waits(telegram_case) -> None:  # type: ignore[no-untyped-def]
    made = telegram_case
    write_sending('[smtp]\nhost = "127.0.0.1"\nport = 9\nsecurity = "none"\ntimeout = 2\n'
                  "[retry]\nfirst_wait_seconds = 30\n")
    assert "nothing was sent" in run("notice", "send", "--db", str(made.db), "--json").stdout
    run("notice", "send", "--db", str(made.db), at=NOW + timedelta(seconds=31))
    with Store(made.db) as store:
        notice = store.notices()[0]
    assert notice.attempts == 2 and notice.next_attempt_at == iso(NOW + timedelta(seconds=31 + 60))


def _authenticate(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and data.password == PASSWORD.encode()
    return AuthResult(success=ok, handled=False)


def test_the_password_comes_from_the_environment_and_is_never_stored_or_printed(
    telegram_case, monkeypatch: pytest.MonkeyPatch,  # type: ignore[no-untyped-def]
) -> None:
    made = telegram_case
    with mailbox_server(authenticator=_authenticate, auth_require_tls=False) as box:
        write_sending(smtp_settings(box, username="cases@ngo.example", password_env="NGO_SMTP_PASSWORD"))
        missing = run("notice", "send", "--db", str(made.db), "--json")
        assert missing.exit_code == 1 and "NGO_SMTP_PASSWORD" in missing.stdout
        with Store(made.db) as store:
            assert store.notices()[0].attempts == 0  # nothing was tried without the password
        monkeypatch.setenv("NGO_SMTP_PASSWORD", PASSWORD)
        result = run("notice", "send", "--db", str(made.db), "--json")
        assert result.exit_code == 0, result.output
    assert len(box.raw) == 1
    stored = b"".join(p.read_bytes() for p in made.db.parent.glob("cases.db*"))
    assert PASSWORD.encode() not in stored and PASSWORD not in result.output + missing.output


def test_a_secret_written_in_the_settings_file_is_refused_without_repeating_it(telegram_case) -> None:  # type: ignore[no-untyped-def]
    made = telegram_case
    write_sending('[smtp]\nhost = "smtp.example.org"\npassword = "hunter2-secret"\n')
    result = run("notice", "send", "--db", str(made.db))
    assert result.exit_code == 1
    assert "'password' looks like a password or token" in result.stderr
    assert "hunter2" not in result.output


# -- dry run, by hand, answers --------------------------------------------------------------


def test_dry_run_changes_nothing(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake))
    before = made.db.read_bytes()
    with Store(made.db) as store:
        events = len(store.events(made.case_id))
    result = run("notice", "send", "--db", str(made.db), "--dry-run", "--json")
    assert result.exit_code == 0
    shown = [json.loads(line) for line in result.stdout.splitlines()]
    assert [s["route"] for s in shown] == ["http"] * 3 and intake.received == []
    with Store(made.db) as store:
        assert [n.status for n in store.notices()] == ["draft"] * 3
        assert len(store.events(made.case_id)) == events and store.notice_payload(1) is None
    assert run("notice", "send", "--db", str(made.db)).exit_code == 0
    assert json.loads(intake.received[0].body) == json.loads(shown[0]["payload"])
    assert made.db.read_bytes() != before


def test_without_a_mail_server_the_email_is_sent_by_hand_and_recorded(telegram_case) -> None:  # type: ignore[no-untyped-def]
    made = telegram_case
    [record] = json.loads("[" + run("notice", "send", "--db", str(made.db), "--json").stdout + "]")
    assert record["outcome"] == "by_hand" and "--format email > notice-1.eml" in record["detail"]
    assert run("notice", "mark-sent", "1", "--db", str(made.db)).exit_code == 0  # no ticket for an e-mail
    with Store(made.db) as store:
        notice = store.notice(1)
    assert notice.status == "sent" and notice.due_at == iso(NOW + timedelta(hours=48))


def test_a_web_form_notice_waits_for_the_ticket(tmp_path: Path) -> None:
    with site_server(tmp_path / "site") as port:
        made = make_case(tmp_path, tmp_path / "site", port, count=1, host="vk.com", jurisdiction="BR")
    result = run("notice", "send", "--db", str(made.db))
    assert result.exit_code == 0
    assert "https://vk.com/" in result.stdout and "mark-sent 1 --ticket" in result.stderr
    assert made.urls[0] in result.stdout  # the packet to paste
    no_ticket = run("notice", "mark-sent", "1", "--db", str(made.db))
    assert no_ticket.exit_code == 1 and "--ticket" in no_ticket.stderr
    sent_at = NOW - timedelta(hours=3)
    marked = run("notice", "mark-sent", "1", "--db", str(made.db), "--ticket", "VK-4711",
                 "--sent-at", sent_at.isoformat(), "--default-deadline-hours", "72")
    assert marked.exit_code == 0, marked.output
    with Store(made.db) as store:
        notice = store.notice(1)
    assert notice.status == "sent" and notice.evidence["ticket"] == "VK-4711"
    assert notice.due_at == iso(sent_at + timedelta(hours=72))  # the platform's own rules set no deadline: the default


def test_answers_follow_the_state_machine(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake))
    db = str(made.db)
    early = run("notice", "mark", "1", "acknowledged", "--db", db)
    assert early.exit_code == 1 and "notice 1: it is draft, so it cannot become acknowledged" in early.stderr
    assert run("notice", "mark", "3", "withdrawn", "--db", db).exit_code == 0
    assert run("notice", "send", "--db", db).exit_code == 0
    assert len(intake.received) == 2  # the withdrawn draft never went
    assert run("notice", "mark", "1", "acknowledged", "--db", db, "--note", "ticket 99").exit_code == 0
    assert run("notice", "mark", "1", "removed", "--db", db).exit_code == 0
    final = run("notice", "mark", "1", "refused", "--db", db)
    assert final.exit_code == 1 and "it is removed already" in final.stderr
    with Store(made.db) as store:
        notice = store.notice(1)
        actions = [e.action for e in store.events(made.case_id) if e.detail.get("notice") == 1]
    assert [r["status"] for r in notice.evidence["replies"]] == ["acknowledged", "removed"]
    assert actions[-4:] == ["notice.sending", "notice.sent", "notice.acknowledged", "notice.removed"]


def test_the_cli_refuses_a_move_the_state_table_does_not_have_in_one_line(intake_case) -> None:  # type: ignore[no-untyped-def]
    made, intake = intake_case
    write_sending(intake_settings(intake))
    db = str(made.db)
    assert run("notice", "send", "1", "--db", db).exit_code == 0
    assert run("notice", "mark", "2", "withdrawn", "--db", db).exit_code == 0
    with Store(made.db) as store:
        before = (store.notices(), store.events(made.case_id))
    sent_can = "it can become acknowledged or removed or refused or withdrawn"
    refusals = [
        (["notice", "mark-sent", "1", "--ticket", "none"], f"notice 1: it is sent already; {sent_can}"),
        (["notice", "mark-sent", "2", "--ticket", "none"], "notice 2: it is withdrawn already; nothing more can change"),
        (["notice", "mark", "2", "refused"], "notice 2: it is withdrawn already; nothing more can change"),
        (["notice", "mark", "3", "removed"],
         "notice 3: it is draft, so it cannot become removed; it can become sent or withdrawn"),
    ]
    for args, words in refusals:
        result = run(*args, "--db", db)
        assert result.exit_code == 1 and result.stderr.strip().splitlines() == [f"Error: {words}"], args
        with Store(made.db) as store:
            assert (store.notices(), store.events(made.case_id)) == before, args
    assert len(intake.received) == 1
