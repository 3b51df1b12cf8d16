"""Any platform, any country: the platform's own rules against non-consensual intimate images.

Most services forbid sharing intimate images without consent, and many also forbid synthetic
or AI-generated intimate images of real people. This framework needs no law and works
everywhere; it is the fallback when no law-specific route applies.
"""

from __future__ import annotations

from ._base import Framework, Situation, Statement


class PlatformPolicy(Framework):
    id = "platform_policy"
    title = "The platform's own rules on non-consensual intimate images"
    short_name = "platform rules report"
    citation = "the platform's terms of service and community rules"
    jurisdictions = frozenset()
    region = "any country"
    requester_fields = ("email",)
    fallback = True
    statements = (
        Statement("not_consensual", "the statement that the images were shared without consent"),
    )
    escalation = (
        "If the platform does not act, report again through another of its channels and keep "
        "the replies. A helpline can often reach platforms faster: for example the Revenge "
        "Porn Helpline (UK), the Cyber Civil Rights Initiative helpline (US, 844-878-2274) or "
        "eSafety (Australia). If a law in your country protects you, draft the notice again "
        "under that framework."
    )
    sources = (
        "https://www.esafety.gov.au/key-issues/image-based-abuse/take-action/report-to-social-media-website",
        "https://stopncii.org/",
    )

    def applies(self, situation: Situation) -> bool:
        return True  # every platform has rules, in every country

    def reason(self, situation: Situation) -> str:
        name = situation.platform_name
        return (
            f"This tool has no takedown law for {situation.country} yet, so the request relies on "
            f"{name}'s own rules against sharing intimate images without consent, which apply in "
            "every country."
        )
