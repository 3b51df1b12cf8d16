"""Delivery by hand: the person pastes the packet into a platform's web form.

Nothing is "sent" until the person tells us the ticket or reference the form gave them;
only then does the channel return a :class:`Delivery`.
"""

from __future__ import annotations

import webbrowser
from typing import ClassVar

from .. import clock as clocks
from .._errors import InvalidURL, SendError
from ..web.urls import parse_web_address
from . import Delivery, ManualPacket, Outgoing

_MAX_TICKET = 200


class ManualChannel:
    """A notice the person submits through a web form; the ticket is the proof."""

    kind: ClassVar[str] = "manual"

    def __init__(self, *, clock: clocks.Clock = clocks.now) -> None:
        self._clock = clock

    def send(self, outgoing: Outgoing) -> Delivery:
        """A :class:`Delivery` when the packet already carries the ticket; else say what to do."""
        packet = outgoing.payload
        if not isinstance(packet, ManualPacket):
            raise SendError("a web-form notice needs the form address and text", item=outgoing.notice_id)
        if packet.ticket is None:
            raise SendError(
                f"this notice is sent by hand: open {packet.form_url}, paste the prepared text, "
                "then record the ticket or reference number the form gives you",
                item=outgoing.notice_id,
            )
        return self.mark_sent(outgoing.notice_id, packet.ticket, packet.form_url)

    def mark_sent(self, notice_id: str, ticket: str, form_url: str | None = None) -> Delivery:
        """Record that the person submitted the form and got ``ticket`` back."""
        cleaned = " ".join(ticket.split())
        if not cleaned or len(cleaned) > _MAX_TICKET:
            raise SendError(
                f"the ticket or reference should be 1 to {_MAX_TICKET} characters "
                "(copy it from the platform's confirmation page or e-mail)",
                item=notice_id,
            )
        evidence = {"ticket": cleaned} | ({"form_url": form_url} if form_url else {})
        return Delivery(notice_id, self.kind, self._clock(), evidence)


def open_form(url: str, *, launch: bool = False) -> str:
    """Return ``url`` to show the person; open it in their browser only when ``launch`` is set."""
    address = url.strip()
    try:
        parse_web_address(address)
    except InvalidURL as exc:
        raise SendError(f"the form address {url!r} is not a web address: {exc.reason}") from None
    if launch:
        webbrowser.open(address, new=2)
    return address
