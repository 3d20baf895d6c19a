"""The card's access control, piece by piece, against the simulated chip directly (no pcscd):
the point arithmetic against `cryptography`, PACE against ICAO's own worked example, and
the chip refusing what its life cycle and each file's rules refuse.

ICAO Doc 9303-11 Appendix G.1 (PACE ECDH Generic Mapping, brainpoolP256r1, AES-128) is the
source of the known answers below; ICAO's example authenticates with the MRZ, so it starts
from K_π's seed rather than a CAN.
"""

from __future__ import annotations

import random
from collections.abc import Callable

import pytest
from cryptography.hazmat.primitives.asymmetric import ec

from appliance.card import CardKeys
from appliance.hal._apdu import Command, Response, StatusWord, transceive
from appliance.hal._card_access import (
    READER_KEY_REFERENCE,
    TRANSPORT_KEY,
    AccessDenied,
    AccessKeys,
    PersonalisationKeys,
    activate_file,
    authenticate,
    change_reference_data,
)
from appliance.hal._card_session import (
    CardApplication,
    Link,
    Refused,
    personalise_and_lock,
    read_protected,
)
from appliance.hal._ec import BRAINPOOL_P256R1, NIST_P256, Curve, PointError, generic_mapping
from appliance.hal._iso7816 import (
    create_file,
    ef_fcp,
    read_binary,
    select_df_name,
    select_ef,
    select_mf,
    update_binary,
)
from appliance.hal._pace import (
    PACE_ECDH_GM_AES128,
    PaceFailed,
    PaceInfo,
    decrypt_nonce,
    establish,
    password_key,
    token,
)
from appliance.hal._secure_messaging import SecureChannel, SessionKeys, kdf
from sim.smartcard import VirtualCard

H = bytes.fromhex
AID = H("A0000002471001")
TRANSPORT = bytes(range(16))
READER = bytes(range(16, 32))
CAN = "135790"


# ---------------------------------------------------------------- points


@pytest.mark.parametrize("curve", [BRAINPOOL_P256R1, NIST_P256], ids=lambda c: c.name)
def test_scalar_multiples_match_the_public_keys_cryptography_derives(curve: Curve) -> None:
    rng = random.Random(curve.name)
    assert curve.contains(curve.g)
    assert curve.multiply(curve.g, curve.n) is None  # the generator's order
    for scalar in [1, 2, 3, curve.n - 1, *(rng.randrange(1, curve.n) for _ in range(20))]:
        assert curve.multiply(curve.g, scalar) == curve.public_point(scalar)


@pytest.mark.parametrize("curve", [BRAINPOOL_P256R1, NIST_P256], ids=lambda c: c.name)
def test_a_sum_of_points_is_the_point_of_the_sum_of_scalars(curve: Curve) -> None:
    rng = random.Random(7)
    for _ in range(10):
        a, b = rng.randrange(1, curve.n), rng.randrange(1, curve.n)
        total = curve.add(curve.public_point(a), curve.public_point(b))
        assert total == curve.multiply(curve.g, a + b)
        # ECDH from cryptography sees the same point (its x) on any generator.
        point = curve.public_point(a)
        assert curve.shared_x(b, point) == curve.times(point, b)[0].to_bytes(32, "big")


def test_points_off_the_curve_are_refused() -> None:
    curve = BRAINPOOL_P256R1
    good = curve.encode(curve.g)
    for bad in (good[:-1] + bytes((good[-1] ^ 1,)), good[:-1], b"\x02" + good[1:33], b""):
        with pytest.raises(PointError):
            curve.decode(bad)
    with pytest.raises(ValueError, match=r"not on the curve|point"):
        ec.EllipticCurvePublicNumbers(1, 1, curve.standard).public_key()


# ---------------------------------------------------------------- ICAO 9303-11 Appendix G.1

