"""Shared fixtures. Reference data in ../shared/testdata is optional: tests using it skip."""

from __future__ import annotations

from pathlib import Path

import pytest

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "testdata"


@pytest.fixture(scope="session")
def shared_testdata() -> Path:
    """``../shared/testdata`` beside the project, or skip the test when it is not there."""
    if not SHARED.is_dir():
        pytest.skip("../shared/testdata is not present beside the project")
    return SHARED


@pytest.fixture(autouse=True)
def _private_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own data folder, so no test touches the person's real case database."""
    home = tmp_path_factory.mktemp("stopncii-home")
    monkeypatch.setenv("STOPNCII_HOME", str(home))
    monkeypatch.delenv("STOPNCII_DB", raising=False)
