"""The case report as a PDF (fpdf2: pure Python, so it installs from wheels everywhere).

The fonts are subsets of DejaVu shipped in ``report_files/fonts`` (Latin, Greek, Cyrillic);
a character they do not cover is printed as U+FFFD, and the HTML and JSON reports keep it.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable
from datetime import datetime
from importlib.resources import as_file, files
from itertools import accumulate
from pathlib import Path
from typing import Any

from fpdf import FPDF
from fpdf.enums import PDFResourceType
from fpdf.util import escape_parens

from .report import CaseReport, CheckLine, Moment, NoticeEntry, SightingEntry

_FONTS = files("stopncii_tools.workflow") / "report_files" / "fonts"
_SANS, _BOLD, _MONO = "DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "DejaVuSansMono.ttf"
_LABEL_WIDTH = 42.0  # mm
_LINE = 4.6  # mm
_PAGES = "{page-count}"  # replaced by the number of pages at the end; room for six digits


class _Widths(dict[str, float]):
    """Each character's width in mm, looked up from the font the first time it is asked for."""

    def __init__(self, font: Any, scale: float) -> None:
        super().__init__()
        self._cw: Any = getattr(font, "cw", ())
        self._scale = scale

    def __missing__(self, char: str) -> float:
        code = ord(char)
        self[char] = width = (self._cw[code] if code < len(self._cw) else 600) * self._scale
        return width


class _Glyphs(dict[str, str]):
    """Each character as the font subset's code, escaped for a PDF string, picked once."""

    def __init__(self, font: Any) -> None:
        super().__init__()
        self._font = font

    def __missing__(self, char: str) -> str:
        mapped = self._font.subset.pick(ord(char))
        self[char] = code = "" if mapped is None else escape_parens(chr(mapped).encode("utf-16-be").decode("latin-1"))
        return code


class _FontTables:
    """What writing in one font at one size needs: widths to measure, glyph codes to write."""

    def __init__(self, font: Any, size: float, scale: float) -> None:
        self.number: int = font.i
        self.size = size
        self.widths, self._glyphs = _Widths(font, scale), _Glyphs(font)

    def encode(self, text: str) -> str:
        return "".join(map(self._glyphs.__getitem__, text))


class _Document(FPDF):
    def __init__(self, case_id: str, head: str | None) -> None:
        super().__init__(format="A4")
        self.case_id, self.head = case_id, head
        for style, name in (("", _SANS), ("B", _BOLD)):
            with as_file(_FONTS / name) as path:
                self.add_font("Sans", style, str(path))
        with as_file(_FONTS / _MONO) as path:
            self.add_font("Mono", "", str(path))
        self._fonts: dict[tuple[str, float], _FontTables] = {}
        self._font_on_page: tuple[int, _FontTables] | None = None
        self.use("sans", 9)
        self.covered = {name: frozenset(getattr(self.fonts[name], "cmap", {})) for name in ("sans", "mono")}
        self.set_auto_page_break(True, margin=16)
        self.set_margins(16, 16, 16)
        self.alias_nb_pages(_PAGES)

    def footer(self) -> None:
        self._font_on_page = None  # fpdf2 sets its own font here
        self.set_y(-11)
        self.set_font("Sans", size=7)
        head = f"event chain head {self.head[:16]}…" if self.head else "no events"
        self.cell(0, 4, f"Case {self.case_id} · {head} · page {self.page_no()} of {_PAGES}", align="C")

    def printable(self, text: str, font: str = "sans") -> str:
        """``text`` with control characters dropped and what the font lacks shown as U+FFFD."""
        if text.isascii() and text.isprintable():
            return text
        covered = self.covered[font]
        return "".join(c if ord(c) in covered or c == "\n" else "\ufffd" for c in text.replace("\t", "    ")
                       if c == "\n" or c >= " ")

    def use(self, font: str, size: float) -> None:
        """The font the next lines are measured and written in (``sans``, ``sansB``, ``mono``).
        Not fpdf2's ``set_font``: that costs as much as writing a line, and rows switch twice."""
        if (font, size) not in self._fonts:
            self._fonts[font, size] = _FontTables(self.fonts[font], size, size / 1000 / self.k)
        self._font = self._fonts[font, size]

    def wrap(self, text: str, width: float) -> list[str]:
        """``text`` broken into lines of at most ``width`` mm in the current font: at the last space
        that fits, and inside a word (an address, a hash) only when it is wider than a line. The
        widths are summed once per paragraph and each break found by bisection, because fpdf2's
        own line breaking re-measures each line per character."""
        lines: list[str] = []
        for paragraph in text.split("\n"):
            if not paragraph:
                lines.append("")
                continue
            ends = list(accumulate(map(self._font.widths.__getitem__, paragraph)))  # width up to each character
            start = 0
            while start < len(paragraph):
                before = ends[start - 1] if start else 0.0
                if ends[-1] - before <= width:
                    lines.append(paragraph[start:].rstrip())
                    break
                fits = max(bisect_right(ends, before + width, lo=start), start + 1)  # one past the last that fits
                space = paragraph.rfind(" ", start, fits + 1)
                if space > start:
                    lines.append(paragraph[start:space].rstrip())
                    start = space + 1
                else:
                    lines.append(paragraph[start:fits])
                    start = fits
        return lines

    def line_at(self, x: float, y: float, line: str) -> None:
        """Write one line with its baseline at ``y``: what fpdf2's ``text`` writes, with each
        character's glyph code looked up once per font instead of once per use (3x faster)."""
        font = self._font
        if self._font_on_page != (self.page, font):  # the font is set in the page once, until it changes
            self._resource_catalog.add(PDFResourceType.FONT, font.number, self.page)
            self._out(f"BT /F{font.number} {font.size:.2f} Tf ET")
            self._font_on_page = (self.page, font)
        self._out(f"BT {x * self.k:.2f} {(self.h - y) * self.k:.2f} Td ({font.encode(line)}) Tj ET")

    def lines(self, text: str, x: float, height: float) -> None:
        """Write wrapped lines from ``x`` down."""
        for line in self.wrap(text, self.w - self.r_margin - x):
            if self.y + height > self.page_break_trigger:
                if not line:
                    continue  # a blank line at the foot of a page: no new page for it
                self.add_page()
            if line:
                self.line_at(x, self.y + height * 0.75, line)
            self.y += height

    # -- blocks --------------------------------------------------------------------------

    def heading(self, text: str, size: float = 13) -> None:
        if self.get_y() > self.h - 40:
            self.add_page()
        self.ln(2)
        self.use("sansB", size)
        self.lines(self.printable(text), self.l_margin, size * 0.5)
        self.ln(1)

    def paragraph(self, text: str, size: float = 9.5, height: float = _LINE) -> None:
        self.use("sans", size)
        self.lines(self.printable(text), self.l_margin, height)
        self.ln(1)

    def row(self, label: str, value: str, *, mono: bool = False) -> None:
        """A label and its value; long values (addresses, hashes) wrap under the value's column."""
        if self.y + _LINE > self.page_break_trigger:
            self.add_page()
        self.use("sansB", 8.5)
        self.line_at(self.l_margin, self.y + _LINE * 0.75, self.wrap(self.printable(label), _LABEL_WIDTH - 1)[0])
        font = "mono" if mono and value.isascii() else "sans"
        self.use(font, 8 if font == "mono" else 9)
        self.lines(self.printable(value, font) or "—", self.l_margin + _LABEL_WIDTH, _LINE)

    def rows(self, pairs: Iterable[tuple[str, str]]) -> None:
        for label, value in pairs:
            self.row(label, value)


