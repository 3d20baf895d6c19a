"""The store's files on disk: atomic writes, durable unlinks, and the names it owns.

Application ids are caller strings and never appear in paths: each application's
directory has a random name kept in the index, and blob files are named by random ids.
"""

from __future__ import annotations

import contextlib
import os
import re
from typing import TYPE_CHECKING, Final

from ._errors import BiometricStoreError

if TYPE_CHECKING:
    from pathlib import Path

BLOB_ID: Final = re.compile(r"[0-9a-f]{32}")
DIR_NAME: Final = re.compile(r"[0-9a-f]{32}")
BLOB_FILE: Final = re.compile(r"([0-9a-f]{32})\.bin")
TEMP_FILE: Final = re.compile(r"\.[0-9a-f]{32}\.tmp")


def checked_dir_name(name: str) -> str:
    if not DIR_NAME.fullmatch(name):
        raise BiometricStoreError(f"index names an invalid blob directory {name!r}")
    return name


def write_atomically(path: Path, content: bytes) -> None:
    """Temp file, fsync, rename, fsync the directory; on failure no temp file remains."""
    tmp = path.with_name(f".{path.stem}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
    try:
        try:
            view = memoryview(content)
            while view:
                view = view[os.write(fd, view) :]
            os.fsync(fd)
        finally:
            os.close(fd)
        tmp.replace(path)
    except BaseException:
        remove_quietly(tmp)
        raise
    fsync_directory(path.parent)


def remove_tree(app_dir: Path, parent: Path) -> None:
    """Unlink an application's blob files and its directory (one level, no symlinks)."""
    if not app_dir.is_dir() or app_dir.is_symlink():
        return
    for item in app_dir.iterdir():
        item.unlink()
    app_dir.rmdir()
    fsync_directory(parent)


def remove_quietly(path: Path) -> None:
    with contextlib.suppress(OSError):
        if path.is_dir():
            path.rmdir()
        else:
            path.unlink()


def fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
