"""The case database and the files a person gives the tool, when things go wrong (issue 16,
items 11 and 12): every failure one line, honest deletion, private folders whatever the umask."""

from __future__ import annotations

import os
import resource
import shutil
import sqlite3
import stat
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from stopncii_tools._errors import InputFileError
from stopncii_tools.config import parse_toml
from stopncii_tools.csvfile import read_csv
from stopncii_tools.store import Store


def stopncii(*args: str, db: Path, preexec: Callable[[], None] | None = None,
             prefix: tuple[str, ...] = ()) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*prefix, sys.executable, "-m", "stopncii_tools", *args, "--db", str(db)],
                          capture_output=True, text=True, timeout=120, preexec_fn=preexec,
                          env={**os.environ, "NO_COLOR": "1"})


def file_modes_apply() -> tuple[str, ...]:
    """A command prefix under which file modes bind this account: none for an ordinary account;
    for root, setpriv without the rights to override them (root in CI writes any file otherwise)."""
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        return ()
    if not shutil.which("setpriv"):
        pytest.skip("running as root without setpriv, so no file is read-only to this account")
    return ("setpriv", "--inh-caps=-all", "--bounding-set=-dac_override,-dac_read_search,-fowner")


def one_error_line(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def test_delete_says_what_is_left_while_another_program_reads(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Maria's photos from the lake")
    reader = sqlite3.connect(db)
    reader.execute("BEGIN")
    reader.execute("SELECT title FROM cases").fetchall()  # holds a snapshot with the case in it

    held = stopncii("case", "delete", "--case", case.id, "--yes", db=db)

    assert held.returncode == 1
    assert "Nothing of it remains" not in held.stderr
    assert "another program is reading the case database" in held.stderr
    assert "stopncii case delete --finish" in held.stderr
    reader.rollback()
    reader.close()

    finished = stopncii("case", "delete", "--finish", db=db)

    assert finished.returncode == 0, finished.stderr
    assert "nothing of deleted cases remains" in finished.stderr
    for path in tmp_path.iterdir():
        assert b"from the lake" not in path.read_bytes(), path.name


def test_a_delete_nobody_holds_up_wipes_the_file(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Maria's photos from the lake")
    done = stopncii("case", "delete", "--case", case.id, "--yes", db=db)
    assert done.returncode == 0 and "Nothing of it remains" in done.stderr
    assert all(b"from the lake" not in path.read_bytes() for path in tmp_path.iterdir())


def test_a_newer_database_is_read_but_never_written(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        store.create_case("first")
        store.conn.execute("INSERT INTO _migrations VALUES ('9000_from_the_future', '2030-01-01')")
    before = db.read_bytes()

    listed = stopncii("case", "list", "--json", db=db)
    refused = stopncii("case", "new", "second", db=db)

    assert listed.returncode == 0 and '"title": "first"' in listed.stdout
    assert "updated by a newer version of stopncii-tools" in one_error_line(refused)
    assert "'9000_from_the_future'" in refused.stderr
    with sqlite3.connect(db) as check:
        assert [row[0] for row in check.execute("SELECT title FROM cases")] == ["first"]
    assert len(db.read_bytes()) == len(before)


def test_a_damaged_database_is_one_line(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        for number in range(30):
            store.create_case(f"case {number}")
    damaged = bytearray(db.read_bytes())
    for offset in range(4096, len(damaged), 61):  # every page after the first
        damaged[offset] ^= 0x5A
    db.write_bytes(bytes(damaged))
    for command in (("case", "list"), ("case", "new", "x"), ("status",)):
        assert "not a case database, or it is damaged" in one_error_line(stopncii(*command, db=db))


def test_a_full_disk_is_one_line_and_loses_nothing_saved(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        store.create_case("kept")
    limit = max(path.stat().st_size for path in tmp_path.iterdir()) + 4096

    def small_files() -> None:  # what a full disk looks like to a writer
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    done = stopncii("case", "new", "x" * 100_000, db=db, preexec=small_files)

    assert "the disk is full or a file size limit was reached" in one_error_line(done)
    assert "everything saved before is kept" in done.stderr
    with Store(db) as store:
        assert [case.title for case in store.list_cases()] == ["kept"]


def test_a_read_only_database_can_still_be_listed(tmp_path: Path) -> None:
    prefix = file_modes_apply()
    db = tmp_path / "cases.db"
    with Store(db) as store:
        store.create_case("only to read")
    db.chmod(0o400)
    tmp_path.chmod(0o500)
    try:
        listed = stopncii("case", "list", "--json", db=db, prefix=prefix)
        refused = stopncii("case", "new", "more", db=db, prefix=prefix)
    finally:
        tmp_path.chmod(0o700)
    assert listed.returncode == 0, listed.stderr
    assert '"title": "only to read"' in listed.stdout
    assert "the case database is read-only" in one_error_line(refused)


def test_folders_made_for_the_database_are_private_whatever_the_umask(tmp_path: Path) -> None:
    db = tmp_path / "new" / "deeper" / "cases.db"

    def open_umask() -> None:
        os.umask(0)

    done = stopncii("case", "list", db=db, preexec=open_umask)

    assert done.returncode == 0, done.stderr
    for folder in (tmp_path / "new", tmp_path / "new" / "deeper"):
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
    assert stat.S_IMODE(db.stat().st_mode) == 0o600
    assert stat.S_IMODE(tmp_path.stat().st_mode) != 0o777  # a folder that was there is left alone


def test_a_csv_value_over_128_kb_is_one_line(tmp_path: Path) -> None:
    path = tmp_path / "links.csv"
    path.write_text('url,note\nhttps://example.com/a,"' + "x" * 200_000 + "\n")
    with pytest.raises(InputFileError) as refused:
        read_csv(path)
    assert str(refused.value) == (
        f"{path}: line 2: a value is longer than 128 KB, more than any link, name or note needs "
        "(is a quote mark missing its closing quote?)")


def test_deeply_nested_toml_is_one_line() -> None:
    with pytest.raises(InputFileError) as refused:
        parse_toml("a = " + "[" * 5000 + "]" * 5000, "sending.toml")
    assert str(refused.value) == "sending.toml: not valid settings: its values are nested too deeply"
