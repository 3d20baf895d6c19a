"""The simulated chip's own security: its life cycle, the keys it holds, PACE, mutual
authentication and secure messaging, as the card's side of them.

A real chip enforces its access conditions itself, whatever the reader asks; so does
this one. `VirtualCard` asks `ChipSecurity` before every command that reads, writes or
creates, and hands it every protected command to open and every answer to protect.

- Life cycle: a blank is in the initialisation state (ISO/IEC 7816-4 LCS 03) holding
  only its transport key, set by its maker. Until ACTIVATE FILE (ISO/IEC 7816-9) on the
  MF, anything that is not free to all (security condition 00) needs a session opened by
  MUTUAL AUTHENTICATE with that key. Once operational (LCS 05), the transport key is
  refused (6984) and each file's security attributes (tag 8C, compact format) decide.
- Keys: the transport key; the card access number and the reader key, set during
  personalisation by CHANGE REFERENCE DATA (P1 01) under the transport session.
- Secure messaging (ICAO 9303-11 §9.8): a protected command whose objects are missing
  or whose MAC does not verify is answered 6987/6988 in plain and ends the session; so
  does any plain command but GET RESPONSE (9303-11 §9.8: the chip aborts secure
  messaging on an error in it or on a plain APDU).
- PACE (9303-11 §4.4), ECDH-GM with AES-128, over the domain parameters the chip
  offers; MUTUAL AUTHENTICATE (BAC-style, AES-128) with the transport key in plain on a
  blank, or with the reader key inside a PACE session, which then goes on under the
  keys it agrees.

The crypto primitives (AES, CMAC, the KDF, point arithmetic) are the ones the station's
driver uses too; the protocol's card side, its state and its checks are this module's.
"""

from __future__ import annotations

import os
import secrets
from dataclasses import dataclass
from typing import Final

from appliance.hal._apdu import (
    MAX_EXTENDED_LE,
    MAX_SHORT_LE,
    ApduError,
    Command,
    Response,
    StatusWord,
)
from appliance.hal._card_access import (
    ALWAYS,
    CAN_REFERENCE,
    INITIALISATION,
    KEY_BYTES,
    NEVER,
    OPERATIONAL,
    READER_KEY_REFERENCE,
    SC_AUTHENTICATION,
    SC_SECURE_MESSAGING,
    SE_PACE,
    SE_READER_KEY,
    TRANSPORT_KEY,
    seal,
    unseal,
)
from appliance.hal._ec import STANDARD_DOMAINS, Curve, PointError, generic_mapping
from appliance.hal._iso7816 import tlv, tlv_items
from appliance.hal._pace import (
    PACE_ECDH_GM_AES128,
    agree,
    encrypt_nonce,
    password_key,
    token,
)
from appliance.hal._secure_messaging import (
    DO_ENCRYPTED,
    DO_ENCRYPTED_ODD,
    DO_LE,
    DO_MAC,
    DO_STATUS,
    MAC_BYTES,
    SM_CLA,
    SecureMessagingError,
    SessionKeys,
    mac,
    pad,
)

SUPPORTED_DOMAINS: Final = frozenset(STANDARD_DOMAINS)
_CHALLENGE: Final = 16


class Refused(Exception):
    """Ends a command early with this status word."""

    def __init__(self, sw: int) -> None:
        self.sw = sw
        super().__init__(f"{sw:04X}")


@dataclass(slots=True)
class _Session:
    keys: SessionKeys
    rights: frozenset[str]  # "transport", "pace", "reader"


@dataclass(slots=True)
class _PaceRun:
    """A PACE run under way: what the chip holds between GENERAL AUTHENTICATE steps."""

    curve: Curve
    password: bytes
    step: int = 0
    nonce: int = 0
    generator: tuple[int, int] | None = None
    own: bytes = b""
    agreed: SessionKeys | None = None


