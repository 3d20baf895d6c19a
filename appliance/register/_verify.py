"""Prove the register intact: every event present, in order, unaltered, signed by the
station, and the derived tables exactly what the events imply."""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any, Final

from ._canonical import event_body
from ._errors import RegisterError
from ._events import GENESIS_HASH, validate_payload
from ._projections import apply_event
from ._schema import DERIVED_TABLES, DERIVED_TABLES_DDL, LAST_SEQ_IN_DERIVED_STATE
from ._signing import PublicKey
from ._sqlite import connect, sqlite_errors

_CHUNK: Final = 4096
# How far past a row's own position `verify` looks for the seq an event was written as,
# to tell a reordered or renumbered register from an edited one.
_DIAGNOSIS_WINDOW: Final = 1024


class DefectKind(StrEnum):
    EDITED = "edited"
    MISSING = "missing"
    REORDERED = "reordered"
    BAD_SIGNATURE = "bad_signature"
    RULE_VIOLATION = "rule_violation"
    DERIVED_MISMATCH = "derived_mismatch"
    CORRUPT = "corrupt"


@dataclass(frozen=True, slots=True)
class Defect:
    kind: DefectKind
    seq: int | None
    detail: str

    def __str__(self) -> str:
        where = f"seq {self.seq}" if self.seq is not None else "register"
        return f"{where}: {self.kind.value}: {self.detail}"


@dataclass(frozen=True, slots=True)
class VerifyReport:
    path: Path
    events: int
    head_seq: int
    defect: Defect | None

    @property
    def ok(self) -> bool:
        return self.defect is None


@dataclass(frozen=True, slots=True)
class _Row:
    seq: int
    ts: str
    mono_ns: int
    boot_id: str
    clock_synced: bool
    type: str
    app: str | None
    data: str
    prev_hash: str
    hash: str
    sig: str

    @classmethod
    def from_db(cls, row: tuple[Any, ...]) -> _Row:
        seq, ts, mono_ns, boot, synced, kind, app, data, prev_hash, digest, sig = row
        # clock_synced is stored as 0/1 and hashed as a JSON boolean.
        return cls(seq, ts, mono_ns, boot, bool(synced), kind, app, data, prev_hash, digest, sig)

    def digest(self, station: str, *, as_seq: int | None = None) -> str:
        body = event_body(
            station=station,
            seq=self.seq if as_seq is None else as_seq,
            ts=self.ts,
            mono_ns=self.mono_ns,
            boot_id=self.boot_id,
            clock_synced=self.clock_synced,
            type=self.type,
            app=self.app,
            data_json=self.data,
            prev_hash=self.prev_hash,
        )
        return hashlib.sha256(body).hexdigest()


def verify_register(
    path: Path, public_key: PublicKey, *, workers: int | None = None
) -> VerifyReport:
    """Check the whole register at `path` against the station's public key.

    Reads the file only. Stops at the first defect and names its seq and kind.
    """
    if not path.exists():
        raise RegisterError(f"{path}: no register here")
    conn = connect(path, read_only=True)
    try:
        with sqlite_errors(path):
            return _Verifier(conn, path, public_key, workers or os.cpu_count() or 1).run()
    finally:
        conn.close()


