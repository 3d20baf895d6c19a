"""A personalised card, read by a PC/SC client that is not the station's: pyscard's own
smartcard.System and CardConnection over the private pcscd, with its own PACE and secure
messaging written here from ICAO Doc 9303-11 (§4.4 and §9.8) and sharing no code with
appliance/hal. The station issues the card through its real drivers; then this client,

- with no keys, can read none of DG1, DG2, DG3, DG7 (nor EF.COM, EF.SOD) and write none;
- with the CAN printed on the card, reads DG1, DG2, DG7 as the station wrote them, but
  not DG3, and still writes nothing;
- with a wrong CAN gets no session at all.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import pytest_asyncio
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.cmac import CMAC
from smartcard.CardConnection import CardConnection
from smartcard.System import readers

from appliance.card import CARD_AID, FILE_IDS
from appliance.issuance import CardIssuer
from appliance.register import EventType, Register, StationKey
from sim.pcscd import PrivatePcscd

from .card_rig import CardStation, card_station, request
from .support import SUBMITTED

pytestmark = pytest.mark.asyncio(loop_scope="module")

APP = "APP-0001"
Issued = tuple[CardStation, dict[int, bytes], str]
GROUPS = {"DG1": 0x0101, "DG2": 0x0102, "DG3": 0x0103, "DG7": 0x0107}

# ---------------------------------------------------------------- brainpoolP256r1 (RFC 5639)

_P = 0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377
_A = 0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9
_G = (
    0x8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262,
    0x547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997,
)
_N = 0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7
_OID = bytes.fromhex("04007F00070202040202")  # id-PACE-ECDH-GM-AES-CBC-CMAC-128


def _plus(p: tuple[int, int] | None, q: tuple[int, int] | None) -> tuple[int, int] | None:
    if p is None or q is None:
        return q if p is None else p
    if p[0] == q[0] and (p[1] + q[1]) % _P == 0:
        return None
    if p == q:
        lam = (3 * p[0] ** 2 + _A) * pow(2 * p[1], _P - 2, _P)
    else:
        lam = (q[1] - p[1]) * pow(q[0] - p[0], _P - 2, _P)
    x = (lam * lam - p[0] - q[0]) % _P
    return x, (lam * (p[0] - x) - p[1]) % _P


def _times(k: int, point: tuple[int, int]) -> tuple[int, int]:
    """Montgomery's ladder (a different walk from the station's double-and-add)."""
    low: tuple[int, int] | None = None
    high: tuple[int, int] | None = point
    for bit in f"{k:b}":
        if bit == "1":
            low, high = _plus(low, high), _plus(high, high)
        else:
            low, high = _plus(low, low), _plus(low, high)
    assert low is not None
    return low


def _bytes(point: tuple[int, int]) -> bytes:
    return b"\x04" + point[0].to_bytes(32, "big") + point[1].to_bytes(32, "big")


def _point(raw: bytes) -> tuple[int, int]:
    return int.from_bytes(raw[1:33], "big"), int.from_bytes(raw[33:65], "big")


# ---------------------------------------------------------------- AES, CMAC, TLV


def _kdf(secret: bytes, counter: int) -> bytes:
    return hashlib.sha1(secret + counter.to_bytes(4, "big")).digest()[:16]  # noqa: S324


def _mac(key: bytes, data: bytes) -> bytes:
    c = CMAC(algorithms.AES(key))
    c.update(data)
    return c.finalize()[:8]


def _aes(key: bytes, iv: bytes, data: bytes, *, encrypt: bool) -> bytes:
    cipher = Cipher(algorithms.AES(key), modes.CBC(iv))
    work = cipher.encryptor() if encrypt else cipher.decryptor()
    return work.update(data) + work.finalize()


def _pad(data: bytes) -> bytes:
    data += b"\x80"
    return data + b"\x00" * (-len(data) % 16)


def _do(tag: int, value: bytes) -> bytes:
    size = len(value)
    length = (
        bytes([size])
        if size < 128
        else bytes([0x81, size])
        if size < 256
        else b"\x82" + size.to_bytes(2, "big")
    )
    return (tag.to_bytes(2, "big") if tag > 0xFF else bytes([tag])) + length + value


def _objects(raw: bytes) -> dict[int, bytes]:
    found, i = {}, 0
    while i < len(raw):
        tag = raw[i]
        i += 1
        size = raw[i]
        i += 1
        if size & 0x80:
            count = size & 0x7F
            size = int.from_bytes(raw[i : i + count], "big")
            i += count
        found[tag] = raw[i : i + size]
        i += size
    return found


# ---------------------------------------------------------------- the client


class Client:
    """pyscard's CardConnection, with PACE and secure messaging of its own."""

    def __init__(self, connection: CardConnection) -> None:
        self.connection = connection
        self.keys: tuple[bytes, bytes] | None = None
        self.ssc = 0

    def plain(self, apdu: bytes) -> tuple[bytes, int]:
        data, sw1, sw2 = self.connection.transmit(list(apdu))
        return bytes(data), sw1 << 8 | sw2

    def pace(self, can: str) -> int:
        """PACE with `can`; the status word of the last step (9000: a session)."""
        k_pi = _kdf(can.encode(), 3)
        template = _do(0x80, _OID) + _do(0x83, b"\x02") + _do(0x84, b"\x0d")  # CAN, brainpool
        _, sw = self.plain(bytes.fromhex("0022C1A4") + bytes([len(template)]) + template)
        assert sw == 0x9000
        answer, _ = self.plain(bytes.fromhex("10860000027C0000"))
        nonce = _aes(k_pi, bytes(16), _objects(_objects(answer)[0x7C])[0x80], encrypt=False)
        secret = int.from_bytes(os.urandom(32), "big") % (_N - 1) + 1
        card_map = self._step(0x10, _do(0x81, _bytes(_times(secret, _G))))[0x82]
        generator = _plus(
            _times(int.from_bytes(nonce, "big"), _G), _times(secret, _point(card_map))
        )
        assert generator is not None
        ephemeral = int.from_bytes(os.urandom(32), "big") % (_N - 1) + 1
        own = _bytes(_times(ephemeral, generator))
        card_key = self._step(0x10, _do(0x83, own))[0x84]
        shared = _times(ephemeral, _point(card_key))[0].to_bytes(32, "big")
        k_enc, k_mac = _kdf(shared, 1), _kdf(shared, 2)
        pk = _do(0x7F49, _do(0x06, _OID) + _do(0x86, card_key))
        body = _do(0x7C, _do(0x85, _mac(k_mac, pk)))
        answer, sw = self.plain(bytes([0x00, 0x86, 0, 0, len(body)]) + body + b"\x00")
        if sw != 0x9000:
            return sw
        expected = _mac(k_mac, _do(0x7F49, _do(0x06, _OID) + _do(0x86, own)))
        assert _objects(_objects(answer)[0x7C])[0x86] == expected  # the chip knows the CAN
        self.keys, self.ssc = (k_enc, k_mac), 0
        return sw

    def _step(self, cla: int, inner: bytes) -> dict[int, bytes]:
        body = _do(0x7C, inner)
        answer, sw = self.plain(bytes([cla, 0x86, 0, 0, len(body)]) + body + b"\x00")
        assert sw == 0x9000, hex(sw)
        return _objects(_objects(answer)[0x7C])

    def secure(self, header: bytes, data: bytes = b"", le: int | None = None) -> tuple[bytes, int]:
        """One command under secure messaging: the answer's data and its protected SW."""
        assert self.keys is not None
        k_enc, k_mac = self.keys
        self.ssc += 1
        ssc = self.ssc.to_bytes(16, "big")
        iv = _aes(k_enc, bytes(16), ssc, encrypt=True)
        cla = bytes([header[0] | 0x0C]) + header[1:]
        body = _do(0x87, b"\x01" + _aes(k_enc, iv, _pad(data), encrypt=True)) if data else b""
        if le is not None:
            body += _do(0x97, bytes([le % 256]))
        body += _do(0x8E, _mac(k_mac, ssc + _pad(_pad(cla) + body)))
        answer, sw = self.plain(cla + bytes([len(body)]) + body + b"\x00")
        self.ssc += 1
        if not answer:
            return b"", sw  # refused in plain: the session is over
        ssc = self.ssc.to_bytes(16, "big")
        fields = _objects(answer)
        covered = answer[: answer.rindex(b"\x8e\x08")]
        assert _mac(k_mac, ssc + _pad(covered)) == fields[0x8E]
        plain = b""
        if 0x87 in fields:
            iv = _aes(k_enc, bytes(16), ssc, encrypt=True)
            plain = _aes(k_enc, iv, fields[0x87][1:], encrypt=False).rstrip(b"\x00")[:-1]
        return plain, int.from_bytes(fields[0x99], "big")

    def read(self, fid: int) -> tuple[bytes, int]:
        """A whole file under secure messaging, 200 bytes at a time."""
        _, sw = self.secure(bytes.fromhex("00A4020C"), fid.to_bytes(2, "big"))
        assert sw == 0x9000
        content = b""
        while True:
            chunk, sw = self.secure(bytes([0, 0xB0]) + len(content).to_bytes(2, "big"), le=200)
            content += chunk
            if sw != 0x9000 or len(chunk) < 200:
                return content, sw


