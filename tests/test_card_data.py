"""The KTP-el's chip data and face: every data group round-trips, a genuine card verifies,
and a card altered anywhere, or signed by a key the station does not trust, is refused."""

from __future__ import annotations

import contextlib
import hashlib
import io
import random
import stat
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from asn1crypto import cms
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image, ImageDraw
from pydantic import ValidationError

from appliance._secrets import SecretFileError, write_secret_file
from appliance.card import (
    CARD_AID,
    CARD_FACE_DPI,
    CARD_FACE_SIZE,
    FILE_IDS,
    LIFETIME,
    BloodType,
    CardDataError,
    CardHolder,
    CardImage,
    CardVerificationError,
    Citizenship,
    DocumentSigner,
    DocumentSignerError,
    FingerTemplateRecord,
    ImageFormat,
    RegencyKind,
    Religion,
    build_card_files,
    decode_com,
    decode_dg1,
    decode_dg2,
    decode_dg3,
    decode_dg7,
    decode_tlv,
    decode_tlvs,
    encode_com,
    encode_dg1,
    encode_dg2,
    encode_dg3,
    encode_dg7,
    encode_tlv,
    face_png,
    parse_sod,
    read_card,
    render_card_face,
    sign_sod,
)
from appliance.card._tlv import encode_tlvs, tag_bytes
from appliance.domain import MaritalStatus, Sex

FUZZ = settings(max_examples=60, deadline=None)
TAMPER = settings(max_examples=25, deadline=None)

NIK = "3508011708900001"
ISSUED = datetime(2025, 5, 12, 3, 15, tzinfo=UTC)  # 10:15 in Lumajang (WIB)
GROUPS = ("DG1", "DG2", "DG3", "DG7")


# --------------------------------------------------------------------------- test data


def _holder(**changes: object) -> CardHolder:
    values: dict[str, object] = {
        "nik": NIK,
        "name": "Budi Santoso",
        "birth_place": "Lumajang",
        "birth_date": date(1990, 8, 17),
        "sex": Sex.LAKI_LAKI,
        "blood_type": "O",
        "address": "Jl. Sudirman No. 1",
        "rt_rw": "003/005",
        "village": "Ditotrunan",
        "kecamatan": "Lumajang",
        "regency": "Lumajang",
        "province": "Jawa Timur",
        "religion": "Islam",
        "marital_status": MaritalStatus.KAWIN,
        "occupation": "Wiraswasta",
        "issue_place": "Lumajang",
        "issue_date": date(2025, 5, 12),
    }
    values.update(changes)
    return CardHolder.model_validate(values)


