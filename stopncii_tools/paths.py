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


def private_dir(path: Path) -> Path:
    """Make ``path`` and any missing parents, each private (0700) whatever the umask. Folders
    that already exist are left as they are: a folder the person chose is not ours to change."""
    missing: list[Path] = []
    for folder in (path, *path.parents):
        if folder.exists():
            break
        missing.append(folder)
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):  # another process made it meanwhile
            folder.mkdir(mode=0o700)
            folder.chmod(0o700)  # mkdir's mode is cut by the umask; chmod's is not
    if not path.is_dir():
        path.mkdir()  # raises the reason (a file in the way)
    return path


def _app_dir(path: Path) -> Path:
    """The tool's own folder: private even if it was made before (by an older version)."""
    private_dir(path)
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    return path


def data_dir() -> Path:
    """Folder for the case database."""
    home = os.environ.get("STOPNCII_HOME")
    return private_dir(Path(home)) if home else _app_dir(Path(platformdirs.user_data_dir(APP_NAME)))


def config_dir() -> Path:
    """Folder for the person's own settings (platform directory overrides, mail settings)."""
    home = os.environ.get("STOPNCII_HOME")
    return private_dir(Path(home) / "config") if home else _app_dir(Path(platformdirs.user_config_dir(APP_NAME)))


def cache_dir() -> Path:
    """Folder for what is made again from the case database when missing (a scan's region index)."""
    home = os.environ.get("STOPNCII_HOME")
    return private_dir(Path(home) / "cache") if home else _app_dir(Path(platformdirs.user_cache_dir(APP_NAME)))


def default_db_path() -> Path:
    """The case database: ``STOPNCII_DB`` if set, else ``cases.db`` in the data folder."""
    explicit = os.environ.get("STOPNCII_DB")
    if explicit:
        path = Path(explicit).expanduser()
        private_dir(path.parent)
        return path
    return data_dir() / "cases.db"
