"""DMCA copyright notice, 17 U.S.C. § 512(c)(3)(A): only for a picture the person took.

A notice has: (i) a physical or electronic signature of a person authorised to act for the
copyright owner; (ii) identification of the copyrighted work; (iii) identification of the
infringing material and information reasonably sufficient to locate it; (iv) contact
information (address, telephone, e-mail); (v) a good-faith statement that the use is not
authorised; (vi) a statement that the notice is accurate and, under penalty of perjury, that
the sender is authorised to act for the owner. It is never chosen automatically: the person
must own the copyright (e.g. a selfie they took), and the notice can expose their name.
"""

from __future__ import annotations

from ._base import Framework, Situation, Statement


class DMCA(Framework):
    id = "dmca"
    title = "DMCA copyright takedown notice (United States)"
    short_name = "DMCA notice"
    citation = "17 U.S.C. § 512(c)(3)(A) (Digital Millennium Copyright Act)"
    jurisdictions = frozenset()  # any platform with a US safe-harbour agent, from anywhere
    region = "any country"
    requester_fields = ("name", "email", "signature", "postal_address", "phone")
    notice_fields = ("original_work",)
    statements = (
        Statement(
            "dmca_not_authorised",
            "the good-faith statement that the use is not authorised by the copyright owner",
        ),
        Statement(
            "dmca_perjury",
            "the statement, under penalty of perjury, that the notice is accurate and that you "
            "own the copyright or may act for its owner",
        ),
    )
    escalation = (
        "If the platform does not remove it, there is no regulator to complain to under the "
        "DMCA; a lawyer can advise on a copyright claim. Other routes (the TAKE IT DOWN Act in "
        "the US, the platform's own rules everywhere) do not need you to own the copyright."
    )
    warnings = (
        ("Use this only if you hold the copyright: you took the photo or video yourself (for "
         "example a selfie). A picture someone else took belongs to them under copyright law."),
        ("The platform may forward this notice, with your name and contact details, to the "
         "person who uploaded the content, and may publish a copy in public databases such as "
         "Lumen (lumendatabase.org)."),
        ("Consider asking a representative (a lawyer or a support organisation) to send it for "
         "you, so that their details appear instead of yours."),
        ("Part of the notice is made under penalty of perjury: read it carefully before you "
         "confirm it."),
    )
    sources = (
        "https://www.copyright.gov/title17/92chap5.html#512",
        "https://lumendatabase.org/pages/lumen-notice-basics",
    )

    def applies(self, situation: Situation) -> bool:
        return False  # only the person can say they took the photo, and it can expose their name

    def reason_when_chosen(self, situation: Situation) -> str:
        # Never chosen for the person: they must read what it costs them.
        return " ".join((super().reason_when_chosen(situation), *self.warnings))
