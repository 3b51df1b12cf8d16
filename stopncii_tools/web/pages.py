"""Find the pictures and videos a web page shows or links to, and the page of older posts.

Pictures are read wherever a browser would show them: ``<img>`` (and lazy-loading attributes),
``<picture>``, ``<video>``, social-card ``<meta>`` tags, ``<link rel="image_src">``,
``itemprop="image"``, JSON-LD ``image``, and CSS backgrounds in ``style`` attributes and
``<style>`` blocks (Telegram shows post photos that way). On a Telegram channel page each
picture keeps the permalink of its post (``https://t.me/NAME/ID``), which is what Telegram asks
a notice to cite.

The page is read by a small single-pass tokenizer rather than :mod:`html.parser`: the standard
parser takes quadratic time on unterminated tags (CPython gh-135462 / CVE-2025-6069; 60 KB of
``"<a "`` took 80 s on Python 3.11.7, and repeated unterminated declarations are still slow), and a
hostile page must not stall a batch. Every character here is looked at a bounded number of times,
the page size and the number of links are capped, and no input raises.
"""

from __future__ import annotations

import codecs
import html
import json
import re
from dataclasses import dataclass
from typing import Final
from urllib.parse import urljoin, urlsplit

from .._errors import InvalidURL
from .urls import join_web_address

MAX_LINKS: Final = 500
MAX_HTML_CHARS: Final = 5_000_000  # a page bigger than this is read only this far
MAX_URL_CHARS: Final = 8_192
MEDIA_EXTENSIONS: Final = (
    ".jpg", ".jpeg", ".png", ".gif", ".webp", ".avif", ".heic",
    ".mp4", ".mov", ".webm", ".mkv", ".avi",
)

_META_TAGS: Final = {
    "og:image": "og:image",
    "og:image:url": "og:image",
    "og:image:secure_url": "og:image",
    "twitter:image": "twitter:image",
    "twitter:image:src": "twitter:image",
    "og:video": "og:video",
    "og:video:url": "og:video",
    "og:video:secure_url": "og:video",
}
_IMG_SRC_ATTRS: Final = ("src", "data-src", "data-original", "data-lazy-src")  # lazy loaders
_BACKGROUND_ATTRS: Final = ("data-bg", "data-background", "data-background-image")  # lazy backgrounds
MAX_CSS_CHARS: Final = 200_000  # one style block or attribute is read only this far
MAX_JSON_LD_CHARS: Final = 200_000
# a CSS declaration that paints a picture: its value runs to the next ";" or "}"
_CSS_BACKGROUND = re.compile(r"background(?:-image)?[\t\n\f\r ]*:([^;}]{0,4000})", re.IGNORECASE)
# url(...) quoted or not, and image-set()'s bare strings
_CSS_URL = re.compile(
    r"""url\([\t\n\f\r ]*(?:"([^"]{0,8192})"|'([^']{0,8192})'|((?:\\.|[^)'"\\\t\n\f\r ]){1,8192}))""",
    re.IGNORECASE,
)
_CSS_IMAGE_SET_STRING = re.compile(r"""image-set\(|(?<=[(,\t\n\f\r ])(?:"([^"]{1,8192})"|'([^']{1,8192})')""",
                                   re.IGNORECASE)
_TELEGRAM_POST = re.compile(r"([A-Za-z0-9_]{1,64})/([0-9]{1,12})")
_TELEGRAM_POST_LINK = re.compile(r"https?://(?:www\.)?(?:t\.me|telegram\.me)(?::[0-9]{1,5})?/([A-Za-z0-9_]{1,64})/"
                                 r"([0-9]{1,12})(?:\?single)?")
_TELEGRAM_BACKGROUNDS: Final = {  # element class -> what the background shows
    "tgme_widget_message_photo_wrap": "telegram-photo",
    "tgme_widget_message_video_thumb": "telegram-video-thumb",
    "tgme_widget_message_roundvideo_thumb": "telegram-video-thumb",
    "link_preview_image": "telegram-link-preview",
    "link_preview_right_image": "telegram-link-preview",
}
_IMG_SRCSET_ATTRS: Final = ("srcset", "data-srcset")
# Elements whose content is text, not markup: a "<img" inside a script is not a picture.
_RAW_TEXT: Final = frozenset(
    {"script", "style", "textarea", "title", "xmp", "iframe", "noembed", "noframes"}
)
_DROPPED_SCHEMES: Final = ("data:", "javascript:", "blob:", "about:", "mailto:")

