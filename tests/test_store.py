"""The case database: private file, named migrations, cases, protected items, the event log."""

from __future__ import annotations

import re
import sqlite3
import stat
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from stopncii_tools import hash_bytes
from stopncii_tools._errors import CaseChoiceNeeded, NotFound, StoreError
from stopncii_tools.paths import default_db_path
from stopncii_tools.signals._examples import encode, scene
from stopncii_tools.store import NewNotice, Store, StoredNotice
from stopncii_tools.store.migrations import MIGRATIONS
from stopncii_tools.store.notice_states import MOVES, STATES, Move, pairs
from stopncii_tools.workflow.records import media_record, signal_rows


def test_database_lives_in_the_private_data_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPNCII_HOME", str(tmp_path / "home"))
    with Store() as store:
        assert store.path == default_db_path() == tmp_path / "home" / "cases.db"
    assert stat.S_IMODE(store.path.stat().st_mode) == 0o600
    assert stat.S_IMODE(store.path.parent.stat().st_mode) == 0o700


def test_env_var_moves_the_database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STOPNCII_DB", str(tmp_path / "elsewhere" / "my.db"))
    with Store() as store:
        assert store.path == tmp_path / "elsewhere" / "my.db"


def test_migrations_are_named_and_applied_once(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    with Store(path) as store:
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]
        store.create_case("first")
    with Store(path) as store:  # reopening applies nothing twice and keeps data
        assert len(store.list_cases()) == 1
        assert store.applied_migrations() == [name for name, _ in MIGRATIONS]


def test_a_file_that_is_not_a_database_gets_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "cases.db"
    path.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StoreError, match="not a case database, or it is damaged"):
        Store(path)


