"""Deterministic pictures made with numpy and Pillow, for signal self-checks and samples."""

from __future__ import annotations

import io

import numpy as np
from PIL import Image, ImageDraw, ImageFilter


def scene(seed: int, size: tuple[int, int] = (640, 480)) -> Image.Image:
    """A photo-like RGB picture: smooth colour fields, shapes and texture, unique per seed."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    channels = []
    for _ in range(3):
        fx, fy = rng.uniform(0.5, 3.0, 2)
        phase = rng.uniform(0, 2 * np.pi, 2)
        wave = np.sin(xx / w * np.pi * fx + phase[0]) * np.cos(yy / h * np.pi * fy + phase[1])
        channels.append(127 + 90 * wave + rng.normal(0, 6, (h, w)))
    img = Image.fromarray(np.clip(np.stack(channels, -1), 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(6, 14))):
        x0, y0 = int(rng.integers(0, w - 20)), int(rng.integers(0, h - 20))
        x1 = x0 + int(rng.integers(20, max(21, w // 2)))
        y1 = y0 + int(rng.integers(20, max(21, h // 2)))
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        if rng.random() < 0.5:
            draw.ellipse((x0, y0, x1, y1), fill=colour)
        else:
            draw.rectangle((x0, y0, x1, y1), fill=colour)
    return img.filter(ImageFilter.GaussianBlur(1.2))


def encode(img: Image.Image, fmt: str = "JPEG", **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **options)
    return buf.getvalue()


def clip(pictures: list[Image.Image], *, rate: int = 5, crf: int = 23, size: tuple[int, int] | None = None) -> bytes:
    """An H.264 MP4 showing ``pictures`` one per frame (needs PyAV, the ``video`` extra).

    ``crf`` is the encoder's quality (higher: smaller, coarser); ``size`` scales every frame.
    """
    import av

    out = io.BytesIO()
    width, height = size or pictures[0].size
    with av.open(out, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=rate, options={"crf": str(crf)})
        stream.width, stream.height = width, height
        stream.pix_fmt = "yuv420p"
        for picture in pictures:
            shown = picture if picture.size == (width, height) else picture.resize((width, height))
            for packet in stream.encode(av.VideoFrame.from_image(shown)):
                container.mux(packet)
        for packet in stream.encode():
            container.mux(packet)
    return out.getvalue()
