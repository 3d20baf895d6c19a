"""Whether the register is there, this station's, sealed by its key, and intact.

A quick, read-only look on a worker thread, bounded in time: no gap in the whole seq
range, and the newest events' hashes, chain links and signatures. It never leaves a file
behind (the daemon must still be able to write its register) and never repairs anything:
proving the whole register is `appliance register verify`'s job.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import sqlite3
from pathlib import Path
from typing import Any, Final

from appliance._secrets import SecretFileError
from appliance._text import Text
from appliance.config import Config
from appliance.register import (
    GENESIS_HASH,
    PublicKey,
    RegisterError,
    closed_and_merged,
    event_from_row,
)

from ._limits import DoctorLimits
from ._report import Finding, Level

_REGISTER_COLUMNS: Final = (
    "seq, ts, mono_ns, boot_id, clock_synced, type, app, data, prev_hash, hash, sig"
)


async def _inspect_register(config: Config, limits: DoctorLimits) -> list[Finding]:
    path = config.register_path
    if not path.exists():
        return [
            Finding(
                check="register",
                level=Level.WARNING,
                text=Text(
                    "Belum ada register di {path}: stasiun belum pernah berjalan di sini",
                    "There is no register at {path}: the station has never run here",
                ).format(path=path),
                advice=Text(
                    "Layanan membuatnya saat pertama berjalan. Jika stasiun ini pernah "
                    "melayani, [paths] state_dir menunjuk tempat yang salah: betulkan, "
                    "jangan mulai register baru.",
                    "The service creates it when it first runs. If this station has served "
                    "before, [paths] state_dir points to the wrong place: fix it, never start "
                    "a new register.",
                ),
            )
        ]
    inspection = _RegisterInspection(
        path=path,
        station=config.station.id,
        station_key=_station_public_key(config),
        tail=limits.register_tail_events,
    )
    try:
        async with asyncio.timeout(limits.register_s):
            return [await asyncio.to_thread(inspection.run)]
    except TimeoutError:
        inspection.interrupt()  # or the worker thread keeps reading after we have answered
        return [
            Finding(
                check="register",
                level=Level.WARNING,
                text=Text(
                    "Pemeriksaan register tidak selesai dalam {seconds:g} detik",
                    "The register check did not finish within {seconds:g} s",
                ).format(seconds=limits.register_s),
                advice=Text(
                    "Jalankan pemeriksaan penuh (bisa beberapa menit): "
                    "`appliance register verify --config …`.",
                    "Run the full check (it may take minutes): "
                    "`appliance register verify --config …`.",
                ),
            )
        ]


def _station_public_key(config: Config) -> PublicKey | None:
    """The station key's public half: from the key, or from the .pub written beside it
    (readable by whoever runs the doctor). None if neither can be read: the key check
    reports why."""
    for path in (config.station_key_path, config.station_key_path.with_suffix(".pub")):
        try:
            return PublicKey.load(path)
        except (SecretFileError, RegisterError):
            continue
    return None


# SQLite's refusals to open at all (permissions, a read-only place), as opposed to a
# damaged file.
_NOT_PERMITTED: Final = ("SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_READONLY", "SQLITE_AUTH")
_REGISTER_DAMAGED_ADVICE: Final = Text(
    "Jangan hapus, salin ulang atau perbaiki register sendiri. Jalankan `appliance register "
    "verify --config …` untuk laporan lengkap, simpan salinan direktori data, dan hubungi "
    "kantor pusat.",
    "Do not delete, replace or repair the register yourself. Run `appliance register verify "
    "--config …` for the full report, keep a copy of the state directory, and call the central "
    "office.",
)


class _RegisterInspection:
    """A quick, read-only look at the register, on a worker thread.

    The whole seq range is checked for gaps (one count over the table); the last `tail`
    events are checked for their hash, their link to the one before and their signature
    by the key the register was created with, which must be the station key.
    """

    def __init__(
        self, *, path: Path, station: str, station_key: PublicKey | None, tail: int
    ) -> None:
        self._path = path
        self._station = station
        self._station_key = station_key
        self._tail = tail
        self._conn: sqlite3.Connection | None = None

    def interrupt(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(sqlite3.ProgrammingError):  # closed meanwhile: done
                self._conn.interrupt()

    def run(self) -> Finding:
        try:
            self._conn = sqlite3.connect(self._uri(), uri=True, check_same_thread=False)
            try:
                return self._inspect(self._conn)
            finally:
                self._conn.close()
        except sqlite3.Error as exc:
            if getattr(exc, "sqlite_errorname", "").startswith(_NOT_PERMITTED):
                return self._not_permitted(exc)
            return self._damaged(
                Text(
                    f"Register {self._path} tidak dapat dibaca: {exc}",
                    f"The register {self._path} cannot be read: {exc}",
                )
            )

    def _uri(self) -> str:
        """Read-only, and never leaving a file behind. A read-only connection to a WAL
        database creates its -wal and -shm files if they are missing, owned by whoever
        runs the doctor (root, under sudo), and the daemon could not write its register
        any more. With no daemon running and nothing pending in a WAL, `immutable` reads
        the database file alone and creates nothing."""
        mode = "immutable=1" if closed_and_merged(self._path) else "mode=ro"
        return f"{self._path.resolve().as_uri()}?{mode}"

    def _inspect(self, conn: sqlite3.Connection) -> Finding:
        meta = dict(conn.execute("SELECT key, value FROM meta").fetchall())
        owner = meta.get("station_id")
        if owner != self._station:
            return self._damaged(
                Text(
                    f"Register {self._path} milik stasiun {owner!r}, bukan {self._station!r}",
                    f"The register {self._path} belongs to station {owner!r}, "
                    f"not {self._station!r}",
                ),
                advice=Text(
                    "[station] id atau [paths] state_dir di konfigurasi salah; betulkan "
                    "konfigurasinya, jangan registernya.",
                    "[station] id or [paths] state_dir in the configuration is wrong; fix "
                    "the configuration, not the register.",
                ),
            )
        try:
            sealed_by = PublicKey.from_hex(meta.get("public_key", ""))
        except ValueError:
            return self._damaged(
                Text(
                    f"Kepala register {self._path} tidak memuat kunci publik yang sah",
                    f"The header of the register {self._path} holds no valid public key",
                )
            )
        if self._station_key is not None and sealed_by != self._station_key:
            return self._damaged(
                Text(
                    f"Register dibuat dengan kunci {sealed_by.fingerprint}, tetapi kunci "
                    f"stasiun adalah {self._station_key.fingerprint}",
                    f"The register was sealed by key {sealed_by.fingerprint}, but the station "
                    f"key is {self._station_key.fingerprint}",
                ),
                advice=Text(
                    "Kunci stasiun diganti atau salah berkas: pulihkan kunci yang asli dari "
                    "cadangan; jangan buat kunci baru.",
                    "The station key was replaced or the wrong file is in place: restore the "
                    "original key from its backup; never make a new one.",
                ),
            )
        count, head = conn.execute("SELECT count(*), coalesce(max(seq), 0) FROM events").fetchone()
        if count != head:
            return self._damaged(
                Text(
                    f"Register tidak lengkap: seq terakhir {head}, tetapi hanya {count} kejadian",
                    f"The register is incomplete: the last seq is {head}, but it holds only "
                    f"{count} events",
                )
            )
        first = max(1, head - self._tail)
        rows = conn.execute(
            f"SELECT {_REGISTER_COLUMNS} FROM events WHERE seq >= ? ORDER BY seq",  # noqa: S608 - constant columns
            (first,),
        ).fetchall()
        defect = self._tail_defect(rows, sealed_by)
        if defect is not None:
            return self._damaged(defect)
        return Finding(
            check="register",
            level=Level.OK,
            text=Text(
                f"Register utuh: {count} kejadian tanpa celah, seq terakhir {head}; "
                f"{len(rows)} kejadian terakhir diperiksa (hash, rantai, tanda tangan)",
                f"The register is intact: {count} events without a gap, last seq {head}; the "
                f"last {len(rows)} checked (hash, chain, signature)",
            ),
            details={"events": count, "head_seq": head, "checked_from_seq": first},
        )

    def _tail_defect(self, rows: list[tuple[Any, ...]], key: PublicKey) -> Text | None:
        previous_hash = None
        for row in rows:
            event = event_from_row(self._station, row)
            if event.seq == 1:
                previous_hash = GENESIS_HASH
            if previous_hash is not None and event.prev_hash != previous_hash:
                return Text(
                    f"Rantai register putus di seq {event.seq}",
                    f"The register's chain is broken at seq {event.seq}",
                )
            try:
                signed = key.verify(bytes.fromhex(event.hash), bytes.fromhex(event.sig))
            except ValueError:
                signed = False
            if hashlib.sha256(event.body()).hexdigest() != event.hash or not signed:
                return Text(
                    f"Kejadian seq {event.seq} diubah atau tanda tangannya tidak sah",
                    f"Event seq {event.seq} was altered or its signature is not valid",
                )
            previous_hash = event.hash
        return None

    def _not_permitted(self, error: sqlite3.Error) -> Finding:
        return Finding(
            check="register",
            level=Level.WARNING,
            text=Text(
                "Register {path} tidak dapat dibuka oleh pengguna ini: {error}",
                "The register {path} cannot be opened by this user: {error}",
            ).format(path=self._path, error=error),
            advice=Text(
                "Jalankan doctor sebagai pengguna layanan: `sudo -u ktpel appliance doctor "
                "--config …`.",
                "Run the doctor as the service's user: `sudo -u ktpel appliance doctor "
                "--config …`.",
            ),
            details={"path": str(self._path)},
        )

    def _damaged(self, text: Text, *, advice: Text = _REGISTER_DAMAGED_ADVICE) -> Finding:
        return Finding(
            check="register",
            level=Level.PROBLEM,
            text=text,
            advice=advice,
            details={"path": str(self._path)},
        )
