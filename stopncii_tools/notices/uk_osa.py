"""United Kingdom: a report of illegal content under the Online Safety Act 2023.

Sharing, or threatening to share, a photograph or film that shows or appears to show a
person in an intimate state without their consent is an offence under section 66B of the
Sexual Offences Act 2003 in England and Wales (inserted by the Online Safety Act 2023; altered
images and deepfakes included; Scotland and Northern Ireland have their own offences), and a
priority offence under the Act. Regulated services must take illegal content
down swiftly once alerted (section 10(3)). Ofcom oversees the duties; the Revenge Porn
Helpline helps people get content removed.
"""

from __future__ import annotations

from ._base import Framework, Situation, Statement


class UKOnlineSafetyAct(Framework):
    id = "uk_osa"
    title = "UK Online Safety Act 2023 illegal-content report"
    short_name = "UK Online Safety Act report"
    citation = "Online Safety Act 2023, section 10; Sexual Offences Act 2003, section 66B"
    jurisdictions = frozenset({"GB"})
    region = "the UK"
    requester_fields = ("name", "email")
    document = "report"
    statements = (
        Statement("not_consensual", "the statement that the images were shared without consent"),
        Statement("accurate_complete", "the statement that the report is accurate and complete"),
    )
    escalation = (
        "If the platform does not act, the Revenge Porn Helpline (0345 6000 459, "
        "revengepornhelpline.org.uk, for adults in the UK) can report it to platforms with you. "
        "You can tell Ofcom, which oversees platforms' duties under the Online Safety Act: it "
        "does not decide individual complaints, but uses them to decide on enforcement. You can "
        "also report the offence to the police (101, or 999 in an emergency)."
    )
    sources = (
        "https://www.wiggin.co.uk/insight/online-safety-act-sharing-intimate-images-without-consent-to-be-made-a-priority-offence/",
        "https://5kbw.co.uk/resources/view-article/sexual-offences-in-the-online-safety-act-2023",
        "https://www.ofcom.org.uk/make-a-complaint/complain-about-a-video-sharing-platform-vsp/sites-and-apps/safety-measures/",
        "https://swgfl.org.uk/helplines/revenge-porn-helpline/",
    )

    def reason(self, situation: Situation) -> str:
        return (
            "You are in the UK, so the Online Safety Act 2023 applies: sharing intimate images "
            f"without consent is a priority offence, and {situation.platform_name} must take such "
            "content down swiftly once told about it."
        )
