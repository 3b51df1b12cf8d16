"""One reader for the lists and tables a person gives: scan's source lists and batch files."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stopncii_tools._errors import InputFileError
from stopncii_tools.csvfile import MAX_CSV_BYTES, read_csv
from stopncii_tools.workflow.batch import read_batch
from stopncii_tools.workflow.scan import read_source_list


def test_header_names_are_trimmed_and_rows_keep_their_line(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_bytes(b'\xef\xbb\xbf Case , URL\n\nA,"https://a.example/1"\n"B\nstill B",https://a.example/2,extra\n')
    table = read_csv(path)
    assert table.columns == ("case", "url")
    assert [(r.line, r.values, r.extra) for r in table.rows] == [
        (3, {"case": "A", "url": "https://a.example/1"}, ()),
        (5, {"case": "B\nstill B", "url": "https://a.example/2"}, ("extra",)),
    ]


def test_required_and_known_columns(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("case,link\n")
    with pytest.raises(InputFileError, match=r"t.csv: the first line must name the columns, including url \(the columns are: case, url\)$"):
        read_csv(path, required=("case", "url"), known=("case", "url"))
    with pytest.raises(InputFileError, match="t.csv: unknown column 'link'; the columns are: case, url$"):
        read_csv(path, required=("case",), known=("case", "url"))


def test_comment_rows_only_when_asked(tmp_path: Path) -> None:
    path = tmp_path / "t.csv"
    path.write_text("# my links\nurl,note\n#1,first\n")
    assert read_csv(path, comments=True).rows == []
    assert read_csv(path).columns == ("# my links",)


# Files both callers refuse, with the one message each gets.
BAD_FILES = [
    (b"case,url\nA,caf\xe9\n", "is not a text file (save it as UTF-8)"),
    (b"case,url\nA,\"" + b"x" * 200_000 + b"\"\n", "line 2: a value is longer than 128 KB, more than any link, name or note needs "
     "(is a quote mark missing its closing quote?)"),
]


@pytest.mark.parametrize(("content", "reason"), BAD_FILES)
def test_scan_lists_and_batch_files_refuse_alike(tmp_path: Path, content: bytes, reason: str) -> None:
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    for read in (read_source_list, read_batch):
        with pytest.raises(InputFileError) as refused:
            read(path)
        assert str(refused.value) == f"{path}: {reason}"


def test_a_file_over_the_size_bound_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "huge.csv"
    with path.open("wb") as file:
        file.truncate(MAX_CSV_BYTES + 1)  # sparse: no 50 MB written
    for read in (read_source_list, read_batch):
        with pytest.raises(InputFileError, match=f"huge.csv: is larger than {MAX_CSV_BYTES // 1_000_000} MB$"):
            read(path)


def test_a_source_list_is_lines_or_a_named_column(tmp_path: Path) -> None:
    path = tmp_path / "links.txt"
    path.write_text("# found on Monday\nhttps://a.example/1\n\n  ./pictures  \n")
    assert read_source_list(path) == ["https://a.example/1", "./pictures"]
    path.write_text("\ufeffwhere,URL\nforum,https://a.example/1\n# skipped\nblog,\nchat,https://a.example/2\n")
    assert read_source_list(path) == ["https://a.example/1", "https://a.example/2"]


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.text(max_size=300))
def test_any_text_is_read_or_refused_in_one_line(tmp_path: Path, text: str) -> None:
    path = tmp_path / "any.csv"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    try:
        table = read_csv(path, comments=True)
    except InputFileError as exc:
        assert "\n" not in str(exc)
        return
    assert all(set(row.values) == set(table.columns) for row in table.rows)
    assert [row.line for row in table.rows] == sorted({row.line for row in table.rows})
