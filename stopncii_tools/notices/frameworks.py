"""The framework registry: every legal framework a notice can use, by id."""

from __future__ import annotations

from .._errors import NoticeError
from ._base import Framework
from .au_esafety import AUeSafety
from .dmca import DMCA
from .dsa_art16 import DSAArticle16
from .platform_policy import PlatformPolicy
from .take_it_down import TakeItDown
from .uk_osa import UKOnlineSafetyAct

FRAMEWORKS: dict[str, Framework] = {
    f.id: f
    for f in (
        TakeItDown(),
        DSAArticle16(),
        DMCA(),
        UKOnlineSafetyAct(),
        AUeSafety(),
        PlatformPolicy(),
    )
}


def get_framework(framework_id: str) -> Framework:
    """The framework called ``framework_id``, or :class:`NoticeError` naming the known ones."""
    try:
        return FRAMEWORKS[framework_id]
    except KeyError:
        raise NoticeError(
            f"{framework_id!r} is not a legal framework we know; choose one of "
            + ", ".join(FRAMEWORKS)
        ) from None