MAP_PCD_PRIVATE = 0x7F4EF07B9EA82FD78AD689B38D0BC78CF21F249D953BC46F4C6E19259C010F99
EPH_PCD_PRIVATE = 0xA73FB703AC1436A18E0CFA5ABB3F7BEC7A070E7A6788486BEE230C4A22762595
G1: dict[str, bytes] = {
    "k_seed": H("7E2D2A41C74EA0B38CD36F863939BFA8E9032AAD"),
    "k_pi": H("89DED1B26624EC1E634C1989302849DD"),
    "z": H("95A3A016522EE98D01E76CB6B98B42C3"),
    "s": H("3F00C4D39D153F2B2A214A078D899B22"),
    "map_pcd": H(
        "047ACF3EFC982EC45565A4B155129EFBC74650DCBFA6362D896FC70262E0C2CC5E"
        "544552DCB6725218799115B55C9BAA6D9F6BC3A9618E70C25AF71777A9C4922D"
    ),
    "map_picc": H(
        "04824FBA91C9CBE26BEF53A0EBE7342A3BF178CEA9F45DE0B70AA601651FBA3F57"
        "30D8C879AAA9C9F73991E61B58F4D52EB87A0A0C709A49DC63719363CCD13C54"
    ),
    "mapped": H(
        "048CED63C91426D4F0EB1435E7CB1D74A46723A0AF21C89634F65A9AE87A9265E2"
        "8C879506743F8611AC33645C5B985C80B5F09A0B83407C1B6A4D857AE76FE522"
    ),
    "eph_pcd": H(
        "042DB7A64C0355044EC9DF190514C625CBA2CEA48754887122F3A5EF0D5EDD301C"
        "3556F3B3B186DF10B857B58F6A7EB80F20BA5DC7BE1D43D9BF850149FBB36462"
    ),
    "eph_picc": H(
        "049E880F842905B8B3181F7AF7CAA9F0EFB743847F44A306D2D28C1D9EC65DF6DB"
        "7764B22277A2EDDC3C265A9F018F9CB852E111B768B326904B59A0193776F094"
    ),
    "shared": H("28768D20701247DAE81804C9E780EDE582A9996DB4A315020B2733197DB84925"),
    "k_enc": H("F5F0E35C0D7161EE6724EE513A0D9A7F"),
    "k_mac": H("FE251C7858B356B24514B3BD5F4297D1"),
    "t_pcd": H("C2B0BD78D94BA866"),
    "t_picc": H("3ABB9674BCE93C08"),
}


def test_pace_reproduces_icao_s_worked_example_step_by_step() -> None:
    curve = BRAINPOOL_P256R1
    assert kdf(G1["k_seed"], 3) == G1["k_pi"]
    assert decrypt_nonce(G1["k_pi"], G1["z"]) == G1["s"]
    assert curve.encode(curve.public_point(MAP_PCD_PRIVATE)) == G1["map_pcd"]
    shared = curve.times(curve.decode(G1["map_picc"]), MAP_PCD_PRIVATE)
    mapped = generic_mapping(curve, int.from_bytes(G1["s"], "big"), shared)
    assert curve.encode(mapped) == G1["mapped"]
    assert curve.encode(curve.times(mapped, EPH_PCD_PRIVATE)) == G1["eph_pcd"]
    secret = curve.shared_x(EPH_PCD_PRIVATE, curve.decode(G1["eph_picc"]))
    assert secret == G1["shared"]
    session = SessionKeys.from_secret(secret)
    assert (session.enc, session.mac) == (G1["k_enc"], G1["k_mac"])
    assert token(session.mac, PACE_ECDH_GM_AES128, G1["eph_picc"]) == G1["t_pcd"]
    assert token(session.mac, PACE_ECDH_GM_AES128, G1["eph_pcd"]) == G1["t_picc"]


def _g1_chip(*, token_answer: bytes = G1["t_picc"]) -> Callable[[Command], Response]:
    """The chip of Appendix G.1, replaying its answers; checks the reader's GENERAL
    AUTHENTICATE commands byte for byte."""
    script = [
        ("10860000027C0000", "7C1280" + "10" + G1["z"].hex()),
        (
            "10860000457C4381" + "41" + G1["map_pcd"].hex() + "00",
            "7C4382" + "41" + G1["map_picc"].hex(),
        ),
        (
            "10860000457C4383" + "41" + G1["eph_pcd"].hex() + "00",
            "7C4384" + "41" + G1["eph_picc"].hex(),
        ),
        ("008600000C7C0A8508" + G1["t_pcd"].hex() + "00", "7C0A8608" + token_answer.hex()),
    ]

    def send(command: Command) -> Response:
        if command.ins == 0x22:
            return Response(b"", StatusWord.OK)
        wanted, answer = script.pop(0)
        assert command.encode().hex().upper() == wanted.upper()
        return Response(H(answer), StatusWord.OK)

    return send