def _png(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def _photo() -> Image.Image:
    image = Image.new("RGB", (420, 540), (200, 30, 30))
    ImageDraw.Draw(image).ellipse((110, 100, 310, 380), fill=(230, 190, 160))
    return image


def _signature_drawing() -> Image.Image:
    image = Image.new("RGBA", (400, 160), (0, 0, 0, 0))
    ImageDraw.Draw(image).line((20, 120, 120, 30, 200, 130, 380, 40), fill=(0, 0, 0, 255), width=6)
    return image


def _jpeg(image: Image.Image) -> bytes:
    out = io.BytesIO()
    image.convert("RGB").save(out, format="JPEG", quality=85)
    return out.getvalue()


def _minutiae_record(position: int, seed: int) -> bytes:
    """An ISO/IEC 19794-2:2005 finger minutiae record: header, one finger view."""
    rng = random.Random(seed)
    minutiae = b"".join(
        bytes([(rng.randrange(3) << 6) | 0x01, rng.randrange(256)])  # type, x high/low
        + bytes([0x01, rng.randrange(256)])  # y
        + bytes([rng.randrange(256), rng.randrange(40, 100)])  # angle, quality
        for _ in range(30)
    )
    view = bytes([position, 0x00, 80, 30]) + minutiae + b"\x00\x00"
    header_size = 24
    return (
        b"FMR\x00 20\x00"
        + (header_size + len(view)).to_bytes(4, "big")
        + b"\x00\x00"  # capture equipment
        + (500).to_bytes(2, "big")
        + (500).to_bytes(2, "big")
        + (197).to_bytes(2, "big")  # 500 dpi in pixels per cm
        + (197).to_bytes(2, "big")
        + b"\x01\x00"  # one finger view, reserved
        + view
    )


FINGERS = (
    FingerTemplateRecord(position=2, iso_19794_2=_minutiae_record(2, 1)),
    FingerTemplateRecord(position=7, iso_19794_2=_minutiae_record(7, 2)),
)
PHOTO_PNG = _png(_photo())
SIGNATURE_PNG = _png(_signature_drawing())


@pytest.fixture(scope="module")
def signer() -> DocumentSigner:
    return DocumentSigner.generate(station_id="lumajang-01")


@pytest.fixture(scope="module")
def other_signer() -> DocumentSigner:
    return DocumentSigner.generate(station_id="lumajang-01")


@pytest.fixture(scope="module")
def files(signer: DocumentSigner) -> dict[int, bytes]:
    return build_card_files(
        _holder(),
        face_image=PHOTO_PNG,
        finger_templates=FINGERS,
        signature_image=SIGNATURE_PNG,
        signer=signer,
    )


def _refused(files: dict[int, bytes], trust: list[x509.Certificate]) -> CardVerificationError:
    with pytest.raises(CardVerificationError) as caught:
        read_card(files, trust)
    return caught.value


# --------------------------------------------------------------------------- BER-TLV


def _tags() -> st.SearchStrategy[int]:
    one = st.integers(0x01, 0xFE).filter(lambda b: b & 0x1F != 0x1F)
    lead = st.integers(0, 6).map(lambda k: (k << 5) | 0x1F)  # FF is padding, not a tag
    two = st.tuples(lead, st.integers(0x00, 0x7F)).map(lambda t: t[0] << 8 | t[1])
    three = st.tuples(lead, st.integers(0x81, 0xFF), st.integers(0x00, 0x7F)).map(
        lambda t: t[0] << 16 | t[1] << 8 | t[2]
    )
    return one | two | three


@FUZZ
@given(st.lists(st.tuples(_tags(), st.binary(max_size=300)), max_size=6))
def test_tlv_round_trip(items: list[tuple[int, bytes]]) -> None:
    assert [tuple(item) for item in decode_tlvs(encode_tlvs(items))] == items


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=80))
def test_tlv_garbage_raises_card_data_error_or_reencodes_exactly(data: bytes) -> None:
    try:
        items = decode_tlvs(data)
    except CardDataError:
        return
    assert encode_tlvs(items) == data  # one encoding per value: strict means canonical


def test_tlv_long_lengths() -> None:
    for size in (0x7F, 0x80, 0xFF, 0x100, 0x10000):
        encoded = encode_tlv(0x5F2E, bytes(size))
        assert decode_tlv(encoded, tag=0x5F2E) == bytes(size)
    assert encode_tlv(0x04, bytes(0x80))[:3] == b"\x04\x81\x80"
    assert encode_tlv(0x04, bytes(0x100))[:4] == b"\x04\x82\x01\x00"


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x04\x80\x00\x00",  # indefinite length
        b"\x04\x81\x05hello",  # long form for a short length
        b"\x04\x82\x00\x05hello",  # leading zero in the length
        b"\x04\x85\x00\x00\x00\x00\x05hello",  # five length bytes
        b"\x04\x84\xff\xff\xff\xff",  # oversized: runs past the end
        b"\x04\x05hell",  # truncated value
        b"\x04\x82\x01",  # truncated length
        b"\x5f",  # truncated tag
        b"\x00\x00",  # padding where a tag belongs
        b"\xff\x01\x00",
        b"\x5f\x80\x01\x00",  # tag number with a leading zero byte
        b"\x5f\x81\x81\x01\x00",  # four-byte tag
        b"\x04\x01a\x04",  # trailing byte
        b"\x05\x01a",  # other tag
    ],
)
def test_tlv_refuses_malformed(data: bytes) -> None:
    with pytest.raises(CardDataError):
        decode_tlv(data, tag=0x04)


@pytest.mark.parametrize("tag", [0, -1, 0x5F, 0x1F, 0x5F80, 0x5F8181, 0x5F818101])
def test_tlv_refuses_to_encode_a_non_tag(tag: int) -> None:
    with pytest.raises(ValueError, match="not a BER-TLV tag"):
        tag_bytes(tag)


# --------------------------------------------------------------------------- the holder


def test_holder_is_normalised_as_printed() -> None:
    holder = _holder(name="  budi   santoso ", religion="kepercayaan terhadap tuhan yme")
    assert holder.name == "BUDI SANTOSO"
    assert holder.religion is Religion.KEPERCAYAAN
    assert holder.blood_type is BloodType.O
    assert holder.valid_until == LIFETIME
    assert holder.citizenship is Citizenship.WNI
    assert holder.regency_kind is RegencyKind.KABUPATEN


