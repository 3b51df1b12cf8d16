"""One answer per web address, whichever part of the tool asks; the registrable domain."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest

from stopncii_tools._errors import BlockedAddress, DirectoryError, InvalidURL, MissingFields, SendError
from stopncii_tools.notices import validate
from stopncii_tools.notices.platforms import load_directory
from stopncii_tools.submit import open_form
from stopncii_tools.submit._secrets import check_endpoint
from stopncii_tools.web.fetch import Fetcher
from stopncii_tools.web.urls import MAX_URL_LENGTH, is_web_address, parse_web_address, registrable_domain
from stopncii_tools.workflow.batch import read_batch
from tests.test_notices import CASES, _draft, _item

# Each probe and the one answer it gets: the normalised address, or None when it is refused.
PROBES: list[tuple[str, str | None]] = [
    ("https://example.com/a b", None),  # a space: copy it again from the address bar
    ("https://exa mple.com/", None),
    ("https://exa%20mple.com/", None),  # once read as "names a network interface ('%')"
    ("http://user:pw@example.com/", None),
    ("https://example.com%2F@evil/", None),  # looks like example.com, goes to "evil"
    ("https://example.com:99999/", None),
    ("javascript:alert(1)", None),
    ("//example.com", None),
    ("example.com/page", None),
    ("https://", None),
    ("https://example.com/\u200b", None),  # an invisible character
    ("http://[fe80::1%25eth0]/", None),
    ("http://files.example\\@127.0.0.1/a.jpg", None),  # a browser goes to files.example, a library to 127.0.0.1
    ("https://example.com:0/", None),
    ("https://xn--zz.example/", None),  # punycode that decodes to nothing
    ("https://" + "a" * MAX_URL_LENGTH + ".example/", None),
    ("https://xn--bcher-kva.example/", "https://xn--bcher-kva.example/"),
    ("https://bücher.example/", "https://xn--bcher-kva.example/"),
    ("HTTPS://EXAMPLE.COM", "https://example.com"),
    ("https://example.com:443/x", "https://example.com/x"),
    ("https://[::1]/", "https://[::1]/"),  # a valid address; the fetcher's guard refuses it later
    ("  https://files.example:8443/x?q=1#top ", "https://files.example:8443/x?q=1#top"),
]
IDS = [probe[:40] for probe, _ in PROBES]


@pytest.mark.parametrize(("probe", "answer"), PROBES, ids=IDS)
def test_one_rule_one_answer(probe: str, answer: str | None) -> None:
    assert is_web_address(probe) is (answer is not None)
    if answer is None:
        with pytest.raises(InvalidURL) as refused:
            parse_web_address(probe)
        assert "\n" not in str(refused.value) and "network interface" not in str(refused.value)
    else:
        assert str(parse_web_address(probe)) == answer


@pytest.mark.parametrize(("probe", "answer"), PROBES, ids=IDS)
def test_every_caller_gives_that_answer(probe: str, answer: str | None, tmp_path: Path) -> None:
    accepted = answer is not None
    assert _fetcher_accepts(probe) is accepted
    assert _notice_accepts(probe) is accepted
    assert _batch_accepts(probe, tmp_path) is accepted
    assert _directory_accepts(probe, tmp_path) is accepted
    assert _endpoint_accepts(probe) is accepted
    assert _form_accepts(probe) is accepted


def _fetcher_accepts(url: str) -> bool:
    # Every name resolves to a documentation address, so an accepted URL stops at the guard.
    with Fetcher(resolver=lambda host, port: ["192.0.2.1"]) as fetcher:
        try:
            fetcher.get(url)
        except BlockedAddress:
            return True
        except InvalidURL:
            return False
    raise AssertionError("the guard should have refused 192.0.2.1")


def _notice_accepts(url: str) -> bool:
    notice = dataclasses.replace(_draft(CASES[0]), items=(_item(url, "exact"),))
    try:
        validate(notice)
    except MissingFields as missing:
        return not any("full web address" in m for m in missing.missing)
    return True


def _batch_accepts(url: str, tmp_path: Path) -> bool:
    batch = tmp_path / "batch.csv"
    batch.write_text(f"case,url\nPerson A,{url}\n", encoding="utf-8")
    rows, problems = read_batch(batch)
    assert len(rows) + len(problems) == 1
    return bool(rows)


def _directory_accepts(url: str, tmp_path: Path) -> bool:
    user_file = tmp_path / "platforms.toml"
    user_file.write_text(
        '[[platform]]\nid = "probe"\nname = "Probe"\nhosts = ["probe.example"]\n'
        f'[[platform.channel]]\nkind = "web_form"\naddress = {json.dumps(url)}\n'
        'frameworks = ["platform_policy"]\n',
        encoding="utf-8",
    )
    try:
        load_directory(user_file)
    except DirectoryError as exc:
        assert "is not a web address" in exc.reason
        return False
    return True


def _endpoint_accepts(url: str) -> bool:
    try:
        check_endpoint(url, "API", carries_secret=False)
    except SendError:
        return False
    return True


def _form_accepts(url: str) -> bool:
    try:
        open_form(url)
    except SendError:
        return False
    return True


# -- the registrable domain ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "domain"),
    [
        ("x.example.gouv.fr", "example.gouv.fr"),  # not gouv.fr: that is the French government
        ("a.b.co.uk", "b.co.uk"),
        ("i.imgur.com", "imgur.com"),
        ("foo.github.io", "github.io"),  # GitHub, who hosts it, answers for it
        ("a.b.c.kawasaki.jp", "b.c.kawasaki.jp"),  # a wildcard rule in the list
        ("city.kawasaki.jp", "city.kawasaki.jp"),  # and its exception
        ("Example.COM.", "example.com"),
        ("bücher.example", "xn--bcher-kva.example"),  # unknown top-level name: one label
        ("192.0.2.1", None),
        ("[2001:db8::1]", None),
        ("localhost", None),
        ("co.uk", None),
        ("", None),
    ],
)
def test_registrable_domain_follows_the_public_suffix_list(host: str, domain: str | None) -> None:
    assert registrable_domain(host) == domain


def test_the_abuse_address_of_a_site_under_a_government_suffix() -> None:
    abuse = load_directory().get("other").preferred_channel("platform_policy")
    assert abuse is not None
    assert abuse.address_for("https://x.example.gouv.fr/a.jpg") == "abuse@example.gouv.fr"


def test_the_suffix_list_is_never_fetched(monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    def no_network(*args: object, **kwargs: object) -> None:
        raise AssertionError("the public suffix list was fetched")

    monkeypatch.setattr(socket, "create_connection", no_network)
    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    from stopncii_tools.web import urls

    urls._public_suffix_list.cache_clear()
    assert registrable_domain("shop.example.co.uk") == "example.co.uk"


def test_the_rule_and_the_suffix_list_load_no_network_library_into_the_case_code() -> None:
    """Protecting photos imports the notice code (and so this rule): no network library comes along."""
    probe = ("import sys, stopncii_tools.workflow.protect; "
             "print(sorted({'httpx', 'requests', 'urllib3', 'ssl', 'tldextract'} & set(sys.modules)))")
    loaded = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert loaded.stdout.strip() == "[]"
