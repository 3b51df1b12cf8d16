"""Write docs/cli.md from the commands' own --help, so the docs cannot drift from the tool.

    python -m stopncii_tools.cli._docs > docs/cli.md
"""

from __future__ import annotations

import click

from . import cli

HEADER = """# Command reference

Generated from each command's `--help` by `python -m stopncii_tools.cli._docs > docs/cli.md`;
a test fails when this page and the commands disagree.
"""


def _commands(group: click.Group, prefix: list[str]) -> list[tuple[list[str], click.Command]]:
    found: list[tuple[list[str], click.Command]] = []
    for name in sorted(group.commands):
        command = group.commands[name]
        if command.hidden:
            continue
        found.append((prefix + [name], command))
        if isinstance(command, click.Group):
            found.extend(_commands(command, prefix + [name]))
    return found


def render() -> str:
    parts = [HEADER]
    for path, command in [(["stopncii"], cli), *(([ "stopncii", *p], c) for p, c in _commands(cli, []))]:
        ctx = click.Context(command, info_name=" ".join(path), terminal_width=100, max_content_width=100)
        parts.append(f"\n## `{' '.join(path)}`\n\n```\n{command.get_help(ctx)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
