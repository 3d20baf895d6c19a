"""A throwaway PostgreSQL 15 server for tests and benchmarks of the central collector.

The server is Debian's own binaries run on a private data directory: a free loopback
port, its socket in the same directory, trust authentication, nothing shared with a
PostgreSQL the machine may run. `fsync` stays on, so what a test measures or crashes
is what the collector's real database would do; only initdb skips its syncs, since a
crash during initdb just means another throwaway directory.

initdb and postgres refuse to run as root, and tests run as root here and in CI: as
root, the server runs as the `postgres` system user, in a directory that user owns and
can reach (a pytest temporary directory is mode 0700 under root's own, so the server's
directory is made in the system's temporary directory when the given one is out of the
user's reach).

A server must never outlive the process that started it, even one killed by SIGKILL,
which runs no atexit handler: a small watchdog process, in a session of its own, reads
a pipe from this process and, at end of file, kills the postmaster's process group
(pg_ctl starts the postmaster in a new session, so its backends share its group) and
removes the directory.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import shutil
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType
from typing import Final, Self

BIN: Final = Path("/usr/lib/postgresql/15/bin")
DATABASE: Final = "collector"
SUPERUSER: Final = "postgres"
SYSTEM_USER: Final = "postgres"
_START_TIMEOUT_S: Final = 30

# The watchdog: blocks on its stdin (a pipe whose other end only the starting process
# holds), then kills the server's process group and removes its directory.
_WATCHDOG: Final = """
import os, shutil, signal, sys
directory = sys.argv[1]
while os.read(0, 4096):
    pass
try:
    with open(os.path.join(directory, "data", "postmaster.pid")) as pid_file:
        pid = int(pid_file.readline())
    os.killpg(pid, signal.SIGKILL)
except (OSError, ValueError):
    pass
if sys.argv[2] == "remove":
    shutil.rmtree(directory, ignore_errors=True)
