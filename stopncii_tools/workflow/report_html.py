"""The case report as one HTML page (it prints well from a browser), written as it is rendered."""

from __future__ import annotations

from functools import cache
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, Template

from .report import CaseReport


@cache
def _template() -> Template:
    environment = Environment(loader=PackageLoader("stopncii_tools.workflow", "report_files"), autoescape=True,
                              undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    return environment.get_template("report.html.j2")


def write_html(report: CaseReport, path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for chunk in _template().generate(r=report, s=report.summary):
            out.write(chunk)
