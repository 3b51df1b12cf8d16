"""The case database: private file, named migrations, cases, protected items, the event log."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path

import pytest

from stopncii_tools import hash_bytes
from stopncii_tools._errors import CaseChoiceNeeded, NotFound, StoreError
from stopncii_tools.paths import default_db_path
from stopncii_tools.signals._examples import encode, scene
from stopncii_tools.store import Store
from stopncii_tools.store.migrations import MIGRATIONS


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
        item, created = store.add_protected(case.id, hash_bytes(data, dihedral=True), "secret-name.jpg")
        again, created_again = store.add_protected(case.id, hash_bytes(data, dihedral=True), "other.jpg")
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
        store.add_protected(case.id, hashes, "distinctive-label-QZX.jpg")
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
    runner.invoke(cli, ["requester", "set", "--db", db, "--name", "J", "--email", "j@example.org",
                        "--signature", "/J/"])
    refused = runner.invoke(cli, ["notice", "draft", "--db", db])
    assert refused.exit_code == 1 and "stopncii case edit --jurisdiction" in refused.stderr
    wrong = runner.invoke(cli, ["case", "edit", "--db", db, "--jurisdiction", "United Kingdom"])
    assert wrong.exit_code == 1 and "is not a country code" in wrong.stderr
    edited = runner.invoke(cli, ["case", "edit", "--db", db, "--jurisdiction", "gb"])
    assert edited.exit_code == 0 and "(GB)" in edited.stderr
    with Store(db) as store:
        assert store.resolve_case(None).jurisdiction == "GB"
        assert [e.action for e in store.events(store.resolve_case(None).id)][-1] == "case.updated"
