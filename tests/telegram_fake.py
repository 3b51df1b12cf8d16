"""A public Telegram channel on loopback, in the markup t.me/s/NAME really serves.

Telegram is outside this machine, so tests and benchmarks talk to this stand-in: a real HTTP
server that pages a channel newest first (20 posts a page, older posts at ``?before=ID``), draws
post photos as CSS backgrounds on ``cdn4.telesco.pe``, and counts what it was asked for.
Map ``t.me`` and ``cdn4.telesco.pe`` to 127.0.0.1 (``ScanOptions.hosts``) to use it.
"""

from __future__ import annotations

import html
import http.server
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlsplit

PAGE_SIZE = 20
CDN = "cdn4.telesco.pe"


@dataclass
class Post:
    """One channel post: photos (one, or an album), an optional video, or only words."""

    id: int
    photos: list[bytes] = field(default_factory=list)
    video: bytes | None = None
    video_thumb: bytes | None = None
    text: str = ""


@dataclass
class Channel:
    """The channel's posts and the media files its CDN serves; ``requests`` counts every path."""

    name: str
    posts: list[Post] = field(default_factory=list)
    files: dict[str, bytes] = field(default_factory=dict)
    requests: Counter[str] = field(default_factory=Counter)
    bytes_sent: int = 0
    port: int = 0
    token: str = "t1"  # the CDN signs its addresses; a new token gives the same file a new address
    lost: set[str] = field(default_factory=set)  # files the CDN answers 404 for, though pages still name them

    def add(self, post: Post) -> Post:
        self.posts.append(post)
        self.posts.sort(key=lambda p: p.id)
        return post

    def media_url(self, key: str, data: bytes) -> str:
        self.files[key] = data
        return f"http://{CDN}:{self.port}/file/{key}?token={self.token}"

    @property
    def url(self) -> str:
        return f"http://t.me:{self.port}/s/{self.name}"

    def page(self, before: int | None) -> str:
        older = [p for p in self.posts if before is None or p.id < before]
        shown = older[-PAGE_SIZE:]
        parts = [f'<!DOCTYPE html><html><head><meta property="og:title" content="{self.name}">',
                 f'<link rel="canonical" href="https://t.me/s/{self.name}">']
        if len(older) > len(shown):
            parts.append(f'<link rel="prev" href="/s/{self.name}?before={shown[0].id}">')
        parts.append('</head><body><main class="tgme_main"><section class="tgme_channel_history js-message_history">')
        if len(older) > len(shown):
            parts.append(f'<div class="tme_messages_more_wrap"><a class="tme_messages_more js-messages_more" '
                         f'data-before="{shown[0].id}" href="/s/{self.name}?before={shown[0].id}"></a></div>')
        parts += [self._post(post) for post in shown]
        parts.append("</section></main></body></html>")
        return "".join(parts)

    def permalink_page(self, post_id: int) -> str | None:
        """The single-post page ``t.me/NAME/ID``: its picture as ``og:image``, as Telegram shows it."""
        post = next((p for p in self.posts if p.id == post_id), None)
        if post is None:
            return None
        image = self.media_url(f"{post.id}-0.jpg", post.photos[0]) if post.photos else ""
        return (f'<!DOCTYPE html><html><head><meta property="og:title" content="{self.name}">'
                + (f'<meta property="og:image" content="{image}">' if image else "")
                + f'</head><body><div class="tgme_page_widget">{html.escape(post.text)}</div></body></html>')

    def _post(self, post: Post) -> str:
        ref = f"{self.name}/{post.id}"
        body = []
        wraps = "".join(
            f'<a class="tgme_widget_message_photo_wrap {"grouped_media_wrap" if len(post.photos) > 1 else ""}" '
            f'href="https://t.me/{ref}?single" style="width:800px;background-image:url(\'{self.media_url(f"{post.id}-{n}.jpg", data)}\')">'
            '<div class="tgme_widget_message_photo" style="padding-top:75%"></div></a>'
            for n, data in enumerate(post.photos)
        )
        if len(post.photos) > 1:
            wraps = f'<div class="tgme_widget_message_grouped_wrap"><div class="tgme_widget_message_grouped">{wraps}</div></div>'
        body.append(wraps)
        if post.video is not None:
            thumb = self.media_url(f"{post.id}-thumb.jpg", post.video_thumb) if post.video_thumb else ""
            body.append(
                f'<a class="tgme_widget_message_video_player js-message_video_player" href="https://t.me/{ref}">'
                + (f'<i class="tgme_widget_message_video_thumb" style="background-image:url(\'{thumb}\')"></i>' if thumb else "")
                + f'<div class="tgme_widget_message_video_wrap"><video class="tgme_widget_message_video js-message_video" '
                f'src="{self.media_url(f"{post.id}.mp4", post.video)}"></video></div></a>')
        if post.text:
            body.append(f'<div class="tgme_widget_message_text js-message_text" dir="auto">{html.escape(post.text)}'
                        '<i class="emoji" style="background-image:url(\'//telegram.org/img/emoji/40/F09F9880.png\')"><b>x</b></i></div>')
        return (f'<div class="tgme_widget_message_wrap js-widget_message_wrap"><div class="tgme_widget_message '
                f'text_not_supported_wrap js-widget_message" data-post="{ref}"><div class="tgme_widget_message_bubble">'
                f'{"".join(body)}<a class="tgme_widget_message_date" href="https://t.me/{ref}">'
                '<time datetime="2026-11-30T10:00:00+00:00">10:00</time></a></div></div></div>')


class _Handler(http.server.BaseHTTPRequestHandler):
    channel: Channel

    def do_GET(self) -> None:  # noqa: N802 - the name http.server calls
        parts = urlsplit(self.path)
        self.channel.requests[parts.path] += 1
        host = self.headers.get("Host", "").split(":")[0]
        if host == CDN and parts.path.startswith("/file/"):
            key = parts.path.removeprefix("/file/")
            data = None if key in self.channel.lost else self.channel.files.get(key)
            self._send(data, "video/mp4" if parts.path.endswith(".mp4") else "image/jpeg")
        elif host == "t.me" and parts.path == f"/s/{self.channel.name}":
            before = parse_qs(parts.query).get("before", [None])[0]
            page = self.channel.page(int(before) if before and before.isdigit() else None)
            self._send(page.encode(), "text/html; charset=utf-8")
        elif host == "t.me" and parts.path.startswith(f"/{self.channel.name}/") and parts.path[1:].count("/") == 1:
            number = parts.path.rsplit("/", 1)[1]
            single = self.channel.permalink_page(int(number)) if number.isdigit() else None
            self._send(single.encode() if single else None, "text/html; charset=utf-8")
        else:
            self._send(None, "")

    def _send(self, body: bytes | None, content_type: str) -> None:
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.channel.bytes_sent += len(body)

    def log_message(self, *args: object) -> None:
        pass


@contextmanager
def serve(channel: Channel) -> Iterator[Channel]:
    """Serve ``channel`` on a free loopback port until the block ends."""
    handler = type("Handler", (_Handler,), {"channel": channel})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    channel.port = server.server_address[1]
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield channel
    finally:
        server.shutdown()
        server.server_close()


HOSTS = {"t.me": "127.0.0.1", CDN: "127.0.0.1"}