@pytest.mark.parametrize(
    "changes",
    [
        {"nik": "3508011708900000"},  # serial 0000
        {"nik": "12345"},
        {"name": "BUDI\x00SANTOSO"},
        {"name": "X" * 61},
        {"name": "  "},
        {"rt_rw": "3/5"},
        {"blood_type": "C"},
        {"religion": "JEDI"},
        {"valid_until": date(2030, 1, 1)},  # a citizen's card is for life
        {"citizenship": "WNA"},  # a foreigner's card needs an end date
        {"citizenship": "WNA", "valid_until": date(2025, 5, 1)},
        {"birth_date": date(2026, 1, 1)},  # after the date of issue
        {"unknown": "field"},
    ],
)
def test_holder_refuses_invalid_values(changes: dict[str, object]) -> None:
    with pytest.raises(ValidationError) as caught:
        _holder(**changes)
    assert NIK not in str(caught.value)


def test_foreigner_has_an_end_date() -> None:
    holder = _holder(citizenship="wna", valid_until=date(2030, 5, 12))
    assert decode_dg1(encode_dg1(holder)) == holder


# --------------------------------------------------------------------------- data groups


@pytest.mark.parametrize(
    "holder",
    [
        _holder(),
        _holder(
            nik="3508015708900002",
            name="Siti Nur'aini",
            sex=Sex.PEREMPUAN,
            blood_type="-",
            marital_status=MaritalStatus.CERAI_MATI,
            religion="Konghucu",
            regency="Surabaya",
            regency_kind="kota",
            address="Dusun Krajan (Timur) RT. 3, Jalan A. Yani No. 5/B",
        ),
        _holder(citizenship="WNA", valid_until=date(2031, 1, 31), name="JOSÉ ÑÚÑEZ"),
    ],
)
def test_dg1_round_trip(holder: CardHolder) -> None:
    encoded = encode_dg1(holder)
    assert encoded[0] == 0x61
    assert decode_dg1(encoded) == holder


def test_dg1_uses_the_documented_tags() -> None:
    elements = dict(decode_tlvs(decode_tlv(encode_dg1(_holder()), tag=0x61)))
    assert elements[0x5F10] == NIK.encode()
    assert elements[0x5F0E] == b"BUDI SANTOSO"
    assert elements[0x5F2B] == b"19900817"
    assert elements[0x5F35] == b"1"
    assert elements[0xDF09] == b"KAWIN"
    assert elements[0xDF0B] == b"SEUMUR HIDUP"
    assert elements[0x5F26] == b"20250512"


@pytest.mark.parametrize(
    ("tag", "value"),
    [(0x5F2B, b"19901317"), (0x5F35, b"X"), (0xDF09, b"KAWIN LARI"), (0x5F10, b"1234")],
)
def test_dg1_with_bad_values_is_malformed_and_does_not_leak(tag: int, value: bytes) -> None:
    elements = decode_tlvs(decode_tlv(encode_dg1(_holder()), tag=0x61))
    changed = [(t, value if t == tag else v) for t, v in elements]
    with pytest.raises(CardDataError) as caught:
        decode_dg1(encode_tlv(0x61, encode_tlvs(changed)))
    assert NIK not in str(caught.value)
    assert "BUDI" not in str(caught.value)


def test_dg1_refuses_non_canonical_text() -> None:
    elements = decode_tlvs(decode_tlv(encode_dg1(_holder()), tag=0x61))
    changed = [(t, b"budi santoso" if t == 0x5F0E else v) for t, v in elements]
    with pytest.raises(CardDataError, match="not in the form"):
        decode_dg1(encode_tlv(0x61, encode_tlvs(changed)))


def test_dg2_round_trip_jpeg_and_jpeg2000() -> None:
    jpeg = _jpeg(_photo())
    face = CardImage(data=jpeg, format=ImageFormat.JPEG, width=420, height=540)
    encoded = encode_dg2(face)
    assert encoded[0] == 0x75
    assert decode_dg2(encoded) == face
    # The ICAO header: 7F61 > 7F60 > A1 with face type 02, format owner 0101, type 0008.
    template = decode_tlvs(decode_tlv(decode_tlv(encoded, tag=0x75), tag=0x7F61))[1].value
    header, block = decode_tlvs(template)
    assert dict(decode_tlvs(header.value)) == {
        0x80: b"\x01\x01",
        0x81: b"\x02",
        0x87: b"\x01\x01",
        0x88: b"\x00\x08",
    }
    assert block.value[:8] == b"FAC\x00010\x00"
    assert int.from_bytes(block.value[8:12], "big") == len(block.value)
    jp2 = CardImage(
        data=b"\xff\x4f\xff\x51" + bytes(40), format=ImageFormat.JPEG2000, width=10, height=20
    )
    assert decode_dg2(encode_dg2(jp2)) == jp2


