"""Docs that are generated must match what they describe; every command teaches by example."""

from __future__ import annotations

from pathlib import Path

import pytest

from stopncii_tools.cli import _docs

DOCS = Path(__file__).resolve().parents[1] / "docs"


def _words(text: str) -> list[str]:
    return text.split()  # click versions differ in column padding; the words must not


def test_cli_reference_matches_the_commands() -> None:
    assert _words((DOCS / "cli.md").read_text()) == _words(_docs.render()), (
        "docs/cli.md is out of date: run python -m stopncii_tools.cli._docs > docs/cli.md"
    )


def test_every_command_has_an_example() -> None:
    import click

    from stopncii_tools.cli import cli

    missing = [" ".join(path) for path, command in _docs._commands(cli, [])
               if not isinstance(command, click.Group) and "Example" not in (command.help or "")]
    assert missing == []


def _python_blocks(page: Path) -> list[tuple[int, str]]:
    """The ```python blocks of a Markdown page, with the line each starts on."""
    blocks, current, start = [], None, 0
    for number, line in enumerate(page.read_text().splitlines(), 1):
        if current is None and line.strip() == "```python":
            current, start = [], number + 1
        elif current is not None and line.strip() == "```":
            blocks.append((start, "\n".join(current)))
            current = None
        elif current is not None:
            current.append(line)
    assert current is None, f"{page.name}: a code block starting on line {start} is never closed"
    return blocks


def test_python_api_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                              capsys: pytest.CaptureFixture[str]) -> None:
    page = DOCS / "python-api.md"
    blocks = _python_blocks(page)
    assert len(blocks) >= 6
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("STOPNCII_DB", str(tmp_path / "default.db"))
    namespace: dict[str, object] = {"__name__": "python_api_page"}
    for start, code in blocks:
        # blank lines keep the page's line numbers in a traceback
        exec(compile("\n" * (start - 1) + code, str(page), "exec"), namespace)
    printed = capsys.readouterr().out
    assert "image jpeg 800 600" in printed
    assert "1 copy high" in printed  # the case matcher found the reposted copy
    assert "reposted.jpg [('copy', 'high')]" in printed  # and so did the scan step
    assert "Framework: TAKE IT DOWN Act" in printed  # the rendered notice
    assert "broken.jpg: the JPEG file is cut short" in printed


def test_ci_runs_the_readme_test_command() -> None:
    readme = (DOCS.parent / "README.md").read_text()
    command = readme.split("Run the tests", 1)[1].split("```sh\n", 1)[1].split("\n```", 1)[0]
    ci_command = (DOCS.parent / ".ci" / "run").read_text().strip().splitlines()[-1]
    assert ci_command.replace("pip install -q ", "pip install ") == command
    for step in ("python -m pytest", "ruff check", "mypy stopncii_tools", "mkdocs build --strict"):
        assert step in command
