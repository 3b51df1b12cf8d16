"""The notice state machine: every allowed move, once, with the step that makes it and its event.

A notice moves through these states, and only along these arrows::

    draft -> queued -> sending -> sent -> acknowledged | removed | refused
                 ^        |         \\-> withdrawn (also from draft, queued, acknowledged)
                 \\--------/ (failed: tried again later, or held until the person acts)

The store refuses any move not in :data:`MOVES` (and the database refuses any change of
status between two states that no move joins); the outbox, the tracker and the CLI ask this
table which states a step starts from instead of listing states themselves.
"""

from __future__ import annotations

from dataclasses import dataclass

from .._errors import StoreError

STATES = ("draft", "queued", "sending", "sent", "acknowledged", "removed", "refused", "withdrawn")


@dataclass(frozen=True)
class Move:
    """One allowed move: from ``source`` to ``target`` by ``step``, logged as ``event``."""

    source: str
    target: str
    step: str  # queue, claim, deliver, fail, mark_sent, reply, check or redraft
    event: str


def _replies(source: str, *targets: str) -> tuple[Move, ...]:
    return tuple(Move(source, target, "reply", f"notice.{target}") for target in targets)


MOVES: tuple[Move, ...] = (
    Move("draft", "queued", "queue", "notice.queued"),  # its bytes are frozen
    Move("queued", "sending", "claim", "notice.sending"),  # committed before each network call
    Move("sending", "sending", "claim", "notice.sending"),  # resuming a stopped run: same bytes, same key
    Move("sending", "sent", "deliver", "notice.sent"),
    Move("sending", "queued", "fail", "notice.send_failed"),
    Move("queued", "sent", "mark_sent", "notice.sent"),  # the person submitted it themselves
    *_replies("draft", "withdrawn"),
    *_replies("queued", "withdrawn"),
    *_replies("sent", "acknowledged", "removed", "refused", "withdrawn"),
    *_replies("acknowledged", "removed", "refused", "withdrawn"),
    *_replies("refused", "removed"),  # taken down after all (after a complaint or an appeal)
    Move("sent", "removed", "check", "notice.removed"),  # a removal check found it gone
    Move("acknowledged", "removed", "check", "notice.removed"),
    Move("refused", "removed", "check", "notice.removed"),
    Move("withdrawn", "draft", "redraft", "notice.redrafted"),  # the same request drafted again
)

# Out, and the platform has not settled it yet.
OPEN_AFTER_SENDING = ("sent", "acknowledged")
# On its way or out: the addresses it asks about are never requested again.
COMMITTED = ("queued", "sending", "sent", "acknowledged", "removed", "refused")
# States the program puts a notice in on its own; the person is never offered them.
_INTERNAL = ("draft", "queued", "sending")


def sources(step: str) -> tuple[str, ...]:
    """The states a notice can be in for ``step`` to apply (in the order of :data:`STATES`)."""
    found = {m.source for m in MOVES if m.step == step}
    return tuple(s for s in STATES if s in found)


def targets(step: str) -> tuple[str, ...]:
    """The states ``step`` can lead to (in the order of :data:`STATES`)."""
    found = {m.target for m in MOVES if m.step == step}
    return tuple(s for s in STATES if s in found)


def pairs() -> frozenset[tuple[str, str]]:
    """Every (source, target) some move joins: what the database lets a status change be."""
    return frozenset((m.source, m.target) for m in MOVES)


def allowed_move(source: str, target: str, step: str, item: str) -> Move:
    """The allowed move, or a StoreError naming ``item`` that says what can be done instead."""
    for candidate in MOVES:
        if (candidate.source, candidate.target, candidate.step) == (source, target, step):
            return candidate
    raise StoreError(_refusal(source, target), item=item)


def _refusal(source: str, target: str) -> str:
    if source == "sending":
        return ("a run stopped while sending it (or is sending it now); finish that first with "
                "'stopncii notice send --resume'")
    choices = " or ".join(_person_choices(source))
    if not choices:
        return f"it is {source} already; nothing more can change"
    if source == target:
        return f"it is {source} already; it can become {choices}"
    return f"it is {source}, so it cannot become {target}; it can become {choices}"


def _person_choices(source: str) -> tuple[str, ...]:
    """Where the person can take a notice from ``source`` (a draft is queued on the way)."""
    first = {m.target for m in MOVES if m.source == source}
    queued = {m.target for m in MOVES if m.source == source and m.step == "queue"}
    reachable = first | {m.target for m in MOVES if m.source in queued}
    return tuple(s for s in STATES if s in reachable and s not in _INTERNAL)
