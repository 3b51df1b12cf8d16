"""What outside data can do to a terminal or a spreadsheet (issue 16, items 9 and 10): file
names carrying escape sequences are shown escaped, and CSV cells that a spreadsheet would run
as formulas are neutralised."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from stopncii_tools.cli._output import printable, spreadsheet_safe
from stopncii_tools.signals._examples import encode, scene

CLEAR_AND_RETITLE = "\x1b[2J\x1b]0;you have been hacked\x07"


def stopncii(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "stopncii_tools", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "NO_COLOR": "1"})


def test_escape_sequences_in_file_names_are_shown_not_run(tmp_path: Path) -> None:
    (tmp_path / f"bad{CLEAR_AND_RETITLE}.jpg").write_bytes(b"\xff\xd8\xff broken")
    (tmp_path / f"good{CLEAR_AND_RETITLE}\u202egpj.exe").write_bytes(encode(scene(2)))

    done = stopncii("hash", "-j", "1", ".", cwd=tmp_path)

    for stream in (done.stdout, done.stderr):
        assert "\x1b" not in stream and "\x07" not in stream and "\u202e" not in stream
    assert "bad\\x1b[2J\\x1b]0;you have been hacked\\x07.jpg" in done.stderr
    assert "good\\x1b[2J\\x1b]0;you have been hacked\\x07\\u202egpj.exe" in done.stdout


def test_csv_cells_that_would_run_as_formulas_are_neutralised(tmp_path: Path) -> None:
    (tmp_path / '=HYPERLINK("x.example","open").jpg').write_bytes(encode(scene(3)))
    (tmp_path / "@SUM(1).jpg").write_bytes(encode(scene(4)))

    done = stopncii("hash", "-j", "1", "--csv", '=HYPERLINK("x.example","open").jpg', "@SUM(1).jpg",
                    cwd=tmp_path)

    paths = sorted(row["path"] for row in csv.DictReader(io.StringIO(done.stdout)))
    assert paths == ["'=HYPERLINK(\"x.example\",\"open\").jpg", "'@SUM(1).jpg"]


@given(st.text())
def test_printable_text_has_no_control_characters_and_keeps_the_rest(text: str) -> None:
    shown = printable(text)
    assert not any(ord(c) < 0x20 or 0x7F <= ord(c) <= 0x9F or c in "\u202a\u202b\u202c\u202d\u202e" for c in shown)
    if text.isprintable() and "\\" not in text:
        assert shown == text


@given(st.text(min_size=1))
def test_no_cell_starts_like_a_formula(text: str) -> None:
    cell = spreadsheet_safe(text)
    assert isinstance(cell, str) and not cell.startswith(("=", "+", "-", "@", "\t", "\r"))
    assert cell.lstrip("'") == text.lstrip("'") or cell == "'" + text
