"""The APDU model (`appliance/hal/_apdu.py`, `_iso7816.py`): encodings pinned to ISO/IEC
7816 examples, round trips and fuzzing of everything that parses bytes from a card, and
`transceive` (chaining, GET RESPONSE, 6Cxx) against the simulated card itself, without
pcscd."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from appliance.hal._apdu import (
    CHAINING,
    MAX_EXTENDED_LC,
    MAX_EXTENDED_LE,
    ApduError,
    Command,
    NoAnswer,
    Response,
    StatusWord,
    describe,
    transceive,
)
from appliance.hal._atr import CardCapabilities, card_capabilities, historical_bytes
from appliance.hal._card_access import ALWAYS, TRANSPORT_KEY, authenticate
from appliance.hal._iso7816 import (
    Fcp,
    create_file,
    df_fcp,
    ef_fcp,
    get_uid,
    icc_serial,
    read_binary,
    read_binary_data,
    select_df_name,
    select_ef,
    select_mf,
    tlv,
    tlv_items,
    update_binary,
)
from appliance.hal._secure_messaging import SecureChannel
from sim.smartcard import VirtualCard

AID = bytes.fromhex("A0000002471001")

COMMANDS = st.builds(
    Command,
    cla=st.integers(0, 255),
    ins=st.integers(0, 255),
    p1=st.integers(0, 255),
    p2=st.integers(0, 255),
    data=st.one_of(st.binary(max_size=300), st.binary(min_size=250, max_size=2000)),
    le=st.one_of(st.just(0), st.integers(1, 300), st.integers(1, MAX_EXTENDED_LE)),
)


# ---------------------------------------------------------------- encodings


@pytest.mark.parametrize(
    ("command", "extended", "wire"),
    [
        (select_mf(), False, "00A4000C023F00"),
        (select_ef(0x0101, fcp=True), False, "00A40204020101" + "00"),
        (select_ef(0x011E), False, "00A4020C02011E"),
        (select_df_name(AID), False, "00A4040C07A0000002471001"),
        (get_uid(), False, "FFCA000000"),  # case 2S, Le 00 = 256
        (read_binary(0x0010, 128), False, "00B0001080"),
        (read_binary(0x1234, 1024), True, "00B01234000400"),  # case 2E
        (read_binary(0, MAX_EXTENDED_LE), True, "00B00000000000"),  # Le 0000 = 65536
        (update_binary(0x10, b"\x01\x02"), False, "00D6001002" + "0102"),  # case 3S
        (update_binary(0x8000, b"AB"), False, "00D7000008" + "54028000" + "53024142"),
        (read_binary(0x9000, 100), False, "00B1000004" + "54029000" + "64"),  # case 4S
        (Command(0x00, 0xC0, 0, 0, le=0x61), False, "00C0000061"),
        (Command(0x00, 0xA4, 0, 0), False, "00A40000"),  # case 1
    ],
)
def test_encodings_match_the_standard(command: Command, extended: bool, wire: str) -> None:
    assert command.encode(extended=extended).hex().upper() == wire
    assert Command.parse(bytes.fromhex(wire)) == command


def test_extended_cases_3e_and_4e() -> None:
    data = bytes(range(256)) + bytes(44)
    case_3e = update_binary(0, data).encode(extended=True)
    assert case_3e[:7].hex().upper() == "00D60000" + "00012C"
    assert case_3e[7:] == data
    case_4e = Command(0x00, 0x2A, 0x9E, 0x9A, data, le=256).encode(extended=True)
    assert case_4e[:7].hex().upper() == "002A9E9A" + "00012C"
    assert case_4e[-2:] == b"\x01\x00"
    assert Command.parse(case_4e) == Command(0x00, 0x2A, 0x9E, 0x9A, data, le=256)


def test_a_command_that_needs_extended_length_is_refused_on_a_short_link() -> None:
    with pytest.raises(ApduError, match="extended length"):
        read_binary(0, 1024).encode()
    with pytest.raises(ApduError, match="extended length"):
        update_binary(0, bytes(256)).encode()


@pytest.mark.parametrize(
    "bad",
    [
        lambda: Command(0x100, 0, 0, 0),
        lambda: Command(0, 0, 0, 0, le=MAX_EXTENDED_LE + 1),
        lambda: Command(0, 0, 0, 0, bytes(MAX_EXTENDED_LC + 1)),
        lambda: select_ef(0x3F00),
        lambda: select_df_name(bytes(17)),
        lambda: update_binary(0, b""),
        lambda: update_binary(0x1000000, b"x"),
        lambda: read_binary(0, 0),
        lambda: ef_fcp(0x0101, 0),
        lambda: ef_fcp(0x0101, 10, sfi=31),
    ],
)
def test_impossible_commands_are_refused(bad: Callable[[], object]) -> None:
    with pytest.raises(ApduError):
        bad()


@settings(max_examples=400)
@given(command=COMMANDS)
def test_every_command_survives_encoding_and_parsing(command: Command) -> None:
    wire = command.encode(extended=True)
    assert Command.parse(wire) == command
    if not command.needs_extended:
        assert command.encode() == wire  # short form whenever it fits


@settings(max_examples=500)
@given(raw=st.binary(max_size=600))
def test_any_bytes_parse_as_a_command_or_fail_cleanly(raw: bytes) -> None:
    try:
        command = Command.parse(raw)
    except ApduError:
        return
    assert Command.parse(command.encode(extended=True)) == command


@settings(max_examples=300)
@given(command=COMMANDS, size=st.integers(1, 300))
def test_a_chain_carries_the_same_data_in_order(command: Command, size: int) -> None:
    links = command.chained(size)
    assert b"".join(link.data for link in links) == command.data
    assert all(link.cla & CHAINING for link in links[:-1])
    assert links[-1].cla == command.cla
    assert links[-1].le == command.le
    assert all(link.le == 0 and 0 < len(link.data) <= size for link in links[:-1])


# ---------------------------------------------------------------- answers


@settings(max_examples=500)
@given(raw=st.binary(max_size=300))
def test_any_bytes_parse_as_an_answer_or_fail_cleanly(raw: bytes) -> None:
    try:
        answer = Response.parse(raw)
    except NoAnswer:
        assert raw == b""
        return
    except ApduError:
        assert len(raw) < 2 or not (0x61 <= raw[-2] <= 0x6F or 0x90 <= raw[-2] <= 0x9F)
        return
    assert answer.encode() == raw
    assert describe(answer.sw).startswith(f"{answer.sw:04X} (")


def test_status_words_are_described() -> None:
    assert describe(0x9000) == "9000 (success)"
    assert describe(0x6A82) == "6A82 (file or application not found)"
    assert describe(0x6581) == "6581 (memory failure (the chip could not write))"
    assert describe(0x6110) == "6110 (16 more bytes available (GET RESPONSE))"
    assert describe(0x6C00) == "6C00 (wrong Le: 256 bytes available)"
    assert describe(0x63C2) == "63C2 (verification failed, 2 tries left)"
    assert describe(0x6A83) == "6A83 (error)"


def test_the_odd_read_answer_is_unwrapped() -> None:
    command = read_binary(0x8000, 10)
    assert read_binary_data(command, Response(tlv(0x53, b"hello"), 0x9000)) == b"hello"
    with pytest.raises(ApduError):
        read_binary_data(command, Response(b"hello", 0x9000))
    assert read_binary_data(read_binary(0, 5), Response(b"hello", 0x9000)) == b"hello"


# ---------------------------------------------------------------- TLV and FCP

TAGS = st.one_of(st.integers(0x01, 0x1E), st.integers(0x40, 0x5E), st.integers(0x80, 0x9E))


@settings(max_examples=300)
@given(items=st.lists(st.tuples(TAGS, st.binary(max_size=300)), max_size=6))
def test_tlv_objects_read_back_as_written(items: list[tuple[int, bytes]]) -> None:
    assert list(tlv_items(b"".join(tlv(tag, value) for tag, value in items))) == items


def test_fcp_bytes_match_the_standard_layout() -> None:
    assert ef_fcp(0x0101, 90, sfi=1).encode().hex().upper() == (
        "6211" + "8002005A" + "820101" + "83020101" + "880108" + "8A0105"
    )
    assert df_fcp(AID).encode().hex().upper() == (
        "620F" + "820138" + "8407A0000002471001" + "8A0105"
    )


@settings(max_examples=200)
@given(
    fid=st.integers(0, 0xFFFF).filter(lambda f: f not in (0x3F00, 0x3FFF, 0xFFFF)),
    size=st.integers(1, 0xFFFFFF),
    sfi=st.one_of(st.none(), st.integers(1, 30)),
)
def test_an_ef_fcp_reads_back_as_built(fid: int, size: int, sfi: int | None) -> None:
    fcp = ef_fcp(fid, size, sfi=sfi)
    assert Fcp.parse(fcp.encode()) == fcp
    assert not fcp.is_df
    assert Fcp.parse(df_fcp(AID).encode()).is_df


@settings(max_examples=500)
@given(raw=st.one_of(st.binary(max_size=80), st.binary(max_size=78).map(lambda b: tlv(0x62, b))))
def test_any_bytes_parse_as_an_fcp_or_fail_cleanly(raw: bytes) -> None:
    try:
        fcp = Fcp.parse(raw)
    except ApduError:
        return
    assert fcp.descriptor >= 0


@settings(max_examples=300)
@given(raw=st.binary(max_size=80))
def test_any_bytes_give_an_icc_serial_or_fail_cleanly(raw: bytes) -> None:
    try:
        serial = icc_serial(raw)
    except ApduError:
        return
    assert serial is None or serial


# ---------------------------------------------------------------- the ATR


@pytest.mark.parametrize(
    ("atr", "historical", "capabilities"),
    [
        # The simulated card: contactless (3B 8n 80 01), card capabilities 94 01 C0.
        (
            "3B85800180739401C0A2",
            "80739401C0",
            CardCapabilities(chaining=True, extended_length=True),
        ),
        # A MIFARE Classic 1K as PC/SC part 3 presents it: no card capabilities at all.
        (
            "3B8F8001804F0CA000000306030001000000006A",
            "804F0CA00000030603000100000000",
            CardCapabilities(),
        ),
        # Category 00: compact-TLV, then three status bytes; capabilities without extended.
        ("3B8880010073940180009000FF", "0073940180009000", CardCapabilities(chaining=True)),
        # A contact card with TA1/TB1/TC1 and T=1 (historical "JCOP41V22").
        ("3BFA1800008131FE454A434F5034315632323196", "4A434F503431563232", CardCapabilities()),
    ],
)
def test_capabilities_come_from_the_historical_bytes(
    atr: str, historical: str, capabilities: CardCapabilities
) -> None:
    raw = bytes.fromhex(atr)
    assert historical_bytes(raw).hex().upper().startswith(historical)
    assert card_capabilities(raw) == capabilities
    assert card_capabilities(VirtualCard(serial="X", chaining=False).atr) == CardCapabilities(
        extended_length=True
    )


@settings(max_examples=500)
@given(raw=st.binary(max_size=40))
def test_any_atr_gives_capabilities_or_fails_cleanly(raw: bytes) -> None:
    try:
        card_capabilities(raw)
    except ApduError:
        return


# ---------------------------------------------------------------- transceive, on the card


TRANSPORT = bytes(range(16))


def _open_ef(fid: int, size: int = 10) -> Command:
    return create_file(ef_fcp(fid, size, security=bytes((0x03, 0x00, 0x00))).encode())


OPEN_DF = bytes((0x06, ALWAYS, ALWAYS))  # CREATE DF and CREATE EF: always
OPEN_EF = bytes((0x03, ALWAYS, ALWAYS))  # UPDATE and READ BINARY: always


def _blank(**options: object) -> tuple[VirtualCard, Callable[[bytes], bytes]]:
    """A blank with an application DF anyone may create files in, made through the
    transport session (the MF itself is the personalisation agent's alone); the session
    ends with the next plain command."""
    card = VirtualCard(serial="KTP-UNIT-0001", transport_key=TRANSPORT, **options)  # type: ignore[arg-type]
    card.power_cycle()

    def plain(command: Command) -> Response:
        return transceive(card.process, command, extended=False, chaining=False)

    channel = SecureChannel(authenticate(plain, TRANSPORT, TRANSPORT_KEY))
    for command in (select_mf(), create_file(df_fcp(AID, security=OPEN_DF).encode())):
        answer = channel.open(command, plain(channel.protect(command, extended=False)))
        assert answer.ok
    card.commands = 0  # counted from here, as the test speaks to it
    return card, card.process


def _with_ef(transmit: Callable[[bytes], bytes], size: int) -> None:
    for command in (
        select_df_name(AID),
        create_file(ef_fcp(0x0102, size, security=OPEN_EF).encode()),
    ):
        assert transceive(transmit, command, extended=True, chaining=True).ok


def test_long_data_goes_as_a_command_chain_on_a_short_link() -> None:
    card, transmit = _blank()
    _with_ef(transmit, 1000)
    data = bytes(range(250)) * 4
    assert transceive(transmit, update_binary(0, data), extended=False, chaining=True).ok
    assert card.chained_commands == 3
    assert card.largest_command <= 255
    assert card.application(AID)[0x0102] == data


def test_long_data_without_chaining_or_extended_length_is_refused_here() -> None:
    _, transmit = _blank()
    with pytest.raises(ApduError, match="chaining"):
        transceive(transmit, update_binary(0, bytes(300)), extended=False, chaining=False)


def test_a_long_answer_comes_in_parts_through_get_response() -> None:
    card, transmit = _blank(io_buffer=100)
    _with_ef(transmit, 1000)
    data = bytes(range(200)) * 5
    assert transceive(transmit, update_binary(0, data), extended=True, chaining=True).ok
    answer = transceive(transmit, read_binary(0, 1000), extended=True, chaining=True)
    assert answer.ok
    assert answer.data == data
    assert card.commands > 10  # one READ BINARY and nine GET RESPONSE, at least


def test_a_wrong_le_is_asked_again_with_the_length_the_card_gives() -> None:
    card, transmit = _blank()
    answer = transceive(transmit, Command(0xFF, 0xCA, 0, 0, le=1), extended=False, chaining=False)
    assert answer.ok
    assert answer.data == card.uid
    assert card.commands == 2  # 6C07, then the answer


def test_offsets_beyond_32k_use_the_odd_instructions() -> None:
    card, transmit = _blank()
    _with_ef(transmit, 40_000)
    tail = bytes(range(256)) * 4
    assert transceive(transmit, update_binary(39_000, tail[:1000]), extended=True, chaining=True).ok
    command = read_binary(39_000, 1004)
    answer = transceive(transmit, command, extended=True, chaining=True)
    assert read_binary_data(command, answer) == tail[:1000]
    assert card.application(AID)[0x0102][39_000:] == tail[:1000]


def test_a_card_that_never_stops_sending_more_is_garbage() -> None:
    def endless(apdu: bytes) -> bytes:
        return b"\x00" * 10 + b"\x61\x0a"

    with pytest.raises(ApduError):
        transceive(endless, read_binary(0, 256), extended=False, chaining=False)


@settings(max_examples=300)
@given(answer=st.binary(max_size=400), le=st.integers(0, 300))
def test_whatever_a_card_answers_transceive_returns_or_fails_cleanly(
    answer: bytes, le: int
) -> None:
    command = Command(0x00, 0xB0, 0, 0, le=le)
    try:
        result = transceive(lambda _: answer, command, extended=True, chaining=True)
    except ApduError:
        return
    assert len(result.data) <= le


@settings(max_examples=300)
@given(
    raws=st.lists(
        st.one_of(
            st.binary(max_size=40),
            COMMANDS.map(lambda c: c.encode(extended=True)),
            st.sampled_from(
                [
                    select_mf().encode(),
                    create_file(df_fcp(AID).encode()).encode(),
                    create_file(ef_fcp(0x0101, 300, sfi=1).encode()).encode(),
                    update_binary(0, b"x" * 20).encode(),
                    read_binary(0, 256).encode(),
                    Command(0x10, 0xD6, 0, 0, b"y" * 10).encode(),
                    Command(0x00, 0xC0, 0, 0, le=256).encode(),
                ]
            ),
        ),
        max_size=12,
    )
)
def test_the_simulated_card_answers_anything_with_a_status_word(raws: list[bytes]) -> None:
    card, transmit = _blank(io_buffer=64)
    for raw in raws:
        answer = Response.parse(transmit(raw))
        assert answer.sw1 in (
            0x61,
            0x62,
            0x65,
            0x67,
            0x68,
            0x69,
            0x6A,
            0x6B,
            0x6C,
            0x6D,
            0x6E,
            0x90,
        )
    assert card.commands == len(raws)


@pytest.mark.parametrize(
    ("setup", "command", "sw"),
    [
        ([], Command(0x80, 0xA4, 0, 0x0C, b"\x3f\x00"), StatusWord.CLA_NOT_SUPPORTED),
        ([], Command(0x00, 0x0E, 0, 0), StatusWord.INS_NOT_SUPPORTED),
        ([], select_ef(0x0105), StatusWord.FILE_NOT_FOUND),
        ([], select_df_name(b"\xa0\x00\x00\x00\x99"), StatusWord.FILE_NOT_FOUND),
        ([], Command(0x00, 0xA4, 0x02, 0x0C, b"\x01"), StatusWord.WRONG_LENGTH),
        ([], read_binary(0, 10), StatusWord.COMMAND_NOT_ALLOWED),
        (
            [select_mf()],
            create_file(ef_fcp(0x0101, 10).encode()),
            StatusWord.SECURITY_NOT_SATISFIED,
        ),
        ([select_df_name(AID), _open_ef(0x0101)], _open_ef(0x0101), StatusWord.FILE_EXISTS),
        ([select_df_name(AID)], _open_ef(0x0101, 70_000), StatusWord.NOT_ENOUGH_MEMORY),
        ([select_df_name(AID)], create_file(b"\x62\x03\x82\x01"), StatusWord.WRONG_DATA),
        ([select_mf(), select_ef(0x2F02)], read_binary(0x100, 10), StatusWord.WRONG_OFFSET),
        (
            [select_mf(), select_ef(0x2F02)],
            update_binary(0, b"x"),
            StatusWord.SECURITY_NOT_SATISFIED,
        ),
        (
            [select_df_name(AID), _open_ef(0x0101)],
            update_binary(0, bytes(100)),
            StatusWord.WRONG_LENGTH,
        ),
        ([], Command(0x00, 0xC0, 0, 0, le=10), StatusWord.CONDITIONS_NOT_SATISFIED),
        (
            [Command(0x10, 0xD6, 0, 0, b"a")],
            Command(0x00, 0xB0, 0, 0, le=1),
            StatusWord.LAST_COMMAND_EXPECTED,
        ),
    ],
)
def test_errors_have_the_status_words_real_cards_give(
    setup: list[Command], command: Command, sw: int
) -> None:
    _, transmit = _blank()
    for step in setup:
        transmit(step.encode())
    assert Response.parse(transmit(command.encode(extended=True))).sw == sw


def test_a_card_without_extended_length_or_chaining_says_so() -> None:
    _, transmit = _blank(extended_length=False, chaining=False)
    assert Response.parse(transmit(read_binary(0, 1000).encode(extended=True))).sw == 0x6700
    assert Response.parse(transmit(Command(0x10, 0xD6, 0, 0, b"a").encode())).sw == 0x6884


def test_a_locked_card_refuses_to_create_files() -> None:
    card, transmit = _blank()
    card.locked = True
    transmit(select_df_name(AID).encode())
    assert Response.parse(transmit(_open_ef(0x0101).encode())).sw == 0x6982


def test_the_write_budget_fails_mid_command_and_keeps_what_was_written() -> None:
    card, transmit = _blank()
    _with_ef(transmit, 100)
    card.write_budget = 30
    answer = Response.parse(transmit(update_binary(0, b"z" * 50).encode()))
    assert answer.sw == StatusWord.MEMORY_FAILURE
    assert card.application(AID)[0x0102] == b"z" * 30 + bytes(70)


def test_short_file_ids_address_reads_and_writes() -> None:
    card, transmit = _blank()
    transmit(select_df_name(AID).encode())
    transmit(create_file(ef_fcp(0x0101, 4, sfi=1, security=OPEN_EF).encode()).encode())
    transmit(select_mf().encode())
    transmit(select_df_name(AID).encode())
    assert Response.parse(transmit(Command(0x00, 0xD6, 0x81, 0, b"abcd").encode())).ok
    assert Response.parse(transmit(Command(0x00, 0xB0, 0x81, 1, le=3).encode())).data == b"bcd"
    assert card.application(AID) == {0x0101: b"abcd"}