def test_the_reader_s_pace_sends_icao_s_apdus_and_verifies_the_chip() -> None:
    channel = establish(
        _g1_chip(),
        password=G1["k_pi"],
        info=PaceInfo(PACE_ECDH_GM_AES128, 13),
        mapping_key=MAP_PCD_PRIVATE,
        ephemeral_key=EPH_PCD_PRIVATE,
    )
    assert (channel.keys.enc, channel.keys.mac, channel.keys.ssc) == (G1["k_enc"], G1["k_mac"], 0)


def test_a_chip_token_that_does_not_verify_ends_pace() -> None:
    with pytest.raises(PaceFailed, match="token"):
        establish(
            _g1_chip(token_answer=bytes(8)),
            password=G1["k_pi"],
            info=PaceInfo(PACE_ECDH_GM_AES128, 13),
            mapping_key=MAP_PCD_PRIVATE,
            ephemeral_key=EPH_PCD_PRIVATE,
        )


# ---------------------------------------------------------------- the chip's own rules


def _send(card: VirtualCard) -> Callable[[Command], Response]:
    return lambda command: transceive(card.process, command, extended=True, chaining=True)


def _link(card: VirtualCard) -> Link:
    return Link(card.process, True, True, 1024)


def _issued(*, sensitive: bool = True) -> tuple[VirtualCard, CardApplication]:
    card = VirtualCard(serial="KTP-ACCESS", transport_key=TRANSPORT)
    application = CardApplication(
        AID,
        {1: b"NIK 3508011708900001", 2: bytes(300), 3: b"minutiae" * 40, 7: b"sig" * 50},
        sensitive=frozenset({3}) if sensitive else frozenset(),
    )
    keys = PersonalisationKeys(transport_key=TRANSPORT, can=CAN, reader_key=READER)
    personalise_and_lock(_link(card), application, keys)
    card.power_cycle()
    return card, application


def test_a_blank_is_written_by_no_one_without_its_transport_key() -> None:
    card = VirtualCard(serial="KTP-BLANK", transport_key=TRANSPORT)
    send = _send(card)
    assert send(select_mf()).ok  # navigation and EF.GDO are free to all
    assert send(create_file(ef_fcp(0x0101, 10).encode())).sw == StatusWord.SECURITY_NOT_SATISFIED
    assert send(change_reference_data(0x02, b"000000")).sw == StatusWord.SECURITY_NOT_SATISFIED
    assert send(activate_file()).sw == StatusWord.SECURITY_NOT_SATISFIED
    with pytest.raises(AccessDenied) as denied:
        authenticate(send, bytes(16), TRANSPORT_KEY)  # a wrong key
    assert denied.value.sw == StatusWord.AUTHENTICATION_FAILED
    assert card.life_cycle == 0x03  # still a blank


def test_a_half_written_card_reads_to_no_one_and_stays_a_blank() -> None:
    card = VirtualCard(serial="KTP-HALF", transport_key=TRANSPORT)
    send = _send(card)
    channel = SecureChannel(authenticate(send, TRANSPORT, TRANSPORT_KEY))
    for command in (
        select_mf(),
        create_file(ef_fcp(0x0101, 16, security=bytes((0x03, 0xFF, 0x41))).encode()),
        update_binary(0, b"3508011708900001"),
    ):
        assert channel.open(command, send(channel.protect(command, extended=True))).ok
    card.power_cycle()  # the station died here
    assert send(select_mf()).ok
    assert send(select_ef(0x0101)).ok
    assert send(read_binary(0, 16)).sw == StatusWord.SECURITY_NOT_SATISFIED
    assert card.life_cycle == 0x03


def test_an_issued_card_is_read_with_its_can_and_written_by_no_one() -> None:
    card, application = _issued()
    assert card.life_cycle == 0x05
    link = _link(card)
    everything = read_protected(link, AID, application.files, AccessKeys(CAN, READER))
    assert everything == dict(application.files)
    card.power_cycle()
    # Even with PACE and the reader key open, nothing can be written, created or re-keyed.
    secure = _pace(link)
    secure.keys = authenticate(lambda c: _protected(link, secure, c), READER, READER_KEY_REFERENCE)
    for command in (
        select_df_name(AID),
        select_ef(0x0101),
    ):
        assert _protected(link, secure, command).ok
    for command in (
        update_binary(0, b"3508011708900002"),
        create_file(ef_fcp(0x0109, 10).encode()),
        change_reference_data(0x02, b"000000"),
        activate_file(),
    ):
        assert _protected(link, secure, command).sw == StatusWord.SECURITY_NOT_SATISFIED
    card.power_cycle()
    with pytest.raises(AccessDenied) as spent:
        authenticate(_send(card), TRANSPORT, TRANSPORT_KEY)
    assert spent.value.sw == StatusWord.REFERENCE_NOT_USABLE


