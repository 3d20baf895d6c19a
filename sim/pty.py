"""The far end of a serial line: a pseudo-terminal whose slave side the driver opens.

The driver is given a stable path (a symlink, as udev makes under /dev/serial/by-id/),
never the /dev/pts/N name, exactly as in the field. Unplugging closes the master side,
which makes the driver's reads fail as a pulled USB-serial adapter does, and removes the
link; replugging makes a new pty and points the link at it, usually under another N.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import termios
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, *, link: Path, max_buffer: int = 1 << 16) -> None:
        self.link = link
        self._max_buffer = max_buffer
        self._master: int | None = None
        self._slave: int | None = None
        self._reader: asyncio.StreamReader | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    def plug(self) -> None:
        """Create the pty and point the stable link at its slave side."""
        if self._master is not None:
            return
        master, slave = os.openpty()
        tty.setraw(slave, termios.TCSANOW)
        # Holding a slave descriptor keeps the master readable between the driver's
        # closes and reopens; without it reads on the master fail with EIO.
        os.set_blocking(master, False)
        self._master, self._slave = master, slave
        self._reader = asyncio.StreamReader(limit=self._max_buffer)
        asyncio.get_running_loop().add_reader(master, self._on_readable)
        self.link.parent.mkdir(parents=True, exist_ok=True)
        temporary = self.link.with_name(self.link.name + ".new")
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(os.ttyname(slave))
        temporary.replace(self.link)

    def unplug(self) -> None:
        """As if the cable were pulled: the driver's next read fails and the path is gone."""
        self.link.unlink(missing_ok=True)
        master, self._master = self._master, None
        slave, self._slave = self._slave, None
        if master is not None:
            asyncio.get_running_loop().remove_reader(master)
            os.close(master)
        if slave is not None:
            os.close(slave)
        if self._reader is not None:
            self._reader.feed_eof()

    async def read_line(self) -> bytes:
        """The next line the driver wrote (with its newline); b'' once unplugged."""
        reader = self._reader
        if reader is None:
            return b""
        try:
            return await reader.readuntil(b"\n")
        except asyncio.IncompleteReadError as exc:
            return exc.partial
        except asyncio.LimitOverrunError as exc:
            return await reader.readexactly(exc.consumed)

    def write(self, data: bytes) -> None:
        """Send bytes to the driver; dropped if unplugged or if the driver is not reading."""
        if self._master is None:
            return
        with contextlib.suppress(BlockingIOError, OSError):
            # A full pty buffer means the driver stopped reading: a real line drops too.
            os.write(self._master, data)

    def _on_readable(self) -> None:
        assert self._master is not None
        assert self._reader is not None
        try:
            data = os.read(self._master, 4096)
        except BlockingIOError:
            return
        except OSError:
            data = b""
        if data:
            self._reader.feed_data(data)