def test_case_ids_are_short_and_case_choice_rules(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        with pytest.raises(CaseChoiceNeeded, match="no open case yet"):
            store.resolve_case(None)
        one = store.create_case("One", "us")
        assert len(one.id) == 6 and one.jurisdiction == "US"
        assert store.resolve_case(None).id == one.id
        two = store.create_case("Two")
        with pytest.raises(CaseChoiceNeeded, match="2 open cases"):
            store.resolve_case(None)
        store.close_case(two.id)
        assert store.resolve_case(None).id == one.id
        with pytest.raises(NotFound, match="no case with id"):
            store.get_case("zzzzzz")


def test_protected_item_keeps_hashes_and_label_never_the_path(tmp_path: Path) -> None:
    data = encode(scene(51))
    with Store(tmp_path / "c.db") as store:
        case = store.create_case("Case")
        hashes = hash_bytes(data, dihedral=True)
        item, created = store.add_protected(case.id, media_record(hashes), signal_rows(hashes), "secret-name.jpg")
        again, created_again = store.add_protected(case.id, media_record(hashes), signal_rows(hashes), "other.jpg")
        assert created and not created_again and again.id == item.id
        signals = store.protected_signals(case.id)
        assert sum(1 for s in signals if s.signal == "pdq") == 8
        assert {s.signal for s in signals} >= {"pdq", "phash", "dhash", "whash", "colorhash", "md5", "sha256"}
    raw = (tmp_path / "c.db").read_bytes()
    assert data[200:264] not in raw  # no picture bytes
    assert str(tmp_path).encode() not in raw


def test_event_log_is_append_only(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        case = store.create_case("Case")
        store.close_case(case.id)
        assert [e.action for e in store.events(case.id)] == ["case.created", "case.closed"]
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            store.conn.execute("UPDATE events SET action = 'x'")


def test_delete_case_really_removes_everything(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with Store(path) as store:
        case = store.create_case("Very distinctive title QZX")
        hashes = hash_bytes(encode(scene(52)), dihedral=True)
        store.add_protected(case.id, media_record(hashes), signal_rows(hashes), "distinctive-label-QZX.jpg")
        keep = store.create_case("Kept case")
        store.delete_case(case.id)
        assert [c.id for c in store.list_cases()] == [keep.id]
        count = lambda sql: store.conn.execute(sql).fetchone()[0]  # noqa: E731
        assert count("SELECT COUNT(*) FROM protected_items") == 0
        assert count("SELECT COUNT(*) FROM protected_signals") == 0
        assert count(f"SELECT COUNT(*) FROM events WHERE case_id = '{case.id}'") == 0
    raw = path.read_bytes() + (path.with_name("c.db-wal").read_bytes() if path.with_name("c.db-wal").exists() else b"")
    assert b"QZX" not in raw and hashes.sha256.encode() not in raw


def test_a_case_can_be_given_a_country_later(tmp_path: Path) -> None:
    from click.testing import CliRunner

    from stopncii_tools.cli import cli

    db = str(tmp_path / "c.db")
    runner = CliRunner()
    runner.invoke(cli, ["case", "new", "No country yet", "--db", db])
    runner.invoke(cli, ["requester", "set", "--db", db, "--name", "J", "--email", "j@example.org", "--signature", "/J/"])
    refused = runner.invoke(cli, ["notice", "draft", "--db", db])
    assert refused.exit_code == 1 and "stopncii case edit --jurisdiction" in refused.stderr
    wrong = runner.invoke(cli, ["case", "edit", "--db", db, "--jurisdiction", "United Kingdom"])
    assert wrong.exit_code == 1 and "is not a country code" in wrong.stderr
    edited = runner.invoke(cli, ["case", "edit", "--db", db, "--jurisdiction", "gb"])
    assert edited.exit_code == 0 and "(GB)" in edited.stderr
    with Store(db) as store:
        assert store.resolve_case(None).jurisdiction == "GB"
        assert [e.action for e in store.events(store.resolve_case(None).id)][-1] == "case.updated"


# -- the notice state machine ---------------------------------------------------------------

NOW = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
STEPS = tuple(sorted({m.step for m in MOVES}))


def _draft(store: Store, case_id: str, key: str) -> StoredNotice:
    notice, created = store.save_notice(case_id, NewNotice(
        notice_key=key, platform="example", framework="take_it_down", framework_reason="test", language="en",
        channel_kind="email", channel_address="abuse@example.org", confirmed=("accurate",), attach_hashes=False,
        context=None, original_work=None, created_at=NOW, match_ids=()))
    assert created
    return notice


def _notice_in(store: Store, state: str, key: str) -> StoredNotice:
    """A notice brought to ``state`` by allowed moves only (the shortest way from a draft)."""
    case = store.create_case(f"Case for {key}", "US")
    ways: dict[str, list[Move]] = {"draft": []}
    while state not in ways:
        for m in MOVES:
            if m.source in ways and m.target not in ways:
                ways[m.target] = [*ways[m.source], m]
    notice = _draft(store, case.id, key)
    for m in ways[state]:
        notice = store.move_notice(notice, m.target, step=m.step, at=NOW)
    assert notice.status == state
    return notice


def _log(store: Store, notice: StoredNotice) -> list[tuple[str, dict[str, Any]]]:
    return [(e.action, e.detail) for e in store.events(notice.case_id)]


def test_the_table_has_each_move_once_and_only_known_states() -> None:
    keys = [(m.source, m.target, m.step) for m in MOVES]
    assert len(keys) == len(set(keys))
    assert {s for m in MOVES for s in (m.source, m.target)} == set(STATES)
    assert all(m.event.startswith("notice.") for m in MOVES)


@pytest.mark.parametrize("allowed", MOVES, ids=lambda m: f"{m.source}-{m.step}-{m.target}")
def test_every_allowed_move_is_made_and_logged_with_its_event(tmp_path: Path, allowed: Move) -> None:
    with Store(tmp_path / "c.db") as store:
        notice = _notice_in(store, allowed.source, "k")
        moved = store.move_notice(notice, allowed.target, step=allowed.step, at=NOW, detail={"why": "test"},
                                  last_error="kept")
        assert moved.status == allowed.target and moved.last_error == "kept"
        action, detail = _log(store, notice)[-1]
    assert action == allowed.event
    assert detail == {"notice": notice.id, "from": allowed.source, "to": allowed.target, "why": "test"}


@pytest.mark.parametrize("state", STATES)
def test_every_move_not_in_the_table_is_refused_and_changes_nothing(tmp_path: Path, state: str) -> None:
    with Store(tmp_path / "c.db") as store:
        notice = _notice_in(store, state, "k")
        before = (store.notice(notice.id), _log(store, notice))
        refused = [(target, step) for target in STATES for step in STEPS
                   if (state, target, step) not in {(m.source, m.target, m.step) for m in MOVES}]
        assert refused
        for target, step in refused:
            with pytest.raises(StoreError) as caught:
                store.move_notice(notice, target, step=step, at=NOW, last_error="must not be kept")
            message = str(caught.value)
            assert message.startswith(f"notice {notice.id}: ") and "\n" not in message
            assert f"it is {state}" in message or "send --resume" in message
            assert (store.notice(notice.id), _log(store, notice)) == before


def test_refusals_say_what_the_notice_can_become(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        draft = _notice_in(store, "draft", "a")
        removed = _notice_in(store, "removed", "b")
        sending = _notice_in(store, "sending", "c")
        sent = _notice_in(store, "sent", "d")
        cases = [(draft, "acknowledged", "reply", "it is draft, so it cannot become acknowledged; "
                  "it can become sent or withdrawn"),
                 (removed, "refused", "reply", "it is removed already; nothing more can change"),
                 (sending, "withdrawn", "reply", "a run stopped while sending it"),
                 (sent, "sent", "mark_sent", "it is sent already; it can become acknowledged or removed or "
                  "refused or withdrawn")]
        for notice, target, step, words in cases:
            with pytest.raises(StoreError, match=re.escape(f"notice {notice.id}: {words}")):
                store.move_notice(notice, target, step=step, at=NOW)


def test_a_notice_that_moved_on_since_it_was_read_is_left_as_it_is(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        read = _notice_in(store, "queued", "k")
        store.move_notice(read, "sending", step="claim", at=NOW)  # another run claimed it meanwhile
        before = _log(store, read)
        with pytest.raises(StoreError, match=f"notice {read.id}: it is sending now, so it was left as it is"):
            store.move_notice(read, "withdrawn", step="reply", at=NOW)
        assert store.notice(read.id).status == "sending" and _log(store, read) == before


def test_the_database_refuses_a_status_change_no_move_joins(tmp_path: Path) -> None:
    with Store(tmp_path / "c.db") as store:
        for source in STATES:
            notice = _notice_in(store, source, source)
            for target in STATES:
                store.conn.execute("SAVEPOINT probe")
                try:  # by hand, around the store
                    store.conn.execute("UPDATE notices SET status = ? WHERE id = ?", (target, notice.id))
                    allowed = True
                except sqlite3.IntegrityError as exc:
                    assert "a notice cannot move between these two states" in str(exc)
                    allowed = False
                store.conn.execute("ROLLBACK TO probe")
                store.conn.execute("RELEASE probe")
                assert allowed == (source == target or (source, target) in pairs()), (source, target)
                assert store.notice(notice.id).status == source


def test_the_database_learns_the_moves_of_a_newer_version_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "c.db"
    with Store(path) as store:
        store.conn.execute("DELETE FROM notice_moves WHERE source = 'refused'")  # as an older version had it
    with Store(path) as store:
        assert set(store.conn.execute("SELECT source, target FROM notice_moves")) == pairs()

