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
    # subcommands inherit the root's settings (-h/--help), as when a person runs them
    root = click.Context(cli, info_name="stopncii", terminal_width=100, max_content_width=100, **cli.context_settings)
    parts.append(f"\n## `stopncii`\n\n```\n{cli.get_help(root)}\n```\n")
    for path, command in _commands(cli, []):
        ctx = click.Context(command, info_name=" ".join(path), parent=root)
        parts.append(f"\n## `stopncii {' '.join(path)}`\n\n```\n{command.get_help(ctx)}\n```\n")
    return "".join(parts)


if __name__ == "__main__":
    print(render(), end="")