def _when(m: Moment | None) -> str:
    return str(m) if m else "—"


def _check_words(c: CheckLine) -> str:
    status = f" (HTTP {c.http_status})" if c.http_status else ""
    return f"{_when(c.when)}: {c.outcome_words}{status}. {c.detail}"


def write_pdf(report: CaseReport, path: Path) -> None:
    s, chain = report.summary, report.chain
    pdf = _Document(s.case_id, chain.head)
    pdf.set_title(f"Case report {s.case_id}")
    pdf.set_creator(f"stopncii-tools {s.tool_version}")
    pdf.set_creation_date(datetime.fromisoformat(s.generated.iso))
    pdf.add_page()
    pdf.heading(f"Case report: case {s.case_id}", 17)
    pdf.paragraph(f"Written {_when(s.generated)} by stopncii-tools {s.tool_version}. It holds no picture, no "
                  "thumbnail and no file path: only addresses, dates, hashes and what was sent."
                  + (" Personal details are left out: the person is shown by initials, with no contact details."
                     if s.redacted else ""))
    pdf.heading("Summary")
    person: list[tuple[str, str]] = []
    if s.person:
        person = [("Person (representative)" if s.person.role == "representative" else "Person", s.person.name),
                  *((what.capitalize(), value) for what, value in s.person.contact)]
    c = s.counts
    pdf.rows([
        ("Case", f"{s.case_id}{': ' + s.title if s.title else ''} ({s.status})"), *person,
        ("Country", s.jurisdiction or "not set"), ("Opened", _when(s.created)),
        *([("Closed", _when(s.closed))] if s.closed else []),
        ("First found", _when(s.first_found)), ("Last event", _when(s.last_event)),
        ("Protected items", f"{c.protected} (hashes only)"),
        ("Found", f"{c.found} sightings; {c.matched} matches, {c.confirmed} confirmed by the person"),
        ("Notices", f"{c.notices} in all; {c.sent} sent; {c.removed} removed; {c.overdue} overdue"),
    ])
    pdf.heading("The record and how to check it")
    if not chain.intact:
        pdf.paragraph(f"WARNING: the event log does not verify: {chain.problem}. Events from that one on may have "
                      "been changed after they were written.")
    pdf.row("Events in the log", str(chain.events))
    pdf.row("Chain head", chain.head or "none (no events)", mono=True)
    pdf.row("How to verify", chain.how_to_verify)
    if s.signing_key:
        pdf.row("Signature", f"This file is signed (Ed25519) with the key {s.signing_key}; the signature is in the "
                             "file beside it ending in .sig. Check it with 'stopncii report verify FILE'.")
    watches = report.watches()
    if watches:
        pdf.heading("Pages watched")
        pdf.paragraph("These pages are checked again on a schedule; new pictures on them are hashed and compared "
                      "like the rest.")
        for w in watches:
            pdf.heading(f"Watch {w.number}", 10.5)
            pdf.rows([("Page", w.page), ("How often", f"{w.every}, since {_when(w.added)}"),
                      ("Last run", f"{_when(w.last_run)}: {w.last_result}"), ("Next run due", _when(w.next_due))])
    pdf.heading("Where it was found")
    found = False
    for sighting in report.sightings():
        found = True
        _sighting(pdf, sighting)
    if not found:
        pdf.paragraph("Nothing has been found in this case yet.")
    pdf.heading("Notices")
    drafted = False
    for notice in report.notices():
        drafted = True
        _notice(pdf, notice)
    if not drafted:
        pdf.paragraph("No notice has been drafted in this case yet.")
    pdf.heading("What happened, in order")
    for entry in report.timeline():
        pdf.row(f"{entry.event}. {entry.when.utc}", f"{entry.when.local}, {entry.who}: {entry.what}")
    pdf.heading("Method")
    for heading, words in report.method():
        pdf.heading(heading, 10.5)
        pdf.paragraph(words)
    pdf.heading("Appendix: the text of each notice")
    texts = False
    for text in report.notice_texts():
        texts = True
        pdf.heading(f"Appendix {text.number}: notice {text.number} ({text.kind})", 10.5)
        pdf.row("SHA-256 of the bytes sent", text.sha256, mono=True)
        if s.redacted:
            pdf.paragraph("Personal details below are replaced by [left out], so the text no longer hashes to this "
                          "value.")
        pdf.paragraph(text.text, size=8, height=3.8)
    if not texts:
        pdf.paragraph("No notice text has been frozen to send yet.")
    pdf.output(str(path))