@dataclass(slots=True)
class ChipSecurity:
    """The chip's security state: its life cycle, its keys and the session now open."""

    transport_key: bytes | None
    life_cycle: int = INITIALISATION
    can: str | None = None
    reader_key: bytes | None = None
    session: _Session | None = None
    _next_session: _Session | None = None
    _pace: _PaceRun | None = None
    _challenge: bytes | None = None

    @property
    def operational(self) -> bool:
        return self.life_cycle == OPERATIONAL

    def reset(self) -> None:
        """Power off, on or reset: every session and run under way is gone."""
        self.session = self._next_session = self._pace = self._challenge = None

    # -- access conditions

    def allows(self, condition: int) -> bool:
        """Whether the session now open satisfies a security condition byte."""
        if condition == ALWAYS:
            return True
        rights = self.session.rights if self.session is not None else frozenset()
        if not self.operational:
            return "transport" in rights  # the personalisation agent's, before activation
        if condition == NEVER:
            return False
        needed = set()
        if condition & SC_SECURE_MESSAGING:
            needed.add("pace")
        if condition & SC_AUTHENTICATION:
            needed.add("reader")
        environment = condition & 0x0F
        if environment == SE_PACE:
            needed.add("pace")
        elif environment == SE_READER_KEY:
            needed |= {"pace", "reader"}
        elif environment:
            return False  # an environment this chip does not have
        return bool(needed) and needed <= rights

    def require(self, condition: int) -> None:
        if not self.allows(condition):
            raise Refused(StatusWord.SECURITY_NOT_SATISFIED)

    def require_personalisation(self) -> None:
        """Changing the chip (files, keys, life cycle) is for the transport session of a
        card not yet activated; never once it is."""
        rights = self.session.rights if self.session is not None else frozenset()
        if self.operational or "transport" not in rights:
            raise Refused(StatusWord.SECURITY_NOT_SATISFIED)

    # -- secure messaging

    def plain_command(self, command: Command) -> None:
        """A command in plain: it ends any secure messaging session (9303-11 §9.8)."""
        if command.ins != 0xC0:
            self.session = None

    def open(self, command: Command) -> Command:
        """The command inside a protected one; Refused (6987/6988, the session ended)
        if it is not whole or its MAC does not verify."""
        session = self.session
        if session is None:
            raise Refused(StatusWord.SM_OBJECTS_INCORRECT)
        try:
            return _unwrap(session.keys, command)
        except _Malformed as error:
            self.session = None
            raise Refused(error.sw) from None

    def protect(self, response: Response, *, odd: bool) -> Response:
        """The answer, protected under the session it came in (and the session that
        a mutual authentication agreed takes over after it)."""
        session = self.session
        assert session is not None  # `open` let the command in
        keys = session.keys
        ssc = keys.step()
        body = keys.encrypt_object(ssc, response.data, odd=odd) if response.data else b""
        body += tlv(DO_STATUS, response.sw.to_bytes(2, "big"))
        body += tlv(DO_MAC, mac(keys.mac, ssc + pad(body)))
        if self._next_session is not None:
            self.session, self._next_session = self._next_session, None
        return Response(body, response.sw)

    # -- reference data

    def change_reference(self, command: Command) -> Response:
        self.require_personalisation()
        if command.p1 != 0x01:
            raise Refused(StatusWord.INCORRECT_P1P2)
        if command.p2 == CAN_REFERENCE:
            can = command.data.decode("latin-1")
            if len(can) != 6 or not can.isdigit():
                raise Refused(StatusWord.WRONG_DATA)
            self.can = can
        elif command.p2 == READER_KEY_REFERENCE:
            if len(command.data) != KEY_BYTES:
                raise Refused(StatusWord.WRONG_LENGTH)
            self.reader_key = bytes(command.data)
        else:
            raise Refused(StatusWord.REFERENCE_NOT_FOUND)
        return Response(b"", StatusWord.OK)

    def activate(self) -> None:
        self.require_personalisation()
        self.life_cycle = OPERATIONAL

    # -- mutual authentication

    def get_challenge(self, command: Command) -> Response:
        if command.le != _CHALLENGE or command.p1 or command.p2:
            raise Refused(StatusWord.WRONG_LENGTH if command.le != _CHALLENGE else 0x6A86)
        self._challenge = os.urandom(_CHALLENGE)
        return Response(self._challenge, StatusWord.OK)

    def mutual_authenticate(self, command: Command) -> Response:
        challenge, self._challenge = self._challenge, None  # one answer per challenge
        key, rights = self._authentication_key(command.p2)
        if challenge is None:
            raise Refused(StatusWord.CONDITIONS_NOT_SATISFIED)
        plain = unseal(key, command.data)
        if plain is None or not secrets.compare_digest(plain[16:32], challenge):
            raise Refused(StatusWord.AUTHENTICATION_FAILED)
        rnd_ifd, k_ifd = plain[:16], plain[32:]
        k_ic = os.urandom(KEY_BYTES)
        agreed = SessionKeys.from_secret(bytes(a ^ b for a, b in zip(k_ifd, k_ic, strict=True)))
        if self.session is None:
            self.session = _Session(agreed, rights)
        else:
            self._next_session = _Session(agreed, rights)
        return Response(seal(key, challenge + rnd_ifd + k_ic), StatusWord.OK)

    def _authentication_key(self, reference: int) -> tuple[bytes, frozenset[str]]:
        if reference == TRANSPORT_KEY:
            if self.operational:
                raise Refused(StatusWord.REFERENCE_NOT_USABLE)
            if self.transport_key is None:
                raise Refused(StatusWord.REFERENCE_NOT_FOUND)
            if self.session is not None:
                raise Refused(StatusWord.CONDITIONS_NOT_SATISFIED)
            return self.transport_key, frozenset({"transport"})
        if reference == READER_KEY_REFERENCE:
            if not self.operational or self.reader_key is None:
                raise Refused(StatusWord.REFERENCE_NOT_FOUND)
            if self.session is None or "pace" not in self.session.rights:
                raise Refused(StatusWord.SECURITY_NOT_SATISFIED)  # PACE first
            return self.reader_key, frozenset({"pace", "reader"})
        raise Refused(StatusWord.REFERENCE_NOT_FOUND)

    # -- PACE

    def set_authentication_template(self, command: Command) -> Response:
        """MSE:Set AT for PACE (00 22 C1 A4): protocol, password, domain parameters."""
        if (command.p1, command.p2) != (0xC1, 0xA4):
            raise Refused(StatusWord.INCORRECT_P1P2)
        self._pace = None
        try:
            fields = dict(tlv_items(command.data))
        except ApduError:
            raise Refused(StatusWord.WRONG_DATA) from None
        parameter = fields.get(0x84, bytes((min(SUPPORTED_DOMAINS),)))
        if fields.get(0x80) != PACE_ECDH_GM_AES128 or len(parameter) != 1:
            raise Refused(StatusWord.WRONG_DATA)
        if parameter[0] not in SUPPORTED_DOMAINS:
            raise Refused(StatusWord.WRONG_DATA)
        if fields.get(0x83) != bytes((CAN_REFERENCE,)):
            raise Refused(StatusWord.REFERENCE_NOT_FOUND)  # no MRZ, PIN or PUK on a KTP-el
        if not self.operational or self.can is None:
            raise Refused(StatusWord.CONDITIONS_NOT_SATISFIED)
        self._pace = _PaceRun(STANDARD_DOMAINS[parameter[0]], password_key(self.can))
        return Response(b"", StatusWord.OK)

    def general_authenticate(self, command: Command) -> Response:
        """One step of PACE; any failure ends the run."""
        run, self._pace = self._pace, None
        if run is None:
            raise Refused(StatusWord.CONDITIONS_NOT_SATISFIED)
        last = run.step == 3
        if bool(command.cla & 0x10) == last:  # chained but the last, which is not
            raise Refused(StatusWord.CONDITIONS_NOT_SATISFIED)
        try:
            outer = list(tlv_items(command.data))
            if len(outer) != 1 or outer[0][0] != 0x7C:
                raise Refused(StatusWord.WRONG_DATA)
            inner = dict(tlv_items(outer[0][1]))
            answer = _PACE_STEPS[run.step](run, inner)
        except (ApduError, PointError, ValueError, KeyError):
            raise Refused(StatusWord.WRONG_DATA) from None
        run.step += 1
        if last:
            assert run.agreed is not None
            self.session = _Session(run.agreed, frozenset({"pace"}))
        else:
            self._pace = run
        return Response(tlv(0x7C, answer), StatusWord.OK)


