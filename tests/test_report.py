"""The case report of a case built end to end, in HTML, PDF and JSON, read back as a person would.

The case: photos protected, copies on a website found by a scan over HTTP on 127.0.0.1,
confirmed, a notice drafted and sent by e-mail to a real SMTP server (aiosmtpd), the
platform's reply recorded, one copy taken down and found gone by a removal check.
"""

from __future__ import annotations

import html
import json
import re
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pypdfium2
import pytest
from click.testing import CliRunner, Result
from hypothesis import given, settings
from hypothesis import strategies as st
from pypdf import PdfReader

from stopncii_tools.cli import cli
from stopncii_tools.store import Store
from stopncii_tools.workflow.report import moment
from tests._casework import REQUESTER, MadeCase, mailbox_server, make_case, site_server, smtp_settings, write_sending

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
HOST = "t.me"  # Telegram: notices go by e-mail to its abuse address
RESOLVE = ("--allow-private", "--resolve", f"{HOST}=127.0.0.1")


def run(*args: str, at: datetime = T0 + timedelta(hours=60)) -> Result:
    return CliRunner().invoke(cli, list(args), env={"STOPNCII_NOW": at.isoformat()})


@pytest.fixture()
def berlin(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Local time is Berlin's, so UTC and local times differ in the report."""
    monkeypatch.setenv("TZ", "Europe/Berlin")
    time.tzset()
    yield
    monkeypatch.undo()
    time.tzset()


@pytest.fixture()
def worked_case(tmp_path: Path, berlin: None) -> Iterator[MadeCase]:
    with site_server(tmp_path / "site") as port:
        made = make_case(tmp_path, tmp_path / "site", port, count=2, host=HOST)
        with mailbox_server() as box:
            write_sending(smtp_settings(box))
            sent = run("notice", "send", "--db", str(made.db), at=T0)
            assert sent.exit_code == 0, sent.output
        assert len(box.raw) == 1
        replied = run("notice", "mark", "1", "acknowledged", "--note", "ticket 4471, Jane Doe's report received",
                      "--db", str(made.db), at=T0 + timedelta(hours=2))
        assert replied.exit_code == 0, replied.output
        (made.site / made.copies[0]).unlink()  # the platform takes one copy down
        checked = run("check", "--db", str(made.db), *RESOLVE, at=T0 + timedelta(hours=5))
        assert checked.exit_code == 0, checked.output
        yield made


def _facts(db: Path, case_id: str) -> dict[str, list[str]]:
    """What the report must hold: every address, hash and date in the case."""
    with Store(db) as store:
        sightings = store.sightings(case_id)
        [notice] = store.notices(case_id)
        payload = store.notice_payload(notice.id)
        checks = [c for s in sightings for c in store.removal_checks(s.id)]
        head = store.verify_chain(case_id).head
    assert payload is not None and notice.sent_at and notice.due_at and head
    import hashlib

    return {
        "addresses": [s.location for s in sightings] + [s.page_url for s in sightings if s.page_url]
        + [notice.channel_address or ""],
        "hashes": [s.sha256 for s in sightings] + [c.sha256 for c in checks if c.sha256]
        + [hashlib.sha256(payload.body).hexdigest(), head, str(notice.evidence["message_id"])],
        "dates": [moment(t).utc for t in [s.first_seen_at for s in sightings] + [s.last_seen_at for s in sightings]
                  + [c.checked_at for c in checks] + [notice.sent_at, notice.due_at]],
    }


def _flat(text: str) -> str:
    return re.sub(r"\s+", "", text)


def test_the_report_holds_every_address_hash_and_date_in_pdf_html_and_json(worked_case: MadeCase,
                                                                        tmp_path: Path) -> None:
    made = worked_case
    facts = _facts(made.db, made.case_id)
    written = {}
    for fmt in ("pdf", "html", "json"):
        out = tmp_path / f"report.{fmt}"
        result = run("report", "--db", str(made.db), "--out", str(out))
        assert result.exit_code == 0, result.output
        assert out.stat().st_mode & 0o077 == 0  # personal data: this account only
        written[fmt] = out

    pdf_text = "\n".join(page.extract_text() for page in PdfReader(written["pdf"]).pages)
    html_text = written["html"].read_text()
    json_text = written["json"].read_text()
    for kind, values in facts.items():
        for value in values:
            assert _flat(value) in _flat(pdf_text), (kind, value)
            assert html.escape(value, quote=False) in html_text, (kind, value)
            assert value in json_text, (kind, value)

    # what happened, in plain words, with the local time beside UTC
    assert "2026-06-01 09:00:00 UTC (2026-06-01 11:00:00 CEST (UTC+02:00))" in pdf_text.replace("\n", " ")
    for words in ("Notice 1 was sent", "The platform acknowledged notice 1", "confirmed: it shows the person",
                  "removed: the address no longer serves it", "PDQ (the fingerprint StopNCII uses): the fingerprints differ in", "Not met: overdue by",
                  "ticket 4471", "stopncii case verify --case", "What a match does not prove"):
        assert words in _flat(pdf_text) or _flat(words) in _flat(pdf_text), words
    report = json.loads(json_text)
    assert report["summary"]["counts"] | {} == {"protected": 1, "found": 2, "matched": 2, "confirmed": 2,
                                                 "notices": 1, "sent": 1, "removed": 0, "overdue": 1}
    assert report["summary"]["person"]["name"] == REQUESTER.name
    assert report["event_chain"]["intact"] is True
    [sighting_gone] = [s for s in report["sightings"] if s["checks"] and s["checks"][-1]["outcome"] == "removed"]
    assert sighting_gone["checks"][-1]["http_status"] == 404

    # no picture, thumbnail or file path: no image data, no protected file's name or folder
    for text in (pdf_text, html_text, json_text):
        assert "<img" not in text and "data:image" not in text and str(tmp_path) not in text
        assert "photo401.jpg" not in text  # the protected photo's file name is its label: left out by default
    labelled = tmp_path / "labelled.json"
    assert run("report", "--db", str(made.db), "--include-labels", "--out", str(labelled)).exit_code == 0
    assert "item 1 (photo401.jpg)" in labelled.read_text()


def test_the_pdf_pages_are_pictures_with_something_on_them(worked_case: MadeCase, tmp_path: Path) -> None:
    out = tmp_path / "report.pdf"
    assert run("report", "--db", str(worked_case.db), "--out", str(out)).exit_code == 0
    document = pypdfium2.PdfDocument(out)
    assert len(document) >= 2
    for number in range(len(document)):
        picture = document[number].render(scale=0.5).to_pil().convert("L")
        png = tmp_path / f"page{number + 1}.png"
        picture.save(png)
        body = picture.crop((0, 0, picture.width, int(picture.height * 0.93)))  # above the footer line
        dark = sum(body.histogram()[:128])
        # a few lines (the end of a notice's text on the last page) give some dozens of dark pixels
        assert dark > 10, f"page {number + 1} is blank"
    document.close()


def test_redact_leaves_out_the_name_and_contact_details(worked_case: MadeCase, tmp_path: Path) -> None:
    for fmt in ("pdf", "html", "json"):
        out = tmp_path / f"redacted.{fmt}"
        result = run("report", "--db", str(worked_case.db), "--redact", "--out", str(out))
        assert result.exit_code == 0, result.output
        text = ("\n".join(p.extract_text() for p in PdfReader(out).pages) if fmt == "pdf" else out.read_text())
        for secret in ("Jane", "Doe", REQUESTER.email, "jane.reports", "Casework"):
            assert not re.search(rf"\b{re.escape(secret)}\b", text, re.IGNORECASE), (fmt, secret)
        assert "J. D." in text and "[left out]" in text  # initials; the notice text with the details replaced
        assert worked_case.urls[0].split("//")[1] in text  # the evidence stays


def test_an_empty_case_has_a_report_too(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Nothing yet", "GB")
    for fmt in ("pdf", "html", "json"):
        out = tmp_path / f"empty.{fmt}"
        result = run("report", "--db", str(db), "--case", case.id, "--format", fmt, "--out", str(out))
        assert result.exit_code == 0, result.output
    pdf_text = _flat("".join(p.extract_text() for p in PdfReader(tmp_path / "empty.pdf").pages))
    assert _flat("Nothing has been found in this case yet.") in pdf_text
    assert _flat("No notice has been drafted in this case yet.") in pdf_text
    report = json.loads((tmp_path / "empty.json").read_text())
    assert report["sightings"] == [] and report["notices"] == [] and len(report["timeline"]) == 1
    assert report["summary"]["person"] is None and report["summary"]["jurisdiction"] == "the UK (GB)"


def test_a_report_in_russian_words_keeps_its_cyrillic(tmp_path: Path) -> None:
    db = tmp_path / "cases.db"
    with Store(db) as store:
        case = store.create_case("Дело Анны", "RU")
    out = tmp_path / "ru.pdf"
    assert run("report", "--db", str(db), "--case", case.id, "--out", str(out)).exit_code == 0
    assert "Дело Анны" in "".join(p.extract_text() for p in PdfReader(out).pages)


@settings(max_examples=300, deadline=None)
@given(text=st.text(st.sampled_from("abcdefghij/:.-?=_ ЖжΩ\n"), max_size=600),
       width=st.floats(min_value=3, max_value=180))
def test_pdf_lines_keep_every_character_and_fit_the_width(text: str, width: float) -> None:
    from stopncii_tools.workflow.report_pdf import _Document

    document = _Document("k7m3qx", None)
    for font, size in (("sans", 9), ("mono", 8)):
        document.use(font, size)
        lines = document.wrap(text, width)
        assert "".join(lines).replace(" ", "") == text.replace(" ", "").replace("\n", "")  # spaces only at breaks
        assert len(lines) >= text.count("\n") + 1  # a line at least per paragraph
        widths = document._font.widths
        assert all(len(line) == 1 or sum(widths[c] for c in line) <= width + 1e-9 for line in lines)