def _sighting(pdf: _Document, x: SightingEntry) -> None:
    pdf.heading(f"Sighting {x.number}", 10.5)
    pdf.row("Address", x.address)
    if x.page:
        pdf.row("On the page", x.page)
    if x.platform:
        pdf.row("Platform", x.platform)
    pdf.rows([("First seen", _when(x.first_seen)), ("Last seen", _when(x.last_seen)),
              ("Server answer", (f"HTTP {x.http_status}" if x.http_status else "—")
               + (f", {x.content_type}" if x.content_type else ""))])
    if x.media:
        pdf.row("What it was", x.media)
    pdf.row("SHA-256 of the bytes", x.sha256 or "—", mono=True)
    for m in x.matches:
        decided = f", by {m.decided_by or 'the person'} on {_when(m.decided)}" if m.decided else ""
        pdf.row(f"Match {m.match}", f"{m.item}: {m.kind}; {m.confidence} confidence; {m.status}{decided}. "
                                    f"How: {'; '.join(m.how)}")
    for c in x.checks:
        pdf.row(f"Removal check {c.check}", _check_words(c))
        if c.sha256:
            pdf.row("SHA-256 then", c.sha256, mono=True)
    if x.notices:
        pdf.row("Notices about it", ", ".join(f"notice {n}" for n in x.notices))


def _notice(pdf: _Document, n: NoticeEntry) -> None:
    pdf.heading(f"Notice {n.number} to {n.platform}", 10.5)
    pdf.rows([
        ("Law or policy", f"{n.framework} ({n.citation})"), ("Why", n.reason),
        ("Sent to", f"{n.recipient or 'no address'}{f' ({n.channel})' if n.channel else ''}, in {n.language}"),
        ("Where it stands", n.status_words), ("Drafted", _when(n.drafted)), ("Sent", _when(n.sent)),
    ])
    for label, value in n.sent_how:
        pdf.row(label.capitalize(), value, mono=True)
    due = f"{n.deadline_hours} hours: due {_when(n.due)}. " if n.due else ""
    pdf.row("Deadline", f"{due}{n.deadline[0].upper()}{n.deadline[1:]}.")
    for a in n.attempts:
        pdf.row(f"Attempt {a.number}", f"{_when(a.started)} by {a.channel}: {a.outcome}"
                                       + (f" ({a.detail})" if a.detail else ""))
    for y in n.replies:
        pdf.row("Reply", f"{_when(y.when)}: {y.status}" + (f" — {y.note}" if y.note else ""))
    pdf.row("Asks about", ", ".join(f"sighting {s}" for s in n.sightings) or "—")
    for sighting, c in n.checks:
        pdf.row(f"Check of sighting {sighting}", _check_words(c))
    if n.next_step:
        pdf.row("Follow-up", n.next_step)
    if n.text_sha256:
        pdf.row("SHA-256 of the text sent", n.text_sha256, mono=True)
        pdf.row("Text", f"in appendix {n.number}")
    else:
        pdf.row("Text", "not frozen yet (a draft is not kept as sent bytes)")
