"""Secret files (signing keys, the biometric master key): created 0600, never overwritten,
refused when anyone but the owner can read them."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from appliance.errors import ApplianceError

PRIVATE_DIRECTORY_MODE = 0o700


class SecretFileError(ApplianceError):
    """A secret file is missing, already present, or too widely readable."""


def write_secret_file(path: Path, content: bytes) -> None:
    """Create `path` with mode 0600 holding `content`; refuse if it exists.

    The file is written to a temporary name, synced and linked into place, so a power
    cut leaves either no key or the whole key, never half of one.
    """
    private_directory(path.parent)
    if path.exists():
        raise SecretFileError(f"{path}: already exists; refusing to overwrite it")
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.fchmod(fd, 0o600)  # the umask may have removed bits, never added: be explicit
        os.write(fd, content)
        os.fsync(fd)
    finally:
        os.close(fd)
    try:
        # link() fails if the target appeared meanwhile, which rename() would clobber.
        os.link(tmp, path)
    except FileExistsError:
        raise SecretFileError(f"{path}: already exists; refusing to overwrite it") from None
    finally:
        tmp.unlink()
    _sync_directory(path.parent)


def private_directory(path: Path, *, tighten: bool = False) -> None:
    """Create `path` and any missing parent owner-only (0700), whatever the umask.

    With `tighten`, an existing `path` that group or others may enter is made 0700 too:
    for the station's own directories (its state and its keys), never for a directory
    an administrator chose to share.
    """
    missing = []
    directory = path
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    for new in reversed(missing):
        new.mkdir(mode=PRIVATE_DIRECTORY_MODE, exist_ok=True)
        new.chmod(PRIVATE_DIRECTORY_MODE)  # the umask may have removed bits: be explicit
    if tighten and stat.S_IMODE(path.stat().st_mode) & 0o077:
        path.chmod(PRIVATE_DIRECTORY_MODE)


def read_secret_file(path: Path) -> bytes:
    """Read a secret file, refusing one that group or others may read or write."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except FileNotFoundError:
        raise SecretFileError(
            f"{path}: no such file (create it with `appliance keys init`)"
        ) from None
    except OSError as exc:
        raise SecretFileError(f"{path}: cannot open: {exc.strerror}") from None
    try:
        mode = stat.S_IMODE(os.fstat(fd).st_mode)
        if mode & 0o077:
            raise SecretFileError(
                f"{path}: mode is {mode:04o}, must be 0600 (run `chmod 600 {path}`)"
            )
        with os.fdopen(fd, "rb", closefd=False) as stream:
            return stream.read()
    finally:
        os.close(fd)


def _sync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