_WS: Final = "\t\n\f\r "
_TAG_NAME: Final = r"[A-Za-z][^\t\n\f\r />]*"
# Groups: a start tag's name, a comment's "!--", an end tag's name (None after "</" and a
# non-letter); "<!" and "<?" declarations match with all three None. Any other "<" is text.
_MARKUP = re.compile(rf"<(?:({_TAG_NAME})|(!--)|/({_TAG_NAME})?|[!?])")
# One attribute, or the tag's ">": groups are (">", name, "double", 'single', open quote, bare).
_ATTRIBUTE = re.compile(
    r"""[\t\n\f\r /]*(?:(>)|([^\t\n\f\r />][^\t\n\f\r /=>]*)"""
    r"""(?:[\t\n\f\r ]*=[\t\n\f\r ]*(?:"([^"]*)"|'([^']*)'|(["'])|([^\t\n\f\r >]*)))?)"""
)
_META_CHARSET = re.compile(
    rb"""<meta[^>]{0,512}?charset[\t\n\f\r ]*=[\t\n\f\r "']*([A-Za-z0-9_.:-]{1,40})""",
    re.IGNORECASE,
)
_DESCRIPTOR_NUMBER = re.compile(r"[0-9]*\.?[0-9]+")
_RAW_TEXT_CLOSE: Final = {
    name: re.compile(r"</" + name + r"(?=[\t\n\f\r />])", re.IGNORECASE) for name in _RAW_TEXT
}


@dataclass(frozen=True)
class MediaLink:
    """One picture or video address found in a page.

    ``tag`` says where it was found: one of :data:`TAGS` (``link`` is an ``<a href>`` to a file
    whose name ends like a picture or video; ``css-background`` a CSS ``url()``). ``post`` is
    the permalink of the post it belongs to, on pages made of posts (Telegram channels).
    """

    url: str
    tag: str
    post: str | None = None


TAGS: Final = frozenset({
    "og:image", "og:video", "twitter:image", "img", "img-srcset", "picture-source", "video",
    "video-poster", "video-source", "link", "link-image", "itemprop-image", "json-ld-image",
    "css-background", "telegram-photo", "telegram-video-thumb", "telegram-link-preview",
})


@dataclass(frozen=True)
class PageReading:
    """What one page shows: its pictures and videos, and the address of its older posts (if any)."""

    media: list[MediaLink]
    older_page: str | None = None


def read_page(
    html_text: bytes | str,
    base_url: str,
    *,
    max_links: int = MAX_LINKS,
    max_chars: int = MAX_HTML_CHARS,
) -> PageReading:
    """Every picture and video address in a page, absolute, in page order, without repeats,
    and the page that continues it with older posts (``rel="next"``, Telegram's "older" link).

    Relative addresses are resolved against ``<base href>`` (if any) and ``base_url`` (the
    address the page was finally fetched from). ``data:``, ``javascript:`` and other non-web
    addresses are left out. At most ``max_links`` links and ``max_chars`` characters are read.
    """
    text = _decode(html_text[:max_chars]) if isinstance(html_text, bytes) else html_text[:max_chars]
    scan = _Scan(max_links, _telegram_origin(base_url))
    scan.run(text)
    base = (_resolve(scan.base_href, base_url) if scan.base_href else None) or base_url
    links: list[MediaLink] = []
    seen = {base_url.split("#", 1)[0]}  # src="" or "https:" lead back to the page itself
    for raw, (tag, post) in scan.found.items():
        url = _resolve(raw, base)
        if url is not None and url not in seen:
            seen.add(url)
            links.append(MediaLink(url, tag, post))
    older = _resolve(scan.older_href, base) if scan.older_href else None
    return PageReading(links[:max_links], older if older not in seen else None)


_TELEGRAM_HOSTS: Final = frozenset({"t.me", "telegram.me", "www.t.me", "www.telegram.me"})
_TELEGRAM_CHANNEL_PATH = re.compile(r"/([A-Za-z][A-Za-z0-9_]{3,31})/?")


def _telegram_origin(page_url: str) -> str:
    """Post links point at the Telegram site the page came from (``https://t.me`` elsewhere)."""
    parts = urlsplit(page_url)
    if (parts.hostname or "").lower() in _TELEGRAM_HOSTS:
        return f"{parts.scheme}://{parts.netloc}"
    return "https://t.me"


