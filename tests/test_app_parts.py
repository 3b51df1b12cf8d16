"""The web page's parts that need no browser: words, uploads held in memory, mail settings, stopping."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st
from starlette.datastructures import Headers, UploadFile

from stopncii_tools._errors import InputFileError
from stopncii_tools.app import AppSettings, serve
from stopncii_tools.app.messages import CATALOGUE, EN, translate
from stopncii_tools.app.pages import _InMemoryParser
from stopncii_tools.media.samples import write_edits, write_photos
from stopncii_tools.store import Store
from stopncii_tools.submit.config import load_sending_config, save_smtp_settings
from stopncii_tools.workflow.protect import protect_bytes
from stopncii_tools.workflow.scan import scan_in_memory


@pytest.mark.parametrize("language", sorted(CATALOGUE))
def test_every_language_has_every_sentence_with_the_same_blanks(language: str) -> None:
    words = CATALOGUE[language]
    assert set(words) == set(EN)
    for key, english in EN.items():
        blanks = {name for form in _forms(english) for name in _blanks(form)} - {"n"}
        assert all(_blanks(form) - {"n"} == blanks for form in _forms(words[key])), key
        assert len(_forms(words[key])) >= len(_forms(english)), key  # every plural form is there


def _forms(entry: str | tuple[str, ...]) -> tuple[str, ...]:
    return entry if isinstance(entry, tuple) else (entry,)


def _blanks(text: str) -> set[str]:
    import string

    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize(("count", "expected"), [
    (1, "Проверен 1 объект."), (2, "Проверено 2 объекта."), (5, "Проверено 5 объектов."),
    (11, "Проверено 11 объектов."), (21, "Проверен 21 объект."), (24, "Проверено 24 объекта."),
])
def test_russian_counts_take_the_right_form(count: int, expected: str) -> None:
    assert translate("ru", "find.checked", count) == expected


@given(st.integers(min_value=0, max_value=10**6))
def test_every_count_reads_in_every_language(count: int) -> None:
    for language in CATALOGUE:
        assert str(count) in translate(language, "find.found", count)


def _multipart(name: str, data: bytes) -> tuple[Headers, bytes]:
    boundary = "b0undary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"{name}\"\r\n"
            "Content-Type: image/jpeg\r\n\r\n").encode() + data + f"\r\n--{boundary}--\r\n".encode()
    return Headers({"content-type": f"multipart/form-data; boundary={boundary}",
                    "content-length": str(len(body))}), body


def test_an_uploaded_picture_stays_in_memory_however_large() -> None:
    data = bytes(range(256)) * (40 * 1024)  # 10 MB: the usual parser would have written it to a temporary file
    headers, body = _multipart("holiday.jpg", data)

    async def parse() -> UploadFile:
        async def stream():  # type: ignore[no-untyped-def]
            yield body
        form = await _InMemoryParser(headers, stream()).parse()
        upload = form["files"]
        assert isinstance(upload, UploadFile)
        return upload

    upload = asyncio.run(parse())
    assert upload.file._rolled is False  # type: ignore[attr-defined]  # never on disk
    assert asyncio.run(upload.read()) == data


def test_protecting_and_scanning_from_memory_match_and_keep_only_names(tmp_path: Path) -> None:
    photos = write_photos(tmp_path / "mine", [401])
    write_edits(tmp_path / "sent", photos)
    with Store(tmp_path / "cases.db") as store:
        case = store.create_case("Memory", "US")
        kept = protect_bytes(store, case, "/home/me/private/photo401.jpg",
                             (tmp_path / "mine" / "photo401.jpg").read_bytes())
        broken = protect_bytes(store, case, "broken.jpg", b"\xff\xd8\xff\xe0 not really")
        outcomes = {o.source: o for o in scan_in_memory(store, case, [
            ("Downloads/sent/photo401-cropped.jpg", (tmp_path / "sent" / "photo401-cropped.jpg").read_bytes()),
            ("notes.jpg", b"hello")])}  # each as soon as it is known: an error may come before a batch
        assert kept.item is not None and kept.item.label == "photo401.jpg" and kept.created
        assert broken.item is None and broken.error is not None and broken.error.startswith("broken.jpg: ")
        assert sorted(outcomes) == ["notes.jpg", "photo401-cropped.jpg"]
        copy, text = outcomes["photo401-cropped.jpg"], outcomes["notes.jpg"]
        assert copy.matches and copy.sighting is not None
        assert copy.sighting.source == "photo401-cropped.jpg"  # the name only, never the folders
        assert text.error is not None and text.error.startswith("notes.jpg: ")


def test_mail_settings_from_the_page_keep_the_rest_of_the_file(tmp_path: Path) -> None:
    path = tmp_path / "sending.toml"
    path.write_text('default_deadline_hours = 72\n[[api]]\naddress = "https://intake.example/v1"\n'
                    'token_env = "INTAKE_TOKEN"\n')
    save_smtp_settings({"host": "smtp.mailbox.example", "port": 465, "security": "tls",
                        "username": "jane \"reports\""}, path)
    config = load_sending_config(path)
    assert config.smtp is not None and config.smtp.settings.host == "smtp.mailbox.example"
    assert config.smtp.settings.port == 465 and config.smtp.settings.username == 'jane "reports"'
    assert config.default_deadline_hours == 72 and config.apis[0].settings.token_env == "INTAKE_TOKEN"
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(InputFileError, match="looks like a password"):
        save_smtp_settings({"host": "smtp.mailbox.example", "password": "hunter22"}, path)
    assert "hunter22" not in path.read_text()


def test_the_page_server_stops_by_itself_once_no_page_is_open(tmp_path: Path) -> None:
    said: list[str] = []
    server = threading.Thread(target=serve, args=(AppSettings(tmp_path / "cases.db"),),
                              kwargs={"open_browser": False, "idle_minutes": 0.02, "announce": said.append})
    server.start()
    server.join(20)
    assert not server.is_alive()
    assert said[0].startswith("http://127.0.0.1:") and "token=" in said[0]
    assert said[-1].startswith("Stopped: the page was closed")
