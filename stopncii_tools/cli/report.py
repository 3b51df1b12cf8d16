"""``stopncii report``: the case report for a lawyer, the police or a regulator, and its signature check."""

from __future__ import annotations

from pathlib import Path

import click

from .. import clock as clocks
from ..workflow.report import FORMATS, ReportOptions, build_report, write_report
from ..workflow.report_signature import SigningUnavailable, fingerprint, sign_report, signing_key, verify_report
from . import _output as o
from ._common import case_option, db_option, open_store


def _format(fmt: str | None, out: str | None) -> str:
    if fmt:
        return fmt
    suffix = Path(out).suffix.lower().lstrip(".") if out else ""
    return suffix if suffix in FORMATS else "pdf"


@click.group(name="report", invoke_without_command=True)
@db_option
@case_option
@click.option("--format", "fmt", type=click.Choice(FORMATS),
              help="pdf (default), html (opens and prints from any browser) or json (for programs).")
@click.option("--out", type=click.Path(dir_okay=False),
              help="File to write (default: case-report-ID-DATE.FORMAT here).")
@click.option("--redact", is_flag=True, help="Show the person by initials only, with no contact details.")
@click.option("--include-labels", is_flag=True, help="Name protected items by their labels (default: item numbers).")
@click.option("--sign", is_flag=True, help="Sign the report with your key from the system keyring (Ed25519).")
@click.pass_context
def report_group(ctx: click.Context, db_path: str | None, case_id: str | None, fmt: str | None, out: str | None,
                 redact: bool, include_labels: bool, sign: bool) -> None:
    """Write the case report: what was found where and when, what was sent to whom, and what happened.

    It lists every sighting (address, page, dates, server answer, SHA-256, how it matched and who
    confirmed it), every notice (law, recipient, when sent, message id or ticket, replies,
    deadline, removal checks) and every event in order, with the event log's chain head so
    anyone can check nothing was changed. It holds no picture, no thumbnail and no file path.
    The file is readable by your account only; it holds personal data, so share it with care.

    \b
    Examples:
      stopncii report
      stopncii report --case k7m3qx --format html --out report.html
      stopncii report --redact --sign --out for-the-police.pdf
      stopncii report verify for-the-police.pdf
    """
    if ctx.invoked_subcommand is not None:
        return
    fmt = _format(fmt, out)
    store = open_store(db_path)
    ctx.call_on_close(store.close)
    key = None
    if sign:
        try:
            key = signing_key()
        except SigningUnavailable as exc:
            o.warn(f"The report is written unsigned: {exc.reason}.")
    report = build_report(store, case_id, ReportOptions(redact, include_labels,
                                                        fingerprint(key.public_key()) if key else None))
    target = Path(out) if out else Path(f"case-report-{report.case.id}-{clocks.now():%Y%m%d-%H%M}.{fmt}")
    write_report(report, fmt, target)
    o.status(f"Report of case {report.case.id} written to {target} (readable by your account only).")
    if not report.chain.intact:
        o.warn(f"The event log does not verify: {report.chain.problem}. The report says so.")
    if key is not None:
        signed = sign_report(target, key)
        o.status(f"Signed: {signed.signature} (key {signed.fingerprint}). Keep both files together.")


@report_group.command(name="verify")
@click.argument("file", type=click.Path(dir_okay=False))
@click.option("--signature", type=click.Path(dir_okay=False), help="The signature file (default: FILE.sig).")
def report_verify(file: str, signature: str | None) -> None:
    """Check a signed report: it fails if one byte of the report or of its signature changed.

    \b
    Example:
      stopncii report verify case-report-k7m3qx.pdf
    """
    signed = verify_report(Path(file), Path(signature) if signature else None)
    click.echo(f"{file}: the signature is good. It was signed with the key {signed.fingerprint}; "
               "compare that with the key the person who gave it to you named.")
