"""What the uplink must remember across restarts: the last seq the central office
acknowledged, the birth/death sequence number of its MQTT sessions, and the ids of the
latest `cmd/doctor` requests it accepted (so a replay after a reboot is refused too).

A small JSON file, replaced atomically (write, fsync, rename, fsync the directory), so
a power cut leaves the old or the new state, never half of one. Losing it costs only a
re-send (the centre absorbs duplicates), never an event.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from appliance.logs import get_logger

from ._bounds import is_count

log = get_logger(__name__)

REQUEST_ID: Final = re.compile(r"[0-9a-f]{32}")
"""A `cmd/doctor` request id: 128 random bits in lower-case hex (a uuid4's `.hex`)."""


@dataclass(frozen=True, slots=True)
class UplinkProgress:
    acked: int = 0
    """Every event up to this seq is stored centrally."""
    bd_seq: int = 0
    """Birth/death sequence number of the last MQTT session: the Last Will carries it, so
    the centre can tell a stale will of an old session from the current one's."""
    doctor_requests: tuple[str, ...] = ()
    """The latest `cmd/doctor` request ids accepted, oldest first (bounded by the uplink)."""


def load_progress(path: Path) -> UplinkProgress:
    try:
        document = json.loads(path.read_bytes())
        progress = UplinkProgress(
            acked=int(document["acked"]),
            bd_seq=int(document["bd_seq"]),
            doctor_requests=_request_ids(path, document.get("doctor_requests", [])),
        )
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


def _request_ids(path: Path, value: Any) -> tuple[str, ...]:
    # Written before doctor requests existed, or damaged: only the replay memory is lost,
    # never the acknowledged seq (a request older than the max age is refused anyway).
    if isinstance(value, list) and all(
        isinstance(v, str) and REQUEST_ID.fullmatch(v) for v in value
    ):
        return tuple(value)
    log.warning("uplink_doctor_requests_unreadable", path=str(path))
    return ()


def save_progress(path: Path, progress: UplinkProgress) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    data = json.dumps(
        {
            "acked": progress.acked,
            "bd_seq": progress.bd_seq,
            "doctor_requests": list(progress.doctor_requests),
        }
    ).encode()
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
