"""Takedown notices: framework choice, required elements, refusal of incomplete notices, and
the four output formats (text, .eml, JSON, form packet) checked against golden files.

Regenerate the golden files after an intended wording change with
``UPDATE_GOLDEN=1 .venv/bin/python -m pytest tests/test_notices.py`` and read the diff.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import email
import email.policy
import html
import json
import os
import types
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stopncii_tools._errors import InvalidHash, MissingFields, NoticeError
from stopncii_tools.notices import (
    FIELD_NAMES,
    FRAMEWORKS,
    MATCH_KINDS,
    UNVERIFIED_NOTE,
    Notice,
    NoticeItem,
    Requester,
    available_languages,
    choose_framework,
    draft_notices,
    get_framework,
    normalise_jurisdiction,
    render_email,
    render_form_packet,
    render_json,
    render_statements,
    render_text,
    validate,
)
from stopncii_tools.notices.platforms import Platform, ReportingChannel, load_directory

GOLDEN = Path(__file__).resolve().parent / "golden" / "notices"
UPDATE_GOLDEN = os.environ.get("UPDATE_GOLDEN") == "1"

CREATED = dt.datetime(2026, 6, 1, 9, 30, tzinfo=dt.UTC)
SEEN = dt.datetime(2026, 5, 30, 21, 15, tzinfo=dt.UTC)
CHECKED = dt.date(2026, 5, 25)
SECRET_LABEL = "IMG_secret_label.jpg"


# -- platforms built here, so the golden files do not move when the directory data does --


def _channel(
    kind: str,
    address: str,
    frameworks: tuple[str, ...],
    *,
    verified: bool = True,
    languages: tuple[str, ...] = ("en",),
    note: str = "",
) -> ReportingChannel:
    return ReportingChannel(
        kind=kind,
        address=address,
        frameworks=frameworks,
        languages=languages,
        source="https://help.example.test/report" if verified else "a third-party guide",
        verified_on=CHECKED if verified else None,
        note=note,
    )


def _platform(
    pid: str,
    name: str,
    channels: tuple[ReportingChannel, ...],
    *,
    one_per_item: bool = False,
    deadlines: dict[str, int] | None = None,
    languages: tuple[str, ...] = ("en",),
) -> Platform:
    return Platform(
        id=pid,
        name=name,
        hosts=(f"{pid}.test",),
        channels=channels,
        stopncii_partner=None,
        stopncii_source=None,
        one_report_per_item=one_per_item,
        deadline_hours=types.MappingProxyType(deadlines or {}),
        languages=languages,
        notes="",
    )


ESAFETY = _channel(
    "web_form",
    "https://www.esafety.gov.au/report/how-to-report-serious-online-abuse-illegal-restricted-content",
    ("au_esafety",),
    note="eSafety Commissioner (the Australian regulator, not the platform).",
)

SHARE = _platform(
    "exampleshare",
    "ExampleShare",
    (
        _channel("email", "abuse@exampleshare.test", ("take_it_down", "platform_policy", "uk_osa")),
        _channel("web_form", "https://exampleshare.test/dsa-notice", ("dsa_art16",)),
        _channel("email", "copyright@exampleshare.test", ("dmca",), note="Designated DMCA agent."),
        ESAFETY,
    ),
    deadlines={"take_it_down": 48},
)
FORUM = _platform(
    "exampleforum",
    "ExampleForum",
    (_channel("email", "reports@exampleforum.test", ("platform_policy", "uk_osa"), verified=False),),
)
TELEGRAM = _platform(
    "telegram",
    "Telegram",
    (
        _channel("email", "abuse@telegram.test", ("platform_policy", "take_it_down", "dsa_art16"),
                 languages=("ru", "en")),
    ),
    languages=("ru", "en"),
)  # fmt: skip
VK = _platform(
    "vk",
    "VK",
    (_channel("email", "abuse@vk.test", ("platform_policy",), verified=False, languages=("ru", "en")),),
    one_per_item=True,
    languages=("ru", "en"),
)

JANE = Requester(name="Jane Doe", email="jane.doe@mail.example", signature="/Jane Doe/")
JANE_FULL = dataclasses.replace(
    JANE, postal_address="12 Elm Street, Springfield, IL 62701, USA", phone="+1 217 555 0142"
)
ADVOCATE = Requester(
    name="Sam Rivera",
    email="sam@support-org.example",
    signature="/Sam Rivera/",
    role="representative",
    organisation="Helping Hands Support Service",
    on_behalf_of="Alex Morgan",
    authorisation="Alex Morgan authorised me in writing on 28 May 2026 to act for them.",
)
OLGA = Requester(name="Ольга Иванова", email="olga@mail.example", signature="/Ольга Иванова/")


def _item(url: str, kind: str, **extra: object) -> NoticeItem:
    return NoticeItem(url=url, seen_at=SEEN, match_kind=kind, **extra)  # type: ignore[arg-type]


SHA = "5d41402abc4b2a76b9719d911017c592" * 2
PDQ = "f8f8f0cee0f4a84f06370a22038f63f0b36e2ed596621e1d33e6b39c4e9c9b22"


@dataclasses.dataclass(frozen=True)
class Case:
    """One golden notice: its inputs, and the strings every output format must contain."""

    name: str
    jurisdiction: str
    requester: Requester
    items: tuple[NoticeItem, ...]
    platform: Platform
    framework: str | None = None
    language: str | None = None
    original_work: str | None = None
    context: str | None = None
    must_contain: tuple[str, ...] = ()


CASES = [
    Case(
        "take_it_down",
        "US",
        JANE,
        (
            _item("https://exampleshare.test/p/8812", "derived", page_url="https://exampleshare.test/u/anon77",
                  sha256=SHA, pdq=PDQ),
            _item("https://exampleshare.test/p/8813", "exact", sha256=SHA),
        ),
        SHARE,
        context="I never shared any intimate picture; the fake was made from my public profile photo.",
        must_contain=("/Jane Doe/", "jane.doe@mail.example", "Jane Doe", "https://exampleshare.test/p/8812",
                      "https://exampleshare.test/p/8813", "good faith belief", "digital forgery",
                      "48 hours", "known identical copies", "§ 223a", SHA, PDQ),
    ),
    Case(
        "dsa_art16",
        "DE",
        JANE,
        (
            _item("https://exampleshare.test/p/901", "partial"),
            _item("https://exampleshare.test/p/902", "copy"),
        ),
        SHARE,
        must_contain=("Jane Doe", "jane.doe@mail.example", "https://exampleshare.test/p/901",
                      "https://exampleshare.test/p/902", "Directive (EU) 2024/1385",
                      "bona fide belief", "accurate and complete", "Article 16", "Germany"),
    ),
    Case(
        "dmca",
        "US",
        JANE_FULL,
        (_item("https://exampleshare.test/p/77", "exact"),),
        SHARE,
        framework="dmca",
        original_work="A photo of myself that I took with my own phone in March 2025; I never published it.",
        must_contain=("/Jane Doe/", "A photo of myself that I took", "https://exampleshare.test/p/77",
                      "12 Elm Street", "+1 217 555 0142", "jane.doe@mail.example",
                      "not authorized by the copyright owner", "under penalty of perjury"),
    ),
    Case(
        "uk_osa",
        "GB",
        ADVOCATE,
        (_item("https://exampleforum.test/t/55#post-3", "derived"),),
        FORUM,
        must_contain=("Sam Rivera", "sam@support-org.example", "Alex Morgan", "authorised me in writing",
                      "Helping Hands Support Service", "https://exampleforum.test/t/55#post-3",
                      "66B", "Online Safety Act 2023", "accurate and complete"),
    ),
    Case(
        "au_esafety",
        "AU",
        JANE,
        (_item("https://exampleshare.test/p/4040", "copy"),),
        SHARE,
        must_contain=("jane.doe@mail.example", "https://exampleshare.test/p/4040", "ExampleShare",
                      "Online Safety Act 2021", "24 hours", "accurate and complete"),
    ),
    Case(
        "platform_policy",
        "BR",
        JANE,
        (_item("https://exampleforum.test/t/9", "derived"), _item("https://exampleforum.test/t/10", "partial")),
        FORUM,
        must_contain=("jane.doe@mail.example", "https://exampleforum.test/t/9",
                      "https://exampleforum.test/t/10", "did not consent", "your rules"),
    ),
    Case(
        "dsa_art16_ru",
        "LV",
        OLGA,
        (_item("https://t.me/examplechannel/321", "derived"),),
        TELEGRAM,
        language="ru",
        must_contain=("Ольга Иванова", "olga@mail.example", "https://t.me/examplechannel/321",
                      "2024/1385", "точны и полны", "в Латвии"),
    ),
    Case(
        "platform_policy_ru",
        "RU",
        OLGA,
        (_item("https://vk.com/wall-1_2", "exact"),),
        VK,
        must_contain=("olga@mail.example", "https://vk.com/wall-1_2", "моего согласия", "точная копия"),
    ),
]  # fmt: skip


def _draft(case: Case) -> Notice:
    notices = draft_notices(
        case.name,
        case.jurisdiction,
        case.requester,
        case.items,
        case.platform,
        framework=case.framework,
        language=case.language,
        created_at=CREATED,
        original_work=case.original_work,
        context=case.context,
    )
    assert len(notices) == 1
    return _confirmed(notices[0])


def _confirmed(notice: Notice) -> Notice:
    return notice.with_confirmed(sid for sid, _ in render_statements(notice))


def _outputs(notice: Notice) -> dict[str, str]:
    """Every format as text a person (or a machine) would read; e-mail parts decoded."""
    message = email.message_from_bytes(bytes(render_email(notice)), policy=email.policy.default)
    plain = message.get_body(("plain",))
    rich = message.get_body(("html",))
    assert plain is not None and rich is not None
    return {
        "text": render_text(notice),
        "eml text part": plain.get_content(),
        "eml html part": html.unescape(rich.get_content()),
        "json": json.dumps(render_json(notice), ensure_ascii=False),
        "form packet": render_form_packet(notice).text,
    }


def _check_golden(name: str, data: bytes) -> None:
    path = GOLDEN / name
    if UPDATE_GOLDEN:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        return
    assert path.is_file(), f"missing golden file {path.name}; run with UPDATE_GOLDEN=1"
    assert data == path.read_bytes(), f"{path.name} differs; if intended, run with UPDATE_GOLDEN=1"


# -- golden files and required elements ---------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_golden_files(case: Case) -> None:
    notice = _draft(case)
    _check_golden(f"{case.name}.txt", render_text(notice).encode("utf-8"))
    _check_golden(f"{case.name}.eml", bytes(render_email(notice)))
    payload = json.dumps(render_json(notice), indent=2, ensure_ascii=False) + "\n"
    _check_golden(f"{case.name}.json", payload.encode("utf-8"))
    _check_golden(f"{case.name}.form.txt", render_form_packet(notice).text.encode("utf-8"))


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_every_required_element_in_every_format(case: Case) -> None:
    notice = _draft(case)
    statements = [text for _, text in render_statements(notice)]
    expected = [*case.must_contain, *statements]
    for fmt, text in _outputs(notice).items():
        for element in expected:
            assert element in text, f"{case.name}: {fmt} lacks {element!r}"


def test_goldens_cover_every_framework_and_language() -> None:
    drafted = [_draft(c) for c in CASES]
    assert {n.framework for n in drafted} == set(FRAMEWORKS)
    assert {n.language for n in drafted} == set(available_languages())
    assert {n.requester.role for n in drafted} == {"self", "representative"}
    assert {i.match_kind for n in drafted for i in n.items} == set(MATCH_KINDS)


# -- refusal of incomplete notices --------------------------------------------------------

RENDERERS: list[Callable[[Notice], object]] = [render_text, render_email, render_json, render_form_packet]


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_each_missing_requester_field_is_refused_by_name(case: Case) -> None:
    notice = _draft(case)
    framework = get_framework(notice.framework)
    for field in framework.requester_fields:
        broken = dataclasses.replace(notice, requester=dataclasses.replace(notice.requester, **{field: ""}))
        for render in RENDERERS:
            with pytest.raises(MissingFields) as caught:
                render(broken)
            assert caught.value.missing == [FIELD_NAMES[field]], (case.name, field)
            assert FIELD_NAMES[field] in str(caught.value)


@pytest.mark.parametrize("case", CASES, ids=lambda c: c.name)
def test_unconfirmed_statements_are_refused_with_the_full_list(case: Case) -> None:
    notice = dataclasses.replace(_draft(case), confirmed=frozenset())
    framework = get_framework(notice.framework)
    for render in RENDERERS:
        with pytest.raises(MissingFields) as caught:
            render(notice)
        assert caught.value.missing == [f"your confirmation of {s.name}" for s in framework.statements]


def test_several_missing_elements_are_listed_together() -> None:
    case = next(c for c in CASES if c.name == "dmca")
    notice = dataclasses.replace(
        _draft(case),
        requester=dataclasses.replace(JANE_FULL, signature="", phone=None, postal_address="  "),
        original_work=None,
        items=(),
        confirmed=frozenset({"dmca_not_authorised"}),
    )
    with pytest.raises(MissingFields) as caught:
        validate(notice)
    error = caught.value
    assert error.framework == "DMCA notice"
    assert error.missing == [
        FIELD_NAMES["signature"],
        FIELD_NAMES["postal_address"],
        FIELD_NAMES["phone"],
        FIELD_NAMES["original_work"],
        FIELD_NAMES["items"],
        "your confirmation of " + get_framework("dmca").statements[1].name,
    ]
    assert str(error).startswith("notice to ExampleShare: DMCA notice needs: your signature")


def test_representative_must_say_who_they_act_for_and_that_they_may() -> None:
    case = next(c for c in CASES if c.name == "uk_osa")
    notice = dataclasses.replace(
        _draft(case), requester=dataclasses.replace(ADVOCATE, on_behalf_of=None, authorisation="")
    )
    with pytest.raises(MissingFields) as caught:
        validate(notice)
    assert caught.value.missing == [FIELD_NAMES["on_behalf_of"], FIELD_NAMES["authorisation"]]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"email": "jane at example"}, "a valid e-mail address ('jane at example' is not one)"),
        ({"name": "Jane\nBcc: x@evil.test"}, "your name on one line (it contains a line break)"),
        ({"email": "jane@mail.example\r\nBcc: x@evil.test"}, "your e-mail address on one line"),
    ],
)
def test_bad_contact_details_are_refused(change: dict[str, str], expected: str) -> None:
    notice = _draft(CASES[0])
    bad = dataclasses.replace(notice, requester=dataclasses.replace(JANE, **change))
    with pytest.raises(MissingFields) as caught:
        render_email(bad)
    assert any(m.startswith(expected) for m in caught.value.missing), caught.value.missing


@pytest.mark.parametrize("url", ["ftp://host.test/x", "exampleshare.test/p/1", "https://", "https://a b.test/"])
def test_a_web_address_that_is_not_http_is_refused(url: str) -> None:
    notice = dataclasses.replace(_draft(CASES[0]), items=(_item(url, "exact"),))
    with pytest.raises(MissingFields) as caught:
        validate(notice)
    assert caught.value.missing == [f"a full web address starting with https:// or http:// (not {url!r})"]


def test_no_address_to_send_to_is_refused() -> None:
    notice = dataclasses.replace(_draft(CASES[0]), channel=None)
    with pytest.raises(MissingFields) as caught:
        render_text(notice)
    assert caught.value.missing == [FIELD_NAMES["channel"]]


# -- what never appears in a notice ------------------------------------------------------


def test_protected_labels_paths_and_bytes_never_reach_any_format() -> None:
    rows = [
        {
            "url": "https://exampleshare.test/p/1",
            "seen_at": SEEN.isoformat(),
            "match_kind": "derived",
            "sha256": SHA,
            "label": SECRET_LABEL,
            "path": f"/home/jane/Private/{SECRET_LABEL}",
            "file_name": SECRET_LABEL,
            "protected_bytes": b"\xff\xd8\xff\xe0JFIF-PIXELS-XYZ",
        },
        {"url": "https://exampleshare.test/p/2", "seen_at": SEEN, "match_kind": "exact", "label": SECRET_LABEL},
    ]
    items = [NoticeItem.from_record(row) for row in rows]
    for framework in FRAMEWORKS:
        notice = _confirmed(
            draft_notices("case-7", "US", JANE_FULL, items, SHARE, framework=framework,
                          created_at=CREATED, original_work="A selfie I took.", attach_hashes=True)[0]
        )  # fmt: skip
        eml = bytes(render_email(notice))
        for fmt, text in {**_outputs(notice), "eml bytes": eml.decode("utf-8", "replace")}.items():
            for secret in ("IMG_secret_label", "/home/jane", "Private/", "JFIF-PIXELS"):
                assert secret not in text, f"{framework}: {fmt} leaks {secret!r}"
    names = {f.name for f in dataclasses.fields(NoticeItem)} | {f.name for f in dataclasses.fields(Notice)}
    assert not names & {"label", "path", "file_name", "filename", "data", "bytes", "image"}


def test_phone_and_postal_address_are_only_given_where_the_law_asks() -> None:
    case = next(c for c in CASES if c.name == "take_it_down")
    notice = _draft(dataclasses.replace(case, requester=JANE_FULL))
    for fmt, text in _outputs(notice).items():
        assert "555 0142" not in text and "Elm Street" not in text, fmt


# -- unverified addresses -----------------------------------------------------------------


def test_an_unconfirmed_address_is_flagged_in_every_format() -> None:
    notice = _draft(next(c for c in CASES if c.name == "platform_policy"))
    assert not notice.channel.verified  # type: ignore[union-attr]
    assert UNVERIFIED_NOTE == (
        "This address comes from public information that we could not confirm; "
        "check it before relying on it."
    )
    assert UNVERIFIED_NOTE[:-1] in render_text(notice)
    assert UNVERIFIED_NOTE[:-1] in render_form_packet(notice).text
    record = render_json(notice)
    assert record["channel_warning"] == UNVERIFIED_NOTE and record["channel"]["verified"] is False
    message = render_email(notice)
    assert message["X-StopNCII-Unverified-Address"] == UNVERIFIED_NOTE
    body = message.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "could not confirm that it is the right one" in body and "please forward it" in body


def test_a_confirmed_address_carries_no_warning() -> None:
    notice = _draft(CASES[0])
    everything = "".join(_outputs(notice).values()) + str(render_email(notice))
    assert "could not confirm" not in everything
    assert render_json(notice)["channel_warning"] is None


# -- choosing the framework ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("where", "expected", "words"),
    [
        ("US", "take_it_down", ("You are in the US and Telegram is an online service used in the US, "
                                "so the TAKE IT DOWN Act applies")),
        ("PR", "take_it_down", "48 hours"),
        ("de", "dsa_art16", "You are in Germany, in the EU"),
        ("FR", "dsa_art16", "Digital Services Act"),
        ("GB", "uk_osa", "Online Safety Act 2023"),
        ("uk", "uk_osa", "You are in the UK"),
        ("AU", "au_esafety", "eSafety Commissioner"),
        ("BR", "platform_policy", "Telegram's own rules"),
        ("RU", "platform_policy", "no takedown law for RU"),
    ],
)  # fmt: skip
def test_framework_is_chosen_from_where_the_person_is(where: str, expected: str, words: str) -> None:
    choice = choose_framework(where, TELEGRAM)
    assert choice.id == expected
    assert words in choice.reason


def test_dmca_is_only_used_when_asked_and_carries_its_warnings() -> None:
    assert all(choose_framework(w, SHARE).id != "dmca" for w in ("US", "DE", "GB", "AU", "BR"))
    choice = choose_framework("US", SHARE, override="dmca")
    assert choice.id == "dmca"
    for words in ("only if you hold the copyright", "selfie", "Lumen", "representative"):
        assert words in choice.reason


def test_a_framework_for_another_country_says_so() -> None:
    choice = choose_framework("DE", SHARE, override="take_it_down")
    assert choice.id == "take_it_down"
    assert "It protects people in the US, and you are in Germany" in choice.reason


@pytest.mark.parametrize("bad", ["usa", "", "1A", "United States"])
def test_a_country_that_is_not_a_code_is_refused(bad: str) -> None:
    with pytest.raises(NoticeError, match="is not a country code"):
        normalise_jurisdiction(bad)


def test_an_unknown_framework_is_refused_with_the_known_ones() -> None:
    with pytest.raises(NoticeError) as caught:
        choose_framework("US", SHARE, override="gdpr")
    assert "'gdpr' is not a legal framework we know" in str(caught.value)
    assert "take_it_down" in str(caught.value)


# -- drafting -----------------------------------------------------------------------------


def test_one_notice_per_item_when_the_platform_wants_it_and_duplicates_once() -> None:
    items = [_item("https://vk.com/a", "exact"), _item("https://vk.com/b", "copy"), _item("https://vk.com/a", "exact")]
    notices = draft_notices("c1", "RU", OLGA, items, VK, created_at=CREATED)
    assert [[i.url for i in n.items] for n in notices] == [["https://vk.com/a"], ["https://vk.com/b"]]
    assert len({n.notice_key for n in notices}) == 2
    together = draft_notices("c1", "US", JANE, items[:2], SHARE, created_at=CREATED)
    assert len(together) == 1 and len(together[0].items) == 2


def test_unknown_websites_get_one_notice_per_site_abuse_address(tmp_path: Path) -> None:
    empty = tmp_path / "platforms.toml"
    empty.write_text("", encoding="utf-8")
    directory = load_directory(empty)
    other = directory.get("other")
    items = [
        _item("https://img.site-one.example/a.jpg", "exact"),
        _item("https://www.site-two.example/b", "partial"),
        _item("https://site-one.example/c", "copy"),
    ]
    notices = draft_notices("c1", "US", JANE, items, other, created_at=CREATED)
    by_address = {n.channel.address: [i.url for i in n.items] for n in notices}  # type: ignore[union-attr]
    assert by_address == {
        "abuse@site-one.example": ["https://img.site-one.example/a.jpg", "https://site-one.example/c"],
        "abuse@site-two.example": ["https://www.site-two.example/b"],
    }
    text = render_text(_confirmed(notices[0]))
    assert "To the site-one.example team" in text and "Other website" not in text


def test_australian_reports_go_to_esafety_with_the_platform_as_a_first_option() -> None:
    notice = _draft(next(c for c in CASES if c.name == "au_esafety"))
    assert notice.channel == ESAFETY
    packet = render_form_packet(notice)
    assert packet.form_url == ESAFETY.address
    assert "You may also report to ExampleShare first: abuse@exampleshare.test (e-mail)." in packet.how_to_send
    assert ("Platform or service", "ExampleShare") in packet.fields
    assert render_text(notice).count("To the eSafety Commissioner,") == 1
    assert "To" not in render_email(notice)  # a web form has no e-mail recipient


@pytest.mark.parametrize(
    ("platform", "where", "language"),
    [(TELEGRAM, "RU", "ru"), (VK, "BY", "ru"), (TELEGRAM, "DE", "en"), (SHARE, "RU", "en")],
)
def test_default_language(platform: Platform, where: str, language: str) -> None:
    notice = draft_notices("c1", where, JANE, [_item("https://t.me/x/1", "exact")], platform, created_at=CREATED)[0]
    assert notice.language == language
    assert render_email(_confirmed(notice))["Content-Language"] == language


def test_a_language_without_templates_is_refused() -> None:
    with pytest.raises(NoticeError, match="notices can be written in en, ru; not in 'de'"):
        draft_notices("c1", "DE", JANE, [_item("https://t.me/x/1", "exact")], TELEGRAM, language="de")


def test_nothing_to_report_is_refused() -> None:
    with pytest.raises(NoticeError, match="there is nothing to report to Telegram"):
        draft_notices("c1", "US", JANE, [], TELEGRAM)


def test_notice_key_names_the_request_not_its_wording() -> None:
    items = [_item("https://exampleshare.test/p/1", "exact"), _item("https://exampleshare.test/p/2", "copy")]
    first = draft_notices("c1", "US", JANE, items, SHARE, created_at=CREATED)[0]
    again = draft_notices("c1", "US", ADVOCATE, items[::-1], SHARE,
                          created_at=CREATED + dt.timedelta(days=3))[0]  # fmt: skip
    assert first.notice_key == again.notice_key
    in_russian = draft_notices("c1", "US", JANE, items, SHARE, language="ru", created_at=CREATED)[0]
    assert in_russian.notice_key != first.notice_key  # drafted beside the English one, sent on its own
    assert len(first.notice_key) == 32 and int(first.notice_key, 16) >= 0
    other_case = draft_notices("c2", "US", JANE, items, SHARE, created_at=CREATED)[0]
    fewer = draft_notices("c1", "US", JANE, items[:1], SHARE, created_at=CREATED)[0]
    other_law = draft_notices("c1", "DE", JANE, items, SHARE, created_at=CREATED)[0]
    assert len({first.notice_key, other_case.notice_key, fewer.notice_key, other_law.notice_key}) == 4


def test_deadlines() -> None:
    def deadline(where: str, platform: Platform = SHARE, framework: str | None = None) -> int | None:
        items = [_item("https://exampleshare.test/p/1", "exact")]
        notice = draft_notices("c1", where, JANE, items, platform, framework=framework, created_at=CREATED)[0]
        return notice.deadline_hours

    assert deadline("US") == 48
    assert deadline("AU") == 24
    assert deadline("DE") is None and deadline("BR") is None
    configured = dataclasses.replace(SHARE, deadline_hours=types.MappingProxyType({"dsa_art16": 72}))
    assert deadline("DE", configured) == 72
    notice = _draft(CASES[0])
    assert notice.due_at == CREATED + dt.timedelta(hours=48)
    assert render_json(notice)["deadline"] == {"hours": 48, "due_at": "2026-06-03T09:30:00Z"}


# -- the words for each kind of match -----------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "english", "russian"),
    [
        ("exact", "an exact copy of an intimate image of me", "точная копия моего интимного изображения"),
        ("copy", "a copy of an intimate image of me (resized or re-saved)", "копия моего интимного изображения"),
        ("partial", "part of an intimate image of me (cropped, or a screenshot)", "фрагмент моего интимного"),
        ("derived", "a fake intimate image of me, made by manipulating an ordinary photo",
         "поддельное интимное изображение, созданное путём изменения моей обычной фотографии"),
    ],
)  # fmt: skip
def test_match_kinds_are_described_exactly_and_never_confused(kind: str, english: str, russian: str) -> None:
    assert kind in MATCH_KINDS
    for language, words in (("en", english), ("ru", russian)):
        notice = _confirmed(
            draft_notices("c1", "US", JANE, [_item("https://t.me/x/1", kind)], TELEGRAM,
                          language=language, created_at=CREATED)[0]
        )  # fmt: skip
        body = render_email(notice).get_body(("plain",)).get_content()  # type: ignore[union-attr]
        assert words in body
        if kind == "derived":
            assert "copy of" not in body and "копия" not in body
            assert ("digital forgery" in body) if language == "en" else ("цифровая подделка" in body)
        else:
            assert "fake" not in body and "поддельн" not in body


def test_a_bad_match_kind_or_hash_is_refused() -> None:
    with pytest.raises(NoticeError, match="the match kind 'deepfake' is not one we know"):
        _item("https://t.me/x/1", "deepfake")
    with pytest.raises(InvalidHash, match="a PDQ hash is 64 hexadecimal characters"):
        _item("https://t.me/x/1", "exact", pdq="xyz")
    with pytest.raises(NoticeError, match="a found item needs url, match_kind"):
        NoticeItem.from_record({"seen_at": SEEN, "label": SECRET_LABEL})


# -- hashes ---------------------------------------------------------------------------------


def test_hashes_are_attached_only_when_asked_or_known() -> None:
    items = [_item("https://exampleshare.test/p/1", "exact", sha256=SHA, pdq=PDQ)]
    for attach, present in ((None, True), (True, True), (False, False)):
        notice = _confirmed(
            draft_notices("c1", "US", JANE, items, SHARE, created_at=CREATED, attach_hashes=attach)[0]
        )
        for fmt, text in _outputs(notice).items():
            assert (SHA in text and PDQ in text) == present, (attach, fmt)
    plain = _confirmed(draft_notices("c1", "US", JANE, [_item("https://exampleshare.test/p/1", "exact")],
                                     SHARE, created_at=CREATED)[0])  # fmt: skip
    assert not plain.attach_hashes and "SHA-256" not in render_text(plain)


# -- the e-mail -------------------------------------------------------------------------------


def test_email_headers_and_parts() -> None:
    notice = _draft(CASES[0])
    raw = bytes(render_email(notice))
    assert b"\r\n" in raw and b"\n" not in raw.replace(b"\r\n", b"")
    message = email.message_from_bytes(raw, policy=email.policy.default)
    assert message["To"] == "abuse@exampleshare.test"
    assert message["From"] == "Jane Doe <jane.doe@mail.example>"
    assert message["Reply-To"] == "Jane Doe <jane.doe@mail.example>"
    assert message["Subject"].startswith("Removal request under the TAKE IT DOWN Act")
    assert message["Date"] == "Mon, 01 Jun 2026 09:30:00 +0000"
    assert message["Message-ID"] == f"<{notice.notice_key}@mail.example>"
    assert message["X-StopNCII-Notice-Key"] == notice.notice_key
    assert message.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in message.iter_parts()] == ["text/plain", "text/html"]
    assert bytes(render_email(notice)) == raw  # the same notice always gives the same file

    relayed = render_email(notice, sender="Helping Hands <cases@support-org.example>")
    assert relayed["From"] == "Helping Hands <cases@support-org.example>"
    assert relayed["Reply-To"] == "Jane Doe <jane.doe@mail.example>"
    assert relayed["Message-ID"] == f"<{notice.notice_key}@support-org.example>"


def test_web_form_notices_have_no_recipient_but_a_form_packet() -> None:
    notice = _draft(next(c for c in CASES if c.name == "dsa_art16"))
    assert render_email(notice)["To"] is None
    packet = render_form_packet(notice)
    assert packet.form_url == "https://exampleshare.test/dsa-notice"
    labels = [label for label, _ in packet.fields]
    assert labels[:3] == ["Type of report", "Web addresses (URLs) of the content", "Seen"]
    assert labels[-2:] == ["Signature", "Date"]
    assert "Name" in labels and "E-mail" in labels


@settings(max_examples=40, deadline=None)
@given(
    name=st.text(st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")), min_size=1, max_size=40),
    context=st.text(max_size=120),
)
def test_any_name_or_context_renders_safely_or_is_refused(name: str, context: str) -> None:
    notice = dataclasses.replace(
        _draft(CASES[1]),
        requester=dataclasses.replace(JANE, name=name),
        context=context + "<script>alert(1)</script>",
    )
    try:
        message = render_email(notice)
    except NoticeError as error:  # refused with a reason, never a crash
        assert str(error)
        return
    rich = message.get_body(("html",)).get_content()  # type: ignore[union-attr]
    assert "<script>" not in rich
    assert "<script>alert(1)</script>" in html.unescape(rich)
    assert render_json(notice)["requester"]["name"] == name


def test_a_sender_that_would_forge_headers_is_refused() -> None:
    with pytest.raises(NoticeError, match="an address cannot be written into an e-mail"):
        render_email(_draft(CASES[0]), sender="Helper <help@org.example>\nBcc: someone@evil.example")
