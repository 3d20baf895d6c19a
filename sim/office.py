"""Every simulated device of one station, as `appliance sim` runs them.

Serial devices appear under `<dir>/dev/serial/by-id/`, the way udev names real ones, and
the biometric devices as SBI services on loopback ports in 4501-4600; the ticket printer
and the card printer on a simulated USB bus the drivers reach through pyusb
(`usb_backend = "socket:..."`); the card readers as the two slots of a vpcd reader on a private
pcscd (slot 0 is the card printer's contactless station, into which it moves each card;
slot 1 the activation desk, where `take_card` puts an ejected card); the central records
(SIAK) as an HTTP service on a free loopback port, where `enroll_record` records a
synthetic person. The overlay file `<dir>/devices.toml` points `appliance run` at them,
and the control socket `<dir>/control.sock` takes faults and actions at run time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import tomli_w

from ._base import Timing
from .blanks import BlankSupplier
from .card_printer import CardPrinterSim
from .control import Action, Controllable, serve_control
from .escpos_printer import EscposPrinterSim
from .pcscd import PrivatePcscd
from .sbi import SbiKind, SbiSimulator
from .serial_devices import SatisfactionKeypadSim, SerialLineSim, SignaturePadSim
from .siak import SiakSim
from .usb import UsbBus

_SEATED_WITHIN_S = 10.0


class SimulatedOffice:
    def __init__(
        self,
        *,
        directory: Path,
        seed: int = 0,
        timing: Timing | None = None,
        pcscd: PrivatePcscd | None = None,
        card_print_s: float = 6.0,
        card_transport_key: Path | None = None,
        keypad_auto_press: bool = True,
    ) -> None:
        """`pcscd` is one already running, started and stopped by the caller (a process
        reaches a single pcscd: libpcsclite reads its socket once); by default the office
        runs its own under `directory`. `card_print_s` is the card printer's printing
        time per card (before `timing` scales it). `card_transport_key` is the station's
        transport master (`[keys] card_transport_key`), which the blanks' maker shares:
        read as each blank is made, so it may be set once the station's keys exist.
        Without `keypad_auto_press`, the satisfaction keypad waits for `press` (a
        scenario's applicant) instead of pressing a button of its own when lit."""
        self.directory = directory
        self.card_transport_key = card_transport_key
        self.timing = timing or Timing()
        by_id = directory / "dev" / "serial" / "by-id"
        serial: list[SerialLineSim] = [
            SignaturePadSim(
                name="signature_pad",
                link=by_id / "usb-KTPEL-SIM_SignPad-500_SIM0001-if00-port0",
                seed=seed,
                timing=self.timing,
            ),
            SatisfactionKeypadSim(
                name="satisfaction_keypad",
                link=by_id / "usb-KTPEL-SIM_SKM-4_SIM0002-if00-port0",
                seed=seed,
                timing=self.timing,
                auto_press=keypad_auto_press,
            ),
        ]
        sbi = [
            SbiSimulator(name=name, kind=kind, seed=seed, timing=self.timing)
            for name, kind in (
                ("camera", SbiKind.FACE),
                ("fingerprint_scanner", SbiKind.FINGER_SLAP),
                ("single_finger_scanner", SbiKind.FINGER_SINGLE),
                ("iris_scanner", SbiKind.IRIS),
            )
        ]
        # The socket path must fit a UNIX address (108 bytes): keep DIR short.
        self._usb = UsbBus(socket_path=directory / "usb.sock")
        printer = EscposPrinterSim(
            name="ticket_printer", bus=self._usb, seed=seed, timing=self.timing
        )
        self._own_pcscd = pcscd is None
        self._pcscd = pcscd or PrivatePcscd(directory=directory / "pcscd")
        self._contactless = self._pcscd.slot(
            index=0, seed=seed, timing=self.timing, name="card_encoder"
        )
        self._desk = self._pcscd.slot(
            index=1, seed=seed, timing=self.timing, name="activation_reader"
        )
        self._card_printer = CardPrinterSim(
            name="card_printer",
            bus=self._usb,
            slot=self._contactless,
            make_card=BlankSupplier.from_file(lambda: self.card_transport_key, seed=seed).blank,
            faces_dir=directory / "faces",
            seed=seed,
            timing=self.timing,
            seconds_per_print=card_print_s,
        )
        self._siak = SiakSim()
        self._serial = serial
        self._sbi = sbi
        self._printer = printer
        self.devices: dict[str, Controllable] = {device.name: device for device in serial}
        self.devices |= {service.name: service for service in sbi}
        for device in (printer, self._card_printer, self._contactless, self._desk, self._siak):
            self.devices[device.name] = device
        self._control: Any = None

    @property
    def overlay_path(self) -> Path:
        return self.directory / "devices.toml"

    @property
    def control_path(self) -> Path:
        return self.directory / "control.sock"

    def overlay(self) -> dict[str, Any]:
        devices = {device.name: device.config_overlay() for device in self._serial}
        devices |= {service.name: service.config_overlay() for service in self._sbi}
        for device in (self._printer, self._card_printer, self._contactless, self._desk):
            devices[device.name] = device.config_overlay()
        # The records service is not a device of the station: its table is `[siak]`.
        return {"devices": devices, "siak": self._siak.config_overlay()}

    async def take_card(self, serial: str | None = None) -> str:
        """The operator carries an ejected card to the activation desk reader: the one
        with `serial`, or else the newest. Another card in the desk reader is taken out
        first and set aside in the tray."""
        held = self._desk.card
        if held is not None and serial is not None and held.serial == serial:
            return serial
        tray = self._card_printer.output_tray
        if serial is not None:
            found = [index for index, card in enumerate(tray) if card.serial == serial]
            if not found:
                raise LookupError(f"card {serial} is not in the card printer's output tray")
            card = tray.pop(found[0])
        elif tray:
            card = tray.pop()
        else:
            raise LookupError("the card printer's output tray is empty")
        if (other := await self._desk.remove()) is not None:
            tray.append(other)  # set aside with the printed cards, for its own turn
        await self._desk.insert(card)
        # The operator waits for the reader's light: pcscd has seen the card.
        async with asyncio.timeout(_SEATED_WITHIN_S):
            await self._desk.seen.wait()
        return card.serial

    async def hand_card_over(self) -> str | None:
        """The operator takes the activated card out of the desk reader; its serial, or
        None if the reader was empty."""
        card = await self._desk.remove()
        return None if card is None else card.serial

    def empty_reject_box(self) -> list[str]:
        """Someone empties the card printer's reject box; the serials of its cards."""
        cards, self._card_printer.reject_box = self._card_printer.reject_box, []
        return cards

    def enroll_record(self, *, nik: str, person: int) -> str:
        """Put a synthetic person in the central records as recorded before (PRR)."""
        self._siak.enroll(nik, person)
        return nik

    def _actions(self) -> dict[str, Action]:
        # The control socket's own commands, each reading its parameters from the request.
        async def take_card(request: Mapping[str, Any]) -> str:
            serial = request.get("serial")
            if serial is not None and not isinstance(serial, str):
                raise LookupError("serial must be a card's serial number, as text")
            return await self.take_card(serial)

        async def enroll_record(request: Mapping[str, Any]) -> str:
            nik, person = request.get("nik"), request.get("person")
            # LookupError: what the control socket answers as a refusal, whatever the cause.
            if not isinstance(nik, str) or not isinstance(person, int):
                raise LookupError("enroll_record needs nik (16 digits) and person (a seed)")  # noqa: TRY004
            try:
                return self.enroll_record(nik=nik, person=person)
            except ValueError as exc:
                raise LookupError(str(exc)) from None

        return {"take_card": take_card, "enroll_record": enroll_record}

    async def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        for device in self._serial:
            await device.start()
        for service in self._sbi:  # each takes a free port in the SBI range, 4501-4600
            await service.start()
        await self._usb.start()
        await self._printer.start()
        if self._own_pcscd:
            await self._pcscd.start()
        for slot in (self._contactless, self._desk):
            await slot.start()
        await self._card_printer.start()
        await self._siak.start()
        self.overlay_path.write_text(
            "# Written by `appliance sim`: pass with --config-overlay to `appliance run`.\n"
            + tomli_w.dumps(self.overlay()),
            encoding="utf-8",
        )
        self._control = await serve_control(
            self.control_path, self.devices, actions=self._actions()
        )

    async def stop(self) -> None:
        if self._control is not None:
            self._control.close()
            with contextlib.suppress(Exception):
                await self._control.wait_closed()
            self._control = None
        for device in self._serial:
            await device.stop()
        for service in self._sbi:
            await service.stop()
        await self._printer.stop()
        await self._card_printer.stop()
        for slot in (self._contactless, self._desk):
            await slot.stop()
        if self._own_pcscd:
            await self._pcscd.stop()
        await self._usb.stop()
        await self._siak.stop()
        self.control_path.unlink(missing_ok=True)
