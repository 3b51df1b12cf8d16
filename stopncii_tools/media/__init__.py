"""Opening pictures and videos: the only place that decodes, with time and memory limits per item."""

from __future__ import annotations

from .pictures import DEFAULT_MAX_PIXELS, Picture, kind_of, open_picture, sniff

__all__ = ["DEFAULT_MAX_PIXELS", "Picture", "kind_of", "open_picture", "sniff"]
