"""Invariant 1: protected pictures never leave the device.

Two proofs: the code that reads protected media imports no network library (checked on the
source, through every module it imports), and hashing works with networking switched off.
"""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from stopncii_tools.signals._examples import encode, scene

PACKAGE = Path(__file__).resolve().parents[1] / "stopncii_tools"
NETWORK_MODULES = {"httpx", "httpcore", "socket", "ssl", "http.client", "http.server", "urllib.request",
                   "urllib3", "requests", "aiohttp", "smtplib", "ftplib", "webbrowser", "asyncio", "keyring"}
# every module that opens, decodes or hashes a protected picture or video
READS_PROTECTED_MEDIA = ["media", "signals", "signals.hashing", "media.files", "media.video", "signals.regions", "signals.vpdq",
                         "workflow.protect"]


def _module_file(dotted: str) -> Path | None:
    base = PACKAGE.joinpath(*dotted.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.exists():
            return candidate
    return None


def _imports(path: Path, dotted: str) -> tuple[set[str], set[str]]:
    """(outside top-level modules, inside package modules) imported anywhere in the file."""
    tree = ast.parse(path.read_text())
    package_parts = dotted.split(".") if path.name == "__init__.py" else dotted.split(".")[:-1]
    outside, inside = set(), set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith("stopncii_tools."):
                    inside.add(alias.name.removeprefix("stopncii_tools."))
                else:
                    outside.add(alias.name)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package_parts[: len(package_parts) - node.level + 1]
                module = ".".join(base + ([node.module] if node.module else []))
                inside.add(module)
                for alias in node.names:
                    inside.add(f"{module}.{alias.name}".strip("."))
            elif node.module and node.module.startswith("stopncii_tools"):
                inside.add(node.module.removeprefix("stopncii_tools").strip("."))
            elif node.module:
                outside.update(f"{node.module}.{alias.name}" for alias in node.names)
    return outside, {m for m in inside if m and _module_file(m)}


def _network_imports(start: list[str]) -> dict[str, list[str]]:
    """Network imports anywhere in ``start`` or the package modules it imports, by module."""
    seen: dict[str, set[str]] = {}
    todo = [m for m in start if _module_file(m)]
    while todo:
        dotted = todo.pop()
        if dotted in seen:
            continue
        path = _module_file(dotted)
        assert path is not None
        outside, inside = _imports(path, dotted)
        seen[dotted] = outside
        todo.extend(inside - seen.keys())

    def network(name: str) -> bool:  # urllib.parse only splits strings; urllib.request downloads
        return any(name == m or name.startswith(m + ".") for m in NETWORK_MODULES)

    return {m: sorted(filter(network, outside)) for m, outside in seen.items() if any(map(network, outside))}


def test_code_that_reads_protected_media_imports_no_network_library() -> None:
    assert _network_imports(READS_PROTECTED_MEDIA) == {}


def test_the_import_check_does_see_network_code() -> None:
    found = _network_imports(["workflow.scan"])  # scanning downloads: it must show up
    assert "httpx" in found.get("web.fetch", [])


def test_hash_command_works_with_networking_switched_off(tmp_path: Path) -> None:
    if not shutil.which("unshare") or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("cannot make a network-less namespace here (unshare -n)")
    (tmp_path / "photo.jpg").write_bytes(encode(scene(31)))
    result = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "stopncii_tools", "hash", "--json", str(tmp_path)],
        capture_output=True, text=True, timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert '"pdq"' in result.stdout and "Nothing left this computer" in result.stderr


def test_hashing_never_opens_a_socket(tmp_path: Path) -> None:
    (tmp_path / "photo.jpg").write_bytes(encode(scene(32)))
    guard = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise SystemExit('network used')\n"
        "socket.socket.connect = refuse\nsocket.create_connection = refuse\nsocket.getaddrinfo = refuse\n"
        "from stopncii_tools.cli import main\n"
        f"sys.argv = ['stopncii', 'hash', '--jobs', '1', '--json', {str(tmp_path)!r}]\nmain()\n"
    )
    result = subprocess.run([sys.executable, "-c", guard], capture_output=True, text=True, timeout=120,
                            env={**os.environ})
    assert result.returncode == 0, result.stderr
    assert '"sha256"' in result.stdout
