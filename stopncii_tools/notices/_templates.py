"""Where the notice templates live and how they are loaded: one jinja2 environment per language.

``templates/<language>/`` holds ``common.j2`` (words shared by every notice) and
``frameworks/<id>.j2`` (words for one legal framework). The layouts, ``notice.txt.j2`` and
``notice.html.j2``, hold no words and live once in ``templates/_shared/``; a language folder
may carry its own copy to change them. HTML templates are autoescaped; text ones are not.
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined, select_autoescape

from .._errors import NoticeError


def available_languages() -> tuple[str, ...]:
    """Languages with a template folder, e.g. ``("en", "ru")``."""
    root = files("stopncii_tools.notices").joinpath("templates")
    return tuple(sorted(p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith("_")))


@cache
def environment(language: str) -> Environment:
    """The jinja2 environment for ``language``, or :class:`NoticeError` naming the ones we have."""
    if language not in available_languages():
        raise NoticeError(
            f"notices can be written in {', '.join(available_languages())}; not in {language!r}"
        )
    return Environment(
        loader=ChoiceLoader(
            [
                PackageLoader("stopncii_tools.notices", f"templates/{language}"),
                PackageLoader("stopncii_tools.notices", "templates/_shared"),
            ]
        ),
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def macros(language: str, name: str, view: object) -> Any:
    """The macros of template ``name``, bound to ``view`` (seen by the macros as ``v``)."""
    return environment(language).get_template(name).make_module({"v": view})