def public_view(url: str) -> str:
    """The address of the page that shows a site's posts to a reader who is not logged in.

    A Telegram channel link (``https://t.me/NAME``) only invites to open the app; its posts
    are on ``https://t.me/s/NAME``. Any other address is returned as it is.
    """
    parts = urlsplit(url)
    channel = _TELEGRAM_CHANNEL_PATH.fullmatch(parts.path)
    if (parts.hostname or "").lower() in _TELEGRAM_HOSTS and channel and not parts.query:
        return parts._replace(path=f"/s/{channel.group(1)}").geturl()
    return url


def find_media(
    html_text: bytes | str,
    base_url: str,
    *,
    max_links: int = MAX_LINKS,
    max_chars: int = MAX_HTML_CHARS,
) -> list[MediaLink]:
    """The pictures and videos of :func:`read_page`."""
    return read_page(html_text, base_url, max_links=max_links, max_chars=max_chars).media


class _Scan:
    """One pass over the page, collecting raw addresses (first tag wins), the first base and
    the first link to older posts."""

    def __init__(self, max_links: int, telegram: str) -> None:
        self.max_links = max_links
        self.telegram = telegram  # where post links point: https://t.me, or the page's own Telegram origin
        self.found: dict[str, tuple[str, str | None]] = {}
        self.base_href: str | None = None
        self.older_href: str | None = None
        self._picture_depth = 0
        self._video_depth = 0
        self._post: str | None = None  # the Telegram post being read
        self._post_divs = 0  # <div>s open inside it: the post ends when its own div closes

    def run(self, text: str) -> None:
        pos, end = 0, len(text)
        while pos < end and len(self.found) < self.max_links:
            markup = _MARKUP.search(text, pos)
            if markup is None:
                return
            start_tag, comment, end_tag = markup.groups()
            if start_tag is not None:
                tag = _read_attributes(text, markup.end())
                if tag is None:
                    return  # the tag never closes: the rest of the page is inside it
                attrs, pos = tag
                tag_name = start_tag.lower()
                self._start_tag(tag_name, attrs)
                if tag_name in _RAW_TEXT:
                    content_end, after = _raw_text_end(text, tag_name, pos)
                    self._raw_text(tag_name, attrs, text[pos : min(content_end, pos + MAX_JSON_LD_CHARS)])
                    pos = after
                elif tag_name == "plaintext":
                    return
            elif comment is not None:
                pos = _comment_end(text, markup.start())
            else:
                if end_tag is not None:
                    self._end_tag(end_tag.lower())
                pos = _after(text, ">", markup.end())  # also doctype, CDATA, <?...>

    def _add(self, raw: str | None, tag: str, post: str | None = None) -> None:
        if raw is None or len(self.found) >= self.max_links:
            return
        raw = raw.strip(_WS)
        if raw and len(raw) <= MAX_URL_CHARS and not raw.lower().startswith(_DROPPED_SCHEMES):
            self.found.setdefault(raw, (tag, post or self._post))

    def _start_tag(self, name: str, attrs: dict[str, str]) -> None:
        classes = attrs.get("class", "").split()
        if name == "div" and "tgme_widget_message" in classes:
            post = _TELEGRAM_POST.fullmatch(attrs.get("data-post", "").strip())
            self._post = f"{self.telegram}/{post.group(1)}/{post.group(2)}" if post else None
            self._post_divs = 0
        if name == "div" and self._post is not None:
            self._post_divs += 1
        if "style" in attrs and "emoji" not in classes:
            tag = next((_TELEGRAM_BACKGROUNDS[c] for c in classes if c in _TELEGRAM_BACKGROUNDS), "css-background")
            own = self._own_post(attrs.get("href", "")) if tag != "css-background" else None
            for url in _css_background_urls(attrs["style"]):
                self._add(url, tag, own)
        for attr in _BACKGROUND_ATTRS:
            self._add(attrs.get(attr), "css-background")
        if "image" in attrs.get("itemprop", "").lower().split():
            self._add(attrs.get("content") or attrs.get("src") or attrs.get("href"), "itemprop-image")
        if self.older_href is None:
            self._older_link(name, attrs, classes)
        if name == "base":
            if self.base_href is None and "href" in attrs:
                self.base_href = attrs["href"]
        elif name == "link":
            if "image_src" in attrs.get("rel", "").lower().split():
                self._add(attrs.get("href"), "link-image")
        elif name == "meta":
            key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
            if key in _META_TAGS:
                self._add(attrs.get("content"), _META_TAGS[key])
        elif name == "img":
            for attr in _IMG_SRC_ATTRS:
                self._add(attrs.get(attr), "img")
            for attr in _IMG_SRCSET_ATTRS:
                for candidate in _srcset_urls(attrs.get(attr, "")):
                    self._add(candidate, "img-srcset")
        elif name == "picture":
            self._picture_depth += 1
        elif name == "video":
            self._video_depth += 1
            self._add(attrs.get("src"), "video")
            self._add(attrs.get("poster"), "video-poster")
        elif name == "source":
            if self._video_depth:
                self._add(attrs.get("src"), "video-source")
            elif self._picture_depth:
                for candidate in _srcset_urls(attrs.get("srcset", "")):
                    self._add(candidate, "picture-source")
        elif name == "a":
            href = attrs.get("href")
            if href is not None and _looks_like_media_file(href):
                self._add(href, "link")

    def _own_post(self, href: str) -> str | None:
        """An album photo links its own post (``t.me/NAME/1203?single``): that is its permalink."""
        found = _TELEGRAM_POST_LINK.fullmatch(href.strip())
        return f"{self.telegram}/{found.group(1)}/{found.group(2)}" if found else None

    def _older_link(self, name: str, attrs: dict[str, str], classes: list[str]) -> None:
        """Telegram's "older messages" link, or the page's ``rel="next"`` (an older-posts page)."""
        if name not in ("a", "link") or not attrs.get("href"):
            return
        if "tme_messages_more" in classes:
            if "data-before" in attrs:  # the same class links to newer posts with data-after
                self.older_href = attrs["href"]
        elif "next" in attrs.get("rel", "").lower().split():
            self.older_href = attrs["href"]

    def _raw_text(self, name: str, attrs: dict[str, str], content: str) -> None:
        """Pictures named inside ``<style>`` blocks and JSON-LD scripts."""
        if name == "style":
            for url in _css_background_urls(content):
                self._add(url, "css-background")
        elif name == "script" and attrs.get("type", "").strip().lower() == "application/ld+json":
            for url in _json_ld_images(content):
                self._add(url, "json-ld-image")

    def _end_tag(self, name: str) -> None:
        if name == "div" and self._post is not None:
            self._post_divs -= 1
            if self._post_divs <= 0:
                self._post = None
        if name == "picture":
            self._picture_depth = max(0, self._picture_depth - 1)
        elif name == "video":
            self._video_depth = max(0, self._video_depth - 1)