def test_dg2_refuses_an_image_that_is_not_as_declared() -> None:
    face = CardImage(
        data=b"\x89PNG\r\n\x1a\n" + bytes(20), format=ImageFormat.JPEG, width=1, height=1
    )
    with pytest.raises(CardDataError):
        decode_dg2(encode_dg2(face))


@FUZZ
@given(
    st.lists(st.integers(1, 10), min_size=1, max_size=2, unique=True),
    st.binary(min_size=1, max_size=400),
)
def test_dg3_round_trip(positions: list[int], template: bytes) -> None:
    records = tuple(FingerTemplateRecord(position=p, iso_19794_2=template) for p in positions)
    encoded = encode_dg3(records)
    assert encoded[0] == 0x63
    assert decode_dg3(encoded) == records


def test_dg3_finger_positions_are_cbeff_subtypes() -> None:
    encoded = encode_dg3(FINGERS)
    items = decode_tlvs(decode_tlv(decode_tlv(encoded, tag=0x63), tag=0x7F61))
    assert items[0] == (0x02, b"\x02")
    subtypes = [dict(decode_tlvs(decode_tlvs(item.value)[0].value))[0x82] for item in items[1:]]
    assert subtypes == [b"\x09", b"\x0a"]  # right index, left index
    formats = [dict(decode_tlvs(decode_tlvs(item.value)[0].value))[0x88] for item in items[1:]]
    assert formats == [b"\x00\x02", b"\x00\x02"]  # ISO/IEC 19794-2 minutiae


@pytest.mark.parametrize(
    "records",
    [
        (),
        (*FINGERS, FingerTemplateRecord(position=1, iso_19794_2=b"FMR")),
        (FINGERS[0], FINGERS[0]),
    ],
)
def test_dg3_refuses_wrong_counts(records: tuple[FingerTemplateRecord, ...]) -> None:
    with pytest.raises(ValueError, match="DG3"):
        encode_dg3(records)


@pytest.mark.parametrize(("position", "template"), [(0, b"x"), (11, b"x"), (1, b"")])
def test_finger_template_record_checks_itself(position: int, template: bytes) -> None:
    with pytest.raises(ValueError, match="finger"):
        FingerTemplateRecord(position=position, iso_19794_2=template)


def test_dg7_round_trip() -> None:
    jpeg = _jpeg(Image.new("L", (300, 100), 255))
    signature = CardImage(data=jpeg, format=ImageFormat.JPEG, width=300, height=100)
    encoded = encode_dg7(signature)
    assert encoded[0] == 0x67
    assert decode_tlv(encoded, tag=0x67)[:3] == b"\x02\x01\x01"  # one instance
    assert decode_dg7(encoded) == signature


def test_com_round_trip() -> None:
    encoded = encode_com([7, 1, 3, 2])
    assert encoded == bytes.fromhex("60165f0104303130385f36063034303030305c0461756367")
    assert decode_com(encoded) == (1, 2, 3, 7)


# --------------------------------------------------------------------------- the whole card


def test_file_layout() -> None:
    assert bytes.fromhex("A0000002471001") == CARD_AID
    assert dict(FILE_IDS) == {
        "EF.COM": 0x011E,
        "DG1": 0x0101,
        "DG2": 0x0102,
        "DG3": 0x0103,
        "DG7": 0x0107,
        "EF.SOD": 0x011D,
    }


def test_genuine_card_verifies_and_round_trips(
    files: dict[int, bytes], signer: DocumentSigner
) -> None:
    assert set(files) == set(FILE_IDS.values())
    contents = read_card(files, [signer.certificate])
    assert contents.holder == _holder()
    assert contents.fingers == FINGERS
    assert contents.signer == signer.certificate
    # PNG from the devices is stored as JPEG, the size kept.
    assert contents.face.format is ImageFormat.JPEG
    assert (contents.face.width, contents.face.height) == (420, 540)
    assert contents.signature.format is ImageFormat.JPEG
    assert Image.open(io.BytesIO(contents.signature.data)).size == (400, 160)
    for name, first in (("EF.COM", 0x60), ("DG1", 0x61), ("DG2", 0x75), ("DG3", 0x63)):
        assert files[FILE_IDS[name]][0] == first
    assert files[FILE_IDS["DG7"]][0] == 0x67
    assert files[FILE_IDS["EF.SOD"]][0] == 0x77


