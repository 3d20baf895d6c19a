"""A private mosquitto for tests and benchmarks of the MQTT uplink: its own config, port,
password file, ACL and persistence, never the machine's own broker on 1883; TLS if asked
(`BrokerTls`, with certificates from the throwaway CA of `sim.broker_pki`).

A test of the uplink has to do to the broker what a kecamatan's network and the central
office's server room do to it: stop it cleanly (mosquitto writes its persistence db on
SIGTERM), crash it (SIGKILL: whatever was not autosaved is gone), bring it back with or
without its db. So each `PrivateMosquitto` writes a config into a directory of its own,
listens on a free loopback port that it keeps across restarts (clients reconnect to the
same address, as they would to the real broker), and can be stopped, killed, wiped and
started again.

What mosquitto 2.0.11 (Debian bookworm) does with the ACL file, and so what `fleet_acl`
can and cannot promise:

- SUBSCRIBE is never checked by the built-in ACL (a note in its source leaves subscription
  strings unimplemented): every subscription is granted, `$share/...` ones too, and the
  SUBACK carries the granted QoS, never 0x87. The ACL bites at delivery instead:
  each message is checked for READ against the client and the message's real topic, and
  silently not delivered if denied. A shared subscription is therefore read-checked on
  the topic a station published to, so `topic read ktpel/v1/#` is all the central user
  needs for `$share/<group>/ktpel/v1/+/register`; an ACL line naming `$share/...` would
  never match anything. The flip side: nothing stops a station from joining the
  collectors' share group (if it knows the group's name), and every message the broker
  deals to it there is dropped at its READ check, lost to the collectors. Only a plugin
  that checks SUBSCRIBE (mosquitto's dynamic-security) closes that; with the ACL file,
  keep the group's name out of the stations' configuration.
- A denied PUBLISH is dropped; to an MQTT v5 client at QoS 1 the broker still answers
  with a PUBACK, whose reason code is 0x87 (not authorized). aiomqtt 2.5 ignores that
  code: `publish()` returns as for any other PUBACK.
- Pattern lines deny everything to a username containing + or #, but not to one with
  a slash: a station id must not have one, or "a/device" could write into a's tree.
  The fleet issues the ids (and the certificates' CNs), so that is its rule to keep.

A broker must never outlive the test process that started it, however that process ends:
mosquitto is started with PR_SET_PDEATHSIG (SIGKILL). The kernel sends it when the
*thread* that forked the child ends, not the process, so every mosquitto is forked by one
daemon thread that lives as long as the process. And mosquitto started as root switches to
the user "mosquitto" unless the config says `user root`; that switch would both lock it
out of a root-owned temp directory and clear the death signal, so as root it says so.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import queue
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Final, Self

TOPIC_ROOT: Final = "ktpel/v1"
CENTRAL_TOPIC_ROOT: Final = "ktpel/central"
MOSQUITTO: Final = Path("/usr/sbin/mosquitto")
MOSQUITTO_PASSWD: Final = Path("/usr/bin/mosquitto_passwd")
HOST: Final = "127.0.0.1"
_READY_TIMEOUT_S: Final = 10.0
_STOP_TIMEOUT_S: Final = 10.0
_POLL_S: Final = 0.01
_PR_SET_PDEATHSIG: Final = 1
# mosquitto's default: a SIGKILL loses everything since the last clean stop, every time,
# rather than whatever an autosave happened to catch.
_AUTOSAVE_INTERVAL_S: Final = 1800


class BrokerError(RuntimeError):
    """The private mosquitto could not be set up, started or stopped."""


# ---------------------------------------------------------------- TLS


@dataclass(frozen=True, slots=True)
class BrokerTls:
    """The listener's TLS: the CA that signed the server's and the clients' certificates
    (a test's own, from `sim.broker_pki.make_test_pki`)."""

    ca_certificate: Path
    certificate: Path
    key: Path
    require_certificate: bool = True
    """Mutual TLS: a client must present a certificate signed by the CA."""
    use_identity_as_username: bool = True
    """The client certificate's CN becomes the MQTT username, so the ACL's %u applies."""


# ---------------------------------------------------------------- the fleet's ACL


def fleet_acl(*, central_user: str = "central") -> str:
    """The ACL of the fleet's broker: a station (MQTT username = station id) writes only
    its state, register, telemetry, doctor and device topics and reads only its ack and
    commands; the central user reads and writes everything under ktpel/v1/, shared
    subscriptions included (mosquitto 2.0.11 checks those on the delivered message's
    topic), and the central office's own topics (its alerts) under ktpel/central/."""
    if not central_user or any(c in central_user for c in "+#/ \n"):
        raise ValueError(f"not a usable username: {central_user!r}")
    root = TOPIC_ROOT
    return (
        "# Stations: the username is the station id (the client certificate's CN).\n"
        f"pattern write {root}/%u/state\n"
        f"pattern write {root}/%u/register\n"
        f"pattern write {root}/%u/telemetry\n"
        f"pattern write {root}/%u/doctor\n"
        f"pattern write {root}/%u/device/#\n"
        f"pattern read {root}/%u/ack\n"
        f"pattern read {root}/%u/cmd/#\n"
        "\n"
        "# The central office's collectors and command senders.\n"
        f"user {central_user}\n"
        f"topic readwrite {root}/#\n"
        f"topic readwrite {CENTRAL_TOPIC_ROOT}/#\n"
    )


# ---------------------------------------------------------------- the broker


class PrivateMosquitto:
    """One mosquitto on a loopback port of its own, with its files in `directory`."""

    def __init__(
        self,
        *,
        directory: Path,
        users: Mapping[str, str] | None = None,
        acl: str | None = None,
        persistence: bool = True,
        max_queued_messages: int = 1000,
        tls: BrokerTls | None = None,
        port: int | None = None,
    ) -> None:
        """`users` maps username to password (None: anonymous clients are let in, unless
        `tls` makes every client's certificate its username); `max_queued_messages` 0 is
        no limit (a benchmark pre-loading a collector's queue)."""
        if any(character.isspace() for character in str(directory)):
            # mosquitto's config parser splits values at spaces.
            raise BrokerError(f"mosquitto cannot take a path with spaces: {directory}")
        if max_queued_messages < 0:
            raise ValueError("max_queued_messages is a count, 0 for no limit")
        self.directory = directory
        self.users = dict(users) if users is not None else None
        self.acl = acl
        self.persistence = persistence
        self.max_queued_messages = max_queued_messages
        self.tls = tls
        self.host = HOST
        self.port = port if port is not None else _free_port()
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def config_file(self) -> Path:
        return self.directory / "mosquitto.conf"

    @property
    def password_file(self) -> Path:
        return self.directory / "passwd"

    @property
    def acl_file(self) -> Path:
        return self.directory / "acl"

    @property
    def persistence_file(self) -> Path:
        return self.directory / "mosquitto.db"

    @property
    def log_file(self) -> Path:
        return self.directory / "mosquitto.log"

    @property
    def stderr_file(self) -> Path:
        """Where mosquitto's complaints before its log is open go (config errors)."""
        return self.directory / "mosquitto.stderr"

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process is not None else None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.stop()
        except BrokerError:
            self.kill()

    def start(self) -> None:
        """Write the config, start mosquitto and return once it accepts TCP connections."""
        if self.running:
            raise BrokerError(f"mosquitto already runs on port {self.port} (pid {self.pid})")
        self.directory.mkdir(parents=True, exist_ok=True)
        self._write_files()
        log_start = self.log_file.stat().st_size if self.log_file.exists() else 0
        with self.stderr_file.open("ab") as stderr:
            self._process = _spawn(
                [str(MOSQUITTO), "-c", str(self.config_file)], stderr=stderr.fileno()
            )
        try:
            self._wait_listening(log_start)
        except BaseException:
            self.kill()
            raise

    def stop(self) -> None:
        """SIGTERM and wait: mosquitto saves its persistence db as it exits."""
        process = self._process
        if process is None or process.poll() is not None:
            self._process = None
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise BrokerError(
                f"mosquitto (pid {process.pid}) did not exit within {_STOP_TIMEOUT_S:g} s "
                f"of SIGTERM\n{self._log_tail()}"
            ) from None
        self._process = None

    def kill(self) -> None:
        """SIGKILL, as a crash or a power cut would: nothing since the last save is kept."""
        process, self._process = self._process, None
        if process is None:
            return
        if process.poll() is None:
            process.kill()
        process.wait()

    def restart(self) -> None:
        self.stop()
        self.start()

    def wipe_persistence(self) -> None:
        """Delete the persistence db (retained messages, sessions, queues): only stopped."""
        if self.running:
            raise BrokerError("the persistence db can only be wiped while mosquitto is stopped")
        self.persistence_file.unlink(missing_ok=True)
        # A save interrupted by SIGKILL leaves its half-written temporary beside the db.
        self.persistence_file.with_name(self.persistence_file.name + ".new").unlink(missing_ok=True)

    # -- inside

    def _write_files(self) -> None:
        lines = [
            "per_listener_settings false",
            f"listener {self.port} {self.host}",
            "set_tcp_nodelay true",
            f"max_queued_messages {self.max_queued_messages}",
            f"log_dest file {self.log_file}",
            *(f"log_type {kind}" for kind in ("error", "warning", "notice", "information")),
            "log_timestamp_format %Y-%m-%dT%H:%M:%S",
        ]
        if os.geteuid() == 0:
            lines.append("user root")
        if self.persistence:
            lines += [
                "persistence true",
                f"persistence_location {self.directory}/",
                f"persistence_file {self.persistence_file.name}",
                f"autosave_interval {_AUTOSAVE_INTERVAL_S}",
            ]
        else:
            lines.append("persistence false")
        if self.tls is not None:
            lines += [
                f"cafile {self.tls.ca_certificate}",
                f"certfile {self.tls.certificate}",
                f"keyfile {self.tls.key}",
                f"require_certificate {str(self.tls.require_certificate).lower()}",
                f"use_identity_as_username {str(self.tls.use_identity_as_username).lower()}",
            ]
        identified = self.tls is not None and self.tls.use_identity_as_username
        anonymous = self.users is None and not identified
        lines.append(f"allow_anonymous {str(anonymous).lower()}")
        if self.users is not None:
            self._write_password_file(self.users)
            lines.append(f"password_file {self.password_file}")
        if self.acl is not None:
            self.acl_file.write_text(self.acl)
            lines.append(f"acl_file {self.acl_file}")
        self.config_file.write_text("\n".join(lines) + "\n")

    def _write_password_file(self, users: Mapping[str, str]) -> None:
        for user, password in users.items():
            if not user or ":" in user or any(c.isspace() for c in user):
                raise BrokerError(f"mosquitto cannot take the username {user!r}")
            if "\n" in password or "\r" in password:
                raise BrokerError(f"the password of {user!r} has a line break")
        descriptor = os.open(self.password_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.writelines(f"{user}:{password}\n" for user, password in users.items())
        # -U hashes every plain-text line in place (one call, whatever the user count).
        result = subprocess.run(  # noqa: S603 - our own arguments, no shell
            [str(MOSQUITTO_PASSWD), "-U", str(self.password_file)],
            capture_output=True,
            check=False,
        )
        if result.returncode != 0:
            raise BrokerError(
                "mosquitto_passwd -U failed: "
                + (result.stderr or result.stdout).decode(errors="replace").strip()
            )

    def _wait_listening(self, log_start: int) -> None:
        """Until the port takes a TCP connection and this start's log says "running" (it
        does once every listener is bound): a connection alone could reach another
        process holding the port while ours fails to bind it and is on its way out."""
        process = self._process
        assert process is not None
        deadline = time.monotonic() + _READY_TIMEOUT_S
        while True:
            if process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited with status {process.returncode} on start\n"
                    + self._log_tail()
                )
            if self._logged_running(log_start) and self._accepts():
                return
            if time.monotonic() >= deadline:
                raise BrokerError(
                    f"mosquitto did not listen on {self.host}:{self.port} within "
                    f"{_READY_TIMEOUT_S:g} s\n{self._log_tail()}"
                )
            # Waiting on the process rather than sleeping: an exit ends the wait at once.
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(timeout=_POLL_S)

    def _logged_running(self, log_start: int) -> bool:
        try:
            with self.log_file.open("rb") as log:
                log.seek(log_start)
                return b" running" in log.read()
        except OSError:
            return False

    def _accepts(self) -> bool:
        """On a TLS listener this bare TCP probe is logged as a failed connection
        ("unexpected eof while reading"): harmless."""
        try:
            with socket.create_connection((self.host, self.port), timeout=_POLL_S * 10):
                return True
        except OSError:
            return False

    def _log_tail(self, lines: int = 20) -> str:
        tail: list[str] = []
        for path in (self.stderr_file, self.log_file):
            with contextlib.suppress(OSError):
                text = path.read_text(errors="replace").splitlines()[-lines:]
                if text:
                    tail += [f"-- {path.name}:", *text]
        return "\n".join(tail) or "(mosquitto wrote nothing)"


def _free_port() -> int:
    """A port free on the loopback now; the broker keeps it across its restarts."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        port: int = probe.getsockname()[1]
        return port


# ---------------------------------------------------------------- spawning


_Job = tuple[Callable[[], subprocess.Popen[bytes]], Future[subprocess.Popen[bytes]]]
_jobs: queue.SimpleQueue[_Job] = queue.SimpleQueue()
_spawner: threading.Thread | None = None
_spawner_lock = threading.Lock()


def _spawn(command: list[str], *, stderr: int) -> subprocess.Popen[bytes]:
    """Start `command` from the spawner thread, with SIGKILL as its parent-death signal."""
    global _spawner  # noqa: PLW0603 - one spawner per process, started on first use
    with _spawner_lock:
        if _spawner is None:
            _spawner = threading.Thread(
                target=_spawn_forever, name="mosquitto-spawner", daemon=True
            )
            _spawner.start()
    parent = os.getpid()
    # Looked up here: a dlopen/dlsym in the forked child could wait on a lock that some
    # other thread of this process held at the fork.
    prctl = ctypes.CDLL(None, use_errno=True).prctl

    def launch() -> subprocess.Popen[bytes]:
        return subprocess.Popen(  # noqa: S603 - our own arguments, no shell
            command,
            stdin=subprocess.DEVNULL,
            stdout=stderr,
            stderr=stderr,
            # Its own process group: a ^C at the terminal goes to the tests, which then
            # stop the broker themselves; it does not kill the broker under them.
            start_new_session=True,
            preexec_fn=lambda: _die_with_parent(prctl, parent),  # noqa: PLW1509 - see there
        )

    done: Future[subprocess.Popen[bytes]] = Future()
    _jobs.put((launch, done))
    return done.result()


def _spawn_forever() -> None:
    while True:
        launch, done = _jobs.get()
        try:
            done.set_result(launch())
        except BaseException as error:  # noqa: BLE001 - handed to the caller, who raises it
            done.set_exception(error)


def _die_with_parent(prctl: Callable[..., int], parent: int) -> None:
    """In the forked child, before exec. preexec_fn is frowned upon in a process with
    threads because the child may need a lock another thread held at the fork; this one
    takes none: two system calls through a function resolved before the fork."""
    if prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0) != 0:
        os._exit(127)
    if os.getppid() != parent:  # the parent died before the prctl: no signal will come
        os._exit(127)
