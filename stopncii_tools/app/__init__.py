"""The local web page: the whole flow (protect, find, review, take down, track) for a person who
never opens a terminal, over the same workflow functions the CLI calls.

It listens on 127.0.0.1 only, opens with a one-time token, and stores nothing the CLI would not.
"""

from .guard import Session
from .pages import AppSettings
from .server import create_app, serve

__all__ = ["AppSettings", "Session", "create_app", "serve"]