def _pace(link: Link, can: str = CAN) -> SecureChannel:
    link.expect("SELECT MF", select_mf())
    return establish(link.send, password=password_key(can), info=PaceInfo(PACE_ECDH_GM_AES128, 13))


def _protected(link: Link, channel: SecureChannel, command: Command) -> Response:
    return link.secured(channel).send(command)


def test_a_wrong_can_is_refused_by_the_chip() -> None:
    card, _ = _issued()
    with pytest.raises(PaceFailed) as wrong:
        _pace(_link(card), "135791")
    assert wrong.value.sw == StatusWord.AUTHENTICATION_FAILED


def test_dg3_needs_the_reader_key_and_the_reader_key_needs_pace() -> None:
    card, application = _issued()
    link = _link(card)
    others = read_protected(link, AID, [1, 2, 7], AccessKeys(CAN))
    assert others == {key: application.files[key] for key in (1, 2, 7)}
    card.power_cycle()
    with pytest.raises(Refused) as refused:
        read_protected(link, AID, [3], AccessKeys(CAN))
    assert refused.value.sw == StatusWord.SECURITY_NOT_SATISFIED
    card.power_cycle()
    with pytest.raises(AccessDenied) as other_key:
        read_protected(link, AID, [3], AccessKeys(CAN, bytes(16)))  # another card's key
    assert other_key.value.sw == StatusWord.AUTHENTICATION_FAILED
    card.power_cycle()
    with pytest.raises(AccessDenied) as first:
        authenticate(_send(card), READER, READER_KEY_REFERENCE)  # without PACE around it
    assert first.value.sw == StatusWord.SECURITY_NOT_SATISFIED


def test_a_tampered_mac_is_refused_and_ends_the_session() -> None:
    card, _ = _issued()
    link = _link(card)
    channel = _pace(link)
    protected = channel.protect(select_df_name(AID), extended=True)
    forged = Command(
        protected.cla,
        protected.ins,
        protected.p1,
        protected.p2,
        protected.data[:-1] + bytes((protected.data[-1] ^ 0x01,)),
        protected.le,
    )
    assert _send(card)(forged).sw == StatusWord.SM_OBJECTS_INCORRECT
    # The chip dropped its keys: even a well-formed next command is refused.
    channel.keys.ssc -= 1
    assert _send(card)(channel.protect(select_df_name(AID), extended=True)).sw == (
        StatusWord.SM_OBJECTS_INCORRECT
    )


def test_a_replayed_command_is_refused() -> None:
    card, _ = _issued()
    link = _link(card)
    channel = _pace(link)
    command = channel.protect(select_df_name(AID), extended=True)
    assert channel.open(select_df_name(AID), _send(card)(command)).ok
    assert _send(card)(command).sw == StatusWord.SM_OBJECTS_INCORRECT  # its SSC has passed


def test_a_forged_answer_is_never_read() -> None:
    card, _ = _issued(sensitive=False)
    link = _link(card)
    channel = _pace(link)
    command = select_df_name(AID)
    answer = _send(card)(channel.protect(command, extended=True))
    forged = Response(answer.data[:-1] + bytes((answer.data[-1] ^ 0x80,)), answer.sw)
    with pytest.raises(Exception, match="MAC"):
        channel.open(command, forged)


def test_each_card_has_its_own_keys_and_can() -> None:
    keys = CardKeys.generate()
    first, second = keys.for_card("KTP-0001"), keys.for_card("KTP-0002")
    assert first == keys.for_card("KTP-0001")  # derived again, never stored
    assert len({first.can, second.can}) == 2
    assert first.transport_key != second.transport_key
    assert first.reader_key != second.reader_key
    assert first.can.isdigit()
    assert len(first.can) == 6
    assert first.can not in repr(first)