class _Verifier:
    def __init__(
        self, conn: sqlite3.Connection, path: Path, public_key: PublicKey, workers: int
    ) -> None:
        self._conn = conn
        self._path = path
        self._key = public_key
        self._workers = workers
        self._replay = sqlite3.connect(":memory:", isolation_level=None)
        for statement in DERIVED_TABLES_DDL:
            self._replay.execute(statement)
        self._cursor = self._replay.cursor()

    def run(self) -> VerifyReport:
        check = self._conn.execute("PRAGMA quick_check").fetchall()
        if check != [("ok",)]:
            detail = "; ".join(str(row[0]) for row in check[:3])
            return self._report(0, 0, Defect(DefectKind.CORRUPT, None, detail))
        meta = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        station = meta.get("station_id", "")
        count, last_seq, chain_defect, bad_sig = self._scan(station)
        defect = _first(chain_defect, bad_sig)
        if defect is None:
            defect = self._check_tail(last_seq)
        if defect is None:
            defect = self._compare_derived()
        return self._report(count, last_seq, defect)

    def _report(self, count: int, last_seq: int, defect: Defect | None) -> VerifyReport:
        return VerifyReport(path=self._path, events=count, head_seq=last_seq, defect=defect)

    def _scan(self, station: str) -> tuple[int, int, Defect | None, Defect | None]:
        expected_seq, prev_hash, count = 1, GENESIS_HASH, 0
        pending: list[Future[int | None]] = []
        chain_defect: Defect | None = None
        with ThreadPoolExecutor(self._workers, thread_name_prefix="verify") as pool:
            for chunk in self._chunks():
                signed: list[tuple[int, str, str]] = []
                for row in chunk:
                    chain_defect = self._check_row(row, station, expected_seq, prev_hash)
                    if chain_defect is None:
                        chain_defect = self._replay_row(row)
                    if chain_defect is not None:
                        break
                    signed.append((row.seq, row.hash, row.sig))
                    expected_seq, prev_hash = row.seq + 1, row.hash
                    count += 1
                pending.append(pool.submit(_first_bad_signature, self._key, signed))
                if chain_defect is not None:
                    break
            bad_seqs = [seq for seq in (f.result() for f in pending) if seq is not None]
        bad_sig = None
        if bad_seqs:
            seq = min(bad_seqs)
            bad_sig = Defect(
                DefectKind.BAD_SIGNATURE,
                seq,
                "the signature is not the station key's (re-signed with another key, "
                "or the content was changed and re-hashed)",
            )
            if chain_defect is not None and chain_defect.seq == seq + 1:
                # The next event still links to the original hash: the content was
                # rewritten and re-hashed, which only the signature could catch.
                bad_sig = Defect(
                    DefectKind.EDITED, seq, "content changed and re-hashed; signature fails"
                )
        return count, expected_seq - 1, chain_defect, bad_sig

    def _chunks(self) -> Iterator[list[_Row]]:
        cur = self._conn.execute(
            "SELECT seq, ts, mono_ns, boot_id, clock_synced, type, app, data, prev_hash, hash, sig "
            "FROM events ORDER BY seq"
        )
        while batch := cur.fetchmany(_CHUNK):
            yield [_Row.from_db(row) for row in batch]

    def _check_row(
        self, row: _Row, station: str, expected_seq: int, prev_hash: str
    ) -> Defect | None:
        if row.seq != expected_seq:
            return Defect(
                DefectKind.MISSING,
                expected_seq,
                f"seq {expected_seq} is not in the register (the next present is {row.seq})",
            )
        own = row.digest(station)
        if own == row.hash and row.prev_hash == prev_hash:
            return None
        return self._diagnose(row, station, own)

    def _diagnose(self, row: _Row, station: str, own: str) -> Defect:
        predecessor = self._seq_with_hash(row.prev_hash)
        written_as = self._written_as(row, station, own, predecessor)
        if written_as is not None and written_as != row.seq:
            if predecessor is not None or written_as < row.seq:
                return Defect(
                    DefectKind.REORDERED,
                    row.seq,
                    f"holds the event written as seq {written_as}",
                )
            return Defect(
                DefectKind.MISSING,
                row.seq,
                f"holds the event written as seq {written_as}: "
                f"seq {row.seq}..{written_as - 1} were removed and the rest renumbered",
            )
        if own != row.hash:
            return Defect(DefectKind.EDITED, row.seq, "the content does not match its hash")
        if predecessor is None:
            return Defect(
                DefectKind.MISSING, row.seq, "the event it follows is not in the register"
            )
        return Defect(
            DefectKind.REORDERED,
            row.seq,
            f"follows seq {predecessor} instead of seq {row.seq - 1}",
        )

    def _written_as(self, row: _Row, station: str, own: str, predecessor: int | None) -> int | None:
        if own == row.hash:
            return row.seq
        candidates = [] if predecessor is None else [predecessor + 1]
        low = max(1, row.seq - _DIAGNOSIS_WINDOW)
        candidates += range(low, row.seq + _DIAGNOSIS_WINDOW)
        for seq in candidates:
            if row.digest(station, as_seq=seq) == row.hash:
                return seq
        return None

    def _seq_with_hash(self, digest: str) -> int | None:
        if digest == GENESIS_HASH:
            return 0
        row = self._conn.execute("SELECT seq FROM events WHERE hash = ?", (digest,)).fetchone()
        return None if row is None else int(row[0])

    def _replay_row(self, row: _Row) -> Defect | None:
        try:
            payload = validate_payload(row.type, json.loads(row.data), row.app)
            # No savepoint: the first refused event ends the replay.
            apply_event(self._cursor, row.seq, row.app, payload)
        except ValueError as exc:  # InvalidEvent, or a payload that is not JSON at all
            return Defect(DefectKind.RULE_VIOLATION, row.seq, str(exc))
        return None

    def _check_tail(self, last_seq: int) -> Defect | None:
        # Every event after the first changes a derived table, which records its seq:
        # state that mentions a seq beyond the last event means the newest were removed.
        mentioned = self._conn.execute(LAST_SEQ_IN_DERIVED_STATE).fetchone()[0] or 0
        if mentioned > last_seq:
            return Defect(
                DefectKind.MISSING,
                last_seq + 1,
                f"the register ends at seq {last_seq}, but its derived state records "
                f"seq {mentioned}: the newest events were removed",
            )
        return None

    def _compare_derived(self) -> Defect | None:
        for table, key in DERIVED_TABLES:
            sql = f"SELECT * FROM {table} ORDER BY {key}"  # noqa: S608 - names are constants
            stored = self._conn.execute(sql).fetchall()
            replayed = self._replay.execute(sql).fetchall()
            if stored != replayed:
                first = next(
                    (s for s, r in zip(stored, replayed, strict=False) if s != r),
                    None,
                )
                detail = (
                    f"table {table} differs from what the events imply"
                    f" (first difference: {first[0] if first else 'row count'})"
                )
                return Defect(DefectKind.DERIVED_MISMATCH, None, detail)
        return None


def _first_bad_signature(key: PublicKey, rows: Sequence[tuple[int, str, str]]) -> int | None:
    for seq, digest, sig in rows:
        try:
            ok = key.verify(bytes.fromhex(digest), bytes.fromhex(sig))
        except ValueError:
            ok = False
        if not ok:
            return seq
    return None


# At one seq, the most basic defect explains the others: a row out of place also fails
# its signature, and an altered payload may also break a rule of the derived state.
_PRECEDENCE: Final = (
    DefectKind.MISSING,
    DefectKind.REORDERED,
    DefectKind.EDITED,
    DefectKind.BAD_SIGNATURE,
    DefectKind.RULE_VIOLATION,
)


def _first(*defects: Defect | None) -> Defect | None:
    found = [d for d in defects if d is not None]
    if not found:
        return None
    return min(found, key=lambda d: (d.seq or 0, _PRECEDENCE.index(d.kind)))
