"""The framework registry: every legal framework a notice can use, by id.

A framework is one module (a :class:`Framework` subclass) plus its templates; :func:`register`
makes it known to the drafter, the renderers, the tracker and the platform directory.
"""

from __future__ import annotations

from .._errors import NoticeError
from ._base import Framework, Situation
from .au_esafety import AUeSafety
from .dmca import DMCA
from .dsa_art16 import DSAArticle16
from .platform_policy import PlatformPolicy
from .take_it_down import TakeItDown
from .uk_osa import UKOnlineSafetyAct

FRAMEWORKS: dict[str, Framework] = {}


def register(framework: Framework) -> Framework:
    """Make ``framework`` available under its id; :class:`NoticeError` if the id is taken."""
    if framework.id in FRAMEWORKS:
        raise NoticeError(f"a legal framework called {framework.id!r} is already registered")
    FRAMEWORKS[framework.id] = framework
    return framework


def unregister(framework_id: str) -> None:
    """Forget the framework called ``framework_id`` (a plug-in that is switched off)."""
    get_framework(framework_id)
    del FRAMEWORKS[framework_id]


def framework_ids() -> tuple[str, ...]:
    """The ids of every registered framework, in registration order."""
    return tuple(FRAMEWORKS)


def get_framework(framework_id: str) -> Framework:
    """The framework called ``framework_id``, or :class:`NoticeError` naming the known ones."""
    try:
        return FRAMEWORKS[framework_id]
    except KeyError:
        raise NoticeError(
            f"{framework_id!r} is not a legal framework we know; choose one of "
            + ", ".join(FRAMEWORKS)
        ) from None


def applicable_framework(situation: Situation) -> Framework:
    """The framework to use when the person did not choose: a law that covers them, else the
    fallback (the platform's own rules), which applies everywhere."""
    ordered = sorted(FRAMEWORKS.values(), key=lambda f: f.fallback)  # stable: registration order
    for framework in ordered:
        if framework.applies(situation):
            return framework
    return fallback_framework()


def fallback_framework() -> Framework:
    """The framework every platform accepts: its own rules. Its channels are the fallback too."""
    return next(f for f in FRAMEWORKS.values() if f.fallback)


for _framework in (
    TakeItDown(),
    DSAArticle16(),
    DMCA(),
    UKOnlineSafetyAct(),
    AUeSafety(),
    PlatformPolicy(),
):
    register(_framework)