def _encrypted_nonce(run: _PaceRun, inner: dict[int, bytes]) -> bytes:
    if inner:
        raise KeyError("the first step carries nothing")
    nonce = os.urandom(16)
    run.nonce = int.from_bytes(nonce, "big")
    return tlv(0x80, encrypt_nonce(run.password, nonce))


def _mapping(run: _PaceRun, inner: dict[int, bytes]) -> bytes:
    curve = run.curve
    private = curve.random_scalar()
    shared = curve.times(curve.decode(inner[0x81]), private)
    run.generator = generic_mapping(curve, run.nonce, shared)
    return tlv(0x82, curve.encode(curve.public_point(private)))


def _key_agreement(run: _PaceRun, inner: dict[int, bytes]) -> bytes:
    curve = run.curve
    assert run.generator is not None
    private = curve.random_scalar()
    run.own = curve.encode(curve.times(run.generator, private))
    peer = inner[0x83]
    if secrets.compare_digest(peer, run.own):
        raise KeyError("the reader sent the chip's own key back")  # 9303-11 §4.4.3.3
    run.agreed = agree(curve, private, peer)
    run.password = peer  # kept for the reader's token: the key it sent
    return tlv(0x84, run.own)


def _tokens(run: _PaceRun, inner: dict[int, bytes]) -> bytes:
    agreed = run.agreed
    assert agreed is not None
    expected = token(agreed.mac, PACE_ECDH_GM_AES128, run.own)
    if not secrets.compare_digest(inner.get(0x85, b""), expected):
        raise Refused(StatusWord.AUTHENTICATION_FAILED)  # the reader's CAN is not ours
    return tlv(0x86, token(agreed.mac, PACE_ECDH_GM_AES128, run.password))


