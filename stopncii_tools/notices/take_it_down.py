"""TAKE IT DOWN Act (United States): notice and removal of intimate images, including AI fakes.

47 U.S.C. § 223a (Public Law 119-12, section 3), in force for platforms since 19 May 2026.
A valid request has, in writing: (i) a physical or electronic signature of the person shown
or of someone authorised to act for them; (ii) identification of each image and information
reasonably sufficient to locate it; (iii) a brief good-faith statement that it is not
consensual, with relevant information; (iv) contact information. The platform must remove it
as soon as possible and within 48 hours, and make reasonable efforts to remove known
identical copies. "Digital forgeries" (AI-made or altered images) are covered. The FTC enforces.
"""

from __future__ import annotations

from ._base import Framework, Situation, Statement

# The 50 states and DC share "US"; the territories have their own ISO codes.
_US = frozenset({"US", "PR", "GU", "VI", "AS", "MP", "UM"})


class TakeItDown(Framework):
    id = "take_it_down"
    title = "TAKE IT DOWN Act (United States)"
    short_name = "TAKE IT DOWN Act"
    citation = "47 U.S.C. § 223a (TAKE IT DOWN Act, Public Law 119-12, section 3)"
    jurisdictions = _US
    region = "the US"
    requester_fields = ("name", "email", "signature")
    statements = (
        Statement(
            "good_faith_not_consensual",
            "the good-faith statement that the images are not consensual",
        ),
    )
    deadline_hours = 48
    escalation_route = (
        "Complaint to the US Federal Trade Commission (TakeItDown.ftc.gov, or ftc.gov/complaint)"
    )
    escalation = (
        "If the platform has not removed it 48 hours after your request, you can report the "
        "platform to the US Federal Trade Commission, which enforces the TAKE IT DOWN Act "
        "(TakeItDown.ftc.gov, or ftc.gov/complaint). Keep this notice and any reply: they show "
        "when you asked. You can also report the person who posted it to local police or the FBI "
        "(tips.fbi.gov)."
    )
    sources = (
        "https://www.congress.gov/119/plaws/publ12/PLAW-119publ12.htm",
        "https://uscode.house.gov/view.xhtml?req=granuleid%3AUSC-prelim-title47-section223a",
    )

    def reason(self, situation: Situation) -> str:
        name = situation.platform_name
        return (
            f"You are in the US and {name} is an online service used in the US, so the TAKE IT "
            f"DOWN Act applies: {name} must remove the images within 48 hours of a valid request."
        )