# ---------------------------------------------------------------- the card, and the tests


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def issued(
    pcscd: PrivatePcscd, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Issued]:
    """A card issued by the station through its drivers, now on the desk reader; its files as
    the chip holds them, and its CAN (as printed on its face)."""
    async with card_station(pcscd, _short_dir()) as station:
        with Register.open(
            tmp_path_factory.mktemp("reg") / "register.sqlite3",
            station_id="lumajang-01",
            key=StationKey.generate(),
        ) as register:
            register.append(EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=APP)
            register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-ACC"})
            issuer = CardIssuer(
                register=register,
                printer=station.printer,
                encoder=station.encoder,
                signer=station.signer,
                card_keys=station.card_keys,
            )
            printed = await issuer.issue(request(APP))
        chip = station.printer_sim.output_tray[-1]
        files = chip.application(CARD_AID)
        await station.hand_card_to_desk()
        await station.desk_reader.wait_for_card(timeout_s=5)  # pcscd sees it there
        yield station, files, station.card_keys.for_card(printed.card_serial).can


@pytest_asyncio.fixture(loop_scope="module")
async def client(issued: Issued, pcscd: PrivatePcscd) -> AsyncIterator[Client]:
    """A pyscard connection to the desk reader. Every call into it goes to a thread of its
    own: the simulated card answers on this test's event loop."""
    name = f"{pcscd.friendly_name} 00 01"

    def connect() -> Client:
        (desk,) = [reader for reader in readers() if str(reader) == name]
        connection = desk.createConnection()
        connection.connect(CardConnection.T1_protocol)
        return Client(connection)

    connected = await asyncio.to_thread(connect)
    try:
        yield connected
    finally:
        # Disconnect and release the connection's own context while pcscd still runs.
        await asyncio.to_thread(connected.connection.release)


