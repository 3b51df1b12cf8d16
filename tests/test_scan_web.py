"""Scanning the web end to end: a loopback URL list and a page, the private-address guard."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from stopncii_tools.cli import cli
from stopncii_tools.media.samples import write_edits, write_photos

from .test_takedown import served  # noqa: F401 - the loopback web server fixture


def run(*args: str):
    return CliRunner().invoke(cli, list(args))


def test_url_list_of_copies_and_unrelated_photos(tmp_path: Path, served: tuple[Path, int]) -> None:  # noqa: F811
    site, port = served
    db = tmp_path / "cases.db"
    run("case", "new", "Web", "--db", str(db))
    photos = write_photos(tmp_path / "mine", [501, 502])
    run("protect", "--db", str(db), "--jobs", "1", str(tmp_path / "mine"))
    truth = write_edits(site, photos)
    write_photos(site, [601, 602, 603])
    (site / "page.html").write_text(
        '<html><body><img src="photo501-mirrored.jpg"><img src="photo601.jpg"></body></html>')
    listing = tmp_path / "links.txt"
    urls = [f"http://127.0.0.1:{port}/{name}" for name in [*truth, "photo601.jpg", "photo602.jpg", "photo603.jpg"]]
    listing.write_text("# reported links\n\n" + "\n".join(urls) + f"\nhttp://127.0.0.1:{port}/gone.jpg\n")
    result = run("scan", "--db", str(db), "--allow-private", "--json", "@" + str(listing),
                 f"http://127.0.0.1:{port}/page.html")
    assert result.exit_code == 1  # the one missing link
    records = [json.loads(line) for line in result.stdout.splitlines()]
    errors = [r for r in records if "error" in r]
    assert len(errors) == 1 and "gone.jpg" in errors[0]["error"] and "404" in errors[0]["error"]
    found = {(r["found_at"].rsplit("/", 1)[1], r["label"]) for r in records if "match" in r}
    expected = {(copy, original) for copy, original in truth.items()}
    assert found == expected  # every copy to its own photo; photo601-603 match nothing
    page_hits = [r for r in records if r.get("page", "") and r["page"].endswith("/page.html")]
    # the address is both listed and on the page: each record of it may name the page it was seen on
    assert {r["found_at"].rsplit("/", 1)[1] for r in page_hits} == {"photo501-mirrored.jpg"}


def test_private_addresses_are_refused_without_allow_private(tmp_path: Path, served: tuple[Path, int]) -> None:  # noqa: F811
    site, port = served
    db = tmp_path / "cases.db"
    run("case", "new", "Guard", "--db", str(db))
    write_photos(site, [503])
    result = run("scan", "--db", str(db), f"http://127.0.0.1:{port}/photo503.jpg", "http://10.1.2.3/x.jpg")
    assert result.exit_code == 1
    assert "127.0.0.1" in result.stderr and "private network" in result.stderr
    assert "0 scanned, 2 failed" in result.stderr
    allowed = run("scan", "--db", str(db), "--allow-private", f"http://127.0.0.1:{port}/photo503.jpg")
    assert allowed.exit_code == 0 and "1 scanned, 0 failed" in allowed.stderr