"""


class PostgresError(RuntimeError):
    """The private server could not be set up, started or stopped."""


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


class PrivatePostgres:
    """One private PostgreSQL server; `start()` it, or use it as a context manager."""

    def __init__(self, *, directory: Path, port: int | None = None) -> None:
        self._parent = directory
        self._port = port if port is not None else free_port()
        self._as_root = os.geteuid() == 0
        self._home: Path | None = None
        self._watchdog: subprocess.Popen[bytes] | None = None
        self._running = False

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        return self.url_for(DATABASE)

    def url_for(self, database: str) -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self._port}/{database}"

    @property
    def directory(self) -> Path:
        """Where the data directory, socket and log live (made by `start()`)."""
        if self._home is None:
            raise PostgresError("the server was never started")
        return self._home

    @property
    def running(self) -> bool:
        return self._running

    def start(self) -> None:
        """Create the cluster on first use, start the server and wait until it answers."""
        if self._running:
            return
        home = self._home or self._make_home()
        data = home / "data"
        if not (data / "PG_VERSION").exists():
            self._run(
                BIN / "initdb",
                "-D",
                str(data),
                "-U",
                SUPERUSER,
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
                "--no-instructions",
            )
            with (data / "postgresql.conf").open("a", encoding="utf-8") as conf:
                conf.write("\ninclude_if_exists = 'private.conf'\n")
        private = data / "private.conf"
        private.write_text(
            f"listen_addresses = '127.0.0.1'\n"
            f"port = {self._port}\n"
            f"unix_socket_directories = '{home}'\n"
            # Tests open one connection per store and thread, a few at a time.
            "max_connections = 50\n"
            "shared_buffers = '64MB'\n",
            encoding="utf-8",
        )
        self._own(private)
        # A SIGKILLed postmaster leaves its pid file and its socket's lock file behind;
        # the new one checks whether the pid in them still runs, and a killed postmaster
        # may linger as a zombie until PID 1 reaps it (or its pid may be recycled).
        for stale in (
            data / "postmaster.pid",
            home / f".s.PGSQL.{self._port}",
            home / f".s.PGSQL.{self._port}.lock",
        ):
            stale.unlink(missing_ok=True)
        self._run(
            BIN / "pg_ctl",
            "start",
            "-w",
            "-t",
            str(_START_TIMEOUT_S),
            "-D",
            str(data),
            "-l",
            str(home / "postgres.log"),
        )
        self._running = True
        self._create(DATABASE)

    def stop(self) -> None:
        """Shut the server down (fast: open sessions are ended); the data stays."""
        if not self._running:
            return
        self._running = False
        self._run(BIN / "pg_ctl", "stop", "-w", "-m", "fast", "-D", str(self.directory / "data"))

    def kill(self) -> None:
        """SIGKILL the postmaster and its backends, as a power cut would end them."""
        if not self._running:
            return
        self._running = False
        pid = self._postmaster_pid()
        with contextlib.suppress(ProcessLookupError):
            os.killpg(pid, signal.SIGKILL)
        deadline = time.monotonic() + 10
        while _alive(pid) and time.monotonic() < deadline:
            time.sleep(0.02)

    def close(self) -> None:
        """Stop the server and remove its directory."""
        try:
            if self._running:
                try:
                    self.stop()
                except PostgresError:
                    self.kill()
        finally:
            self._release()

    def fresh_database(self, name: str) -> str:
        """Create an empty database `name` and return its URL."""
        self._create(name)
        return self.url_for(name)

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def _create(self, name: str) -> None:
        import psycopg  # noqa: PLC0415 - the station never needs it
        from psycopg import sql  # noqa: PLC0415

        try:
            with psycopg.connect(self.url_for("postgres"), autocommit=True) as conn:
                exists = conn.execute(
                    "SELECT 1 FROM pg_database WHERE datname = %s", (name,)
                ).fetchone()
                if exists is None:
                    # FILE_COPY, not PostgreSQL 15's default WAL_LOG: as fast here, and it
                    # keeps the template's pages out of the WAL, which a restart after
                    # kill() would otherwise replay for every database a test made.
                    conn.execute(
                        sql.SQL("CREATE DATABASE {} STRATEGY = FILE_COPY").format(
                            sql.Identifier(name)
                        )
                    )
        except psycopg.Error as exc:
            raise PostgresError(f"cannot create database {name!r}: {exc}") from exc

    def _make_home(self) -> Path:
        parent = self._parent
        if self._as_root and not _reachable_by(parent, pwd.getpwnam(SYSTEM_USER)):
            parent = Path(tempfile.gettempdir())
        parent.mkdir(parents=True, exist_ok=True)
        home = Path(tempfile.mkdtemp(prefix="postgres-", dir=parent))
        self._own(home)
        self._home = home
        # The pipe's write end stays in this process only: when it dies, for whatever
        # reason, the watchdog reads end of file.
        self._watchdog = subprocess.Popen(  # noqa: S603 - our own interpreter and script
            [sys.executable, "-c", _WATCHDOG, str(home), "remove"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            close_fds=True,
        )
        atexit.register(self.close)
        return home

    def _release(self) -> None:
        atexit.unregister(self.close)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None:
            # Closing the pipe lets the watchdog finish the cleanup; waiting for it keeps
            # the directory's removal inside close().
            if watchdog.stdin is not None:
                watchdog.stdin.close()
            try:
                watchdog.wait(timeout=10)
            except subprocess.TimeoutExpired:
                watchdog.kill()
                watchdog.wait()
        if self._home is not None:
            shutil.rmtree(self._home, ignore_errors=True)
            self._home = None

    def _own(self, path: Path) -> None:
        if self._as_root:
            user = pwd.getpwnam(SYSTEM_USER)
            os.chown(path, user.pw_uid, user.pw_gid)

    def _postmaster_pid(self) -> int:
        try:
            text = (self.directory / "data" / "postmaster.pid").read_text(encoding="ascii")
            return int(text.split("\n", 1)[0])
        except (OSError, ValueError) as exc:
            raise PostgresError(f"no postmaster pid: {exc}") from exc

    def _run(self, program: Path, *arguments: str) -> None:
        home = self.directory
        env = {
            "PATH": f"{BIN}:/usr/bin:/bin",
            "LC_ALL": "C",
            "HOME": str(home),
            "PGTZ": "UTC",
        }
        extra: dict[str, object] = {}
        if self._as_root:
            user = pwd.getpwnam(SYSTEM_USER)
            extra = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
        try:
            result = subprocess.run(  # noqa: S603 - fixed binaries, our own arguments
                [str(program), *arguments],
                cwd=home,
                env=env,
                stdin=subprocess.DEVNULL,
                capture_output=True,
                timeout=_START_TIMEOUT_S + 30,
                check=False,
                **extra,  # type: ignore[call-overload]
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PostgresError(f"{program.name}: {exc}") from exc
        if result.returncode != 0:
            output = (result.stdout + result.stderr).decode(errors="replace").strip()
            log = home / "postgres.log"
            if log.exists():
                tail = log.read_text(encoding="utf-8", errors="replace").splitlines()[-20:]
                output += "\n--- postgres.log ---\n" + "\n".join(tail)
            raise PostgresError(f"{program.name} {' '.join(arguments[:1])} failed:\n{output}")


def _reachable_by(path: Path, user: pwd.struct_passwd) -> bool:
    """Whether `user` can walk down to `path` (search permission on every ancestor)."""
    for directory in (path, *path.parents):
        try:
            info = directory.stat()
        except FileNotFoundError:
            continue
        if info.st_uid == user.pw_uid:
            bit = stat.S_IXUSR
        elif info.st_gid == user.pw_gid:
            bit = stat.S_IXGRP
        else:
            bit = stat.S_IXOTH
        if not info.st_mode & bit:
            return False
    return True


def _alive(pid: int) -> bool:
    # A killed postmaster is reparented to PID 1, which in a container may be slow to
    # reap it: a zombie is dead for our purposes.
    try:
        status = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    return status.rpartition(")")[2].split()[0] not in {"Z", "X"}
