"""Both settings files (sending.toml, platforms.toml) are read and checked by one reader."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stopncii_tools._errors import DirectoryError, InputFileError, StopNCIIError
from stopncii_tools.config import MAX_TOML_BYTES, parse_toml, typed
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.submit.config import load_sending_config

Loader = Callable[[Path], object]
LOADERS: dict[str, tuple[Loader, type[StopNCIIError]]] = {
    "sending.toml": (load_sending_config, InputFileError),
    "platforms.toml": (load_directory, DirectoryError),
}


def _refusal(name: str, content: bytes, tmp_path: Path) -> str:
    load, error = LOADERS[name]
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(error) as refused:
        load(path)
    message = str(refused.value)
    assert "\n" not in message and message.startswith(str(path))
    return message.removeprefix(f"{path}: ")


@pytest.mark.parametrize("name", LOADERS)
def test_broken_toml_names_the_line_and_column(name: str, tmp_path: Path) -> None:
    assert _refusal(name, b"\n\nkey = = 1\n", tmp_path).startswith("line 3, column 7: not valid TOML")


@pytest.mark.parametrize("name", LOADERS)
def test_a_file_that_is_not_utf8_is_refused(name: str, tmp_path: Path) -> None:
    assert _refusal(name, "note = 'caf\u00e9'\n".encode("latin-1"), tmp_path) == "is not UTF-8 text; save it as UTF-8"


@pytest.mark.parametrize("name", LOADERS)
def test_a_file_too_big_for_settings_is_refused_before_parsing(name: str, tmp_path: Path) -> None:
    content = b"# " + b"x" * MAX_TOML_BYTES + b"\n"
    assert _refusal(name, content, tmp_path) == "is larger than 2 MB, too big for a settings file"


@pytest.mark.parametrize(
    ("name", "content", "reason"),
    [
        ("sending.toml", b"[retyr]\n", "unknown key 'retyr' (did you mean 'retry'?)"),
        ("platforms.toml", b"[[platfrom]]\n", "unknown key 'platfrom' (did you mean 'platform'?)"),
        ("sending.toml", b"[smtp]\nhost = 'mail.example'\nport = '587'\n", "[smtp]: 'port' should be a whole number"),
        ("sending.toml", b"[smtp]\nhost = 'mail.example'\nport = true\n", "[smtp]: 'port' should be a whole number"),
        ("sending.toml", b"api = 3\n", "api: should be a list of tables ([[...]])"),
        ("platforms.toml", b"platform = 3\n", "platform: should be a list of tables ([[...]])"),
        ("sending.toml", b"retry = 3\n", "[retry]: should be a table"),
        ("platforms.toml", b"defaults = 3\n", "[defaults]: should be a table"),
    ],
)
def test_a_wrong_key_or_value_names_the_key_path_and_the_reason(
    name: str, content: bytes, reason: str, tmp_path: Path
) -> None:
    assert _refusal(name, content, tmp_path) == reason


def test_a_byte_order_mark_from_a_windows_editor_is_fine(tmp_path: Path) -> None:
    path = tmp_path / "sending.toml"
    path.write_bytes(b"\xef\xbb\xbf[retry]\nfirst_wait_seconds = 30\n")
    assert load_sending_config(path).first_retry_seconds == 30.0


@given(st.text(max_size=200))
def test_any_text_parses_or_is_refused_in_one_line(text: str) -> None:
    try:
        parse_toml(text, "x.toml")
    except InputFileError as exc:
        assert str(exc).startswith("x.toml: ") and "\n" not in str(exc)


def test_typed_reads_whole_numbers_as_numbers_but_never_true_or_false() -> None:
    assert typed({"wait": 3}, {"wait": float}, "f") == {"wait": 3.0}
    with pytest.raises(InputFileError, match="^f: 'wait' should be a number$"):
        typed({"wait": True}, {"wait": float}, "f")
