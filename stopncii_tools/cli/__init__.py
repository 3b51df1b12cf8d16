"""The ``stopncii`` command: thin click commands over the library.

Errors from the library become one red line and an exit code here, in one place.
"""

from __future__ import annotations

import signal
import sqlite3
from typing import Any

import click

from .. import __version__
from .._errors import StopNCIIError
from ..store import explain_database_error
from . import _output as o

# the order a person meets them in, not the alphabet
FLOW = ("demo", "app", "hash", "case", "protect", "scan", "matches", "requester", "notice", "status", "check", "watch",
        "batch", "report", "export", "platforms")


class _Group(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        known = [name for name in FLOW if name in self.commands]
        return known + sorted(set(self.commands) - set(known))

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except StopNCIIError as exc:
            o.error_line(f"Error: {exc}")
            raise SystemExit(1) from None
        except sqlite3.Error as exc:  # a full disk, a damaged file: found while working, not on open
            o.error_line(f"Error: {explain_database_error(exc)}")
            raise SystemExit(1) from None
        except KeyboardInterrupt:
            o.error_line("Stopped. Work already saved is kept.")
            raise SystemExit(130) from None


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="stopncii")
def cli() -> None:
    """stopncii: find and take down intimate images shared without consent.

    Your pictures are hashed on this computer and never uploaded. Start with
    'stopncii demo' to see the whole flow on sample pictures.
    """


def _register() -> None:
    from .app import app_command
    from .batch import batch_group
    from .cases import case_group, matches_group, protect_command, scan_command
    from .demo import demo_command
    from .exports import export_command
    from .hashing import hash_command
    from .notices import notice_group, platforms_group, requester_group
    from .outbox import NOTICE_COMMANDS
    from .report import report_group
    from .tracking import check_command, status_command
    from .watch import watch_group

    for command in (demo_command, hash_command, case_group, protect_command, scan_command, matches_group,
                    requester_group, notice_group, platforms_group, status_command, check_command, watch_group,
                    batch_group, export_command, report_group, app_command):
        cli.add_command(command)
    for subcommand in NOTICE_COMMANDS:  # send, mark-sent, mark, follow-up
        notice_group.add_command(subcommand)


_register()


def main() -> None:
    if hasattr(signal, "SIGXFSZ"):  # past a file size limit, a write fails with a reason instead of killing us
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    cli()
