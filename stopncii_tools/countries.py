"""Country codes: the one rule for reading them, used by the case database and the notices."""

from __future__ import annotations

import re

from ._errors import NoticeError

_ALIASES = {"UK": "GB", "EL": "GR"}  # common names that are not the ISO 3166 code


def normalise_jurisdiction(code: str) -> str:
    """The two-letter ISO 3166 country code for ``code`` (``UK`` is read as ``GB``)."""
    text = code.strip().upper()
    text = _ALIASES.get(text, text)
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise NoticeError(
            f"{code!r} is not a country code; use the two letters of the country, like US, DE, GB or AU"
        )
    return text
