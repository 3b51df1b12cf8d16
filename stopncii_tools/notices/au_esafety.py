"""Australia: an image-based abuse report to the eSafety Commissioner (Online Safety Act 2021).

The person reports to eSafety (and may report to the platform first, but does not have to).
eSafety can give the platform, or the person who posted it, a removal notice requiring removal
within 24 hours (sections 77 and 78). eSafety can act when the person shown lives in Australia,
the person who posted it lives in Australia, or it is hosted in Australia. Altered and faked
images are covered. The packet is what the person submits to eSafety, through the report
form that the platform directory lists for every platform.
"""

from __future__ import annotations

from ._base import Framework, Situation, Statement


class AUeSafety(Framework):
    id = "au_esafety"
    title = "Australian eSafety Commissioner image-based abuse report"
    short_name = "eSafety report"
    citation = "Online Safety Act 2021 (Cth), sections 32 and 77"
    jurisdictions = frozenset({"AU"})
    region = "Australia"
    requester_fields = ("email",)
    document = "report"
    statements = (
        Statement("not_consensual", "the statement that the images were shared without consent"),
        Statement("accurate_complete", "the statement that the report is accurate and complete"),
    )
    deadline_hours = 24
    reports_to_authority = True  # the directory's shared eSafety channel, never the platform's
    escalation_route = "Report to the eSafety Commissioner (esafety.gov.au, 'Report image-based abuse')"
    escalation = (
        "Report to eSafety with this packet (esafety.gov.au, 'Report image-based abuse'). eSafety "
        "can give the platform a removal notice; the platform must then remove it within 24 "
        "hours. You do not have to report to the platform first. If you are in danger, call 000; "
        "1800RESPECT (1800 737 732) can help with safety planning."
    )
    warnings = (
        ("eSafety can act when you live in Australia, the person who posted it lives in "
         "Australia, or the content is hosted in Australia."),
        ("eSafety does not need your real name, only a way to contact you; a new e-mail address "
         "used only for this is fine."),
    )
    sources = (
        "https://www.esafety.gov.au/key-topics/image-based-abuse/report-image-based-abuse",
        "https://www.esafety.gov.au/report/image-based-abuse/making-a-report-faq",
        "http://www.austlii.edu.au/au/legis/cth/consol_act/osa2021154/s77.html",
    )

    def reason(self, situation: Situation) -> str:
        name = situation.platform_name
        return (
            f"You are in Australia, so you can report to the eSafety Commissioner, who can order "
            f"{name} to remove the images within 24 hours. You may report to {name} first, but "
            "you do not have to."
        )
