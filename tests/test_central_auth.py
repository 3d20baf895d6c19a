"""The dashboard's users and sessions, in the central office's database (SQLite and a
throwaway PostgreSQL): argon2id hashes, the lockout shared by every process, sessions
that expire by the injectable clock and close with their user; the [dashboard] config's
TLS rule; and `appliance central user` (the password from stdin, never an argument)."""

from __future__ import annotations

import asyncio
import io
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from argon2 import Type, extract_parameters

from appliance.central import (
    DashboardRole,
    Database,
    DuplicateUser,
    InvalidUser,
    Sessions,
    Users,
    WeakPassword,
    load_central_config,
)
from appliance.cli._main import run as cli_run
from appliance.clock import ManualClock
from appliance.config import ConfigError
from appliance.staff import AccountLocked, AuthenticationFailed
from sim.postgres import PrivatePostgres
from tests.central_dashboard_rig import CHEAP
from tests.support import REPO

PASSWORD = "kata-sandi-rahasia"  # noqa: S105 - a test's


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:{tmp_path}/dashboard.sqlite3"
    server: PrivatePostgres = request.getfixturevalue("postgres")
    return server.fresh_database(f"auth_{uuid.uuid4().hex[:12]}")


@pytest.fixture
def database(database_url: str) -> Iterator[Database]:
    opened = Database.open(database_url)
    yield opened
    opened.close()


def _users(database: Database, clock: ManualClock, **options: object) -> Users:
    return Users(database=database, clock=clock, hasher=CHEAP, **options)  # type: ignore[arg-type]


def test_a_password_is_kept_as_an_argon2id_hash_only(
    database: Database, clock: ManualClock
) -> None:
    users = _users(database, clock)
    users.add(
        name="sari",
        display_name="Sari",
        role=DashboardRole.PETUGAS,
        scope="35.08",
        password=PASSWORD,
    )
    with database.read() as cur:
        cur.execute("SELECT password_hash, scope FROM dashboard_users")
        stored, scope = cur.fetchone()
    assert PASSWORD not in stored
    assert extract_parameters(stored).type is Type.ID
    assert scope == "3508"
    # The default hasher is argon2-cffi's RFC 9106 choice: 64 MiB, not a test's cost.
    default = Users(database=database, clock=clock)
    default.set_password("sari", "another-password-1")
    with database.read() as cur:
        cur.execute("SELECT password_hash FROM dashboard_users")
        assert extract_parameters(cur.fetchone()[0]).memory_cost == 65536
    users.close()
    default.close()


def test_bad_users_are_refused_and_nothing_is_stored(
    database: Database, clock: ManualClock
) -> None:
    users = _users(database, clock)
    good = {"name": "sari", "display_name": "Sari", "role": DashboardRole.PETUGAS, "scope": "3508"}
    with pytest.raises(WeakPassword):
        users.add(**good, password="pendek")  # type: ignore[arg-type]  # noqa: S106
    with pytest.raises(WeakPassword):
        users.add(**good, password="12345678901234")  # type: ignore[arg-type]  # noqa: S106
    with pytest.raises(InvalidUser) as bad_scope:
        users.add(**{**good, "scope": "99.99"}, password=PASSWORD)  # type: ignore[arg-type]
    assert bad_scope.value.field == "scope"
    with pytest.raises(InvalidUser):
        users.add(**{**good, "name": "Sari Bad"}, password=PASSWORD)  # type: ignore[arg-type]
    assert users.list() == []
    users.add(**good, password=PASSWORD)  # type: ignore[arg-type]
    with pytest.raises(DuplicateUser):
        users.add(**good, password=PASSWORD)  # type: ignore[arg-type]
    assert [user.name for user in users.list()] == ["sari"]
    users.close()


async def test_wrong_unknown_and_disabled_fail_alike(
    database: Database, clock: ManualClock
) -> None:
    users = _users(database, clock)
    users.add(
        name="sari",
        display_name="Sari",
        role=DashboardRole.PETUGAS,
        scope="3508",
        password=PASSWORD,
    )
    assert (await users.authenticate("sari", PASSWORD)).scope == "3508"
    failures = []
    for name, password in (("sari", "wrong-password"), ("nobody", PASSWORD)):
        with pytest.raises(AuthenticationFailed) as failed:
            await users.authenticate(name, password)
        failures.append((failed.value.code, failed.value.text))
    users.set_disabled("sari", disabled=True)
    with pytest.raises(AuthenticationFailed) as disabled:
        await users.authenticate("sari", PASSWORD)
    failures.append((disabled.value.code, disabled.value.text))
    assert len(set(failures)) == 1
    users.set_disabled("sari", disabled=False)
    assert (await users.authenticate("sari", PASSWORD)).name == "sari"
    users.close()


