"""The stations the central office knows: one PEM public key per station, in a directory,
named `<station id>.pem`. Adding a station is dropping its key file there (the output of
the station's `appliance keys init`); the collector looks again when an unknown station
speaks, at most once per `rescan_s`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Final

from appliance.logs import get_logger
from appliance.register import KeyFileError, PublicKey

log = get_logger(__name__)

_STATION_ID: Final = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class StationKeys:
    def __init__(self, *, directory: Path, rescan_s: float = 10.0) -> None:
        self._directory = directory
        self._rescan_s = rescan_s
        self._keys: dict[str, PublicKey] = {}
        self._scanned_at: float | None = None
        self.scan()

    def __len__(self) -> int:
        return len(self._keys)

    def get(self, station: str) -> PublicKey | None:
        key = self._keys.get(station)
        if key is None and self._due():
            self.scan()
            key = self._keys.get(station)
        return key

    def scan(self) -> None:
        keys: dict[str, PublicKey] = {}
        for path in sorted(self._directory.glob("*.pem")):
            if not _STATION_ID.fullmatch(path.stem):
                log.warning("station_key_misnamed", path=str(path))
                continue
            try:
                keys[path.stem] = PublicKey.load(path)
            except KeyFileError as exc:
                log.warning("station_key_unreadable", path=str(path), error=str(exc))
        self._keys = keys
        self._scanned_at = time.monotonic()

    def _due(self) -> bool:
        return self._scanned_at is None or time.monotonic() - self._scanned_at >= self._rescan_s
