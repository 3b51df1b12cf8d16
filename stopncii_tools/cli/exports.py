"""``stopncii export``: the case's hashes for platforms and hash banks (hashes and case numbers only)."""

from __future__ import annotations

import json

import click

from ..store import Store
from ..submit import HashBankClient
from ..workflow.exports import (
    FORMATS,
    TABLE_COLUMNS,
    VARIANTS,
    HashExport,
    collect_hashes,
    push_to_hashbank,
)
from . import _output as o
from ._common import with_store


@click.command(name="export")
@click.option("--case", "case_id", metavar="ID", default=None, help="Case id (default: every open case).")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="hashlist", show_default=True,
              help="hashlist ('pdq <hex>' and 'video_md5 <hex>' lines, for python-threatexchange and HMA), "
                   "stopncii-json (StopNCII hash records in their FetchHashes envelope), csv or json rows.")
@click.option("--variants", type=click.Choice(tuple(VARIANTS)), default="stored", show_default=True,
              help="Which PDQ values of each picture: none (the upright picture only), stored (also the "
                   "picture as its file stores it, which platforms' hashers compute when the photo is rotated "
                   "by its EXIF tag or has transparency or a palette) or dihedral (also all 8 rotations and "
                   "mirror images).")
@click.option("--to-hashbank", metavar="URL", help="Push the hashes to this hash bank server (Meta's HMA API) instead.")
@click.option("--bank", metavar="NAME", help="Bank name on the server, in CAPITALS_AND_UNDERSCORES.")
@click.option("--create-bank", is_flag=True, help="Create the bank if it does not exist yet.")
@click.option("--token-env", metavar="VAR", help="Environment variable holding a token for a server behind a proxy.")
@with_store
def export_command(store: Store, case_id: str | None, fmt: str, variants: str, to_hashbank: str | None,
                   bank: str | None, create_bank: bool, token_env: str | None) -> None:
    """Export the hashes of protected pictures (PDQ) and videos (MD5) for blocking re-uploads.

    The export holds hashes and case numbers only: no names, labels, file names, paths,
    addresses or contact details. Weak picture hashes (PDQ quality below 50) are left out,
    as they would match unrelated pictures.

    A platform hashes the file as it is uploaded. When that differs from the picture a
    person sees (a phone photo turned by its EXIF tag, a cut-out with transparent areas, a
    palette PNG), the export also holds that hash, so the platform's own hash matches.

    \b
    Examples:
      stopncii export --case k7m3qx > hashes.txt
      stopncii export --format stopncii-json > partner.json
      stopncii export --variants dihedral --format csv > with-rotations.csv
      stopncii export --to-hashbank http://127.0.0.1:5000 --bank NGO_CASES --create-bank
    """
    case_ids = [store.get_case(case_id).id] if case_id else [c.id for c in store.list_cases("open")]
    export = collect_hashes(store, case_ids, variants)
    if export.weak:
        o.warn(f"{export.weak} pictures were left out: their PDQ hash is too weak (quality below 50) to share.")
    if to_hashbank:
        if not bank:
            raise click.UsageError("--to-hashbank needs --bank NAME")
        _push(store, to_hashbank, bank, create_bank, token_env, export)
        return
    if fmt == "hashlist":
        click.echo(export.hashlist(), nl=False)
    elif fmt == "stopncii-json":
        click.echo(json.dumps(export.stopncii_response(), indent=2))
    else:
        o.render(export.rows(), TABLE_COLUMNS, fmt)
    o.status(f"{export.summary()} exported from {len(case_ids)} cases (hashes and case numbers only).")


def _push(store: Store, url: str, bank: str, create_bank: bool, token_env: str | None, export: HashExport) -> None:
    with HashBankClient(url, token_env=token_env) as client:
        report = push_to_hashbank(store, client, bank, export, create_bank=create_bank)
    records = [{"signal": r.signal_type, "hash": r.value, "outcome": r.outcome, "content_id": r.content_id,
                "reason": r.reason} for r in report.results]
    o.render(records, ("signal", "hash", "outcome", "content_id", "reason"), "table", title=f"Hash bank {bank}")
    added = len(report.with_outcome("added"))
    there = len(report.with_outcome("already_present"))
    o.status(f"{added} hashes added to {bank}, {there} were already there. The server makes new hashes "
             "matchable after its next index build (about two minutes).")
    if not report.complete:
        o.error_line(f"{len(report.results) - added - there} hashes did not reach the bank; run the same "
                     "command again later (nothing is pushed twice).")
        raise SystemExit(1)