def _short_dir() -> Path:
    """The rig's USB socket path must fit a UNIX address: a short directory of its own."""
    return Path(tempfile.mkdtemp(prefix="ktpel-acc-"))


def _select_application(client: Client) -> None:
    assert client.plain(bytes.fromhex("00A4040C07") + CARD_AID)[1] == 0x9000


async def test_without_keys_no_personal_file_can_be_read_or_written(client: Client) -> None:
    await asyncio.to_thread(_without_keys, client)


def _without_keys(client: Client) -> None:
    # What is free to all: the chip's serial, and which PACE it runs.
    assert client.plain(bytes.fromhex("00A4000C023F00"))[1] == 0x9000
    access, sw = client.plain(bytes.fromhex("00B09C0000"))  # EF.CardAccess, by its SFI
    assert sw == 0x6282  # all of it: fewer bytes than Le
    assert _OID in access
    _select_application(client)
    for fid in (*GROUPS.values(), FILE_IDS["EF.COM"], FILE_IDS["EF.SOD"]):
        assert client.plain(bytes.fromhex("00A4020C02") + fid.to_bytes(2, "big"))[1] == 0x9000
        assert client.plain(bytes.fromhex("00B0000000"))[1] == 0x6982
        # By short EF identifier too: refused, or no such short identifier; never data.
        assert client.plain(bytes([0, 0xB0, 0x80 | (fid & 0x1F), 0, 0])) in (
            (b"", 0x6982),
            (b"", 0x6A82),
        )
        assert client.plain(bytes.fromhex("00D6000001") + b"X")[1] == 0x6982


async def test_with_the_can_dg1_dg2_dg7_read_but_not_dg3_and_nothing_is_written(
    client: Client, issued: Issued
) -> None:
    _, files, can = issued
    await asyncio.to_thread(_with_the_can, client, files, can)


def _with_the_can(client: Client, files: dict[int, bytes], can: str) -> None:
    assert client.pace(can) == 0x9000
    _, sw = client.secure(bytes.fromhex("00A4040C"), CARD_AID)
    assert sw == 0x9000
    for name in ("DG1", "DG2", "DG7"):
        content, _ = client.read(GROUPS[name])
        assert content == files[GROUPS[name]], name
    assert client.read(GROUPS["DG3"]) == (b"", 0x6982)
    for fid in (*GROUPS.values(), FILE_IDS["EF.SOD"]):
        client.secure(bytes.fromhex("00A4020C"), fid.to_bytes(2, "big"))
        assert client.secure(bytes.fromhex("00D60000"), b"X")[1] == 0x6982
    assert (
        client.secure(bytes.fromhex("00E00000"), bytes.fromhex("620A8001108201018302010F"))[1]
        == 0x6982
    )


async def test_a_wrong_can_opens_nothing(client: Client, issued: Issued) -> None:
    _, _, can = issued
    wrong = f"{(int(can) + 1) % 1_000_000:06d}"
    assert await asyncio.to_thread(client.pace, wrong) == 0x6300
    assert client.keys is None
