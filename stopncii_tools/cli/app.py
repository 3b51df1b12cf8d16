"""``stopncii app``: the whole flow in a page of your web browser, on this computer only."""

from __future__ import annotations

from pathlib import Path

import click

from .. import paths
from . import _output as o
from ._common import db_option, host_map, resolve_option


@click.command(name="app")
@db_option
@click.option("--no-browser", is_flag=True, help="Do not open the browser; only print the address to open.")
@click.option("--idle-minutes", type=click.FloatRange(min=1), default=15.0, show_default=True,
              help="Stop when no page has been open for this long (and no search is running).")
@click.option("--channel-config", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Sending settings file (default: sending.toml in your config folder).")
@click.option("--allow-private", is_flag=True, hidden=True)
@resolve_option
def app_command(db_path: str | None, no_browser: bool, idle_minutes: float, channel_config: Path | None,
                allow_private: bool, resolve: tuple[str, ...]) -> None:
    """Open the local page: protect, find, review, take down and track, with buttons.

    The page runs on this computer only (127.0.0.1) and opens in your web browser with a
    one-time secret address; nobody else can use it. It works on the same case database as
    the other commands. Your pictures are read in memory and never stored; a picture found
    online is shown only when you ask, blurred until you choose to see it. Stop it with
    Ctrl-C; it also stops by itself a while after the page is closed.

    \b
    Examples:
      stopncii app
      stopncii app --no-browser --db ~/cases/ngo.db
    """
    from ..app import AppSettings, serve

    settings = AppSettings(db_path=Path(db_path).expanduser() if db_path else paths.default_db_path(),
                           hosts=host_map(resolve), allow_private=allow_private, channel_config=channel_config)

    def announce(line: str) -> None:
        click.echo(line, err=not line.startswith("http"))

    o.status("Starting the page on this computer. Open this address if your browser does not open by itself:")
    serve(settings, open_browser=not no_browser, idle_minutes=idle_minutes, announce=announce)
    o.status("Stopped. Your case is kept.")
