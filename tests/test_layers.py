"""Data flows downward: the import graph keeps the layers (DESIGN.md, "Module map").

Every import counts: top-level, inside functions (lazy) and under ``if TYPE_CHECKING:``.
"""

from __future__ import annotations

import ast
import importlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path

import pytest

PACKAGE = "stopncii_tools"
PACKAGE_DIR = Path(__file__).resolve().parents[1] / PACKAGE


@dataclass(frozen=True)
class Import:
    module: str  # the importing module
    target: str  # the absolute name imported
    line: int


@dataclass(frozen=True)
class Layer:
    """Modules under any of ``applies_to`` (except ``exempt``) must not import under ``forbidden``."""

    name: str
    applies_to: tuple[str, ...]
    forbidden: tuple[str, ...]
    exempt: tuple[str, ...] = ()


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def _module_name(path: Path, package_dir: Path, package: str) -> tuple[str, bool]:
    """The dotted name of ``path`` and whether it is a package's ``__init__``."""
    parts = [package, *path.relative_to(package_dir).with_suffix("").parts]
    is_package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if is_package else parts), is_package


def _resolve(node: ast.ImportFrom, module: str, is_package: bool) -> str:
    if node.level == 0:
        return node.module or ""
    base = module.split(".") if is_package else module.split(".")[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def read_imports(package_dir: Path, package: str) -> list[Import]:
    """Every import in every module under ``package_dir``, relative ones made absolute."""
    paths = sorted(package_dir.rglob("*.py"))
    modules = {_module_name(path, package_dir, package)[0] for path in paths}
    found: set[Import] = set()
    for path in paths:
        module, is_package = _module_name(path, package_dir, package)
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                found.update(Import(module, alias.name, node.lineno) for alias in node.names)
            elif isinstance(node, ast.ImportFrom):
                source = _resolve(node, module, is_package)
                # "from . import cli" imports the submodule cli; "from .cli import main" a name in cli
                found.update(
                    Import(module, f"{source}.{alias.name}" if f"{source}.{alias.name}" in modules else source,
                           node.lineno)
                    for alias in node.names)
    return sorted(found, key=lambda i: (i.module, i.line, i.target))


def violations(imports: list[Import], layer: Layer) -> list[str]:
    return sorted({
        f"{i.module} imports {i.target} (line {i.line})"
        for i in imports
        if _within(i.module, layer.applies_to) and not _within(i.module, layer.exempt)
        and _within(i.target, layer.forbidden)
    })


def _p(*names: str) -> tuple[str, ...]:
    return tuple(f"{PACKAGE}.{name}" for name in names)


CLI_ON_TOP = Layer("nothing below the CLI imports it", (PACKAGE,), _p("cli"), exempt=_p("cli", "__main__"))
APP_ON_TOP = Layer("nothing below the web page imports it", (PACKAGE,), _p("app"), exempt=_p("app", "cli"))
APP_BESIDE_CLI = Layer("the web page does not use the CLI", _p("app"), _p("cli"))
WORKFLOW_FOR_FACES = Layer("only the CLI and the web page use the workflow", (PACKAGE,), _p("workflow"),
                           exempt=_p("cli", "app", "workflow"))
STORE_KEEPS_ROWS = Layer("the store imports no domain code", _p("store"),
                         _p("signals", "notices", "matching", "media", "web", "submit", "workflow", "cli"))
MEDIA_AND_SIGNALS_OFFLINE = Layer("media and signals never fetch, send or store", _p("media", "signals"),
                                  _p("web", "submit", "store", "workflow"))


@pytest.fixture(scope="module")
def project_imports() -> list[Import]:
    return read_imports(PACKAGE_DIR, PACKAGE)


@pytest.mark.parametrize("layer", [
    CLI_ON_TOP,
    APP_ON_TOP,
    APP_BESIDE_CLI,
    WORKFLOW_FOR_FACES,
    STORE_KEEPS_ROWS,
    MEDIA_AND_SIGNALS_OFFLINE,
], ids=lambda layer: layer.name)
def test_layer_is_kept(project_imports: list[Import], layer: Layer) -> None:
    assert violations(project_imports, layer) == [], layer.name


def test_the_reader_sees_the_whole_package(project_imports: list[Import]) -> None:
    importers = {i.module for i in project_imports}
    assert {f"{PACKAGE}.cli", f"{PACKAGE}.store", f"{PACKAGE}.workflow.scan", f"{PACKAGE}.__main__"} <= importers
    assert f"{PACKAGE}.cli" in {i.target for i in project_imports if i.module == f"{PACKAGE}.__main__"}


def test_a_forbidden_import_anywhere_in_a_module_is_reported(tmp_path: Path) -> None:
    root = tmp_path / PACKAGE
    files = {
        "__init__.py": "",
        "__main__.py": "from .cli import main\n",
        "cli/__init__.py": "from ..workflow import scan\n",
        "workflow/__init__.py": "",
        "workflow/scan.py": "def run():\n    from ..store import rows\n",
        "store/__init__.py": "from . import rows\n",
        "store/rows.py": (
            "from typing import TYPE_CHECKING\n"
            "if TYPE_CHECKING:\n"
            "    from stopncii_tools.signals.pdq import PDQ\n"
            "def helper():\n"
            "    from ..cli import main\n"
        ),
        "signals/__init__.py": "from .. import web\n",
        "web/__init__.py": "",
    }
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)

    imports = read_imports(root, PACKAGE)

    assert violations(imports, CLI_ON_TOP) == [f"{PACKAGE}.store.rows imports {PACKAGE}.cli (line 5)"]
    assert violations(imports, WORKFLOW_FOR_FACES) == []  # the CLI and __main__ may use it
    assert violations(imports, STORE_KEEPS_ROWS) == [f"{PACKAGE}.store.rows imports {PACKAGE}.cli (line 5)",
                                                     f"{PACKAGE}.store.rows imports {PACKAGE}.signals.pdq (line 3)"]
    assert violations(imports, MEDIA_AND_SIGNALS_OFFLINE) == [f"{PACKAGE}.signals imports {PACKAGE}.web (line 1)"]
    (root / "store/__init__.py").write_text("from ..workflow.scan import run\n")
    assert violations(read_imports(root, PACKAGE), WORKFLOW_FOR_FACES) == [
        f"{PACKAGE}.store imports {PACKAGE}.workflow.scan (line 1)"]


@pytest.mark.parametrize("package", [PACKAGE, *_p("media", "signals", "matching", "web", "store", "notices", "submit",
                                                  "workflow", "app")])
def test_each_package_names_its_public_api(package: str) -> None:
    module = importlib.import_module(package)
    public = module.__all__
    assert len(public) == len(set(public)), f"{package}.__all__ names something twice"
    missing = [name for name in public if not hasattr(module, name)
               and importlib.util.find_spec(f"{package}.{name}") is None]
    assert missing == [], f"{package}.__all__ names what it does not have"
