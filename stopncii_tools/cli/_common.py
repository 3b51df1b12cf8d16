"""Options shared by the commands that use the case database."""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import click

from ..store import Store

db_option = click.option(
    "--db", "db_path", type=click.Path(dir_okay=False), envvar="STOPNCII_DB", default=None,
    help="Case database file (default: your private data folder; or set STOPNCII_DB).",
)
case_option = click.option(
    "--case", "case_id", metavar="ID", default=None,
    help="Case id (may be left out when exactly one case is open).",
)


def open_store(db_path: str | None) -> Store:
    return Store(db_path)


def with_store(func: Callable[..., Any]) -> Callable[..., Any]:
    """Open the database for the command and close it afterwards; passes ``store``."""

    @functools.wraps(func)
    def wrapper(db_path: str | None, **kwargs: Any) -> Any:
        store = open_store(db_path)
        click.get_current_context().call_on_close(store.close)
        return func(store=store, **kwargs)

    return db_option(wrapper)


def file_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """``--include``, ``--exclude`` and ``--jobs``, for commands that read files and folders."""
    func = click.option("--jobs", "-j", type=click.IntRange(1), default=None,
                        help="Processes to use for files (default: all cores).")(func)
    func = click.option("--exclude", multiple=True, metavar="PATTERN",
                        help="In folders, leave out files whose name matches (e.g. '*.gif'); repeatable.")(func)
    return click.option("--include", multiple=True, metavar="PATTERN",
                        help="In folders, only files whose name matches (e.g. '*.jpg'); repeatable.")(func)


def resolve_option(func: Any) -> Any:
    """Hidden ``--resolve HOST=ADDRESS`` (like curl's): serve example names from a test server."""
    return click.option("--resolve", "resolve", multiple=True, hidden=True, metavar="HOST=ADDRESS")(func)


def host_map(entries: tuple[str, ...]) -> dict[str, str]:
    hosts = {}
    for entry in entries:
        host, sep, address = entry.partition("=")
        if not sep or not host or not address:
            raise click.BadParameter(f"{entry!r} should be HOST=ADDRESS", param_hint="--resolve")
        hosts[host.strip().lower()] = address.strip()
    return hosts
