"""Where the notice templates live and how they are loaded: one jinja2 environment per language.

``templates/<language>/`` holds ``common.j2`` (words shared by every notice) and
``follow_up.j2`` (the reminder and the escalation packet). ``frameworks/<id>.j2`` (words for
one legal framework) is read from wherever that framework keeps its templates
(:attr:`Framework.templates`), so a framework registered from outside brings its own. The
layouts, ``notice.txt.j2`` and ``notice.html.j2``, hold no words and live once in
``templates/_shared/``; a language folder may carry its own copy to change them. HTML
templates are autoescaped; text ones are not.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    PackageLoader,
    StrictUndefined,
    TemplateNotFound,
    select_autoescape,
)

from .._errors import NoticeError
from .frameworks import FRAMEWORKS

_FRAMEWORK_PREFIX = "frameworks/"


class _FrameworkLoader(BaseLoader):
    """Loads ``frameworks/<id>.j2`` from the registered framework's own template folder."""

    def __init__(self, language: str) -> None:
        self.language = language

    def get_source(self, environment: Environment, template: str) -> tuple[str, str, Callable[[], bool]]:
        framework_id = template.removeprefix(_FRAMEWORK_PREFIX).removesuffix(".j2")
        framework = FRAMEWORKS.get(framework_id) if template.startswith(_FRAMEWORK_PREFIX) else None
        if framework is None:
            raise TemplateNotFound(template)
        path = framework.template(self.language)
        if not path.is_file():
            raise TemplateNotFound(template)
        source = path.read_text(encoding="utf-8")
        # Up to date while the registry holds the same framework (a test may replace it).
        return source, str(path), lambda: FRAMEWORKS.get(framework_id) is framework


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
                _FrameworkLoader(language),
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