_PACE_STEPS: Final = (_encrypted_nonce, _mapping, _key_agreement, _tokens)


# ---------------------------------------------------------------- secure messaging


class _Malformed(Exception):
    def __init__(self, sw: int) -> None:
        self.sw = sw


def _unwrap(keys: SessionKeys, command: Command) -> Command:
    ssc = keys.step()
    try:
        objects = list(tlv_items(command.data))
    except ApduError:
        raise _Malformed(StatusWord.SM_OBJECTS_INCORRECT) from None
    tags = [tag for tag, _ in objects]
    if not tags or tags[-1] != DO_MAC or len(objects[-1][1]) != MAC_BYTES:
        raise _Malformed(StatusWord.SM_OBJECTS_MISSING)
    allowed = [DO_ENCRYPTED_ODD if command.ins & 1 else DO_ENCRYPTED, DO_LE, DO_MAC]
    if any(tag not in allowed for tag in tags) or len(set(tags)) != len(tags):
        raise _Malformed(StatusWord.SM_OBJECTS_INCORRECT)
    header = pad(bytes((command.cla, command.ins, command.p1, command.p2)))
    covered = command.data[: -(2 + MAC_BYTES)]
    if not secrets.compare_digest(mac(keys.mac, ssc + pad(header + covered)), objects[-1][1]):
        raise _Malformed(StatusWord.SM_OBJECTS_INCORRECT)
    fields = dict(objects)
    data = b""
    for tag in (DO_ENCRYPTED, DO_ENCRYPTED_ODD):
        if tag in fields:
            try:
                data = keys.decrypt_object(ssc, tag, fields[tag])
            except SecureMessagingError:
                raise _Malformed(StatusWord.SM_OBJECTS_INCORRECT) from None
    le = 0
    if DO_LE in fields:
        raw = fields[DO_LE]
        if len(raw) not in (1, 2):
            raise _Malformed(StatusWord.SM_OBJECTS_INCORRECT)
        le = int.from_bytes(raw, "big") or (MAX_SHORT_LE if len(raw) == 1 else MAX_EXTENDED_LE)
    return Command(command.cla & ~SM_CLA, command.ins, command.p1, command.p2, data, le)
