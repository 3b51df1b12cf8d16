"""stopncii_tools.web.pages: finding the pictures and videos in a page, including hostile pages."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stopncii_tools.web.pages import MAX_LINKS, MediaLink, find_media

BASE = "https://site.example/albums/page.html"


def urls(html: str | bytes, base: str = BASE) -> list[str]:
    return [link.url for link in find_media(html, base)]


def test_every_kind_of_media_reference_is_found_in_page_order() -> None:
    page = """<!doctype html><html><head>
      <meta property="og:image" content="/social.jpg">
      <meta property="og:image:secure_url" content="https://cdn.example/social-secure.jpg">
      <meta name="twitter:image:src" content="https://cdn.example/card.png">
      <meta property="og:video:url" content="https://cdn.example/clip.mp4">
    </head><body>
      <img src="one.jpg" alt="x">
      <img data-src="lazy.webp" srcset="two-480.jpg 480w, two-1600.jpg 1600w">
      <picture><source srcset="pic.avif" type="image/avif"><img src="pic.jpg"></picture>
      <video src="movie.webm" poster="still.png"><source src="movie.mp4" type="video/mp4"></video>
      <a href="downloads/full.HEIC">full size</a> <a href="about.html">about</a>
    </body></html>"""

    assert find_media(page, BASE) == [
        MediaLink("https://site.example/social.jpg", "og:image"),
        MediaLink("https://cdn.example/social-secure.jpg", "og:image"),
        MediaLink("https://cdn.example/card.png", "twitter:image"),
        MediaLink("https://cdn.example/clip.mp4", "og:video"),
        MediaLink("https://site.example/albums/one.jpg", "img"),
        MediaLink("https://site.example/albums/lazy.webp", "img"),
        MediaLink("https://site.example/albums/two-1600.jpg", "img-srcset"),
        MediaLink("https://site.example/albums/two-480.jpg", "img-srcset"),
        MediaLink("https://site.example/albums/pic.avif", "picture-source"),
        MediaLink("https://site.example/albums/pic.jpg", "img"),
        MediaLink("https://site.example/albums/movie.webm", "video"),
        MediaLink("https://site.example/albums/still.png", "video-poster"),
        MediaLink("https://site.example/albums/movie.mp4", "video-source"),
        MediaLink("https://site.example/albums/downloads/full.HEIC", "link"),
    ]


@pytest.mark.parametrize(
    "extension", [".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic",
                  ".mp4", ".mov", ".webm", ".mkv", ".avi"]
)
def test_links_to_media_files_are_found_by_their_extension(extension: str) -> None:
    page = f"<a href='/f/x{extension.upper()}?dl=1#top'>a</a><a href='/f/x{extension}.html'>b</a>"
    expected = MediaLink(f"https://site.example/f/x{extension.upper()}?dl=1", "link")
    assert find_media(page, BASE) == [expected]


def test_srcset_keeps_every_candidate_largest_first_and_commas_inside_urls() -> None:
    page = """<img srcset="https://img.example/w_320,h_200/a.jpg 320w,
                            https://img.example/w_1280,h_800/a.jpg 1280w ,
                            https://img.example/w_640,h_400/a.jpg 640w">
              <img srcset="b.jpg, b@3x.jpg 3x, b@2x.jpg 2x">"""
    assert urls(page) == [
        "https://img.example/w_1280,h_800/a.jpg",
        "https://img.example/w_640,h_400/a.jpg",
        "https://img.example/w_320,h_200/a.jpg",
        "https://site.example/albums/b@3x.jpg",
        "https://site.example/albums/b@2x.jpg",
        "https://site.example/albums/b.jpg",
    ]


def test_relative_addresses_follow_the_base_element() -> None:
    page = """<head><base href="https://mirror.example/static/"><base href="/ignored/"></head>
              <img src="a.png"><img src="/b.png"><img src="//cdn.example/c.png">
              <img src="../d.png"><img src="?size=big">"""
    assert urls(page) == [
        "https://mirror.example/static/a.png",
        "https://mirror.example/b.png",
        "https://cdn.example/c.png",
        "https://mirror.example/d.png",
        "https://mirror.example/static/?size=big",
    ]


def test_a_relative_base_and_a_base_after_the_links_still_apply() -> None:
    assert urls('<img src="x.jpg"><base href="/other/">') == ["https://site.example/other/x.jpg"]
    assert urls('<base href="javascript:alert(1)"><img src="x.jpg">') == [
        "https://site.example/albums/x.jpg"
    ]


def test_non_web_addresses_are_dropped() -> None:
    page = """<img src="data:image/png;base64,iVBORw0KGgo="><img src=" JavaScript:alert(1)">
              <img src="blob:https://site.example/1234"><img src="about:blank"><img src="">
              <img src="mailto:a@b.example"><img src="ftp://files.example/a.jpg">
              <img src="file:///etc/passwd"><img src="http://[::1"><img src="https:">
              <img src="   keep.jpg   ">"""
    assert urls(page) == ["https://site.example/albums/keep.jpg"]


def test_repeats_are_dropped_keeping_the_first_place_and_tag() -> None:
    page = """<meta property="og:image" content="https://site.example/albums/a.jpg">
              <img src="a.jpg"><img src="./a.jpg#frag"><a href="a.jpg">a</a><img src="b.jpg">"""
    assert find_media(page, BASE) == [
        MediaLink("https://site.example/albums/a.jpg", "og:image"),
        MediaLink("https://site.example/albums/b.jpg", "img"),
    ]


def test_markup_the_browser_would_not_show_is_skipped() -> None:
    page = """<script>document.write('<img src="in-script.jpg">')</script>
              <!-- <img src="in-comment.jpg"> --><style>x{background:url(in-style.jpg)}</style>
              <textarea><img src="in-textarea.jpg"></textarea><title><img src=t.jpg></title>
              <noscript><img src="no-js.jpg"></noscript><img src="shown.jpg">"""
    assert urls(page) == [
        "https://site.example/albums/no-js.jpg",
        "https://site.example/albums/shown.jpg",
    ]


def test_attributes_are_read_like_a_browser_reads_them() -> None:
    page = """<IMG SRC = 'upper.jpg'><img src=unquoted.jpg alt=x>
              <img alt='a>b' src="after-quoted-gt.jpg"><img src="a&amp;b.jpg">
              <img src="first.jpg" src="second.jpg"><img/src="slash.jpg">
              <img src="caf&eacute;.jpg"><video><source src=v.mp4></video>
              <source src="stray.mp4">"""
    assert urls(page) == [
        "https://site.example/albums/upper.jpg",
        "https://site.example/albums/unquoted.jpg",
        "https://site.example/albums/after-quoted-gt.jpg",
        "https://site.example/albums/a&b.jpg",
        "https://site.example/albums/first.jpg",
        "https://site.example/albums/slash.jpg",
        "https://site.example/albums/café.jpg",
        "https://site.example/albums/v.mp4",
    ]


def test_bytes_are_decoded_by_bom_or_meta_charset() -> None:
    latin = '<meta charset="iso-8859-1"><img src="caf\u00e9.jpg">'.encode("latin-1")
    utf16 = "\ufeff<img src='d\u00e9j\u00e0.png'>".encode("utf-16-le")
    broken = b"<img src='ok.jpg'>\xff\xfe\x80<img src='\xc3(.jpg'>"
    assert urls(latin) == ["https://site.example/albums/café.jpg"]
    assert urls(utf16) == ["https://site.example/albums/déjà.png"]
    assert urls(broken)[0] == "https://site.example/albums/ok.jpg" and len(urls(broken)) == 2


def test_an_unclosed_tag_ends_the_page_quietly() -> None:
    assert urls('<img src="a.jpg"><img src="b.jpg') == ["https://site.example/albums/a.jpg"]
    assert urls('<img src="a.jpg"><script>never closed <img src="b.jpg">') == [
        "https://site.example/albums/a.jpg"
    ]


def test_the_number_of_links_and_the_page_size_are_capped() -> None:
    many = "".join(f'<img src="/{n}.jpg">' for n in range(MAX_LINKS + 50))
    assert len(find_media(many, BASE)) == MAX_LINKS
    assert len(find_media(many, BASE, max_links=3)) == 3

    late = "<p>" + "x" * 2000 + '</p><img src="late.jpg">'
    assert urls(late) == ["https://site.example/albums/late.jpg"]
    assert find_media(late, BASE, max_chars=1000) == []
    assert find_media(late.encode(), BASE, max_chars=1000) == []


@pytest.mark.parametrize(
    "unit",
    ["<a ", "<a x=", '<a x="', "<img src=x ", "<!--", "<!x", "</a", "<?", "<![ x", "<",
     "<![CDATA[", "<script>", "&#", "<picture><source srcset='a, b, c'>", "<img srcset=',,,,"],
)
def test_hostile_pages_take_linear_time(unit: str) -> None:
    """Pages built to make html.parser quadratic (CVE-2025-6069) are read in about a second.

    Quadratic parsing of 1 MB would take hours; the bound is loose on purpose.
    """
    page = unit * (1_000_000 // len(unit))
    started = time.monotonic()
    links = find_media(page, BASE)
    assert time.monotonic() - started < 10
    assert all(link.url.startswith("https://") for link in links)


def test_a_big_ordinary_page_is_read_whole() -> None:
    row = '<div class="post"><p>Some text &amp; more</p><img src="/p/{n}.jpg" alt="photo"></div>\n'
    page = "<html><body>" + "".join(row.format(n=n) for n in range(40_000)) + "</body></html>"
    links = find_media(page, BASE, max_links=100_000)
    assert len(links) == 40_000 and links[-1].url == "https://site.example/p/39999.jpg"


HTML_PIECES = st.sampled_from([
    "<", ">", "</", "/>", "<img", "<IMG ", " src=", " srcset=", " href=", "<a ", "<video",
    "<source", "<picture>", "</picture>", "</video>", "<base href=",
    "<meta property=og:image content=", '"', "'", "=", ",", " 2x", " 100w", "(", ")", "<!--",
    "-->", "<!", "<![", "]]>", "<?", "<script>", "</script>", "<style>", "<plaintext>", "&amp;",
    "&#x0;", "&#99999999;", "&", "#", "?", "//", "http://", "https://", "a.jpg", "b.mp4", "data:",
    "javascript:", "[::1", "%", "\x00", "\t", "\n", " ", "\u00e9", "\U0001f600", "\ufeff", ".",
    "..",
])


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(
    page=st.one_of(st.text(), st.lists(HTML_PIECES | st.text(max_size=5)).map("".join),
                   st.binary()),
    base=st.sampled_from([BASE, "http://127.0.0.1:8080/", "https://xn--mnchen-3ya.example/a?b#c"]),
    max_links=st.integers(min_value=0, max_value=20),
)
def test_any_input_gives_a_clean_list_and_never_raises(
    page: str | bytes, base: str, max_links: int
) -> None:
    links = find_media(page, base, max_links=max_links)
    assert len(links) <= max_links
    assert len({link.url for link in links}) == len(links)
    for link in links:
        assert link.url.startswith(("http://", "https://")) and "#" not in link.url
        assert link.tag in {"og:image", "og:video", "twitter:image", "img", "img-srcset",
                            "picture-source", "video", "video-poster", "video-source", "link"}
