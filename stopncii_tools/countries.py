"""Countries: the one rule for reading the codes people type, and the names sentences use.

Below both the case database and the notices, so each can check a country the same way.
"""

from __future__ import annotations

import re

from ._errors import NoticeError

_ALIASES = {"UK": "GB", "EL": "GR"}  # common names that are not the ISO 3166 code

_COUNTRY_NAMES = {
    "US": "the US", "GB": "the UK", "AU": "Australia", "AT": "Austria", "BE": "Belgium",
    "BG": "Bulgaria", "CY": "Cyprus", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
    "EE": "Estonia", "ES": "Spain", "FI": "Finland", "FR": "France", "GR": "Greece",
    "HR": "Croatia", "HU": "Hungary", "IE": "Ireland", "IT": "Italy", "LT": "Lithuania",
    "LU": "Luxembourg", "LV": "Latvia", "MT": "Malta", "NL": "the Netherlands", "PL": "Poland",
    "PT": "Portugal", "RO": "Romania", "SE": "Sweden", "SI": "Slovenia", "SK": "Slovakia",
}  # fmt: skip


def normalise_jurisdiction(code: str) -> str:
    """The two-letter ISO 3166 country code for ``code`` (``UK`` is read as ``GB``)."""
    text = code.strip().upper()
    text = _ALIASES.get(text, text)
    if not re.fullmatch(r"[A-Z]{2}", text):
        raise NoticeError(
            f"{code!r} is not a country code; use the two letters of the country, like US, DE, GB or AU"
        )
    return text


def country_name(code: str) -> str:
    """A readable name for the countries this package names in sentences; else the code."""
    return _COUNTRY_NAMES.get(code, code)
