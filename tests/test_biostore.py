"""The biometric store: encryption at rest, tamper detection, crypto-shredding, disk full."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import stat
import textwrap
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from appliance._secrets import SecretFileError
from appliance.biostore import (
    BiometricStore,
    BiometricStoreError,
    BlobCorrupt,
    BlobNotFound,
    BlobRef,
    MasterKeyError,
    Modality,
    PurgeTally,
    StoreFull,
    create_master_key,
    read_held,
)
from tests.support import run_on_small_filesystem

if TYPE_CHECKING:
    from collections.abc import Iterator

# Distinctive, so that finding it anywhere on disk can only mean a leak.
SECRET = b"FINGERPRINT-OF-SITI-AMINAH-3273014501900001|" * 64


@pytest.fixture
def key_path(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "biometric.key"
    create_master_key(path)
    return path


@pytest.fixture
def store_dir(tmp_path: Path) -> Path:
    return tmp_path / "biostore"


@pytest.fixture
def store(store_dir: Path, key_path: Path) -> Iterator[BiometricStore]:
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        yield opened


def blob_file(store_dir: Path, blob_id: str) -> Path:
    (found,) = store_dir.glob(f"blobs/*/{blob_id}.bin")
    return found


def all_stored_bytes(store_dir: Path) -> bytes:
    return b"".join(p.read_bytes() for p in sorted(store_dir.rglob("*")) if p.is_file())


def index_rows(store_dir: Path, sql: str, *args: object) -> list[tuple[object, ...]]:
    db = sqlite3.connect(store_dir / "index.sqlite3")
    try:
        return db.execute(sql, args).fetchall()
    finally:
        db.close()


def index_execute(store_dir: Path, sql: str, *args: object) -> None:
    db = sqlite3.connect(store_dir / "index.sqlite3")
    try:
        with db:
            db.execute(sql, args)
    finally:
        db.close()


# ----------------------------------------------------------------------------- basics


def test_round_trip_and_listing(store: BiometricStore) -> None:
    face = store.put("APP-1", Modality.FACE, b"\xff\xd8jpeg face")
    thumb = store.put("APP-1", Modality.FINGERPRINT_TEMPLATE, SECRET, label="right_thumb")
    other = store.put("APP-2", Modality.IRIS, b"iris", label="left")

    assert store.get(face.blob_id) == b"\xff\xd8jpeg face"
    assert store.get(thumb.blob_id) == SECRET
    assert store.get(other.blob_id) == b"iris"
    assert thumb == BlobRef(
        blob_id=thumb.blob_id,
        application_id="APP-1",
        modality=Modality.FINGERPRINT_TEMPLATE,
        label="right_thumb",
        size=len(SECRET),
        created_at=thumb.created_at,
    )
    assert thumb.created_at.tzinfo is not None
    assert store.list("APP-1") == [face, thumb]
    assert store.list("APP-2") == [other]
    assert store.list("APP-unknown") == []
    assert len({face.blob_id, thumb.blob_id, other.blob_id}) == 3


def test_ciphertext_does_not_contain_plaintext_and_is_fresh_each_time(
    store: BiometricStore, store_dir: Path
) -> None:
    first = store.put("APP-1", Modality.FINGERPRINT_IMAGE, SECRET)
    second = store.put("APP-1", Modality.FINGERPRINT_IMAGE, SECRET)

    on_disk = all_stored_bytes(store_dir)
    assert SECRET[:40] not in on_disk
    one = blob_file(store_dir, first.blob_id).read_bytes()
    two = blob_file(store_dir, second.blob_id).read_bytes()
    assert len(one) == 1 + 12 + len(SECRET) + 16
    assert one[0] == two[0] == 1
    assert one[1:13] != two[1:13]  # nonces
    assert one[13:] != two[13:]
    assert stat.S_IMODE(blob_file(store_dir, first.blob_id).stat().st_mode) == 0o600
    assert stat.S_IMODE((store_dir / "index.sqlite3").stat().st_mode) == 0o600


def test_each_application_has_its_own_wrapped_data_key(
    store: BiometricStore, store_dir: Path
) -> None:
    store.put("APP-1", Modality.FACE, b"a")
    store.put("APP-2", Modality.FACE, b"b")
    rows = index_rows(store_dir, "SELECT wrapped_key FROM applications")
    keys = [k for (k,) in rows if isinstance(k, bytes)]
    assert len(keys) == 2
    assert keys[0] != keys[1]
    assert all(len(k) == 1 + 12 + 32 + 16 for k in keys)


def test_index_is_durable_and_deletes_securely(store: BiometricStore) -> None:
    db = store._db
    assert db is not None
    assert db.execute("PRAGMA journal_mode").fetchone() == ("wal",)
    assert db.execute("PRAGMA synchronous").fetchone() == (2,)  # FULL
    assert db.execute("PRAGMA secure_delete").fetchone() == (1,)


def test_invalid_arguments_are_refused(store: BiometricStore) -> None:
    with pytest.raises(ValueError, match="application_id"):
        store.put("", Modality.FACE, b"x")
    with pytest.raises(ValueError, match="application_id"):
        store.put("APP\n1", Modality.FACE, b"x")
    with pytest.raises(ValueError, match="data"):
        store.put("APP-1", Modality.FACE, b"")
    with pytest.raises(ValueError, match="label"):
        store.put("APP-1", Modality.FACE, b"x", label="x" * 65)
    with pytest.raises(BlobNotFound):
        store.get("../../etc/passwd")
    with pytest.raises(BlobNotFound):
        store.get("0" * 32)


def test_closed_store_refuses_work(store_dir: Path, key_path: Path) -> None:
    opened = BiometricStore.open(store_dir, master_key_path=key_path)
    opened.close()
    opened.close()  # idempotent
    with pytest.raises(BiometricStoreError, match="closed"):
        opened.put("APP-1", Modality.FACE, b"x")


# ----------------------------------------------------------------------------- keys


def test_master_key_file_is_owner_only_and_never_overwritten(key_path: Path) -> None:
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    assert len(key_path.read_bytes()) == 32
    with pytest.raises(SecretFileError, match="already exists"):
        create_master_key(key_path)


def test_world_readable_master_key_is_refused(store_dir: Path, key_path: Path) -> None:
    key_path.chmod(0o644)
    with pytest.raises(SecretFileError, match="0644"):
        BiometricStore.open(store_dir, master_key_path=key_path)


def test_master_key_of_wrong_length_is_refused(store_dir: Path, tmp_path: Path) -> None:
    short = tmp_path / "short.key"
    short.write_bytes(b"x" * 16)
    short.chmod(0o600)
    with pytest.raises(MasterKeyError, match="16 bytes"):
        BiometricStore.open(store_dir, master_key_path=short)


def test_wrong_master_key_is_refused_at_open(
    store_dir: Path, key_path: Path, tmp_path: Path
) -> None:
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        opened.put("APP-1", Modality.FACE, SECRET)
    other_key = tmp_path / "other.key"
    create_master_key(other_key)
    with pytest.raises(MasterKeyError, match="not the master key"):
        BiometricStore.open(store_dir, master_key_path=other_key)
    # Nothing was wrapped under the wrong key meanwhile.
    assert len(index_rows(store_dir, "SELECT * FROM applications")) == 1


def test_data_key_wrapped_under_another_master_key_is_corrupt(
    store_dir: Path, key_path: Path, tmp_path: Path
) -> None:
    other_key = tmp_path / "other.key"
    create_master_key(other_key)
    other_dir = tmp_path / "other-station"
    with BiometricStore.open(other_dir, master_key_path=other_key) as other:
        other.put("APP-1", Modality.FACE, b"elsewhere")
    ((foreign_key,),) = index_rows(other_dir, "SELECT wrapped_key FROM applications")

    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        ref = opened.put("APP-1", Modality.FACE, SECRET)
    index_execute(store_dir, "UPDATE applications SET wrapped_key = ?", foreign_key)

    with (
        BiometricStore.open(store_dir, master_key_path=key_path) as opened,
        pytest.raises(BlobCorrupt, match="cannot be unwrapped") as caught,
    ):
        opened.get(ref.blob_id)
    assert ref.blob_id in str(caught.value)
    assert "cannot be trusted" in str(caught.value)


# ----------------------------------------------------------------------------- tampering


def test_flipping_any_byte_of_a_blob_file_is_detected(
    store: BiometricStore, store_dir: Path
) -> None:
    ref = store.put("APP-1", Modality.SIGNATURE, b"signature strokes", label="pad")
    path = blob_file(store_dir, ref.blob_id)
    original = path.read_bytes()
    for index in range(len(original)):
        damaged = bytearray(original)
        damaged[index] ^= 0x01
        path.write_bytes(bytes(damaged))
        with pytest.raises(BlobCorrupt) as caught:
            store.get(ref.blob_id)
        assert ref.blob_id in str(caught.value)
        assert "cannot be trusted" in str(caught.value)
        assert "signature strokes" not in str(caught.value)
    path.write_bytes(original)
    assert store.get(ref.blob_id) == b"signature strokes"


def test_blob_file_moved_onto_another_blob_is_detected(
    store: BiometricStore, store_dir: Path
) -> None:
    left = store.put("APP-1", Modality.IRIS, SECRET, label="left")
    right = store.put("APP-1", Modality.IRIS, SECRET, label="right")
    foreign = store.put("APP-2", Modality.IRIS, SECRET, label="left")

    shutil.copyfile(blob_file(store_dir, left.blob_id), blob_file(store_dir, right.blob_id))
    with pytest.raises(BlobCorrupt, match=right.blob_id):
        store.get(right.blob_id)

    # Across applications: another application's file under this application's blob name.
    shutil.copyfile(blob_file(store_dir, foreign.blob_id), blob_file(store_dir, left.blob_id))
    with pytest.raises(BlobCorrupt, match=left.blob_id):
        store.get(left.blob_id)
    assert store.get(foreign.blob_id) == SECRET


@pytest.mark.parametrize(
    ("column", "value"), [("label", "right"), ("modality", "fingerprint_image")]
)
def test_index_row_altered_is_detected(
    store: BiometricStore, store_dir: Path, column: str, value: str
) -> None:
    ref = store.put("APP-1", Modality.IRIS, SECRET, label="left")
    index_execute(store_dir, f"UPDATE blobs SET {column} = ?", value)
    with pytest.raises(BlobCorrupt, match="authentication failed"):
        store.get(ref.blob_id)


@pytest.mark.parametrize("keep", [0, 1, 13, 28, -1])
def test_truncated_blob_file_is_detected(store: BiometricStore, store_dir: Path, keep: int) -> None:
    ref = store.put("APP-1", Modality.FACE, SECRET)
    path = blob_file(store_dir, ref.blob_id)
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(BlobCorrupt, match=ref.blob_id):
        store.get(ref.blob_id)


def test_missing_blob_file_is_corrupt_not_absent(store: BiometricStore, store_dir: Path) -> None:
    ref = store.put("APP-1", Modality.FACE, SECRET)
    blob_file(store_dir, ref.blob_id).unlink()
    with pytest.raises(BlobCorrupt, match="missing"):
        store.get(ref.blob_id)


# ----------------------------------------------------------------------------- purge


def test_purge_shreds_key_and_files(store: BiometricStore, store_dir: Path) -> None:
    refs = [
        store.put("APP-1", Modality.FACE, SECRET),
        store.put("APP-1", Modality.FINGERPRINT_TEMPLATE, SECRET, label="right_index"),
    ]
    kept = store.put("APP-2", Modality.FACE, b"still here")
    ((wrapped,),) = index_rows(
        store_dir, "SELECT wrapped_key FROM applications WHERE application_id = 'APP-1'"
    )
    assert isinstance(wrapped, bytes)
    app_dir = blob_file(store_dir, refs[0].blob_id).parent

    assert store.purge("APP-1") == 2

    for ref in refs:
        with pytest.raises(BlobNotFound):
            store.get(ref.blob_id)
    assert not app_dir.exists()
    assert store.list("APP-1") == []
    assert index_rows(store_dir, "SELECT * FROM applications WHERE application_id = 'APP-1'") == []
    assert index_rows(store_dir, "SELECT * FROM blobs WHERE application_id = 'APP-1'") == []
    # Not only logically gone: no copy of the wrapped key in the database, WAL or free pages.
    assert wrapped not in all_stored_bytes(store_dir)
    assert store.get(kept.blob_id) == b"still here"

    assert store.purge("APP-1") == 0
    assert store.purge("APP-never") == 0


def test_purges_are_tallied_until_the_register_acknowledges_them(
    store: BiometricStore, store_dir: Path
) -> None:
    # The retention policy lives in appliance.retention (tests/test_retention.py); the
    # store counts what each purge destroyed, in the purge's own transaction.
    for app, blobs in (("APP-a", 2), ("APP-b", 3), ("APP-c", 1)):
        for i in range(blobs):
            store.put(app, Modality.FACE, bytes([i + 1]))
    assert store.application_ids() == ["APP-a", "APP-b", "APP-c"]
    assert store.purge_tally() == PurgeTally(0, 0, None)
    store.acknowledge_purges(through_seq=7, applications=0, blobs=0)
    assert store.purge("APP-a") + store.purge("APP-b") == 5
    assert store.purge("APP-a") == 0  # nothing left: not counted twice
    assert store.purge_tally() == PurgeTally(2, 5, 7)
    assert store.application_ids() == ["APP-c"]
    store.acknowledge_purges(through_seq=9, applications=2, blobs=5)
    assert store.purge_tally() == PurgeTally(0, 0, 9)
    store.acknowledge_purges(through_seq=9, applications=2, blobs=5)  # the same report again
    store.acknowledge_purges(through_seq=8, applications=1, blobs=1)  # an older one
    assert store.purge_tally() == PurgeTally(0, 0, 9)
    assert read_held(store_dir) == {"APP-c": 1}


def test_a_version_1_index_is_upgraded_in_place(store_dir: Path, key_path: Path) -> None:
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        ref = opened.put("APP-1", Modality.FACE, SECRET)
    index_execute(store_dir, "DROP TABLE purge_tally")
    index_execute(store_dir, "PRAGMA user_version = 1")
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        assert opened.get(ref.blob_id) == SECRET
        assert opened.purge_tally() == PurgeTally(0, 0, None)
    index_execute(store_dir, "PRAGMA user_version = 99")
    with pytest.raises(BiometricStoreError, match="newer than this software"):
        BiometricStore.open(store_dir, master_key_path=key_path)


def test_the_read_only_view_leaves_no_file_behind(store_dir: Path, key_path: Path) -> None:
    assert read_held(store_dir) == {}
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        opened.put("APP-1", Modality.FACE, b"1")
        opened.put("APP-1", Modality.IRIS, b"2")
        assert read_held(store_dir) == {"APP-1": 2}  # while the writer has it open
    before = sorted(p.name for p in store_dir.iterdir())
    assert read_held(store_dir) == {"APP-1": 2}
    assert sorted(p.name for p in store_dir.iterdir()) == before


def test_naive_clock_is_refused(store_dir: Path, key_path: Path) -> None:
    naive = datetime(2025, 3, 1, 8, 0)  # noqa: DTZ001
    with (
        BiometricStore.open(store_dir, master_key_path=key_path, now=lambda: naive) as opened,
        pytest.raises(ValueError, match="naive"),
    ):
        opened.put("APP-1", Modality.FACE, b"x")


# ----------------------------------------------------------------------------- durability


def test_reopen_keeps_everything(store_dir: Path, key_path: Path) -> None:
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        refs = [opened.put(f"APP-{i % 3}", Modality.FACE, SECRET + bytes([i])) for i in range(6)]
        opened.purge("APP-0")
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        for i, ref in enumerate(refs):
            if ref.application_id == "APP-0":
                with pytest.raises(BlobNotFound):
                    opened.get(ref.blob_id)
            else:
                assert opened.get(ref.blob_id) == SECRET + bytes([i])
        assert opened.list("APP-1") == [r for r in refs if r.application_id == "APP-1"]


def test_open_sweeps_what_a_power_cut_left(store_dir: Path, key_path: Path) -> None:
    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        ref = opened.put("APP-1", Modality.FACE, SECRET)
    app_dir = blob_file(store_dir, ref.blob_id).parent
    temp = app_dir / f".{'a' * 32}.tmp"  # written, not yet renamed
    orphan = app_dir / f"{'b' * 32}.bin"  # renamed, index row never committed
    purged_dir = store_dir / "blobs" / ("c" * 32)  # key deleted, files not yet unlinked
    for path in (temp, orphan, purged_dir / f"{'d' * 32}.bin"):
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(b"leftover")
    foreign = store_dir / "blobs" / "README"
    foreign.write_text("not ours")

    with BiometricStore.open(store_dir, master_key_path=key_path) as opened:
        assert opened.get(ref.blob_id) == SECRET
    assert not temp.exists()
    assert not orphan.exists()
    assert not purged_dir.exists()
    assert foreign.exists()


def test_threads_may_share_a_store(store: BiometricStore) -> None:
    def put(i: int) -> tuple[BlobRef, bytes]:
        data = os.urandom(64) + bytes([i])
        return store.put(f"APP-{i % 4}", Modality.FINGERPRINT_IMAGE, data), data

    with ThreadPoolExecutor(max_workers=4) as pool:
        results = list(pool.map(put, range(16)))
    assert all(store.get(ref.blob_id) == data for ref, data in results)
    assert sum(len(store.list(f"APP-{i}")) for i in range(4)) == 16


# ----------------------------------------------------------------------------- full


def test_index_full_rolls_back_and_leaves_no_file(store: BiometricStore, store_dir: Path) -> None:
    store.put("APP-0", Modality.FACE, b"before")
    db = store._db
    assert db is not None
    pages = db.execute("PRAGMA page_count").fetchone()[0]
    db.execute(f"PRAGMA max_page_count = {pages}")
    stored: list[BlobRef] = []
    with pytest.raises(StoreFull, match="index database is full"):  # noqa: PT012
        for i in range(200):
            ref = store.put(f"APP-{'x' * 100}-{i}", Modality.FACE, b"y", label="z" * 64)
            stored.append(ref)
    files = {p.stem for p in store_dir.glob("blobs/*/*")}
    rows = {str(r[0]) for r in index_rows(store_dir, "SELECT blob_id FROM blobs")}
    assert files == rows
    assert len(rows) == len(stored) + 1
    assert not list(store_dir.glob("blobs/*/.*.tmp"))
    db.execute(f"PRAGMA max_page_count = {pages * 100}")
    assert store.get(store.put("APP-after", Modality.FACE, b"ok").blob_id) == b"ok"


class FailingCommit:
    """Wraps the index connection; COMMIT fails as SQLite does when the disk fills up."""

    def __init__(self, db: sqlite3.Connection, failures: int = 1_000) -> None:
        self.db = db
        self.failures = failures

    def execute(self, sql: str, parameters: tuple[object, ...] = ()) -> sqlite3.Cursor:
        if sql == "COMMIT" and self.failures > 0:
            self.failures -= 1
            error = sqlite3.OperationalError("database or disk is full")
            error.sqlite_errorcode = sqlite3.SQLITE_FULL
            raise error
        return self.db.execute(sql, parameters)

    def __getattr__(self, name: str) -> object:
        return getattr(self.db, name)


@pytest.mark.parametrize("new_application", [True, False])
def test_commit_failing_after_the_file_was_written_leaves_nothing(
    store: BiometricStore, store_dir: Path, new_application: bool
) -> None:
    before = store.put("APP-0", Modality.FACE, b"before")
    real = store._db
    assert real is not None
    store._db = FailingCommit(real)  # type: ignore[assignment]
    with pytest.raises(StoreFull, match="index database is full"):
        store.put("APP-0" if not new_application else "APP-1", Modality.FACE, SECRET)
    store._db = real
    assert [p.stem for p in store_dir.glob("blobs/*/*")] == [before.blob_id]
    assert len(list((store_dir / "blobs").iterdir())) == 1
    assert index_rows(store_dir, "SELECT application_id FROM applications") == [("APP-0",)]
    assert [r.blob_id for r in store.list("APP-0")] == [before.blob_id]
    assert store.get(store.put("APP-1", Modality.FACE, b"ok").blob_id) == b"ok"


def test_purge_on_a_full_disk_unlinks_files_first_to_make_room(
    store: BiometricStore, store_dir: Path
) -> None:
    refs = [store.put("APP-1", Modality.FACE, SECRET), store.put("APP-1", Modality.IRIS, SECRET)]
    app_dir = blob_file(store_dir, refs[0].blob_id).parent
    real = store._db
    assert real is not None
    store._db = FailingCommit(real, failures=1)  # type: ignore[assignment]
    assert store.purge("APP-1") == 2
    store._db = real
    assert not app_dir.exists()
    assert index_rows(store_dir, "SELECT * FROM applications") == []
    with pytest.raises(BlobNotFound):
        store.get(refs[0].blob_id)


def test_purge_on_a_disk_too_full_for_the_index_reports_store_full(
    store: BiometricStore, store_dir: Path
) -> None:
    ref = store.put("APP-1", Modality.FACE, SECRET)
    real = store._db
    assert real is not None
    store._db = FailingCommit(real, failures=2)  # type: ignore[assignment]
    with pytest.raises(StoreFull):
        store.purge("APP-1")
    store._db = real
    # The key survived, the files did not: the blob is damaged, and purging again finishes.
    with pytest.raises(BlobCorrupt, match="missing"):
        store.get(ref.blob_id)
    assert store.purge("APP-1") == 1
    assert index_rows(store_dir, "SELECT * FROM applications") == []


DISK_FULL_CHILD = textwrap.dedent(
    """
    import json, os, sys
    from pathlib import Path
    from appliance.biostore import BiometricStore, Modality, StoreFull, create_master_key

    root, size = Path(sys.argv[1]), int(sys.argv[2])
    create_master_key(root / "master.key")
    directory = root / "store"
    store = BiometricStore.open(directory, master_key_path=root / "master.key")
    written = {}
    error = cause = None
    for i in range(1000):
        data = os.urandom(size)
        try:
            ref = store.put(f"APP-{i % 3}", Modality.FACE, data)
        except StoreFull as exc:
            error, cause = str(exc), type(exc.__cause__).__name__
            break
        written[ref.blob_id] = (ref.application_id, data)
    report = {
        "stored": len(written),
        "error": error,
        "cause": cause,
        "readback_ok": all(store.get(b) == d for b, (_, d) in written.items()),
        "listed": sum(len(store.list(f"APP-{i}")) for i in range(3)),
        "bin_files": sorted(p.stem for p in directory.glob("blobs/*/*.bin")),
        "temp_files": [str(p) for p in directory.rglob("*.tmp")],
    }
    expected_purge = sum(1 for a, _ in written.values() if a == "APP-0")
    report["purged_ok"] = store.purge("APP-0") == expected_purge
    after = store.put("APP-after", Modality.FACE, b"room again")
    store.close()
    with BiometricStore.open(directory, master_key_path=root / "master.key") as reopened:
        report["reopen_ok"] = reopened.get(after.blob_id) == b"room again" and all(
            reopened.get(b) == d for b, (a, d) in written.items() if a != "APP-0"
        )
    report["written"] = sorted(written)
    print(json.dumps(report))
    """
)


@pytest.mark.parametrize("blob_size", [40_000, 1_500])
def test_disk_full_leaves_nothing_half_written(tmp_path: Path, blob_size: int) -> None:
    # A real filesystem running out of space, wherever it happens to run out.
    child = tmp_path / "child.py"
    child.write_text(DISK_FULL_CHILD)
    mount = tmp_path / "tmpfs"
    result = run_on_small_filesystem(child, str(blob_size), mount=mount)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["error"] is not None, "the tmpfs never filled up"
    assert report["cause"] in {"OSError", "OperationalError", "DatabaseError"}
    assert report["stored"] >= 1
    assert report["readback_ok"]
    assert report["listed"] == report["stored"]
    assert report["bin_files"] == report["written"]
    assert report["temp_files"] == []
    assert report["purged_ok"]
    assert report["reopen_ok"]
