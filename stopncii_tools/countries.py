"""Countries: the one rule for reading the codes people type, and the names sentences use.

Below both the case database and the notices, so each can check a country the same way.
"""

from __future__ import annotations

import re

from ._errors import NoticeError

_ALIASES = {"UK": "GB", "EL": "GR"}  # common names that are not the ISO 3166 code

# The 249 ISO 3166-1 alpha-2 codes (from the iso-codes project's iso_3166-1.json). Embedded
# rather than pycountry (10 MB of translations) or iso3166: a list this stable is 1 KB of data.
ISO_3166_CODES: frozenset[str] = frozenset((
    "AD", "AE", "AF", "AG", "AI", "AL", "AM", "AO", "AQ", "AR", "AS", "AT", "AU", "AW", "AX", "AZ",
    "BA", "BB", "BD", "BE", "BF", "BG", "BH", "BI", "BJ", "BL", "BM", "BN", "BO", "BQ", "BR", "BS",
    "BT", "BV", "BW", "BY", "BZ", "CA", "CC", "CD", "CF", "CG", "CH", "CI", "CK", "CL", "CM", "CN",
    "CO", "CR", "CU", "CV", "CW", "CX", "CY", "CZ", "DE", "DJ", "DK", "DM", "DO", "DZ", "EC", "EE",
    "EG", "EH", "ER", "ES", "ET", "FI", "FJ", "FK", "FM", "FO", "FR", "GA", "GB", "GD", "GE", "GF",
    "GG", "GH", "GI", "GL", "GM", "GN", "GP", "GQ", "GR", "GS", "GT", "GU", "GW", "GY", "HK", "HM",
    "HN", "HR", "HT", "HU", "ID", "IE", "IL", "IM", "IN", "IO", "IQ", "IR", "IS", "IT", "JE", "JM",
    "JO", "JP", "KE", "KG", "KH", "KI", "KM", "KN", "KP", "KR", "KW", "KY", "KZ", "LA", "LB", "LC",
    "LI", "LK", "LR", "LS", "LT", "LU", "LV", "LY", "MA", "MC", "MD", "ME", "MF", "MG", "MH", "MK",
    "ML", "MM", "MN", "MO", "MP", "MQ", "MR", "MS", "MT", "MU", "MV", "MW", "MX", "MY", "MZ", "NA",
    "NC", "NE", "NF", "NG", "NI", "NL", "NO", "NP", "NR", "NU", "NZ", "OM", "PA", "PE", "PF", "PG",
    "PH", "PK", "PL", "PM", "PN", "PR", "PS", "PT", "PW", "PY", "QA", "RE", "RO", "RS", "RU", "RW",
    "SA", "SB", "SC", "SD", "SE", "SG", "SH", "SI", "SJ", "SK", "SL", "SM", "SN", "SO", "SR", "SS",
    "ST", "SV", "SX", "SY", "SZ", "TC", "TD", "TF", "TG", "TH", "TJ", "TK", "TL", "TM", "TN", "TO",
    "TR", "TT", "TV", "TW", "TZ", "UA", "UG", "UM", "US", "UY", "UZ", "VA", "VC", "VE", "VG", "VI",
    "VN", "VU", "WF", "WS", "YE", "YT", "ZA", "ZM", "ZW",
))  # fmt: skip

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
    if text not in ISO_3166_CODES:
        raise NoticeError(
            f"{code!r} is not the code of a country (ISO 3166); use the two letters of the country, "
            "like US, DE, GB or AU"
        )
    return text


def country_name(code: str) -> str:
    """A readable name for the countries this package names in sentences; else the code."""
    return _COUNTRY_NAMES.get(code, code)