def test_jpeg_input_is_stored_unchanged(signer: DocumentSigner) -> None:
    face, signature = _jpeg(_photo()), _jpeg(_signature_drawing())
    files = build_card_files(
        _holder(),
        face_image=face,
        finger_templates=FINGERS[:1],
        signature_image=signature,
        signer=signer,
    )
    contents = read_card(files, [signer.certificate])
    assert contents.face.data == face
    assert contents.signature.data == signature
    assert contents.fingers == FINGERS[:1]


def test_unreadable_image_is_refused(signer: DocumentSigner) -> None:
    with pytest.raises(CardDataError, match="face image"):
        build_card_files(
            _holder(),
            face_image=b"not an image",
            finger_templates=FINGERS,
            signature_image=SIGNATURE_PNG,
            signer=signer,
        )


def test_sod_is_cms_signed_data_over_the_group_hashes(
    files: dict[int, bytes], signer: DocumentSigner
) -> None:
    info = cms.ContentInfo.load(decode_tlv(files[FILE_IDS["EF.SOD"]], tag=0x77))
    signed = info["content"]
    assert signed["encap_content_info"]["content_type"].dotted == "2.23.136.1.1.1"
    assert signed["certificates"][0].chosen.dump() == signer.certificate_der
    signer_info = signed["signer_infos"][0]
    assert signer_info["signature_algorithm"]["algorithm"].native == "sha256_ecdsa"
    attributes = {a["type"].native: a["values"][0] for a in signer_info["signed_attrs"]}
    content = signed["encap_content_info"]["content"].native
    assert attributes["message_digest"].native == hashlib.sha256(content).digest()
    assert attributes["content_type"].dotted == "2.23.136.1.1.1"
    sod = parse_sod(files[FILE_IDS["EF.SOD"]])
    assert sod.content == content


@pytest.mark.parametrize("name", [*GROUPS, "EF.COM", "EF.SOD"])
@TAMPER
@given(data=st.data())
def test_one_changed_byte_anywhere_is_refused(
    files: dict[int, bytes], signer: DocumentSigner, name: str, data: st.DataObject
) -> None:
    fid = FILE_IDS[name]
    original = files[fid]
    position = data.draw(st.integers(0, len(original) - 1), label="position")
    flip = data.draw(st.integers(1, 255), label="xor")
    tampered = bytearray(original)
    tampered[position] ^= flip
    error = _refused({**files, fid: bytes(tampered)}, [signer.certificate])
    if name in GROUPS:
        # Hashes are compared before a group is parsed: the group is always named.
        assert (error.code, error.group) == ("hash_mismatch", name)
    elif name == "EF.COM":
        assert error.code == "malformed"
    assert error.text.id
    assert error.text.en


def test_sod_signed_by_another_key_is_untrusted(
    files: dict[int, bytes], signer: DocumentSigner, other_signer: DocumentSigner
) -> None:
    hashes_by_group = {
        int(name[2:]): hashlib.sha256(files[FILE_IDS[name]]).digest() for name in GROUPS
    }
    resigned = {**files, FILE_IDS["EF.SOD"]: sign_sod(hashes_by_group, other_signer)}
    assert _refused(resigned, [signer.certificate]).code == "untrusted_signer"
    # ...which the other station's key does accept: the only difference is trust.
    assert read_card(resigned, [other_signer.certificate]).holder == _holder()
    assert _refused(files, []).code == "untrusted_signer"


def test_changed_signature_is_bad_signature(
    files: dict[int, bytes], signer: DocumentSigner
) -> None:
    sod = files[FILE_IDS["EF.SOD"]]
    signature = parse_sod(sod).signature
    at = sod.rindex(signature) + len(signature) - 1  # the last byte of s
    tampered = bytearray(sod)
    tampered[at] ^= 0x01
    error = _refused({**files, FILE_IDS["EF.SOD"]: bytes(tampered)}, [signer.certificate])
    assert error.code == "bad_signature"


def test_signature_of_another_key_under_the_trusted_certificate_is_bad_signature(
    files: dict[int, bytes], signer: DocumentSigner, other_signer: DocumentSigner
) -> None:
    # An attacker's signature in an SOD carrying the station's own certificate.
    impostor = _Impostor(signer.certificate, other_signer)
    hashes_by_group = {int(n[2:]): hashlib.sha256(files[FILE_IDS[n]]).digest() for n in GROUPS}
    forged = {**files, FILE_IDS["EF.SOD"]: sign_sod(hashes_by_group, impostor)}  # type: ignore[arg-type]
    assert _refused(forged, [signer.certificate]).code == "bad_signature"


