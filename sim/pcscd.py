"""A private pcscd whose one reader is vsmartcard's vpcd: for tests, benchmarks and
`appliance sim`, never touching the machine's own pcscd.

pcscd 1.9.9 (Debian bookworm) takes its socket path from a compile-time constant
(/run/pcscd/pcscd.comm; only the client library honours PCSCLITE_CSOCK_NAME), and vpcd
3.3 listens on every interface (INADDR_ANY; its "reversed" mode, where it connects to the
card instead, aborts pcscd the first time the card's line drops: vsmartcard issue #131,
`vicc_connect` calls `waitforclient(-1)`). So the private pcscd runs in namespaces of its
own, made with `unshare` (as root, or in a user namespace otherwise):

- a network namespace: its only interface is its own loopback, so vpcd's port (35963,
  0x8C7B, and 35964 for the reader's second slot) is reachable from nowhere else, and
  can never collide with another pcscd's;
- a mount namespace: a private directory over /run, so its socket lands at
  `<dir>/run/pcscd/pcscd.comm`, and an empty tmpfs over /usr/lib/pcsc/drivers, so it
  claims no real USB reader (the vpcd driver is loaded from a copy in `<dir>`).

A small helper, `namespace_main` in a Python started by `unshare`, sets the namespaces up,
starts and kills pcscd on request, and opens TCP connections to vpcd for the card side,
handing the connected socket back over a UNIX socket (SCM_RIGHTS): the card simulator in
the test process then talks to vpcd directly. The helper watches its stdin and takes
pcscd with it when the process that started it goes away.

The client side: libpcsclite reads PCSCLITE_CSOCK_NAME once per process, at its first
SCardEstablishContext (not when pyscard is imported), and keeps it. `start()` sets it in
this process's environment; one process talks to one pcscd socket, so the directory is
one per process and a restart keeps it.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import os
import selectors
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Final, Self

from smartcard import scard

from ._base import Timing
from .vpcd import VpcdSlot

PCSCD: Final = Path("/usr/sbin/pcscd")
VPCD_LIBRARY: Final = Path("/usr/lib/pcsc/drivers/serial/libifdvpcd.so")
USB_DRIVERS: Final = Path("/usr/lib/pcsc/drivers")
VPCD_PORT: Final = 0x8C7B  # vpcd's own default: every port is free in the namespace
FRIENDLY_NAME: Final = "KTPEL vpcd"
SOCKET_VARIABLE: Final = "PCSCLITE_CSOCK_NAME"
_REPOSITORY: Final = Path(__file__).resolve().parent.parent
_POLL_S: Final = 0.01
_SIOCGIFFLAGS: Final = 0x8913
_SIOCSIFFLAGS: Final = 0x8914
_IFF_UP: Final = 0x1


class PcscdError(RuntimeError):
    """The private pcscd could not be set up, started or reached."""


class PrivatePcscd:
    """pcscd with one vpcd reader, in namespaces of its own; one per process."""

    _running: ClassVar[set[Path]] = set()

    def __init__(
        self,
        *,
        directory: Path | None = None,
        friendly_name: str = FRIENDLY_NAME,
        ready_timeout_s: float = 10.0,
        debug: bool = False,
        pcscd: Path = PCSCD,
        vpcd_library: Path = VPCD_LIBRARY,
    ) -> None:
        """`debug` makes pcscd log every APDU to `log_path`."""
        self.directory = directory or Path(tempfile.gettempdir()) / f"ktpel-pcscd-{os.getpid()}"
        self.friendly_name = friendly_name
        self.ready_timeout_s = ready_timeout_s
        self.debug = debug
        self.pcscd = pcscd
        self.vpcd_library = vpcd_library
        self.vpcd_port = VPCD_PORT
        self.pid: int | None = None
        self._helper: asyncio.subprocess.Process | None = None

    @property
    def socket_path(self) -> Path:
        return self.directory / "run" / "pcscd" / "pcscd.comm"

    @property
    def reader_name(self) -> str:
        """The slot the station uses (vpcd gives each reader two: 00 00 and 00 01)."""
        return f"{self.friendly_name} 00 00"

    @property
    def env(self) -> dict[str, str]:
        """What a client process needs in its environment (before its first context)."""
        return {SOCKET_VARIABLE: str(self.socket_path)}

    @property
    def log_path(self) -> Path:
        return self.directory / "pcscd.log"

    @property
    def _control(self) -> Path:
        return self.directory / "control.sock"

    @property
    def _reader_conf(self) -> Path:
        return self.directory / "reader.conf.d" / "vpcd"

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    async def start(self) -> None:
        """Set up the namespaces, start pcscd and wait until it lists the vpcd reader."""
        if self.directory in self._running:
            raise PcscdError(f"a private pcscd already runs in {self.directory}")
        current = os.environ.get(SOCKET_VARIABLE)
        if current not in (None, str(self.socket_path)):
            raise PcscdError(f"{SOCKET_VARIABLE} is {current}: this process talks to another pcscd")
        os.environ[SOCKET_VARIABLE] = str(self.socket_path)
        if len(os.fsencode(self.socket_path)) >= 108:
            raise PcscdError(f"socket path too long for a UNIX socket: {self.socket_path}")
        self._prepare()
        self._running.add(self.directory)
        try:
            await self._start_helper()
            await self._start_pcscd(reader=True)
        except BaseException:
            await self.stop()
            raise

    async def kill(self) -> None:
        """SIGKILL pcscd, as a crash would: clients and the card's line see it vanish."""
        await self._request("kill")
        self.pid = None

    async def restart(self, *, reader: bool = True) -> None:
        """Kill pcscd (if it runs) and start it again; with `reader=False` its config has
        no reader, as if the card reader had been unplugged."""
        await self.kill()
        await self._start_pcscd(reader=reader)

    async def stop(self) -> None:
        """Stop pcscd and the helper (and so the namespaces), and remove the directory."""
        helper, self._helper = self._helper, None
        if helper is not None:
            with contextlib.suppress(PcscdError, OSError):
                await self._request("exit")
            if helper.stdin is not None:
                helper.stdin.close()
            try:
                async with asyncio.timeout(5):
                    await helper.wait()
            except TimeoutError:
                helper.kill()
                await helper.wait()
        self.pid = None
        self._running.discard(self.directory)
        await asyncio.to_thread(shutil.rmtree, self.directory, ignore_errors=True)

    async def connect_vpcd(self, port: int | None = None) -> socket.socket:
        """A TCP connection to vpcd inside the namespace (the card's side of the line);
        OSError (ConnectionRefusedError while pcscd is down) if there is none to make."""
        wanted = self.vpcd_port if port is None else port
        return await asyncio.to_thread(self._connect_vpcd, wanted)

    def slot(
        self, *, index: int = 0, seed: int = 0, timing: Timing | None = None, **options: Any
    ) -> VpcdSlot:
        """A card slot on this pcscd's vpcd reader: index 0 (the reader named
        `reader_name`) or 1, the second slot vpcd offers, on the next port."""
        if index not in (0, 1):
            raise ValueError("vpcd offers two slots: 0 and 1")
        return VpcdSlot(
            port=self.vpcd_port + index,
            seed=seed,
            timing=timing,
            reader=f"{self.friendly_name} 00 {index:02d}",
            connect=functools.partial(self.connect_vpcd, self.vpcd_port + index),
            pcsc_socket=str(self.socket_path),
            **options,
        )

    # -- inside

    def _prepare(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.directory.mkdir(mode=0o700, parents=True)
        (self.directory / "run").mkdir()
        self._reader_conf.parent.mkdir()
        if not self.vpcd_library.exists():
            raise PcscdError(f"no vpcd driver at {self.vpcd_library} (vsmartcard-vpcd)")
        shutil.copyfile(self.vpcd_library, self.directory / "libifdvpcd.so")

    def _write_reader_conf(self, *, reader: bool) -> None:
        if not reader:
            self._reader_conf.unlink(missing_ok=True)
            return
        # DEVICENAME "/dev/null:PORT" is vpcd's server mode: it listens, the card connects.
        self._reader_conf.write_text(
            f'FRIENDLYNAME "{self.friendly_name}"\n'
            f"DEVICENAME /dev/null:{self.vpcd_port:#x}\n"
            f"LIBPATH {self.directory / 'libifdvpcd.so'}\n"
            f"CHANNELID {self.vpcd_port:#x}\n"
        )

    async def _start_helper(self) -> None:
        unshare = shutil.which("unshare")
        if unshare is None:
            raise PcscdError("unshare (util-linux) is needed for a private pcscd")
        user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        path = os.pathsep.join(filter(None, (str(_REPOSITORY), os.environ.get("PYTHONPATH"))))
        environment = {**os.environ, "PYTHONPATH": path}
        self._helper = await asyncio.create_subprocess_exec(
            unshare,
            *user,
            "--net",
            "--mount",
            "--propagation",
            "private",
            sys.executable,
            "-c",
            "import sys; from sim.pcscd import namespace_main; namespace_main(sys.argv[1:])",
            str(self.directory),
            str(self.pcscd),
            "debug" if self.debug else "quiet",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=environment,
        )
        assert self._helper.stdout is not None
        try:
            async with asyncio.timeout(self.ready_timeout_s):
                line = await self._helper.stdout.readline()
        except TimeoutError:
            line = b""
        if line.strip() != b"ready":
            problem = b""
            if self._helper.returncode is not None and self._helper.stderr is not None:
                problem = await self._helper.stderr.read()
            raise PcscdError(
                "the namespace helper did not start: "
                + (problem.decode(errors="replace").strip() or "no answer")
            )

    async def _start_pcscd(self, *, reader: bool) -> None:
        self._write_reader_conf(reader=reader)
        self.pid = int(await self._request("start"))
        try:
            async with asyncio.timeout(self.ready_timeout_s):
                while True:
                    if await asyncio.to_thread(self._answers, reader=reader):
                        return
                    await asyncio.sleep(_POLL_S)  # pcscd gives no sign when it is up
        except TimeoutError:
            raise PcscdError(
                f"pcscd did not come up within {self.ready_timeout_s:g} s (see {self.log_path})"
            ) from None

    def _answers(self, *, reader: bool) -> bool:
        """Whether pcscd answers on its socket (and lists the vpcd reader, if it has one)."""
        hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
        if hresult != scard.SCARD_S_SUCCESS:
            return False
        try:
            hresult, readers = scard.SCardListReaders(context, [])
        finally:
            scard.SCardReleaseContext(context)
        if not reader:
            return hresult in (scard.SCARD_S_SUCCESS, scard.SCARD_E_NO_READERS_AVAILABLE)
        return hresult == scard.SCARD_S_SUCCESS and self.reader_name in readers

    async def _request(self, command: str) -> str:
        if self._helper is None:
            raise PcscdError("the private pcscd is not started")
        return await asyncio.to_thread(self._ask, command)

    def _ask(self, command: str) -> str:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.settimeout(self.ready_timeout_s)
            control.connect(str(self._control))
            control.sendall(command.encode() + b"\n")
            reply = control.recv(256).decode().split(maxsplit=1)
        if not reply or reply[0] != "ok":
            raise PcscdError(f"{command}: {' '.join(reply) or 'no answer'}")
        return reply[1] if len(reply) > 1 else ""

    def _connect_vpcd(self, port: int) -> socket.socket:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as control:
            control.settimeout(self.ready_timeout_s)
            control.connect(str(self._control))
            control.sendall(f"connect {port}\n".encode())
            reply, fds, _, _ = socket.recv_fds(control, 256, 1)
        if not fds:
            raise ConnectionRefusedError(reply.decode(errors="replace").strip())
        line = socket.socket(fileno=fds[0])
        line.setblocking(False)  # noqa: FBT003 - the socket API's own flag
        return line


# ---------------------------------------------------------------- the namespace helper


def namespace_main(arguments: list[str]) -> None:
    """The helper, run inside the new namespaces (DIR PCSCD debug|quiet): make them
    private, then serve the control socket until told to exit or until the process that
    started it goes away (its stdin closes)."""
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    directory = Path(arguments[0])
    daemon = _Daemon(directory, Path(arguments[1]), debug=arguments[2] == "debug")
    _loopback_up()
    _mount("--bind", str(directory / "run"), "/run")
    if USB_DRIVERS.is_dir():
        _mount("-t", "tmpfs", "-o", "size=64k,mode=0755", "tmpfs", str(USB_DRIVERS))
    control = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    control.bind(str(directory / "control.sock"))
    control.listen()
    selector = selectors.DefaultSelector()
    selector.register(control, selectors.EVENT_READ)
    selector.register(sys.stdin, selectors.EVENT_READ)
    sys.stdout.write("ready\n")
    sys.stdout.flush()
    try:
        while True:
            ready = {key.fileobj for key, _ in selector.select()}
            if sys.stdin in ready and not os.read(sys.stdin.fileno(), 64):
                return  # the process that started us is gone
            if control not in ready:
                continue
            connection, _ = control.accept()
            with connection:
                connection.settimeout(5)
                try:
                    words = connection.recv(256).decode(errors="replace").split()
                    if words == ["exit"]:
                        connection.sendall(b"ok\n")
                        return
                    _serve_request(connection, words, daemon)
                except OSError as error:  # pcscd would not start, or the client gave up
                    with contextlib.suppress(OSError):
                        connection.sendall(f"error {error}\n".encode())
    finally:
        daemon.kill()


class _Daemon:
    """The pcscd the helper runs: at most one at a time."""

    def __init__(self, directory: Path, pcscd: Path, *, debug: bool) -> None:
        self.directory = directory
        self.pcscd = pcscd
        self.debug = debug
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> int:
        if self.process is not None and self.process.poll() is None:
            return self.process.pid
        # A killed pcscd leaves its socket and pid file: a new one would take the stale
        # pid (possibly reused by now) for a running pcscd and refuse to start.
        for stale in ("pcscd.comm", "pcscd.pid"):
            (self.directory / "run" / "pcscd" / stale).unlink(missing_ok=True)
        command = [str(self.pcscd), "--foreground", "-c", str(self.directory / "reader.conf.d")]
        if self.debug:
            command += ["--debug", "--apdu"]
        with (self.directory / "pcscd.log").open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 - our own arguments, no shell
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={"PATH": os.environ.get("PATH", "/usr/bin:/bin")},
                start_new_session=True,
            )
        return self.process.pid

    def kill(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            process.kill()
            process.wait()


def _serve_request(connection: socket.socket, words: list[str], daemon: _Daemon) -> None:
    match words:
        case ["start"]:
            connection.sendall(f"ok {daemon.start()}\n".encode())
        case ["kill"]:
            daemon.kill()
            connection.sendall(b"ok\n")
        case ["connect", port] if port.isdigit():
            try:
                line = socket.create_connection(("127.0.0.1", int(port)), timeout=1)
            except OSError as error:
                connection.sendall(f"error {error.strerror or error}\n".encode())
            else:
                with line:
                    socket.send_fds(connection, [b"ok\n"], [line.fileno()])
        case _:
            connection.sendall(f"error unknown request {' '.join(words)!r}\n".encode())


def _loopback_up() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        request = struct.pack("16sH", b"lo", 0)
        flags = struct.unpack("16sH", fcntl.ioctl(probe, _SIOCGIFFLAGS, request)[:18])[1]
        fcntl.ioctl(probe, _SIOCSIFFLAGS, struct.pack("16sH", b"lo", flags | _IFF_UP))


def _mount(*arguments: str) -> None:
    mount = shutil.which("mount") or "/usr/bin/mount"
    subprocess.run([mount, *arguments], check=True, capture_output=True)  # noqa: S603
