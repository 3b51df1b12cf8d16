"""Where the tool keeps its files: one place, platformdirs by default, overridable.

``STOPNCII_HOME`` moves everything (database and config) under one folder; ``STOPNCII_DB``
moves only the database. Folders are created private (0700), as they hold case data.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import platformdirs

APP_NAME = "stopncii-tools"


def _private_dir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True, mode=0o700)
    with contextlib.suppress(OSError):  # not ours to change (a shared folder chosen by the user)
        path.chmod(0o700)
    return path


def data_dir() -> Path:
    """Folder for the case database."""
    home = os.environ.get("STOPNCII_HOME")
    return _private_dir(Path(home) if home else Path(platformdirs.user_data_dir(APP_NAME)))


def config_dir() -> Path:
    """Folder for the person's own settings (platform directory overrides, mail settings)."""
    home = os.environ.get("STOPNCII_HOME")
    base = Path(home) / "config" if home else Path(platformdirs.user_config_dir(APP_NAME))
    return _private_dir(base)


def default_db_path() -> Path:
    """The case database: ``STOPNCII_DB`` if set, else ``cases.db`` in the data folder."""
    explicit = os.environ.get("STOPNCII_DB")
    if explicit:
        path = Path(explicit).expanduser()
        _private_dir(path.parent)
        return path
    return data_dir() / "cases.db"
