"""stopncii_tools.web.pages: finding the pictures and videos in a page, including hostile pages."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stopncii_tools.web.pages import MAX_LINKS, TAGS, MediaLink, find_media, read_page

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
        "https://site.example/albums/in-style.jpg",  # a CSS background is shown
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
        assert link.tag in TAGS


# -- pictures shown as CSS backgrounds, lazily, or named in structured data (issue 11) --------


def test_css_backgrounds_are_found_in_style_attributes_and_blocks() -> None:
    page = """<style>
        .hero { background: #000 url( "/img/hero one.jpg" ) no-repeat, url(layer.png) }
        .card{background-image:url('card.webp')}
        .hd { background-image: image-set("x1.avif" 1x, url('x2.avif') 2x); }
        .text { color: url(not-a-background.jpg) }
      </style>
      <div style="width:10px;BACKGROUND-IMAGE: url(&quot;inline.jpg&quot;)"></div>
      <div style="background: url(escaped\\(1\\).jpg)"></div>"""
    assert urls(page) == [
        "https://site.example/img/hero one.jpg",
        "https://site.example/albums/layer.png",
        "https://site.example/albums/card.webp",
        "https://site.example/albums/x2.avif",
        "https://site.example/albums/x1.avif",
        "https://site.example/albums/inline.jpg",
        "https://site.example/albums/escaped(1).jpg",
    ]


def test_lazy_loading_and_structured_data_pictures_are_found() -> None:
    page = """<head><link rel="image_src" href="/share.jpg">
      <script type="application/ld+json">{"@graph": [{"@type": "Article",
        "image": ["/ld-1.jpg", {"@type": "ImageObject", "url": "/ld-2.jpg"}]}]}</script>
      <script type="application/ld+json">{"broken": </script></head>
      <div data-bg="/bg.jpg"></div><span data-background="/bg2.jpg"></span>
      <img data-original="orig.jpg"><div itemprop="image" content="/item.jpg"></div>
      <noscript><img src="noscript.jpg"></noscript><video poster="poster.jpg"></video>"""
    assert [(link.url.rsplit("/", 1)[1], link.tag) for link in find_media(page, BASE)] == [
        ("share.jpg", "link-image"), ("ld-1.jpg", "json-ld-image"), ("ld-2.jpg", "json-ld-image"),
        ("bg.jpg", "css-background"), ("bg2.jpg", "css-background"), ("orig.jpg", "img"),
        ("item.jpg", "itemprop-image"), ("noscript.jpg", "img"), ("poster.jpg", "video-poster"),
    ]


TELEGRAM_CHANNEL = """<html><head><link rel="canonical" href="https://t.me/s/fakes_chan">
<link rel="prev" href="/s/fakes_chan?before=1201"></head><body>
<div class="tgme_channel_info"><i class="tgme_page_photo_image"><img src="https://cdn4.telesco.pe/file/avatar.jpg"></i></div>
<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message text_not_supported_wrap js-widget_message" data-post="fakes_chan/1201">
  <div class="tgme_widget_message_bubble">
    <a class="tgme_widget_message_photo_wrap 5318 1" href="https://t.me/fakes_chan/1201?single" style="width:800px;background-image:url('https://cdn4.telesco.pe/file/photo-a.jpg')">
      <div class="tgme_widget_message_photo" style="padding-top:100%"></div></a>
    <div class="tgme_widget_message_text js-message_text">look <i class="emoji" style="background-image:url('//telegram.org/img/emoji/40/F09F9880.png')"><b>x</b></i></div>
  </div></div></div>
<div class="tgme_widget_message_wrap"><div class="tgme_widget_message js-widget_message" data-post="fakes_chan/1202">
  <div class="tgme_widget_message_grouped_wrap"><div class="tgme_widget_message_grouped">
    <a class="tgme_widget_message_photo_wrap grouped_media_wrap" href="https://t.me/fakes_chan/1202?single" style="background-image:url('https://cdn4.telesco.pe/file/album-1.jpg')"></a>
    <a class="tgme_widget_message_photo_wrap grouped_media_wrap" href="https://t.me/fakes_chan/1203?single" style="background-image:url('https://cdn4.telesco.pe/file/album-2.jpg')"></a>
    <a class="tgme_widget_message_video_player grouped_media_wrap" href="https://t.me/fakes_chan/1204?single">
      <i class="tgme_widget_message_video_thumb" style="background-image:url('https://cdn4.telesco.pe/file/thumb.jpg')"></i>
      <div class="tgme_widget_message_video_wrap"><video class="tgme_widget_message_video js-message_video" src="https://cdn4.telesco.pe/file/clip.mp4?token=t"></video></div></a>
  </div></div></div></div>
<div class="tgme_widget_message_wrap"><div class="tgme_widget_message" data-post="fakes_chan/1205"><div class="tgme_widget_message_text">only words</div></div></div>
<img src="https://telegram.org/img/footer.png">
<a class="tme_messages_more js-messages_more" data-after="1205" href="/s/fakes_chan?after=1205"></a>
<a class="tme_messages_more js-messages_more" data-before="1201" href="/s/fakes_chan?before=1201"></a>
</body></html>"""


def test_telegram_channel_photos_keep_their_post_permalink() -> None:
    reading = read_page(TELEGRAM_CHANNEL, "https://t.me/s/fakes_chan")
    assert [(link.url.rsplit("/", 1)[1], link.tag, link.post) for link in reading.media] == [
        ("avatar.jpg", "img", None),
        ("photo-a.jpg", "telegram-photo", "https://t.me/fakes_chan/1201"),
        ("album-1.jpg", "telegram-photo", "https://t.me/fakes_chan/1202"),
        ("album-2.jpg", "telegram-photo", "https://t.me/fakes_chan/1203"),  # an album item is a post of its own
        ("thumb.jpg", "telegram-video-thumb", "https://t.me/fakes_chan/1202"),
        ("clip.mp4?token=t", "video", "https://t.me/fakes_chan/1202"),
        ("footer.png", "img", None),  # after the posts: belongs to none of them
    ]  # the emoji drawn as a background is not a picture anyone posted
    assert reading.older_page == "https://t.me/s/fakes_chan?before=1201"


def test_the_next_page_of_an_ordinary_site_is_its_rel_next_link() -> None:
    page = '<a href="/gallery?page=1" rel="prev">newer</a><a rel="next" href="/gallery?page=3">older</a>'
    assert read_page(page, BASE).older_page == "https://site.example/gallery?page=3"
    assert read_page('<a rel="next" href="">self</a><img src=a.jpg>', BASE).older_page is None
    assert read_page("<img src=a.jpg>", BASE).older_page is None


@pytest.mark.parametrize("unit", [
    "background:", "background-image:url(", "url(", "x{background:url('", "image-set(\"",
])
def test_hostile_css_takes_linear_time(unit: str) -> None:
    page = f"<style>{unit * 40_000}</style><div style=\"{unit * 40_000}\"></div><img src=end.jpg>"
    started = time.perf_counter()
    links = find_media(page, BASE)
    assert time.perf_counter() - started < 5
    assert links[-1].url.endswith("end.jpg")
