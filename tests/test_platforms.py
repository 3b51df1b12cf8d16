"""The platform directory: URL detection, the packaged data, user overrides, bad entries."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopncii_tools import paths
from stopncii_tools._errors import DirectoryError, InvalidURL, NotFound
from stopncii_tools.notices import framework_ids
from stopncii_tools.notices.platforms import (
    PlatformDirectory,
    load_directory,
    markdown_table,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "platforms.md"


@pytest.fixture(scope="module")
def directory(tmp_path_factory: pytest.TempPathFactory) -> PlatformDirectory:
    """The packaged directory alone (an empty override file keeps the config folder out)."""
    empty = tmp_path_factory.mktemp("platforms") / "empty.toml"
    empty.write_text("", encoding="utf-8")
    return load_directory(empty)


# -- detection -----------------------------------------------------------------------------

URL_CASES = [
    # Telegram: posts, CDN, mirrors, short hosts
    ("https://t.me/somechannel/1234", "telegram"),
    ("https://t.me/s/somechannel", "telegram"),
    ("https://telegram.me/somechannel", "telegram"),
    ("https://cdn4.telesco.pe/file/abc.jpg", "telegram"),
    ("https://cdn4.telegram-cdn.org/file/abc.jpg", "telegram"),
    ("https://telegra.ph/file/abc.jpg", "telegram"),
    ("T.ME/Somechannel/5", "telegram"),
    ("https://t.me:443/somechannel", "telegram"),
    ("https://t.me./somechannel", "telegram"),
    ("http://ｔ.ｍｅ/somechannel", "telegram"),  # full-width letters, IDNA-mapped by browsers
    ("https://t%2Eme/somechannel", "telegram"),
    # VK
    ("https://vk.com/wall-1_2", "vk"),
    ("https://m.vk.com/photo1_2", "vk"),
    ("https://vk.ru/id1", "vk"),
    ("https://sun9-12.userapi.com/impg/abc.jpg", "vk"),
    ("https://user:secret@VK.COM:8443/id1", "vk"),
    # Meta
    ("https://www.facebook.com/photo/?fbid=1", "facebook"),
    ("https://m.facebook.com/story.php?id=1", "facebook"),
    ("https://fb.watch/abc/", "facebook"),
    ("https://scontent.fmad1-1.fna.fbcdn.net/v/t39.30808-6/1_n.jpg", "facebook"),
    ("https://scontent.fmad1-1.fna.fbcdn.net/v/t51.2885-15/1_n.jpg", "instagram"),
    ("https://www.instagram.com/p/Cabc123/", "instagram"),
    ("https://instagr.am/p/Cabc123/", "instagram"),
    ("https://scontent-mad1-1.cdninstagram.com/v/t51.2885-15/1.jpg", "instagram"),
    ("https://www.threads.net/@someone/post/abc", "threads"),
    ("https://www.threads.com/@someone", "threads"),
    # X
    ("https://x.com/someone/status/1", "x"),
    ("https://mobile.twitter.com/someone/status/1", "x"),
    ("https://t.co/abc", "x"),
    ("https://pbs.twimg.com/media/abc.jpg?name=orig", "x"),
    ("https://video.twimg.com/ext_tw_video/1/pu/vid/1.mp4", "x"),
    # Reddit
    ("https://old.reddit.com/r/sub/comments/abc/title/", "reddit"),
    ("https://redd.it/abc", "reddit"),
    ("https://i.redd.it/abc.jpg", "reddit"),
    ("https://v.redd.it/abc", "reddit"),
    ("https://preview.redd.it/abc.jpg?width=640", "reddit"),
    # TikTok, Snapchat, Discord
    ("https://www.tiktok.com/@someone/video/1", "tiktok"),
    ("https://vm.tiktok.com/ZMabc/", "tiktok"),
    ("https://p16-sign-va.tiktokcdn.com/obj/abc.jpeg", "tiktok"),
    ("https://story.snapchat.com/s/someone", "snapchat"),
    ("https://discord.com/channels/1/2/3", "discord"),
    ("https://discord.gg/invite", "discord"),
    ("https://cdn.discordapp.com/attachments/1/2/a.png", "discord"),
    ("https://media.discordapp.net/attachments/1/2/a.png", "discord"),
    # Search engines
    ("https://www.google.com/search?q=name&tbm=isch", "google_search"),
    ("https://www.google.co.uk/search?q=name", "google_search"),
    ("https://www.google.de/imgres?imgurl=x", "google_search"),
    ("https://images.google.com/", "google_search"),
    ("https://encrypted-tbn0.gstatic.com/images?q=tbn:abc", "google_search"),
    ("https://www.bing.com/images/search?q=name", "bing"),
    ("https://th.bing.com/th/id/OIP.abc", "bing"),
    # Adult and dating sites, Tumblr
    ("https://www.pornhub.com/view_video.php?viewkey=abc", "pornhub"),
    ("https://ei.phncdn.com/videos/abc.jpg", "pornhub"),
    ("https://www.youporn.com/watch/1/", "pornhub"),
    ("https://onlyfans.com/someone", "onlyfans"),
    ("https://bumble.com/en/profile", "bumble"),
    ("https://someone.tumblr.com/post/1", "tumblr"),
    ("https://64.media.tumblr.com/abc/s640x960/a.jpg", "tumblr"),
    # Lookalikes and tricks that must NOT match
    ("https://evilt.me/somechannel", "other"),
    ("https://t.me.evil.example/somechannel", "other"),
    ("https://t.me@evil.example/", "other"),  # t.me is the user name here
    ("https://evil.example\\@t.me/", "other"),  # browsers read \ as /, so the host is evil.example
    ("https://notreddit.com/r/x", "other"),
    ("https://facebook.com.evil.example/", "other"),
    ("https://www.google.com/maps/place/x", "other"),
    ("https://drive.google.com/file/d/1", "other"),
    ("https://fonts.gstatic.com/s/a.woff2", "other"),
    ("https://google.evil.com/search?q=x", "other"),
    ("https://xn--80ak6aa92e.com/", "other"),
    ("https://t.m\u0435/somechannel", "other"),  # Cyrillic "е": a homograph of t.me
    ("https://пример.рф/фото.jpg", "other"),
    ("http://192.0.2.1/a.jpg", "other"),
    ("http://[2001:db8::1]/a.jpg", "other"),
    ("mailto:someone@t.me", "other"),
    ("javascript:alert(1)//t.me", "other"),
    ("", "other"),
    ("not a url at all", "other"),
]


@pytest.mark.parametrize(("url", "expected"), URL_CASES)
def test_detect_finds_the_platform_a_url_belongs_to(
    directory: PlatformDirectory, url: str, expected: str
) -> None:
    assert directory.detect(url).id == expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("t.me", "telegram"),
        ("WWW.REDDIT.COM", "reddit"),
        ("cdn.discordapp.com:443", "discord"),
        ("images.google.fr", "google_search"),
        ("www.google.com", "other"),  # only search pages count, and a host alone has no path
        ("evilt.me", "other"),
        ("", "other"),
    ],
)
def test_detect_host_matches_host_names_alone(
    directory: PlatformDirectory, host: str, expected: str
) -> None:
    assert directory.detect_host(host).id == expected


@settings(max_examples=300, deadline=None)
@given(text=st.text())
def test_detect_never_raises_on_arbitrary_text(directory: PlatformDirectory, text: str) -> None:
    assert directory.detect(text).id
    assert directory.detect_host(text).id


_LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)


@settings(max_examples=200, deadline=None)
@given(
    scheme=st.sampled_from(["http://", "https://", "", "//", "HTTPS://"]),
    userinfo=st.sampled_from(["", "user@", "user:pw@", "t.me@"]),
    labels=st.lists(_LABEL, min_size=1, max_size=4),
    port=st.sampled_from(["", ":80", ":8443", ":"]),
    path=st.text(max_size=30),
)
def test_detect_never_raises_on_url_shaped_text(
    directory: PlatformDirectory,
    scheme: str,
    userinfo: str,
    labels: list[str],
    port: str,
    path: str,
) -> None:
    url = f"{scheme}{userinfo}{'.'.join(labels)}{port}/{path}"
    assert directory.detect(url).id


@settings(max_examples=200, deadline=None)
@given(sub=_LABEL, prefix=_LABEL)
def test_subdomains_match_and_lookalikes_do_not(
    directory: PlatformDirectory, sub: str, prefix: str
) -> None:
    assert directory.detect(f"https://{sub}.t.me/x").id == "telegram"
    assert directory.detect(f"https://{prefix}t.me/x").id != "telegram"


# -- the packaged data ---------------------------------------------------------------------

REQUIRED = [
    "telegram", "vk", "facebook", "instagram", "threads", "x", "reddit", "tiktok", "snapchat",
    "discord", "google_search", "bing", "pornhub", "onlyfans", "bumble", "tumblr", "other",
]


def test_every_required_platform_is_packaged_and_other_is_last(
    directory: PlatformDirectory,
) -> None:
    ids = [p.id for p in directory.all()]
    assert set(REQUIRED) <= set(ids)
    assert ids[-1] == "other"
    assert len(ids) == len(set(ids))


def test_every_packaged_channel_is_complete(directory: PlatformDirectory) -> None:
    for platform in directory.all():
        assert platform.channels, platform.id
        assert platform.channels_for("platform_policy") or platform.id == "other", platform.id
        for channel in platform.channels:
            assert set(channel.frameworks) <= set(framework_ids())
            assert channel.languages
            assert channel.verified == bool(channel.source and channel.verified_on)
            if channel.verified_on:
                assert channel.verified_on <= dt.date.today()


def test_telegram_and_vk_accept_russian_and_english(directory: PlatformDirectory) -> None:
    for name in ("telegram", "vk"):
        platform = directory.get(name)
        assert platform.languages == ("ru", "en")
        own = [c for c in platform.channels if c.frameworks != ("au_esafety",)]
        assert all(c.languages == ("ru", "en") for c in own)


def test_unverified_facts_are_visible(directory: PlatformDirectory) -> None:
    threads_form = directory.get("threads").channels_for("take_it_down")[-1]
    assert threads_form.source is None and not threads_form.verified
    assert any(not c.verified for c in directory.get("vk").channels)


def test_stopncii_partner_status_is_sourced(directory: PlatformDirectory) -> None:
    assert directory.get("facebook").stopncii_partner is True
    assert directory.get("telegram").stopncii_partner is False
    assert directory.get("other").stopncii_partner is None
    for platform in directory.all():
        if platform.stopncii_partner is not None:
            assert platform.stopncii_verified, platform.id


def test_preferred_channel_follows_email_api_form_app(directory: PlatformDirectory) -> None:
    telegram = directory.get("telegram").preferred_channel("take_it_down")
    assert telegram is not None and telegram.address == "abuse@telegram.org"
    meta = directory.get("facebook").preferred_channel("dmca")
    assert meta is not None and meta.address == "ip@fb.com"
    x_channel = directory.get("x").preferred_channel("take_it_down")
    assert x_channel is not None and x_channel.kind == "web_form" and x_channel.verified
    assert directory.get("telegram").preferred_channel("uk_osa") is None


def test_esafety_is_offered_for_every_platform_with_a_24_hour_deadline(
    directory: PlatformDirectory,
) -> None:
    for platform in directory.all():
        channel = platform.preferred_channel("au_esafety")
        assert channel is not None and "esafety.gov.au" in channel.address
        assert platform.deadline_for("au_esafety") == 24


def test_deadlines_fall_back_to_the_callers_default(directory: PlatformDirectory) -> None:
    assert directory.get("x").deadline_for("take_it_down") == 48
    assert directory.get("google_search").deadline_for("take_it_down", default=72) == 72
    assert directory.get("vk").deadline_for("dsa_art16") is None


def test_unknown_framework_is_reported(directory: PlatformDirectory) -> None:
    with pytest.raises(DirectoryError, match="'dsa': is not a legal framework"):
        directory.get("x").channels_for("dsa")


def test_discord_takes_one_report_per_item(directory: PlatformDirectory) -> None:
    assert directory.get("discord").one_report_per_item is True
    assert directory.get("google_search").one_report_per_item is False


def test_the_other_entry_addresses_the_site_own_abuse_mailbox(directory: PlatformDirectory) -> None:
    abuse = directory.get("other").preferred_channel("platform_policy")
    assert abuse is not None
    assert abuse.address_for("https://img.files.example.co.uk/a.jpg") == "abuse@example.co.uk"
    assert abuse.address_for("cdn.example.com") == "abuse@example.com"
    assert directory.get("telegram").channels[0].address_for("anything") == "abuse@telegram.org"
    with pytest.raises(InvalidURL, match="^http://192.0.2.1/: has no website name"):
        abuse.address_for("http://192.0.2.1/")


def test_get_accepts_ids_and_names_in_any_case(directory: PlatformDirectory) -> None:
    assert directory.get("TELEGRAM").id == "telegram"
    assert directory.get("Microsoft Bing").id == "bing"
    assert directory.get(" pornhub / aylo ").id == "pornhub"


def test_get_names_close_matches_when_not_found(directory: PlatformDirectory) -> None:
    with pytest.raises(NotFound) as caught:
        directory.get("telegramm")
    assert str(caught.value) == (
        "telegramm: no such platform in the directory; did you mean telegram?"
    )
    with pytest.raises(NotFound, match="known platforms: telegram, vk"):
        directory.get("zzzzzz")


# -- the person's own file -----------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "platforms.toml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_override_changes_given_fields_and_adds_platforms(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [[platform]]
        id = "telegram"
        notes = "Our NGO contact at Telegram answers within a day."
        add_hosts = ["telegram.space"]
        deadline_hours = { dsa_art16 = 72 }

        [[platform.add_channel]]
        kind = "email"
        address = "ngo-desk@telegram.org"
        frameworks = ["platform_policy"]
        source = "E-mail from Telegram to our NGO"
        verified_on = 2026-01-05

        [[platform]]
        id = "imagehost"
        name = "Example Image Host"
        hosts = ["img.example", "*.imgcdn.example"]
        one_report_per_item = true

        [[platform.channel]]
        kind = "web_form"
        address = "https://img.example/report"
        frameworks = ["dmca", "platform_policy"]
        """,
    )
    directory = load_directory(path)
    telegram = directory.get("telegram")
    assert telegram.notes.startswith("Our NGO contact")
    assert telegram.name == "Telegram"  # not given, so kept
    assert telegram.deadline_for("dsa_art16") == 72 and telegram.deadline_for("take_it_down") == 48
    assert telegram.preferred_channel("platform_policy").address == "abuse@telegram.org"
    assert telegram.channels_for("platform_policy")[-1].address == "ngo-desk@telegram.org"
    assert directory.detect("https://telegram.space/x").id == "telegram"
    host = directory.detect("https://a.b.imgcdn.example/1.jpg")
    assert host.id == "imagehost" and host.one_report_per_item
    assert host.languages == ("en",) and host.channels[0].languages == ("en",)
    assert not host.channels[0].verified
    assert host.preferred_channel("au_esafety") is not None  # shared channels reach new entries too
    assert directory.all()[-1].id == "other"