async def test_a_name_is_locked_after_repeated_failures_in_every_process(
    database: Database, database_url: str, clock: ManualClock
) -> None:
    users = _users(database, clock, max_failures=3, lockout=timedelta(minutes=15))
    users.add(
        name="sari",
        display_name="Sari",
        role=DashboardRole.PETUGAS,
        scope="3508",
        password=PASSWORD,
    )
    # A second process on the same database shares the count and the lock.
    other_db = Database.open(database_url)
    other = _users(other_db, clock, max_failures=3, lockout=timedelta(minutes=15))
    for attempt in range(3):
        with pytest.raises(AuthenticationFailed):
            await (users if attempt % 2 else other).authenticate("sari", "wrong-password")
    with pytest.raises(AccountLocked) as locked:
        await users.authenticate("sari", PASSWORD)
    assert locked.value.code == "account_locked"
    assert "15 menit" in locked.value.text.id
    with pytest.raises(AccountLocked):
        await other.authenticate("sari", PASSWORD)
    # Concurrent tries share the limit: counted before the verification.
    clock.advance(15 * 60 + 1)
    results = await asyncio.gather(
        *(users.authenticate("sari", "wrong-password") for _ in range(5)), return_exceptions=True
    )
    assert sum(isinstance(result, AccountLocked) for result in results) >= 2
    clock.advance(15 * 60 + 1)
    assert (await other.authenticate("sari", PASSWORD)).name == "sari"
    # A name nobody has is counted too: the lockout does not tell who exists.
    for _ in range(3):
        with pytest.raises(AuthenticationFailed):
            await users.authenticate("nobody", "wrong-password")
    with pytest.raises(AccountLocked):
        await users.authenticate("nobody", "wrong-password")
    users.close()
    other.close()
    other_db.close()


def test_sessions_expire_by_the_clock_and_close_with_their_user(
    database: Database, database_url: str, clock: ManualClock
) -> None:
    users = _users(database, clock)
    sari = users.add(
        name="sari",
        display_name="Sari",
        role=DashboardRole.PETUGAS,
        scope="3508",
        password=PASSWORD,
    )
    sessions = Sessions(database=database, clock=clock, idle=timedelta(minutes=30))
    token, session = sessions.open(sari)
    assert len(session.csrf) == 43
    # Another process knows the session: it is in the database, by the token's digest.
    other_db = Database.open(database_url)
    other = Sessions(database=other_db, clock=clock, idle=timedelta(minutes=30))
    assert other.resolve(token) == session
    with database.read() as cur:
        cur.execute("SELECT token_digest FROM dashboard_sessions")
        assert token not in cur.fetchone()[0]
    clock.advance(29 * 60)
    assert sessions.resolve(token, touch=False) is not None  # a live refresh: not activity
    clock.advance(2 * 60)
    assert sessions.resolve(token) is None  # 31 minutes since the user's last request
    assert other.resolve(token) is None

    token, _ = sessions.open(sari)
    for _ in range(3):
        clock.advance(20 * 60)
        assert sessions.resolve(token) is not None  # each request restarts the idle time
    users.set_disabled("sari", disabled=True)
    assert sessions.resolve(token) is None
    users.set_disabled("sari", disabled=False)
    token, _ = sessions.open(sari)
    users.set_password("sari", "a-new-password-2")
    assert sessions.resolve(token) is None
    assert sessions.count("sari") == 0
    users.close()
    other_db.close()


def _central_toml(tmp_path: Path, dashboard: str) -> Path:
    config = tmp_path / "central.toml"
    config.write_text(
        f'[central]\nid = "pusat-1"\nstate_dir = "{tmp_path}"\n'
        f'[broker]\nhost = "127.0.0.1"\n[dashboard]\n{dashboard}\n',
        encoding="utf-8",
    )
    return config


