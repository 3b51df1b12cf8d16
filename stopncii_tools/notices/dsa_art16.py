"""EU Digital Services Act, Article 16: a notice of illegal content to a hosting service.

Article 16(2) of Regulation (EU) 2022/2065: (a) a sufficiently substantiated explanation of why
the content is illegal; (b) the exact electronic location (exact URLs); (c) the notifier's name
and e-mail address (not required for child sexual abuse offences, Directive 2011/93/EU arts 3-7);
(d) a statement of bona fide belief that the notice is accurate and complete. The offence relied
on is the non-consensual sharing of intimate or manipulated material, Article 5 of Directive
(EU) 2024/1385. Redress: internal complaint (Art. 20), out-of-court settlement (Art. 21), and a
complaint to the national Digital Services Coordinator (Art. 53).
"""

from __future__ import annotations

from ._base import Framework, Situation, Statement

EU_MEMBERS = frozenset(
    {
        "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU",
        "IE", "IT", "LT", "LU", "LV", "MT", "NL", "PL", "PT", "RO", "SE", "SI", "SK",
    }
)  # fmt: skip


class DSAArticle16(Framework):
    id = "dsa_art16"
    title = "EU Digital Services Act, Article 16 notice"
    short_name = "DSA Article 16"
    citation = "Article 16 of Regulation (EU) 2022/2065 (Digital Services Act)"
    jurisdictions = EU_MEMBERS
    region = "the EU"
    requester_fields = ("name", "email")
    statements = (
        Statement("not_consensual", "the statement that the images were shared without consent"),
        Statement("accurate_complete", "the statement that the notice is accurate and complete"),
    )
    escalation_route = "Internal complaint to the platform (EU Digital Services Act, Article 20)"
    escalation = (
        "If the platform refuses or does not act, use its internal complaint system: the DSA "
        "(Article 20) gives you at least six months after its decision to complain, free of "
        "charge. If that fails, a certified out-of-court dispute settlement body can review the "
        "decision (Article 21). You can also complain to the Digital Services Coordinator of the "
        "EU country where you live (Article 53), and report the crime to the police."
    )
    warnings = (
        ("The platform must explain its decision to the person who posted the content "
         "(DSA Article 17) and may say that it acted on a notice. If you worry that they could "
         "learn your name, ask a representative (a lawyer or a support organisation) to send "
         "the notice for you."),
    )
    sources = (
        "https://www.eu-digital-services-act.com/Digital_Services_Act_Article_16.html",
        "https://eur-lex.europa.eu/eli/dir/2024/1385",
        "https://dsa-library.com/article/21",
        "https://dsa-library.com/article/53",
    )

    def reason(self, situation: Situation) -> str:
        name = situation.platform_name
        return (
            f"You are in {situation.country}, in the EU, and {name} offers its service in the "
            f"EU, so the Digital Services Act applies: an Article 16 notice obliges {name} to act "
            "on it promptly and to tell you its decision and how to challenge it."
        )