def test_override_can_replace_hosts_and_channels(tmp_path: Path) -> None:
    path = _write(
        tmp_path,
        """
        [[platform]]
        id = "tumblr"
        hosts = ["tumblr.com"]

        [[platform.channel]]
        kind = "email"
        address = "safety@tumblr.example"
        frameworks = ["take_it_down"]
        """,
    )
    tumblr = load_directory(path).get("tumblr")
    assert tumblr.hosts == ("tumblr.com",)
    assert [c.address for c in tumblr.channels][0] == "safety@tumblr.example"
    assert len(tumblr.channels) == 2  # the new one plus the shared eSafety form


def test_the_config_folder_file_is_read_by_default(tmp_path: Path) -> None:
    (paths.config_dir() / "platforms.toml").write_text(
        '[[platform]]\nid = "bing"\nname = "Bing (our note)"\n', encoding="utf-8"
    )
    assert load_directory().get("bing").name == "Bing (our note)"


def test_missing_override_file_is_reported(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    with pytest.raises(DirectoryError) as caught:
        load_directory(missing)
    assert str(caught.value) == f"{missing}: this platform directory file does not exist"


_TELEGRAM = '[[platform]]\nid = "telegram"\n'
_CHANNEL = """
[[platform.channel]]
kind = "email"
address = "abuse@telegram.org"
frameworks = ["platform_policy"]
"""

BAD_ENTRIES = [
    (
        _TELEGRAM + _CHANNEL + _CHANNEL.replace('"platform_policy"', '"dsa"'),
        "entry 'telegram', channel 2: unknown framework 'dsa' (did you mean 'dsa_art16'?)",
    ),
    (
        _TELEGRAM + _CHANNEL.replace('"email"', '"fax"'),
        "entry 'telegram', channel 1: unknown channel kind 'fax'",
    ),
    (
        _TELEGRAM + _CHANNEL.replace("abuse@telegram.org", "abuse at telegram"),
        "entry 'telegram', channel 1: 'abuse at telegram' is not an e-mail address",
    ),
    (
        _TELEGRAM
        + _CHANNEL.replace('"email"', '"web_form"').replace(
            "abuse@telegram.org", "telegram.org/report"
        ),
        "entry 'telegram', channel 1: 'telegram.org/report' is not a web address: only http:// and https://",
    ),
    (
        _TELEGRAM + _CHANNEL + 'source = "x"\nverified_on = "2026-02-30"\n',
        "entry 'telegram', channel 1: bad date '2026-02-30' (write it as YYYY-MM-DD)",
    ),
    (
        _TELEGRAM + _CHANNEL + 'source = "x"\nverified_on = 2999-01-01\n',
        "entry 'telegram', channel 1: date 2999-01-01 is in the future",
    ),
    (
        _TELEGRAM + _CHANNEL + "verified_on = 2026-01-01\n",
        "entry 'telegram', channel 1: 'verified_on' needs a 'source'",
    ),
    (
        _TELEGRAM + _CHANNEL.replace('address = "abuse@telegram.org"\n', ""),
        "entry 'telegram', channel 1: missing 'address'",
    ),
    (
        '[[platform]]\nid = "newsite"\nname = "New site"\n' + _CHANNEL,
        "entry 'newsite': a new platform needs 'hosts'",
    ),
    (
        '[[platform]]\nid = "copycat"\nname = "Copycat"\nhosts = ["T.me"]\n' + _CHANNEL,
        "entry 'copycat': host 't.me' is already claimed by entry 'telegram'",
    ),
    (
        '[[platform]]\nid = "telegram"\nhosst = ["t.me"]\n',
        "entry 'telegram': unknown key 'hosst' (did you mean 'hosts'?)",
    ),
    (
        _TELEGRAM + _CHANNEL + 'frameworkz = ["dmca"]\n',
        "entry 'telegram', channel 1: unknown key 'frameworkz' (did you mean 'frameworks'?)",
    ),
    (
        '[[platfrom]]\nid = "telegram"\n',
        "unknown key 'platfrom' (did you mean 'platform'?)",
    ),
    (
        '[[platform]]\nid = "greedy"\nname = "Greedy"\nhosts = ["*.com"]\n' + _CHANNEL,
        "entry 'greedy': host '*.com' would match far too many sites",
    ),
    (
        '[[platform]]\nid = "Telegram!"\n',
        "platform 1: needs an 'id' of lower-case letters",
    ),
    (
        '[[platform]]\nid = "telegram"\ndeadline_hours = { take_it_down = -1 }\n',
        "entry 'telegram': deadline for 'take_it_down' should be a whole number of hours above 0",
    ),
    (
        '[[platform]]\nid = "telegram"\nlanguages = ["russian"]\n',
        "entry 'telegram': language 'russian' should be a 2- or 3-letter code",
    ),
    (
        '[[platform]]\nid = "telegram"\n[platform.stopncii]\nsource = "x"\n',
        "entry 'telegram', stopncii: missing 'partner'",
    ),
    (
        '[[platform]]\nid = "telegram"\n\n[[platform]]\nid = "telegram"\n',
        "entry 'telegram': this id appears twice in the file",
    ),
    (
        _TELEGRAM + _CHANNEL.replace('"email"', '"in_app"').replace(
            "abuse@telegram.org", "https://telegram.org/report"
        ),
        "entry 'telegram', channel 1: an in_app channel describes where to tap",
    ),
]


@pytest.mark.parametrize(("text", "message"), BAD_ENTRIES)
def test_bad_entries_are_rejected_naming_file_entry_and_reason(
    tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path, text)
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    assert str(caught.value).startswith(f"{path}: ")
    assert message in str(caught.value)


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path, '[[platform]]\nid = "telegram"\nname = Telegram\n')
    with pytest.raises(DirectoryError) as caught:
        load_directory(path)
    assert str(caught.value).startswith(f"{path}: line 3, column 8: not valid TOML")