def _after(text: str, marker: str, start: int) -> int:
    """Index just past the next ``marker`` from ``start``, or the end of the text."""
    found = text.find(marker, start)
    return len(text) if found < 0 else found + len(marker)


def _comment_end(text: str, lt: int) -> int:
    if text.startswith(("<!-->", "<!--->"), lt):  # empty comments, as browsers read them
        return text.index(">", lt + 4) + 1
    return _after(text, "-->", lt + 4)


def _raw_text_end(text: str, name: str, pos: int) -> tuple[int, int]:
    """Where the content of a script-like element ends, and the index just past its
    ``</name ...>`` (both the end of the text when it is never closed)."""
    match = _RAW_TEXT_CLOSE[name].search(text, pos)
    return (len(text), len(text)) if match is None else (match.start(), _after(text, ">", match.end()))


def _read_attributes(text: str, pos: int) -> tuple[dict[str, str], int] | None:
    """Attributes of a start tag from just after its name, and the index after its ``>``.

    Follows the HTML tokenizer: names are lower-cased, the first of a repeated name wins, and a
    quote left open runs to the end of the page (None is returned: the tag never closes).
    """
    attrs: dict[str, str] = {}
    while True:
        attribute = _ATTRIBUTE.match(text, pos)
        if attribute is None:  # only spaces and slashes were left
            return None
        closing, name, double, single, open_quote, bare = attribute.groups()
        if closing is not None:
            return attrs, attribute.end()
        if open_quote is not None:
            return None
        pos = attribute.end()
        name = name.lower()
        if name not in attrs:
            value = double if double is not None else single if single is not None else bare or ""
            attrs[name] = html.unescape(value) if "&" in value else value


def _srcset_urls(value: str) -> list[str]:
    """Candidate URLs of a ``srcset``, largest first (HTML's parsing rules, commas in URLs kept)."""
    candidates: list[tuple[float, str]] = []
    pos, end = 0, len(value)
    while pos < end:
        while pos < end and (value[pos] in _WS or value[pos] == ","):
            pos += 1
        start = pos
        while pos < end and value[pos] not in _WS:
            pos += 1
        url = value[start:pos]
        descriptor_start = pos
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth = 0  # a comma inside parentheses does not end the descriptors
            while pos < end and not (value[pos] == "," and depth == 0):
                if value[pos] == "(":
                    depth += 1
                elif value[pos] == ")" and depth:
                    depth -= 1
                pos += 1
        if url:
            candidates.append((_descriptor_size(value[descriptor_start:pos]), url))
    candidates.sort(key=lambda candidate: -candidate[0])  # stable: page order among equals
    return [url for _, url in candidates]


