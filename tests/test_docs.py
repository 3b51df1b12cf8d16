"""Docs that are generated must match what they describe; every command teaches by example."""

from __future__ import annotations

from pathlib import Path

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