def test_a_file_that_is_not_utf8_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "platforms.toml"
    path.write_bytes('notes = "Пожаловаться"'.encode("cp1251"))
    with pytest.raises(DirectoryError, match="is not UTF-8 text"):
        load_directory(path)


# -- documentation -------------------------------------------------------------------------


def test_docs_table_matches_the_packaged_data(directory: PlatformDirectory) -> None:
    text = DOCS.read_text(encoding="utf-8")
    start = "<!-- platforms-table:start -->\n"
    end = "<!-- platforms-table:end -->"
    table = text.split(start, 1)[1].split(end, 1)[0]
    assert table.strip() == markdown_table(directory).strip(), (
        "docs/platforms.md is out of date: run python -m stopncii_tools.notices.platforms --markdown"
    )


def test_markdown_command_prints_the_table() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "stopncii_tools.notices.platforms", "--markdown"],
        capture_output=True, text=True, check=True,
    )
    assert result.stdout.startswith("| Platform | StopNCII partner |")
    assert "| **Every platform** (shared) |" in result.stdout


def test_docs_example_file_loads(tmp_path: Path) -> None:
    example = DOCS.read_text(encoding="utf-8").split("```toml\n", 1)[1].split("```", 1)[0]
    directory = load_directory(_write(tmp_path, example))
    assert directory.detect("https://cdn1.imgcdn.example/a.jpg").id == "imagehost"
    assert directory.get("telegram").deadline_for("dsa_art16") == 72
