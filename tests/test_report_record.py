"""The record no one can quietly change: the event chain, its migration, and signed reports."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import keyring
import pytest
from click.testing import CliRunner, Result
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from keyring.backends.fail import Keyring as NoKeyring

from stopncii_tools.cli import cli
from stopncii_tools.store import Store
from stopncii_tools.store.migrations import MIGRATIONS

from .test_submit_smtp import MemoryKeyring  # the one in-memory keyring of the tests


def run(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args))


def _case_with_history(db: Path) -> str:
    with Store(db) as store:
        other = store.create_case("Another case")  # its events interleave with this case's
        case = store.create_case("History", "US")
        for step in range(6):
            store.update_case(case.id, notes=f"note {step}")
            store.update_case(other.id, notes=f"other {step}")
        store.close_case(case.id)
        return case.id


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, list[int]]:
    db = tmp_path_factory.mktemp("history") / "cases.db"
    case_id = _case_with_history(db)
    with Store(db) as store:
        ids = [e.id for e in store.events(case_id)]
    return db, case_id, ids


def _edit(db: Path, sql: str, *args: object) -> None:
    """What someone with the file and the sqlite3 tool could do: lift the guard, change, put it back."""
    conn = sqlite3.connect(db)
    with conn:
        conn.execute("DROP TRIGGER events_append_only")
        conn.execute(sql, args)
        conn.execute("CREATE TRIGGER events_append_only BEFORE UPDATE ON events "
                     "BEGIN SELECT RAISE(ABORT, 'the event log is append-only'); END")
    conn.close()


def test_an_untouched_log_verifies_and_prints_its_head(history: tuple[Path, str, list[int]]) -> None:
    db, case_id, ids = history
    result = run("case", "verify", "--db", str(db), "--case", case_id)
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        check = store.verify_chain(case_id)
    assert check.intact and check.events == len(ids) == 8
    assert f"Chain head: {check.head}" in result.stdout


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(position=st.integers(0, 7), column=st.sampled_from(["at", "actor", "action", "detail", "prev_hash", "hash"]),
       new_value=st.text(min_size=1, max_size=20))
def test_editing_any_event_by_hand_is_found_and_named(history: tuple[Path, str, list[int]], tmp_path_factory:
                                                      pytest.TempPathFactory, position: int, column: str,
                                                      new_value: str) -> None:
    source, case_id, ids = history
    db = tmp_path_factory.mktemp("edited") / "cases.db"
    shutil.copy(source, db)
    with sqlite3.connect(db) as conn:
        [old] = conn.execute(f"SELECT {column} FROM events WHERE id = ?", (ids[position],)).fetchone()
    if old == new_value:
        return
    _edit(db, f"UPDATE events SET {column} = ? WHERE id = ?", new_value, ids[position])
    result = run("case", "verify", "--db", str(db), "--case", case_id)
    assert result.exit_code == 1
    assert f"event {ids[position]} (" in result.output and "does not fit the chain" in result.output


def test_a_removed_event_is_found_at_the_one_after_it(history: tuple[Path, str, list[int]], tmp_path: Path) -> None:
    source, case_id, ids = history
    db = tmp_path / "cases.db"
    shutil.copy(source, db)
    _edit(db, "DELETE FROM events WHERE id = ?", ids[3])
    result = run("case", "verify", "--db", str(db), "--case", case_id)
    assert result.exit_code == 1
    assert f"event {ids[4]} (" in result.output and "the event before it was removed or changed" in result.output
    report = tmp_path / "report.json"
    assert run("report", "--db", str(db), "--case", case_id, "--out", str(report)).exit_code == 0
    assert '"intact": false' in report.read_text()  # the report says so too


def test_deleting_the_last_events_is_found_with_a_head_kept_from_the_report(
        history: tuple[Path, str, list[int]], tmp_path: Path) -> None:
    source, case_id, ids = history
    db = tmp_path / "cases.db"
    shutil.copy(source, db)
    report = tmp_path / "report.json"
    assert run("report", "--db", str(db), "--case", case_id, "--out", str(report)).exit_code == 0
    kept = json.loads(report.read_text())["event_chain"]["head"]
    same = run("case", "verify", "--db", str(db), "--case", case_id, "--head", kept)
    assert same.exit_code == 0 and f"The head you kept is event {ids[-1]}; the log ends there." in same.stdout
    with Store(db) as store:
        store.update_case(case_id, notes="a later note")
    later = run("case", "verify", "--db", str(db), "--case", case_id, "--head", kept[:16])
    assert later.exit_code == 0 and "1 event was written after it" in later.stdout
    _edit(db, "DELETE FROM events WHERE id >= ?", ids[-1])  # the newest events: the rest still fits
    assert run("case", "verify", "--db", str(db), "--case", case_id).exit_code == 0
    cut = run("case", "verify", "--db", str(db), "--case", case_id, "--head", kept)
    assert cut.exit_code == 1 and "the head you kept" in cut.output and "is not in the event log" in cut.output
    wrong = run("case", "verify", "--db", str(db), "--case", case_id, "--head", "not-a-head")
    assert wrong.exit_code == 2 and "is not a chain head" in wrong.output


def test_a_database_from_before_the_chain_keeps_every_event_and_gets_chained(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    conn = sqlite3.connect(db, isolation_level=None)
    conn.execute("CREATE TABLE _migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, apply in MIGRATIONS:
        if name == "0008_event_chain":
            break
        apply(conn)
        conn.execute("INSERT INTO _migrations VALUES (?, '2026-01-01T00:00:00+00:00')", (name,))
    conn.execute("INSERT INTO cases (id, title, created_at) VALUES ('old111', 'Old', '2026-01-01T00:00:00+00:00')")
    rows = [("old111", f"2026-01-0{day}T10:00:00+00:00", "ngo", "case.updated", f'{{"fields": ["notes"], "n": {day}}}')
            for day in range(1, 8)]
    conn.executemany("INSERT INTO events (case_id, at, actor, action, detail) VALUES (?, ?, ?, ?, ?)", rows)
    conn.close()
    with Store(db) as store:
        events = store.events("old111")
        check = store.verify_chain("old111")
        store.close_case("old111")  # a new event joins the chain at its head
        after = store.verify_chain("old111")
    assert [(e.case_id, e.at, e.actor, e.action) for e in events] == [r[:4] for r in rows]
    assert [e.detail["n"] for e in events] == list(range(1, 8))
    assert check.intact and check.events == 7 and events[0].prev_hash is None
    assert all(later.prev_hash == earlier.hash for earlier, later in zip(events, events[1:], strict=False))
    assert after.intact and after.events == 8


# -- signed reports -------------------------------------------------------------------------


@pytest.fixture()
def chosen_keyring() -> Iterator[None]:
    before = keyring.get_keyring()
    yield
    keyring.set_keyring(before)


def test_a_signed_report_with_one_changed_byte_fails_verify(tmp_path: Path, chosen_keyring: None) -> None:
    keyring.set_keyring(MemoryKeyring())
    db = tmp_path / "cases.db"
    case_id = _case_with_history(db)
    for fmt in ("pdf", "html", "json"):
        out = tmp_path / f"signed.{fmt}"
        made = run("report", "--db", str(db), "--case", case_id, "--sign", "--out", str(out))
        assert made.exit_code == 0, made.output
        good = run("report", "verify", str(out))
        assert good.exit_code == 0 and "the signature is good" in good.stdout, good.output
        data = bytearray(out.read_bytes())
        data[len(data) // 2] ^= 0x01
        out.write_bytes(bytes(data))
        bad = run("report", "verify", str(out))
        assert bad.exit_code == 1 and "changed after it was signed" in bad.output, bad.output
    signature = tmp_path / "signed.json.sig"
    text = signature.read_text()
    signature.write_text(text.replace('"signature": "', '"signature": "AAAA', 1))
    assert run("report", "verify", str(tmp_path / "signed.json")).exit_code == 1
    assert run("report", "verify", str(tmp_path / "nothing.pdf")).exit_code == 1


def test_the_key_fingerprint_in_the_report_is_the_one_it_is_signed_with(tmp_path: Path, chosen_keyring: None) -> None:
    keyring.set_keyring(MemoryKeyring())
    db = tmp_path / "cases.db"
    case_id = _case_with_history(db)
    first, second = tmp_path / "one.html", tmp_path / "two.html"
    for out in (first, second):
        assert run("report", "--db", str(db), "--case", case_id, "--sign", "--out", str(out)).exit_code == 0
    verified = run("report", "verify", str(first)).stdout
    fingerprint = verified.split("the key ")[1].split(";")[0]
    assert fingerprint in first.read_text() and fingerprint in second.read_text()  # one key, kept in the keyring


def test_without_a_keyring_the_report_is_written_unsigned_with_a_clear_line(tmp_path: Path,
                                                                          chosen_keyring: None) -> None:
    keyring.set_keyring(NoKeyring())
    db = tmp_path / "cases.db"
    case_id = _case_with_history(db)
    out = tmp_path / "report.pdf"
    result = run("report", "--db", str(db), "--case", case_id, "--sign", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "The report is written unsigned: no system keyring is available" in result.stderr
    assert out.is_file() and not (tmp_path / "report.pdf.sig").exists()
    assert "no signature beside it" in run("report", "verify", str(out)).output