def _descriptor_size(descriptors: str) -> float:
    """The width (``640w``) or density (``2x``) of a srcset candidate; 1 when none is given."""
    for token in descriptors.split():
        number = _DESCRIPTOR_NUMBER.fullmatch(token[:-1])
        if token[-1:].lower() in ("w", "x") and number:
            return float(number.group())
    return 1.0


def _css_background_urls(css: str) -> list[str]:
    """Addresses of the pictures that ``background``/``background-image`` declarations paint,
    with ``url()`` quoted or not, several per value, and ``image-set()``'s plain strings."""
    urls: list[str] = []
    for declaration in _CSS_BACKGROUND.finditer(css[:MAX_CSS_CHARS]):
        value = declaration.group(1)
        for match in _CSS_URL.finditer(value):
            urls.append(next(g for g in match.groups() if g is not None))
        if "image-set(" in value.lower():
            for match in _CSS_IMAGE_SET_STRING.finditer(value):
                if match.group(1) or match.group(2):
                    urls.append(match.group(1) or match.group(2))
    return [_css_unescape(u) for u in urls]


def _css_unescape(value: str) -> str:
    """CSS backslash escapes of punctuation (``\\(``, ``\\'``) as the characters themselves."""
    return re.sub(r"\\([^0-9a-fA-F\n])", r"\1", value) if "\\" in value else value


def _json_ld_images(text: str) -> list[str]:
    """The ``image`` (and ``thumbnailUrl``) addresses of a JSON-LD block, however nested."""
    try:
        data = json.loads(text)
    except (ValueError, RecursionError):
        return []  # broken structured data hides nothing a browser shows
    found: list[str] = []
    todo: list[tuple[object, int]] = [(data, 0)]
    while todo and len(found) < MAX_LINKS:
        value, depth = todo.pop()
        if depth > 12:
            continue
        if isinstance(value, list):
            todo.extend((v, depth + 1) for v in reversed(value))
        elif isinstance(value, dict):
            for key in ("image", "thumbnailUrl", "contentUrl"):
                image = value.get(key)
                if isinstance(image, str):
                    found.append(image)
                elif isinstance(image, (list, dict)):
                    todo.append((image, depth + 1))
            graph = value.get("@graph")
            if isinstance(graph, list):
                todo.append((graph, depth + 1))
            if "url" in value and value.get("@type") == "ImageObject" and isinstance(value["url"], str):
                found.append(value["url"])
        elif isinstance(value, str) and depth > 0:
            found.append(value)  # an item of an "image" list
    return found


def _looks_like_media_file(href: str) -> bool:
    path = href.split("#", 1)[0].split("?", 1)[0].rstrip(_WS).lower()
    return path.endswith(MEDIA_EXTENSIONS)


def _resolve(raw: str, base: str) -> str | None:
    """An absolute http(s) address without fragment, or None for anything else."""
    cleaned = raw.strip(_WS).replace("\t", "").replace("\n", "").replace("\r", "")
    if not cleaned:
        return None
    try:
        join_web_address(base, cleaned)  # the one rule decides; the link is kept as written
        return urljoin(base, cleaned).split("#", 1)[0]  # the fragment is never sent
    except (InvalidURL, ValueError):
        return None


def _decode(data: bytes) -> str:
    """Page bytes as text: byte-order mark, else ``<meta charset>``, else UTF-8."""
    for bom, encoding in (
        (codecs.BOM_UTF8, "utf-8"),
        (codecs.BOM_UTF16_LE, "utf-16-le"),
        (codecs.BOM_UTF16_BE, "utf-16-be"),
    ):
        if data.startswith(bom):
            return data[len(bom) :].decode(encoding, "replace")
    encoding = "utf-8"
    declared = _META_CHARSET.search(data[:1024])
    if declared:
        try:
            name = codecs.lookup(declared.group(1).decode("ascii")).name
        except LookupError:
            name = "utf-8"
        # HTML reads a UTF-16 <meta charset> as UTF-8: the bytes it was found in are ASCII
        encoding = "utf-8" if name.startswith("utf-16") else name
    return data.decode(encoding, "replace")
