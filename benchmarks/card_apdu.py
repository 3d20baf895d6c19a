"""Card encoder figures: APDUs per second through pcscd, and the time to personalise one
application of about 25 KB and read it back.

Everything runs through the real stack: the HAL's PC/SC context (pyscard, libpcsclite)
-> a private pcscd -> vpcd -> the simulated card on its TCP line, with the card in this
process (instant timing: the figures are the stack's, not a chip's). APDU rates are
given three ways, to show where the time goes:

- `raw`: pyscard's SCardTransmit in a loop on one thread, no HAL (the ceiling);
- `batched`: the HAL's `CardLink.run` with the whole loop on its worker thread, as
  `personalise` sends its APDUs;
- `per_await`: one `CardLink.run` per APDU, so each also pays the hop from the event
  loop to the worker thread and back.

Prints one JSON object. Target (issue 4): >= 5,000 APDUs/s through pcscd.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import statistics
import time
from collections.abc import Callable
from typing import Any, Final

from smartcard import scard

from appliance.hal._apdu import Command, Response, transceive
from appliance.hal._card_access import ALWAYS, TRANSPORT_KEY, PersonalisationKeys, authenticate
from appliance.hal._card_encoder import CardEncoder
from appliance.hal._card_session import CardApplication
from appliance.hal._iso7816 import create_file, df_fcp, ef_fcp, read_binary, select_ef, select_mf
from appliance.hal._pcsc import CardLink, PcscContext
from appliance.hal._secure_messaging import SecureChannel
from appliance.logs import configure_logging
from sim._base import Timing
from sim.pcscd import PrivatePcscd
from sim.smartcard import VirtualCard
from sim.vpcd import VpcdSlot

TARGET_APDUS_PER_S: Final = 5000
AID: Final = bytes.fromhex("A000000247100101")
_PRESENCE_TIMEOUT_S: Final = 5.0
_KEYS: Final = PersonalisationKeys(transport_key=bytes(16), can="123456", reader_key=bytes(16))


def _application(rng: random.Random) -> CardApplication:
    """About 25 KB as a KTP-el chip holds it: identity, face, two fingers, signature."""
    sizes = {0x0101: 600, 0x0102: 18_000, 0x0103: 2_400, 0x0107: 2_000, 0x011D: 2_200}
    return CardApplication(AID, {fid: rng.randbytes(size) for fid, size in sizes.items()})


def _rates_card() -> VirtualCard:
    """A card with a 2 KB EF anyone may read (made so through its transport session): the
    rates measure the stack, not the access control the issued cards have."""
    card = VirtualCard(serial="BENCH-RATES", transport_key=_KEYS.transport_key)

    def plain(command: Command) -> Response:
        return transceive(card.process, command, extended=True, chaining=True)

    channel = SecureChannel(authenticate(plain, _KEYS.transport_key, TRANSPORT_KEY))
    for command in (
        select_mf(),
        create_file(df_fcp(AID, security=bytes((0x06, ALWAYS, ALWAYS))).encode()),
        create_file(ef_fcp(0x0102, 2048, security=bytes((0x03, ALWAYS, ALWAYS))).encode()),
    ):
        assert channel.open(command, plain(channel.protect(command, extended=True))).ok
    return card


def _commands() -> dict[str, Command]:
    return {
        "0": select_ef(0x0102),  # an answer with no data: the status word alone
        "128": read_binary(0, 128),
        "1024": read_binary(0, 1024),  # extended length
    }


async def _rates(link: CardLink, count: int) -> list[dict[str, Any]]:
    await link.run("select", _prepare)
    figures = []
    for size, command in _commands().items():
        apdu = command.encode(extended=True)

        def batch(transmit: Callable[[bytes], bytes], apdu: bytes = apdu) -> float:
            started = time.perf_counter()
            for _ in range(count):
                transmit(apdu)
            return time.perf_counter() - started

        def single(transmit: Callable[[bytes], bytes], apdu: bytes = apdu) -> bytes:
            return transmit(apdu)

        batched = await link.run("bench", batch)
        started = time.perf_counter()
        for _ in range(count // 4):
            await link.run("bench", single)
        per_await = time.perf_counter() - started
        figures.append(
            {
                "answer_bytes": int(size),
                "batched_apdus_per_s": round(count / batched),
                "per_await_apdus_per_s": round(count // 4 / per_await),
            }
        )
    return figures


def _prepare(transmit: Callable[[bytes], bytes]) -> None:
    transmit(select_mf().encode())
    transmit(bytes.fromhex("00A4040C08") + AID)


def _raw_rate(reader: str, count: int) -> dict[str, Any]:
    """pyscard alone, on one thread: what pcscd and vpcd allow at all."""
    hresult, context = scard.SCardEstablishContext(scard.SCARD_SCOPE_USER)
    assert hresult == scard.SCARD_S_SUCCESS
    hresult, card, protocol = scard.SCardConnect(
        context, reader, scard.SCARD_SHARE_EXCLUSIVE, scard.SCARD_PROTOCOL_T1
    )
    assert hresult == scard.SCARD_S_SUCCESS
    apdu = list(read_binary(0, 128).encode())
    try:
        started = time.perf_counter()
        for _ in range(count):
            scard.SCardTransmit(card, protocol, apdu)
        elapsed = time.perf_counter() - started
    finally:
        scard.SCardDisconnect(card, scard.SCARD_LEAVE_CARD)
        scard.SCardReleaseContext(context)
    return {"answer_bytes": 128, "apdus_per_s": round(count / elapsed)}


class _Station:
    """The slot and the encoder: a new card in, once the encoder saw the last one go."""

    def __init__(self, slot: VpcdSlot, encoder: CardEncoder) -> None:
        self.slot = slot
        self.encoder = encoder
        self._changed = asyncio.Event()
        encoder.add_card_listener(lambda _encoder, _present: self._changed.set())

    async def insert(self, card: VirtualCard) -> None:
        if self.slot.card is not None:
            await self.slot.remove()
            async with asyncio.timeout(_PRESENCE_TIMEOUT_S):
                while self.encoder.card_present:
                    self._changed.clear()
                    await self._changed.wait()
        await self.slot.insert(card)
        await self.encoder.wait_for_card(timeout_s=_PRESENCE_TIMEOUT_S)


async def _personalise(station: _Station, rounds: int, *, extended: bool) -> dict[str, Any]:
    rng = random.Random(4)
    application = _application(rng)
    times, apdus = [], 0
    station.encoder.extended_length = extended
    for index in range(rounds):
        card = VirtualCard(
            serial=f"BENCH-{index:04d}", seed=index, transport_key=_KEYS.transport_key
        )
        await station.insert(card)
        before = card.commands
        started = time.perf_counter()
        await station.encoder.personalise(application, keys=_KEYS, timeout_s=30)
        times.append(time.perf_counter() - started)
        apdus = card.commands - before
    return {
        "extended_length": extended,
        "bytes": sum(len(content) for content in application.files.values()),
        "apdus": apdus,
        "median_ms": round(statistics.median(times) * 1000, 2),
        "max_ms": round(max(times) * 1000, 2),
    }


async def apdu_figures(count: int) -> dict[str, Any]:
    """The card figures, with `count` APDUs per rate measured."""
    async with PrivatePcscd() as pcscd:
        slot = pcscd.slot(timing=Timing(scale=0))
        await slot.start()
        encoder = CardEncoder(
            name="card_encoder", reader=pcscd.reader_name, pcsc_socket=str(pcscd.socket_path)
        )
        await encoder.connect()
        station = _Station(slot, encoder)
        try:
            personalise = [
                await _personalise(station, 5, extended=True),
                await _personalise(station, 5, extended=False),
            ]
            await station.insert(_rates_card())
            await encoder.disconnect()  # the rates below claim the card themselves
            raw = await asyncio.to_thread(_raw_rate, pcscd.reader_name, count)
            context = PcscContext(device="bench", name="bench-card")
            link = await context.connect(pcscd.reader_name)
            try:
                rates = await _rates(link, count)
            finally:
                await link.close(reset=False, timeout_s=1)
                await context.close()
        finally:
            await encoder.disconnect()
            await slot.stop()
    slowest = min(figure["batched_apdus_per_s"] for figure in rates)
    return {
        "benchmark": "card_apdu",
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "apdus_per_s": {"raw": raw, "through_hal": rates},
        "personalise_25kb_and_read_back": personalise,
        "target_apdus_per_s": TARGET_APDUS_PER_S,
        "target_met": slowest >= TARGET_APDUS_PER_S,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--count", type=int, default=5000)
    configure_logging(level="warning")  # stdout is for the JSON
    print(json.dumps(asyncio.run(apdu_figures(parser.parse_args().count)), indent=2))


if __name__ == "__main__":
    main()