class _Impostor:
    def __init__(self, certificate: x509.Certificate, real: DocumentSigner) -> None:
        self.certificate = certificate
        self.certificate_der = certificate.public_bytes(serialization.Encoding.DER)
        self._real = real

    def sign(self, data: bytes) -> bytes:
        return self._real.sign(data)


def test_signed_garbage_is_malformed(files: dict[int, bytes], signer: DocumentSigner) -> None:
    garbage = encode_tlv(0x61, encode_tlv(0x5C, b"") + b"\x01\x02")
    changed = {**files, FILE_IDS["DG1"]: garbage}
    hashes_by_group = {int(n[2:]): hashlib.sha256(changed[FILE_IDS[n]]).digest() for n in GROUPS}
    changed[FILE_IDS["EF.SOD"]] = sign_sod(hashes_by_group, signer)
    assert _refused(changed, [signer.certificate]).code == "malformed"


def test_sod_covering_other_groups_is_malformed(
    files: dict[int, bytes], signer: DocumentSigner
) -> None:
    hashes_by_group = {n: hashlib.sha256(files[FILE_IDS[f"DG{n}"]]).digest() for n in (1, 2, 3)}
    changed = {**files, FILE_IDS["EF.SOD"]: sign_sod(hashes_by_group, signer)}
    assert _refused(changed, [signer.certificate]).code == "malformed"
    hashes_by_group[7] = hashlib.sha256(files[FILE_IDS["DG7"]]).digest()
    changed = {
        **files,
        FILE_IDS["EF.SOD"]: sign_sod(hashes_by_group, signer),
        FILE_IDS["EF.COM"]: encode_com([1, 2, 3]),
    }
    assert _refused(changed, [signer.certificate]).code == "malformed"


@pytest.mark.parametrize(
    "change",
    [
        lambda files: {k: v for k, v in files.items() if k != FILE_IDS["DG3"]},
        lambda files: {k: v for k, v in files.items() if k != FILE_IDS["EF.SOD"]},
        lambda files: {**files, 0x0104: b"\x64\x00"},
    ],
    ids=["missing-dg3", "missing-sod", "extra-dg4"],
)
def test_missing_or_extra_files_are_malformed(
    files: dict[int, bytes],
    signer: DocumentSigner,
    change: Callable[[dict[int, bytes]], dict[int, bytes]],
) -> None:
    assert _refused(change(files), [signer.certificate]).code == "malformed"


@FUZZ
@given(st.binary(max_size=300))
def test_sod_parser_garbage_raises_card_data_error(data: bytes) -> None:
    for candidate in (data, encode_tlv(0x77, data)):
        with pytest.raises(CardDataError):
            parse_sod(candidate)


@FUZZ
@given(data=st.data())
def test_sod_parser_on_mangled_genuine_sod(
    files: dict[int, bytes], signer: DocumentSigner, data: st.DataObject
) -> None:
    sod = files[FILE_IDS["EF.SOD"]]
    how = data.draw(st.sampled_from(["truncate", "insert", "replace", "length"]))
    at = data.draw(st.integers(0, len(sod) - 1))
    if how == "truncate":
        mangled = sod[:at]
    elif how == "insert":
        mangled = sod[:at] + data.draw(st.binary(min_size=1, max_size=8)) + sod[at:]
    elif how == "replace":
        chunk = data.draw(st.binary(min_size=1, max_size=8))
        mangled = sod[:at] + chunk + sod[at + len(chunk) :]
    else:  # an oversized length where a length byte was
        mangled = sod[:at] + b"\x84\xff\xff\xff\xff" + sod[at + 1 :]
    if mangled == sod:
        return
    with contextlib.suppress(CardDataError):
        parse_sod(mangled)
    error = _refused({**files, FILE_IDS["EF.SOD"]: mangled}, [signer.certificate])
    assert error.code in {"malformed", "bad_signature", "untrusted_signer"}


DECODERS: dict[str, Callable[[bytes], object]] = {
    "DG1": decode_dg1,
    "DG2": decode_dg2,
    "DG3": decode_dg3,
    "DG7": decode_dg7,
    "EF.COM": decode_com,
}


@pytest.mark.parametrize("name", list(DECODERS))
@FUZZ
@given(data=st.data())
def test_group_decoders_on_mangled_input(
    files: dict[int, bytes], name: str, data: st.DataObject
) -> None:
    original = files[FILE_IDS[name]]
    at = data.draw(st.integers(0, len(original) - 1))
    chunk = data.draw(st.binary(max_size=6))
    end = data.draw(st.integers(at, len(original)))
    with contextlib.suppress(CardDataError):
        DECODERS[name](original[:at] + chunk + original[end:])


