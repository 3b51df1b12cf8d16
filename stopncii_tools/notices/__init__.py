"""Takedown notices: the legal frameworks, what each one requires, and rendering.

Pure library: nothing here touches the network, the case database or the screen.

    choice = choose_framework("US", platform)            # which law, and why, in plain words
    notices = draft_notices("case-1", "US", requester, items, platform)
    for sid, text in render_statements(notices[0]): ...  # show, let the person confirm
    notice = notices[0].with_confirmed(ids)
    validate(notice)                                     # MissingFields lists what is missing
    render_text(notice); render_email(notice); render_json(notice); render_form_packet(notice)
    render_follow_up(facts)                              # the reminder and escalation packet

A legal framework is one module (a :class:`Framework` subclass) plus its templates, made known
with :func:`register`.

A notice has no field for a protected picture's file name, label, path or bytes.
"""

from __future__ import annotations

from ._base import FIELD_NAMES, Framework, Situation, Statement
from ._templates import available_languages
from .draft import (
    choose_framework,
    country_name,
    default_language,
    draft_notices,
    normalise_jurisdiction,
    validate,
)
from .follow_up import FollowUpFacts, FollowUpWords, ItemState, Reply, render_follow_up
from .frameworks import FRAMEWORKS, framework_ids, get_framework, register, unregister
from .model import (
    ASKS,
    DEFAULT_ASKS,
    MATCH_KINDS,
    ROLES,
    FrameworkChoice,
    Notice,
    NoticeItem,
    Requester,
)
from .render import (
    JSON_SCHEMA,
    UNVERIFIED_NOTE,
    FormPacket,
    render_email,
    render_form_packet,
    render_json,
    render_statements,
    render_text,
)

__all__ = [
    "ASKS",
    "DEFAULT_ASKS",
    "FIELD_NAMES",
    "FRAMEWORKS",
    "JSON_SCHEMA",
    "MATCH_KINDS",
    "ROLES",
    "UNVERIFIED_NOTE",
    "FollowUpFacts",
    "FollowUpWords",
    "FormPacket",
    "Framework",
    "FrameworkChoice",
    "ItemState",
    "Notice",
    "NoticeItem",
    "Reply",
    "Requester",
    "Situation",
    "Statement",
    "available_languages",
    "choose_framework",
    "country_name",
    "default_language",
    "draft_notices",
    "framework_ids",
    "get_framework",
    "normalise_jurisdiction",
    "register",
    "render_email",
    "render_follow_up",
    "render_form_packet",
    "render_json",
    "render_statements",
    "render_text",
    "unregister",
    "validate",
]
