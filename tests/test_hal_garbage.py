"""Garbage and oversized input from a serial device never crashes the driver: the line
parser only ever answers with a frame or FrameError, and a driver fed noise through a
real pty ends its operation with a typed error and keeps working afterwards."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from appliance.hal import DeviceError, DeviceState
from appliance.hal._lineproto import MAX_LINE, Frame, FrameError, decode, encode
from appliance.hal._signature_pad import SignaturePad
from sim._base import Timing
from sim.serial_devices import SignaturePadSim

_field = st.text(
    alphabet=st.characters(min_codepoint=0x20, max_codepoint=0x7E, exclude_characters="$*,"),
    max_size=12,
)


@given(st.binary(max_size=MAX_LINE * 2))
def test_decoder_accepts_or_refuses_any_bytes(data: bytes) -> None:
    try:
        frame = decode(data)
    except FrameError:
        return
    assert isinstance(frame, Frame)
    assert frame.kind


def test_the_checksum_is_nmea_0183s() -> None:
    # Sentences with the checksums they were published with (NMEA 0183 GGA and RMC examples,
    # D. DePriest, "NMEA data", gpsinformation.org): a reference that is not our encoder.
    gga = b"$GPGGA,123519,4807.038,N,01131.000,E,1,08,0.9,545.4,M,46.9,M,,*47\r\n"
    rmc = b"$GPRMC,123519,A,4807.038,N,01131.000,E,022.4,084.4,230394,003.1,W*6A"
    fields = decode(gga).fields
    assert fields[:2] == ("123519", "4807.038")
    assert encode("GPGGA", *fields) == gga
    assert decode(rmc).kind == "GPRMC"
    with pytest.raises(FrameError, match="checksum"):
        decode(rmc[:-2] + b"6B")


@given(st.from_regex(r"[A-Z]{1,6}", fullmatch=True), st.lists(_field, max_size=8))
def test_frames_round_trip(kind: str, fields: list[str]) -> None:
    assert decode(encode(kind, *fields)) == Frame(kind, tuple(fields))


@given(st.binary(min_size=1, max_size=64), st.integers(min_value=0, max_value=40))
def test_a_flipped_byte_is_caught(payload: bytes, position: int) -> None:
    line = bytearray(encode("P", 10, 20, 300, 1000))
    index = 1 + position % (len(line) - 5)  # inside the body or checksum
    line[index] ^= payload[0] or 1
    try:
        frame = decode(bytes(line))
    except FrameError:
        return
    # An XOR checksum misses nothing a single flipped byte can do, unless it turned
    # into another valid frame's byte pattern altogether; it may not stay "P,10,...".
    assert frame != Frame("P", ("10", "20", "300", "1000"))


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(noise=st.lists(st.binary(max_size=600), min_size=1, max_size=6))
async def test_driver_survives_noise_on_the_line(tmp_path: Path, noise: list[bytes]) -> None:
    sim = SignaturePadSim(name="pad", link=tmp_path / "pad-noise", timing=Timing(scale=0))
    await sim.start()
    pad = SignaturePad(name="pad", path=str(sim.port.link), reply_timeout_s=0.2)
    try:
        await pad.connect()
        for chunk in noise:
            sim.port.write(chunk + b"\n")
        # A typed error is a right outcome for noise; anything else fails the test.
        with contextlib.suppress(DeviceError):
            await pad.capture(timeout_s=1.0)
        if pad.status.state is not DeviceState.READY:
            await pad.check()
        assert pad.status.state is DeviceState.READY
    finally:
        await pad.disconnect()
        await sim.stop()


async def test_an_endless_line_is_discarded(tmp_path: Path) -> None:
    sim = SignaturePadSim(name="pad", link=tmp_path / "pad-long", timing=Timing(scale=0))
    await sim.start()
    pad = SignaturePad(name="pad", path=str(sim.port.link), reply_timeout_s=0.5)
    try:
        await pad.connect()
        sim.port.write(b"$P," + b"9" * 5000 + b"\r\n")
        assert (await pad.check()).state is DeviceState.READY
        assert pad.garbage_lines >= 1
    finally:
        await pad.disconnect()
        await sim.stop()