def test_tls_is_required_off_loopback(tmp_path: Path) -> None:
    for host in ("0.0.0.0", "192.168.1.5", "dukcapil.example"):  # noqa: S104 - the point
        with pytest.raises(ConfigError) as refused:
            load_central_config(_central_toml(tmp_path, f'host = "{host}"'))
        keys = {problem.key for problem in refused.value.problems}
        assert keys == {"dashboard.certificate", "dashboard.key"}
        assert "TLS" in refused.value.render("id")
    only_key = _central_toml(tmp_path, 'host = "0.0.0.0"\nkey = "keys/https.key"')
    with pytest.raises(ConfigError) as refused:
        load_central_config(only_key)
    assert [problem.key for problem in refused.value.problems] == ["dashboard.certificate"]
    served = load_central_config(
        _central_toml(
            tmp_path,
            'host = "0.0.0.0"\ncertificate = "keys/https.crt"\nkey = "keys/https.key"',
        )
    )
    assert served.dashboard.tls
    for loopback in ("127.0.0.1", "::1", "localhost"):
        assert not load_central_config(
            _central_toml(tmp_path, f'host = "{loopback}"')
        ).dashboard.tls
    # The command line says it too: exit 2, the file and the key named.
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "appliance",
            "central",
            "--config",
            str(_central_toml(tmp_path, 'host = "0.0.0.0"')),
        ],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )
    assert out.returncode == 2
    assert "dashboard.certificate" in out.stderr


def test_the_store_defaults_to_the_collectors_postgresql_or_a_sqlite_file(tmp_path: Path) -> None:
    config = load_central_config(_central_toml(tmp_path, ""))
    assert config.database_url == f"sqlite:{tmp_path}/dashboard.sqlite3"
    pg = tmp_path / "pg.toml"
    pg.write_text(
        _central_toml(tmp_path, "")
        .read_text()
        .replace('id = "pusat-1"', 'id = "pusat-1"\nstore = "postgresql://ktpel@db/ktpel"')
    )
    assert load_central_config(pg).database_url == "postgresql://ktpel@db/ktpel"


def _cli(args: list[str], monkeypatch: pytest.MonkeyPatch, stdin: str = "") -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    out = io.StringIO()
    code = cli_run(args, stdout=out)
    return code, out.getvalue(), err.getvalue()


def test_the_cli_manages_users_with_the_password_from_stdin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = str(_central_toml(tmp_path, ""))
    add = [
        "central",
        "user",
        "add",
        "--config",
        config,
        "--name",
        "sari",
        "--display-name",
        "Sari Wulandari",
        "--role",
        "petugas",
        "--scope",
        "35.08",
    ]
    code, out, _ = _cli(add, monkeypatch, stdin=f"{PASSWORD}\n")
    assert code == 0
    assert "pengguna ditambahkan: sari (Sari Wulandari), peran Petugas" in out
    assert "Kabupaten Lumajang (35.08)" in out
    # --config before the subcommand works as well.
    code, out, _ = _cli(["central", "--config", config, "user", "list"], monkeypatch)
    assert (code, out.split("\t")[:4]) == (
        0,
        ["sari", "Sari Wulandari", "Petugas", "Kabupaten Lumajang (35.08)"],
    )
    code, _, err = _cli(add, monkeypatch, stdin=f"{PASSWORD}\n")
    assert code == 2
    assert "sudah dipakai" in err
    weak = [*add[:6], "budi", *add[7:]]
    code, _, err = _cli(weak, monkeypatch, stdin="pendek\n")
    assert code == 2
    assert "Kata sandi harus sedikitnya 10 karakter" in err
    bad_scope = [*add[:6], "budi", *add[7:-1], "99"]
    code, _, err = _cli(bad_scope, monkeypatch, stdin=f"{PASSWORD}\n")
    assert code == 2
    assert "scope" in err
    # A password is never an argument.
    with pytest.raises(SystemExit) as usage:
        _cli([*add, "--password", PASSWORD], monkeypatch)
    assert usage.value.code == 2
    code, out, _ = _cli(
        ["central", "user", "disable", "--config", config, "--name", "sari"], monkeypatch
    )
    assert (code, out.strip()) == (0, "pengguna sari dinonaktifkan")
    code, out, _ = _cli(
        ["--lang", "en", "central", "user", "list", "--config", config], monkeypatch
    )
    assert out.strip().endswith("disabled")
    code, _, err = _cli(
        ["central", "user", "passwd", "--config", config, "--name", "nobody"], monkeypatch
    )
    assert code == 2
    assert "Tidak ada pengguna 'nobody'" in err
    code, out, _ = _cli(
        ["central", "user", "passwd", "--config", config, "--name", "sari"],
        monkeypatch,
        stdin="a-new-password-3\n",
    )
    assert (code, out.strip()) == (0, "kata sandi sari diganti")
    database = Database.open(f"sqlite:{tmp_path}/dashboard.sqlite3")
    users = Users(database=database, clock=ManualClock())
    user = users.get("sari")
    assert user is not None
    assert user.disabled
    users.close()
    database.close()
