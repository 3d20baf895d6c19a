"""What the uplink must remember across restarts: the last seq the central office
acknowledged, and the birth/death sequence number of its MQTT sessions.

A small JSON file, replaced atomically (write, fsync, rename, fsync the directory), so
a power cut leaves the old or the new state, never half of one. Losing it costs only a
re-send (the centre absorbs duplicates), never an event.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from appliance.logs import get_logger

from ._bounds import is_count

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class UplinkProgress:
    acked: int = 0
    """Every event up to this seq is stored centrally."""
    bd_seq: int = 0
    """Birth/death sequence number of the last MQTT session: the Last Will carries it, so
    the centre can tell a stale will of an old session from the current one's."""


def load_progress(path: Path) -> UplinkProgress:
    try:
        document = json.loads(path.read_bytes())
        progress = UplinkProgress(acked=int(document["acked"]), bd_seq=int(document["bd_seq"]))
    except FileNotFoundError:
        return UplinkProgress()
    except (OSError, ValueError, KeyError, TypeError) as exc:
        # Starting again from 0 only re-sends what the centre already holds.
        log.warning("uplink_progress_unreadable", path=str(path), error=str(exc))
        return UplinkProgress()
    if not (is_count(progress.acked) and is_count(progress.bd_seq + 1)):
        log.warning("uplink_progress_unreadable", path=str(path), error="numbers out of range")
        return UplinkProgress()
    return progress


def save_progress(path: Path, progress: UplinkProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = json.dumps({"acked": progress.acked, "bd_seq": progress.bd_seq}).encode()
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    directory = os.open(path.parent, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)