def test_sod_oversized_length_is_card_data_error() -> None:
    with pytest.raises(CardDataError, match="truncated"):
        parse_sod(b"\x77\x84\x7f\xff\xff\xff" + bytes(10))


# --------------------------------------------------------------------------- CSCA trust


def _csca(tmp_path: Path) -> tuple[Path, Path, x509.Certificate]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "CSCA Kabupaten Lumajang")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_path, certificate_path = tmp_path / "csca.key", tmp_path / "csca.pem"
    write_secret_file(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, certificate_path, certificate


def test_signer_issued_by_a_trusted_csca(tmp_path: Path, signer: DocumentSigner) -> None:
    csca_key, csca_certificate_path, csca = _csca(tmp_path)
    issued = DocumentSigner.create(
        tmp_path / "ds.key",
        tmp_path / "ds.pem",
        station_id="lumajang-02",
        issuer_key_path=csca_key,
        issuer_certificate_path=csca_certificate_path,
    )
    assert issued.certificate.issuer == csca.subject
    files = build_card_files(
        _holder(),
        face_image=PHOTO_PNG,
        finger_templates=FINGERS,
        signature_image=SIGNATURE_PNG,
        signer=issued,
    )
    assert read_card(files, [csca]).holder == _holder()
    # A non-CA certificate does not vouch for others, nor does another CSCA.
    assert _refused(files, [signer.certificate]).code == "untrusted_signer"
    _, _, other_csca = _csca(tmp_path / "other")
    assert _refused(files, [other_csca]).code == "untrusted_signer"


# --------------------------------------------------------------------------- the key files


def test_create_writes_a_0600_key_and_never_overwrites(tmp_path: Path) -> None:
    key_path, certificate_path = tmp_path / "keys" / "ds.key", tmp_path / "keys" / "ds.pem"
    now = datetime(2025, 5, 12, 8, 30, tzinfo=UTC)
    created = DocumentSigner.create(key_path, certificate_path, station_id="lumajang-01", now=now)
    assert stat.S_IMODE(key_path.stat().st_mode) == 0o600
    certificate = created.certificate
    common_name = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == "KTP-el Document Signer lumajang-01"
    assert certificate.issuer == certificate.subject
    assert certificate.not_valid_before_utc == now
    assert certificate.not_valid_after_utc - now >= timedelta(days=3652)
    assert certificate.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature

    key_before, certificate_before = key_path.read_bytes(), certificate_path.read_bytes()
    with pytest.raises(SecretFileError, match="already exists"):
        DocumentSigner.create(key_path, certificate_path, station_id="lumajang-01")
    certificate_path.unlink()
    with pytest.raises(SecretFileError, match="already exists"):
        DocumentSigner.create(key_path, certificate_path, station_id="lumajang-01")
    assert key_path.read_bytes() == key_before
    certificate_path.write_bytes(certificate_before)

    loaded = DocumentSigner.load(key_path, certificate_path)
    assert loaded.certificate == created.certificate
    files = build_card_files(
        _holder(),
        face_image=PHOTO_PNG,
        finger_templates=FINGERS,
        signature_image=SIGNATURE_PNG,
        signer=loaded,
    )
    assert read_card(files, [created.certificate]).holder == _holder()


def test_load_refuses_unsafe_or_mismatched_files(tmp_path: Path) -> None:
    DocumentSigner.create(tmp_path / "a.key", tmp_path / "a.pem", station_id="a")
    DocumentSigner.create(tmp_path / "b.key", tmp_path / "b.pem", station_id="b")
    with pytest.raises(DocumentSignerError, match="not for"):
        DocumentSigner.load(tmp_path / "a.key", tmp_path / "b.pem")
    with pytest.raises(DocumentSignerError, match="not a PEM certificate"):
        DocumentSigner.load(tmp_path / "a.key", tmp_path / "a.key")
    (tmp_path / "a.key").chmod(0o644)
    with pytest.raises(SecretFileError, match="must be 0600"):
        DocumentSigner.load(tmp_path / "a.key", tmp_path / "a.pem")


@pytest.mark.parametrize("station_id", ["", "   ", "x" * 42])
def test_station_id_must_fit_the_common_name(station_id: str) -> None:
    with pytest.raises(ValueError, match="station id"):
        DocumentSigner.generate(station_id=station_id)


# --------------------------------------------------------------------------- the face


def _dark(image: Image.Image, box: tuple[int, int, int, int]) -> int:
    """Pixels in `box` that are clearly not white."""
    return sum(image.crop(box).convert("L").histogram()[:160])


def test_face_renders_the_fields_photo_and_signature() -> None:
    face = render_card_face(_holder(), PHOTO_PNG, SIGNATURE_PNG, issued_at=ISSUED)
    assert face.size == CARD_FACE_SIZE == (1016, 648)
    assert face.mode == "RGB"
    assert _dark(face, (300, 20, 716, 95)) > 500  # the header, centred
    assert _dark(face, (40, 100, 600, 145)) > 1000  # the NIK, large
    assert _dark(face, (40, 160, 290, 520)) > 2000  # the labels
    assert _dark(face, (310, 160, 700, 520)) > 2000  # the values
    assert face.getpixel((790, 170)) == (200, 30, 30)  # the photo's background
    assert _dark(face, (772, 440, 992, 510)) > 100  # place and date of issue
    assert _dark(face, (772, 514, 992, 624)) > 200  # the signature
    assert _dark(face, (0, 0, 1016, 20)) == 0  # the margins stay blank
    assert _dark(face, (0, 626, 1016, 648)) == 0


def test_face_accepts_images_and_female_foreigner() -> None:
    holder = _holder(
        nik="3508015708900002",
        sex=Sex.PEREMPUAN,
        citizenship="WNA",
        valid_until=date(2030, 1, 1),
        blood_type="AB",
    )
    face = render_card_face(holder, _photo(), _signature_drawing(), issued_at=ISSUED)
    assert face.size == CARD_FACE_SIZE


def test_face_with_the_longest_values_stays_on_the_card() -> None:
    holder = _holder(
        name="W" * 60,
        birth_place="W" * 40,
        address="W" * 120,
        village="W" * 40,
        kecamatan="W" * 40,
        regency="W" * 40,
        province="W" * 40,
        occupation="W" * 50,
        issue_place="W" * 40,
        religion=Religion.KEPERCAYAAN,
        marital_status=MaritalStatus.BELUM_KAWIN,
    )
    face = render_card_face(holder, PHOTO_PNG, SIGNATURE_PNG, issued_at=ISSUED)
    assert face.size == CARD_FACE_SIZE
    assert _dark(face, (0, 0, 1016, 14)) == 0
    assert _dark(face, (0, 630, 1016, 648)) == 0
    assert _dark(face, (0, 0, 20, 648)) == 0
    assert _dark(face, (1000, 0, 1016, 648)) == 0
    assert _dark(face, (737, 160, 751, 626)) == 0  # values never reach the photo column


def test_face_refuses_an_unreadable_photo() -> None:
    with pytest.raises(CardDataError, match="photo"):
        render_card_face(_holder(), b"\x89PNG\r\n\x1a\ngarbage", SIGNATURE_PNG, issued_at=ISSUED)


def test_face_refuses_a_date_the_chip_does_not_carry() -> None:
    with pytest.raises(ValueError, match="date of issue"):
        render_card_face(_holder(), PHOTO_PNG, SIGNATURE_PNG, issued_at=date(2025, 5, 13))


def test_face_png_records_300_dpi() -> None:
    png = face_png(render_card_face(_holder(), PHOTO_PNG, SIGNATURE_PNG, issued_at=ISSUED))
    assert png.startswith(b"\x89PNG")
    image = Image.open(io.BytesIO(png))
    assert image.size == CARD_FACE_SIZE
    assert tuple(round(d) for d in image.info["dpi"]) == (CARD_FACE_DPI, CARD_FACE_DPI)


def test_a_cameras_large_photo_is_scaled_to_fit_the_chip() -> None:
    from appliance.card._images import MAX_IMAGE_BYTES, card_image  # noqa: PLC0415

    rng = random.Random(3)
    photo = Image.new("RGB", (1800, 2400), (120, 140, 200))
    draw = ImageDraw.Draw(photo)
    for _ in range(400):  # detail, so that the JPEG does not shrink by itself
        x, y = rng.randrange(1800), rng.randrange(2400)
        colour = (rng.randrange(256), rng.randrange(256), rng.randrange(256))
        draw.ellipse((x, y, x + rng.randrange(10, 200), y + rng.randrange(10, 200)), fill=colour)
    out = io.BytesIO()
    photo.save(out, format="JPEG", quality=95)
    assert len(out.getvalue()) > 10 * MAX_IMAGE_BYTES

    stored = card_image(out.getvalue(), mode="RGB", what="face image")

    assert len(stored.data) <= MAX_IMAGE_BYTES
    assert stored.width * 4 == stored.height * 3  # scaled, not cropped
    assert 240 <= stored.width <= 480
