"""A personalised card read by a parser that is not the station's: the chip's files checked
against ICAO Doc 9303 (part 10 LDS, part 11 passive authentication, part 12 certificates)
and ISO/IEC 19794-2/-5, so that the station's writer and reader cannot simply agree with
each other.

No ICAO parser installs here (pymrtd is not on the package index), so the files are read
with a BER-TLV walker written in this module from the standard, asn1crypto for the CMS and
X.509 structures, `cryptography` for the signatures and the system's OpenSSL for a second
opinion on the SignedData. Nothing here imports a parser or an encoder of
`appliance.card`: the station only personalises, through its real path (the issuer, the
card encoder driver, pcscd, the simulated chip), and the files are taken from the chip's own
file store, the bytes that landed on it.

Two cards: one signed by a document signer that the station issued itself (what
`appliance keys` creates while the regency runs no CSCA), one by a document signer that a
CSCA issued (9303-12's model). Where the card deviates from 9303 on purpose the test asserts
the deviation as docs/card.md ("Deviations from ICAO 9303") states it, so the table cannot
drift from the chip.
"""

from __future__ import annotations

import hashlib
import io
import shutil
import subprocess
import tempfile
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Final

import pytest
import pytest_asyncio
from asn1crypto import algos, cms, core
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from PIL import Image

from appliance.card import DocumentSigner
from appliance.clock import ManualClock
from appliance.issuance import CardIssuer
from appliance.register import EventType, Register, StationKey
from sim.pcscd import PrivatePcscd
from sim.smartcard import VirtualCard

from .card_rig import CHIP_FINGERS, ISSUE_DATE, card_station, holder, request
from .support import SUBMITTED, VALID_NIK

# --------------------------------------------------------------------------- 9303-10 tables

LDS1_AID: Final = bytes.fromhex("A0000002471001")  # the eMRTD LDS1 application, 9303-10

# ICAO 9303-10 section 4.6 and 4.7 (LDS1 elementary files): file identifier and the tag the
# file's one element carries. Written out here from the standard, not taken from the station.
EF_COM: Final = (0x011E, 0x60)
EF_SOD: Final = (0x011D, 0x77)
DATA_GROUPS: Final = {
    1: (0x0101, 0x61),
    2: (0x0102, 0x75),
    3: (0x0103, 0x63),
    4: (0x0104, 0x76),
    5: (0x0105, 0x65),
    6: (0x0106, 0x66),
    7: (0x0107, 0x67),
    8: (0x0108, 0x68),
    9: (0x0109, 0x69),
    10: (0x010A, 0x6A),
    11: (0x010B, 0x6B),
    12: (0x010C, 0x6C),
    13: (0x010D, 0x6D),
    14: (0x010E, 0x6E),
    15: (0x010F, 0x6F),
    16: (0x0110, 0x70),
}
MRZ_TAG: Final = 0x5F1F  # DG1's one element in 9303-10
# DG11 (additional personal details) and DG12 (additional document details) tags, 9303-10
# sections 4.7.11 and 4.7.12; ISO/IEC 7816-6's sex (5F35, coded per ISO/IEC 5218).
DG11_TAGS: Final = frozenset(
    {0x5F0E, 0x5F0F, 0x5F10, 0x5F11, 0x5F12, 0x5F13, 0x5F14, 0x5F15, 0x5F16, 0x5F17, 0x5F18}
    | {0x5F2B, 0x5F42}
)
DG12_TAGS: Final = frozenset({0x5F19, 0x5F26, 0x5F1B, 0x5F1C, 0x5F1D, 0x5F1E, 0x5F55, 0x5F56})
ISO7816_SEX: Final = 0x5F35
TAG_LIST: Final = 0x5C

# Biometric templates, 9303-10 section 4.7.2 (CBEFF, ISO/IEC 19785-3 patron format).
GROUP_TEMPLATE: Final = 0x7F61
TEMPLATE: Final = 0x7F60
HEADER_TEMPLATE: Final = 0xA1
DATA_BLOCK: Final = 0x5F2E
ENCIPHERED_DATA_BLOCK: Final = 0x7F2E
INSTANCES: Final = 0x02
DISPLAYED_SIGNATURE: Final = 0x5F43
HEADER_ELEMENTS: Final = (0x80, 0x81, 0x82, 0x83, 0x85, 0x86, 0x87, 0x88)
SC37: Final = b"\x01\x01"  # format owner 257, ISO/IEC JTC 1/SC 37
# CBEFF BDB format types of SC 37 (IBIA registry; MOSIP docs/biometrics/cbeff-xml.md lists
# 2 minutiae, 7 finger image, 8 face image).
FINGER_MINUTIAE: Final = b"\x00\x02"
FINGER_IMAGE: Final = b"\x00\x07"
FACE_IMAGE: Final = b"\x00\x08"

LDS_SECURITY_OBJECT: Final = "2.23.136.1.1.1"
ECDSA_WITH_SHA256: Final = "1.2.840.10045.4.3.2"


class NonConformance(AssertionError):
    """The file breaks a rule of the standard the test reads it by."""


# --------------------------------------------------------------------------- BER-TLV walker


@dataclass(frozen=True)
class Element:
    """One BER-TLV element: its tag as 9303 prints it (5F2E), and what it holds."""

    tag: int
    value: bytes
    children: tuple[Element, ...]

    @property
    def tags(self) -> list[int]:
        return [child.tag for child in self.children]

    def only(self, tag: int) -> Element:
        found = [child for child in self.children if child.tag == tag]
        if len(found) != 1:
            raise NonConformance(f"{self.tag:X} holds {len(found)} elements {tag:X}, not one")
        return found[0]


def walk(data: bytes) -> list[Element]:
    """Every element in `data`, which they must fill exactly, constructed ones opened
    down to their primitive leaves (ISO/IEC 8825-1 BER as ISO/IEC 7816-4 uses it)."""
    elements = []
    offset = 0
    while offset < len(data):
        element, offset = _element(data, offset)
        elements.append(element)
    return elements


def one_element(data: bytes) -> Element:
    """The one element a file holds: 9303-10's files are a single TLV, nothing after it."""
    elements = walk(data)
    if len(elements) != 1:
        raise NonConformance(f"the file holds {len(elements)} top-level elements, not one")
    return elements[0]


def _element(data: bytes, start: int) -> tuple[Element, int]:
    offset = start
    first = _byte(data, offset)
    offset += 1
    if first & 0x1F == 0x1F:  # the tag number continues in the next bytes
        if _byte(data, offset) == 0x80:
            raise NonConformance(f"tag at {start} is padded with a leading zero")
        while _byte(data, offset) & 0x80:
            offset += 1
        offset += 1
    tag = int.from_bytes(data[start:offset], "big")
    length_byte = _byte(data, offset)
    offset += 1
    if length_byte == 0x80:
        raise NonConformance(f"tag {tag:X} has an indefinite length")
    if length_byte > 0x80:
        count = length_byte & 0x7F
        raw = data[offset : offset + count]
        if count > 4 or len(raw) != count:
            raise NonConformance(f"tag {tag:X} has a malformed length")
        length = int.from_bytes(raw, "big")
        # 9303-10 (and DER): the length in the fewest bytes.
        if raw[0] == 0 or length < 0x80:
            raise NonConformance(f"tag {tag:X}: length {length} is not in its shortest form")
        offset += count
    else:
        length = length_byte
    value = data[offset : offset + length]
    if len(value) != length:
        raise NonConformance(f"tag {tag:X} declares {length} bytes, {len(value)} remain")
    constructed = bool(first & 0x20)
    return Element(tag, value, tuple(walk(value)) if constructed else ()), offset + length


def _byte(data: bytes, offset: int) -> int:
    if offset >= len(data):
        raise NonConformance("an element is cut short")
    return data[offset]


# --------------------------------------------------------------------------- EF.SOD's ASN.1
# 9303-10 section 4.6.2.2, written out here as the standard prints it.


class DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's class-level schema
        ("dataGroupNumber", core.Integer),
        ("dataGroupHashValue", core.OctetString),
    ]


class DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = DataGroupHash


class LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("ldsVersion", core.PrintableString),
        ("unicodeVersion", core.PrintableString),
    ]


class LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hashAlgorithm", algos.DigestAlgorithm),
        ("dataGroupHashValues", DataGroupHashValues),
        ("ldsVersionInfo", LdsVersionInfo, {"optional": True}),
    ]


@dataclass(frozen=True)
class SecurityObject:
    signed_data: cms.SignedData
    lds: LdsSecurityObject
    certificate: x509.Certificate


def passive_authentication(
    files: dict[int, bytes], anchors: Sequence[x509.Certificate]
) -> SecurityObject:
    """9303-11 section 5.1 passive authentication, from the bytes: EF.SOD's signature holds
    for its document signer, the signer is an anchor or was issued by one, and every data
    group's hash is the signed one. Raises NonConformance otherwise."""
    sod = one_element(files[EF_SOD[0]])
    if sod.tag != EF_SOD[1]:
        raise NonConformance(f"EF.SOD starts with {sod.tag:X}")
    info = cms.ContentInfo.load(sod.value, strict=True)
    if info["content_type"].native != "signed_data":
        raise NonConformance("EF.SOD does not hold CMS SignedData")
    signed = info["content"]
    encap = signed["encap_content_info"]
    if encap["content_type"].dotted != LDS_SECURITY_OBJECT:
        raise NonConformance("the signed content is not an LDSSecurityObject")
    content = bytes(encap["content"].native)
    lds = LdsSecurityObject.load(content, strict=True)

    certificates = [
        x509.load_der_x509_certificate(choice.chosen.dump())
        for choice in signed["certificates"]
        if choice.name == "certificate"
    ]
    (signer_info,) = signed["signer_infos"]
    certificate = _signer_certificate(signer_info["sid"], certificates)
    _check_signed_attributes(signer_info, content, encap["content_type"].dotted)
    if signer_info["signature_algorithm"]["algorithm"].dotted != ECDSA_WITH_SHA256:
        raise NonConformance("the station signs with ecdsa-with-SHA256; this SOD says otherwise")
    # The signature covers the DER of the signed attributes as a SET OF (RFC 5652 5.4):
    # the [0] IMPLICIT tag they carry in the SignerInfo is replaced by SET's 0x31.
    signed_attributes = b"\x31" + signer_info["signed_attrs"].dump()[1:]
    key = certificate.public_key()
    assert isinstance(key, ec.EllipticCurvePublicKey)
    try:
        key.verify(
            bytes(signer_info["signature"].native), signed_attributes, ec.ECDSA(hashes.SHA256())
        )
    except InvalidSignature:
        raise NonConformance("the document signer's signature does not verify") from None
    if not any(_issued_by(certificate, anchor) for anchor in anchors):
        raise NonConformance("the document signer chains to no trusted anchor")

    algorithm = lds["hashAlgorithm"]["algorithm"].native
    for entry in lds["dataGroupHashValues"]:
        number = entry["dataGroupNumber"].native
        fid, _ = DATA_GROUPS[number]
        digest = hashlib.new(algorithm, files[fid]).digest()
        if digest != entry["dataGroupHashValue"].native:
            raise NonConformance(f"DG{number}'s hash is not the signed one")
    return SecurityObject(signed_data=signed, lds=lds, certificate=certificate)


def _signer_certificate(
    sid: cms.SignerIdentifier, certificates: list[x509.Certificate]
) -> x509.Certificate:
    for certificate in certificates:
        if sid.name == "issuer_and_serial_number":
            if (
                sid.chosen["issuer"].dump() == certificate.issuer.public_bytes()
                and sid.chosen["serial_number"].native == certificate.serial_number
            ):
                return certificate
        else:
            ski = certificate.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
            if sid.chosen.native == ski.value.digest:
                return certificate
    raise NonConformance("no certificate in EF.SOD is the one its SignerInfo names")


def _check_signed_attributes(
    signer_info: cms.SignerInfo, content: bytes, content_type: str
) -> None:
    attributes = {
        attribute["type"].native: attribute["values"] for attribute in signer_info["signed_attrs"]
    }
    if set(attributes) - {"content_type", "message_digest", "signing_time"}:
        raise NonConformance(f"unexpected signed attributes: {sorted(attributes)}")
    (signed_type,) = attributes["content_type"]
    if signed_type.dotted != content_type:
        raise NonConformance("the signed content type is not the eContentType")
    (message_digest,) = attributes["message_digest"]
    algorithm = signer_info["digest_algorithm"]["algorithm"].native
    if message_digest.native != hashlib.new(algorithm, content).digest():
        raise NonConformance("the signed message digest is not that of the eContent")


def _issued_by(certificate: x509.Certificate, anchor: x509.Certificate) -> bool:
    if certificate.issuer != anchor.subject:
        return False
    try:
        certificate.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


# --------------------------------------------------------------------------- the cards


@dataclass(frozen=True)
class PersonalisedCard:
    files: dict[int, bytes]
    """The LDS files by FID, as the simulated chip stores them."""
    anchor: x509.Certificate
    """What a reader trusts: the CSCA, or the station's own document signer."""
    signer: DocumentSigner


def _csca(directory: Path) -> tuple[Path, Path, x509.Certificate]:
    """A country signing CA per 9303-12's CSCA profile (section 7.1.1): a self-signed root,
    basic constraints CA with path length 0, key usage keyCertSign and cRLSign, critical."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "ID"),
            x509.NameAttribute(NameOID.COMMON_NAME, "CSCA Indonesia (test)"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=15 * 365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    key_path, certificate_path = directory / "csca.key", directory / "csca.pem"
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return key_path, certificate_path, certificate


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest.fixture(scope="module")
def short_dir() -> Iterator[Path]:
    # pytest's tmp_path can exceed the 108-byte limit of a UNIX socket path.
    path = Path(tempfile.mkdtemp(prefix="icao-", dir="/tmp"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def cards(pcscd: PrivatePcscd, short_dir: Path) -> dict[str, PersonalisedCard]:
    """One card per kind of document signer, each issued through the station's issuer and
    its card encoder into a simulated chip."""
    state = short_dir / "state"
    state.mkdir()
    csca_key, csca_certificate_path, csca = _csca(state)
    signers = {
        "station_signer": DocumentSigner.create(
            state / "own.key", state / "own.crt", station_id="lumajang-01"
        ),
        "csca_signer": DocumentSigner.create(
            state / "ds.key",
            state / "ds.crt",
            station_id="lumajang-01",
            issuer_key_path=csca_key,
            issuer_certificate_path=csca_certificate_path,
        ),
    }
    made = {}
    async with card_station(pcscd, short_dir) as station:
        for name, signer in signers.items():
            application = f"APP-{name}"
            with Register.open(
                state / f"{name}.sqlite3",
                station_id="lumajang-01",
                key=StationKey.generate(),
                clock=ManualClock(),
            ) as register:
                register.append(
                    EventType.APPLICATION_SUBMITTED, SUBMITTED, application_id=application
                )
                register.append(EventType.BLANK_RECEIVED, {"count": 1, "reference": "BA-ICAO"})
                issuer = CardIssuer(
                    register=register,
                    printer=station.printer,
                    encoder=station.encoder,
                    signer=signer,
                    card_keys=station.card_keys,
                )
                await issuer.issue(request(application))
            chip: VirtualCard = station.printer_sim.output_tray.pop()
            made[name] = PersonalisedCard(
                files=_lds_files(chip.application(LDS1_AID)),
                anchor=csca if name == "csca_signer" else signer.certificate,
                signer=signer,
            )
    return made


def _lds_files(application: dict[int, bytes]) -> dict[int, bytes]:
    """The LDS1 files the application holds (whatever else the chip keeps for itself)."""
    lds = {EF_COM[0], EF_SOD[0]} | {fid for fid, _ in DATA_GROUPS.values()}
    return {fid: data for fid, data in application.items() if fid in lds}


@pytest.fixture(params=["station_signer", "csca_signer"])
def card(request: pytest.FixtureRequest, cards: dict[str, PersonalisedCard]) -> PersonalisedCard:
    return cards[request.param]


def _group(card: PersonalisedCard, number: int) -> Element:
    fid, tag = DATA_GROUPS[number]
    element = one_element(card.files[fid])
    if element.tag != tag:
        raise NonConformance(f"DG{number} starts with {element.tag:X}, not {tag:X}")
    return element


def _com_groups(card: PersonalisedCard) -> list[int]:
    com = one_element(card.files[EF_COM[0]])
    by_tag = {tag: number for number, (_, tag) in DATA_GROUPS.items()}
    return [by_tag[tag] for tag in com.only(TAG_LIST).value]


# --------------------------------------------------------------------------- the tests


def test_every_file_is_one_ber_tlv_element_with_the_tag_of_its_fid(
    card: PersonalisedCard,
) -> None:
    expected = {EF_COM[0]: EF_COM[1], EF_SOD[0]: EF_SOD[1]} | dict(DATA_GROUPS.values())
    assert set(card.files) == {EF_COM[0], EF_SOD[0]} | {
        DATA_GROUPS[number][0] for number in _com_groups(card)
    }
    for fid, data in card.files.items():
        # walks every nested element: definite, shortest-form lengths that nest exactly
        assert one_element(data).tag == expected[fid], f"{fid:04X}"


def test_ef_com_states_lds_1_8_and_lists_the_groups_present(card: PersonalisedCard) -> None:
    com = one_element(card.files[EF_COM[0]])
    assert com.tags == [0x5F01, 0x5F36, TAG_LIST]
    assert com.only(0x5F01).value == b"0108"  # LDS 1.8, "aabb"
    assert com.only(0x5F36).value == b"040000"  # Unicode 4.0.0, "aabbcc"
    assert _com_groups(card) == [1, 2, 3, 7]


def test_dg1_holds_the_printed_fields_and_no_mrz(card: PersonalisedCard) -> None:
    """Deviation: DG1 has no MRZ (5F1F); it holds the card's printed fields as DG11/DG12
    elements, ISO/IEC 7816-6's sex and private-class tags, after a tag list."""
    dg1 = _group(card, 1)
    assert MRZ_TAG not in dg1.tags
    tag_list, *fields = dg1.children
    assert tag_list.tag == TAG_LIST
    assert _tag_list(tag_list.value) == [field.tag for field in fields]
    for field in fields:
        assert not field.children, f"{field.tag:X} is constructed"
        private = field.tag >> 8 & 0xC0 == 0xC0
        assert field.tag in DG11_TAGS | DG12_TAGS | {ISO7816_SEX} or private, f"{field.tag:X}"
        field.value.decode("utf-8")
    values = {field.tag: field.value for field in fields}
    person = holder()
    assert values[0x5F10] == VALID_NIK.encode()  # DG11 personal number
    assert values[0x5F0E] == person.name.encode()  # DG11 full name, as printed
    assert values[0x5F2B] == b"19900101"  # DG11 full date of birth, CCYYMMDD
    assert values[ISO7816_SEX] == b"2"  # ISO/IEC 5218: female
    assert values[0x5F19] == b"LUMAJANG"  # DG12 issuing authority
    assert values[0x5F26] == ISSUE_DATE.strftime("%Y%m%d").encode()  # DG12 date of issue


def _tag_list(value: bytes) -> list[int]:
    """The tags of a tag list (5C): tags one after the other, with no lengths."""
    tags, offset = [], 0
    while offset < len(value):
        start = offset
        if value[offset] & 0x1F == 0x1F:
            offset += 1
            while value[offset] & 0x80:
                offset += 1
        offset += 1
        tags.append(int.from_bytes(value[start:offset], "big"))
    return tags


def _templates(group: Element) -> list[tuple[dict[int, bytes], bytes]]:
    """The header elements and the data block of each biometric information template of a
    biometric information group template (7F61), as 9303-10 section 4.7.2 nests them."""
    (bitg,) = group.children
    assert bitg.tag == GROUP_TEMPLATE
    count, *templates = bitg.children
    assert count.tag == INSTANCES
    assert len(count.value) == 1
    assert count.value[0] == len(templates)
    found = []
    for template in templates:
        assert template.tag == TEMPLATE
        header, block = template.children
        assert header.tag == HEADER_TEMPLATE
        assert block.tag in {DATA_BLOCK, ENCIPHERED_DATA_BLOCK}
        assert block.tag == DATA_BLOCK  # stored in the clear; access control guards the file
        elements = {element.tag: element.value for element in header.children}
        assert header.tags == sorted(header.tags)
        assert set(header.tags) <= set(HEADER_ELEMENTS)
        assert elements[0x80] == b"\x01\x01"  # ICAO header version 1.1
        assert elements[0x87] == SC37  # format owner, mandatory
        found.append((elements, block.value))
    return found


def test_dg2_is_one_iso_19794_5_face_in_a_biometric_template(card: PersonalisedCard) -> None:
    ((header, record),) = _templates(_group(card, 2))
    assert header[0x81] == b"\x02"  # CBEFF biometric type: facial features
    assert header[0x88] == FACE_IMAGE
    face = parse_face_record(record)
    assert face.image_type == 1  # full frontal, as 9303 asks for the portrait
    with Image.open(io.BytesIO(face.image)) as image:
        assert image.format == ("JPEG" if face.data_type == 0 else "JPEG2000")
        assert image.size == (face.width, face.height)


def test_dg3_holds_iso_19794_2_minutiae_of_both_index_fingers(card: PersonalisedCard) -> None:
    """Deviation: CBEFF format type 0002 (ISO/IEC 19794-2 minutiae), not 0007
    (19794-4 finger images)."""
    templates = _templates(_group(card, 3))
    assert len(templates) == len(CHIP_FINGERS)
    positions = []
    for header, record in templates:
        assert header[0x81] == b"\x08"  # CBEFF biometric type: finger
        assert header[0x88] == FINGER_MINUTIAE
        assert header[0x88] != FINGER_IMAGE
        (subtype,) = header[0x82]
        finger = parse_minutiae_record(record)
        # CBEFF subtype: bits 0-1 the side (1 right, 2 left), bits 2-4 the finger (1 thumb..)
        side, digit = subtype & 0b11, subtype >> 2 & 0b111
        assert finger.position == (0 if side == 1 else 5) + digit
        positions.append(finger.position)
    assert positions == list(CHIP_FINGERS)  # 2 right index, 7 left index


def test_dg7_is_the_displayed_signature_as_an_image(card: PersonalisedCard) -> None:
    dg7 = _group(card, 7)
    count, *images = dg7.children
    assert count.tag == INSTANCES
    assert count.value == bytes((len(images),)) == b"\x01"
    (image,) = images
    assert image.tag == DISPLAYED_SIGNATURE
    with Image.open(io.BytesIO(image.value)) as picture:
        assert picture.format in {"JPEG", "JPEG2000"}


def test_ef_sod_signs_the_hash_of_every_group_ef_com_lists(card: PersonalisedCard) -> None:
    sod = passive_authentication(card.files, [card.anchor])
    signed = sod.signed_data
    assert signed["version"].native == "v3"
    assert [a["algorithm"].native for a in signed["digest_algorithms"]] == ["sha256"]
    assert len(signed["certificates"]) == 1  # the document signer's, as 9303-10 requires
    (signer_info,) = signed["signer_infos"]
    # version 1 with issuerAndSerialNumber, 3 with subjectKeyIdentifier (RFC 5652 5.3)
    assert (signer_info["version"].native, signer_info["sid"].name) in {
        ("v1", "issuer_and_serial_number"),
        ("v3", "subject_key_identifier"),
    }
    # RFC 5758 3.2: ecdsa-with-SHA256 has no parameters (not even NULL)
    assert signer_info["signature_algorithm"]["parameters"].native is None
    lds = sod.lds
    assert lds["version"].native == 1  # v1: LDS 1.8, with LDSVersionInfo
    # the versions EF.COM states, now signed (EF.COM itself is not hashed)
    com = one_element(card.files[EF_COM[0]])
    version_info = lds["ldsVersionInfo"]
    assert version_info["ldsVersion"].native.encode() == com.only(0x5F01).value
    assert version_info["unicodeVersion"].native.encode() == com.only(0x5F36).value
    assert lds["hashAlgorithm"]["algorithm"].native == "sha256"
    numbers = [entry["dataGroupNumber"].native for entry in lds["dataGroupHashValues"]]
    assert numbers == _com_groups(card)


def test_the_document_signer_certificate_follows_the_9303_12_profile(
    card: PersonalisedCard,
) -> None:
    certificate = passive_authentication(card.files, [card.anchor]).certificate
    assert certificate == card.signer.certificate
    assert certificate.version == x509.Version.v3
    usage = certificate.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    assert not usage.value.crl_sign
    constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints)
    assert not constraints.value.ca
    with pytest.raises(x509.ExtensionNotFound):  # no extended key usage for a DS
        certificate.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    country = NameOID.COUNTRY_NAME
    assert certificate.subject.get_attributes_for_oid(country)[0].value == "ID"
    assert certificate.issuer.get_attributes_for_oid(country)[0].value == "ID"
    authority = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    anchor_key = x509.SubjectKeyIdentifier.from_public_key(card.anchor.public_key())
    assert authority.value.key_identifier == anchor_key.digest


def test_the_csca_issued_signer_chains_to_the_csca(cards: dict[str, PersonalisedCard]) -> None:
    card = cards["csca_signer"]
    certificate = passive_authentication(card.files, [card.anchor]).certificate
    assert certificate.issuer == card.anchor.subject != certificate.subject
    certificate.verify_directly_issued_by(card.anchor)
    # The other card's document signer is not the CSCA's: refused against it.
    with pytest.raises(NonConformance, match="no trusted anchor"):
        passive_authentication(cards["station_signer"].files, [card.anchor])


def test_the_station_issued_signer_is_its_own_anchor(cards: dict[str, PersonalisedCard]) -> None:
    """Deviation (until the regency runs a CSCA): the document signer's certificate is
    self-issued and is itself the trust anchor."""
    card = cards["station_signer"]
    certificate = passive_authentication(card.files, [card.anchor]).certificate
    assert certificate.issuer == certificate.subject
    certificate.verify_directly_issued_by(certificate)


def test_openssl_verifies_the_security_object_against_the_anchor(
    card: PersonalisedCard, tmp_path: Path
) -> None:
    """A second, unrelated CMS implementation: OpenSSL checks the signature, the signed
    message digest and the chain to the anchor, and gives back the signed content."""
    sod = one_element(card.files[EF_SOD[0]])
    (tmp_path / "sod.der").write_bytes(sod.value)
    (tmp_path / "anchor.pem").write_bytes(card.anchor.public_bytes(serialization.Encoding.PEM))
    result = subprocess.run(
        [
            "openssl",
            "cms",
            "-verify",
            "-inform",
            "DER",
            "-in",
            str(tmp_path / "sod.der"),
            "-CAfile",
            str(tmp_path / "anchor.pem"),
            "-purpose",
            "any",
            "-out",
            str(tmp_path / "content.der"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    content = (tmp_path / "content.der").read_bytes()
    lds = LdsSecurityObject.load(content, strict=True)
    assert lds["version"].native == 1


def test_the_independent_check_refuses_a_changed_group_or_signature(
    card: PersonalisedCard,
) -> None:
    """The checks above can fail: a byte changed in a group, or in the signature."""
    for number in _com_groups(card):
        fid, _ = DATA_GROUPS[number]
        changed = dict(card.files)
        data = bytearray(changed[fid])
        data[-1] ^= 0x01
        changed[fid] = bytes(data)
        with pytest.raises(NonConformance, match=f"DG{number}'s hash"):
            passive_authentication(changed, [card.anchor])
    sod = bytearray(card.files[EF_SOD[0]])
    sod[-3] ^= 0x01  # inside the ECDSA signature, the SignerInfo's last field
    with pytest.raises(NonConformance, match="does not verify"):
        passive_authentication({**card.files, EF_SOD[0]: bytes(sod)}, [card.anchor])


@pytest.mark.parametrize(
    ("data", "refusal"),
    [
        (bytes.fromhex("6181035C015F"), "shortest form"),  # 81 03: a length that fits in 03
        (bytes.fromhex("61805C00"), "indefinite"),
        (bytes.fromhex("61055C015F"), "declares 5 bytes"),
        (bytes.fromhex("61025C000100"), "not one"),  # an element after the element
        (bytes.fromhex("7F8061025C00"), "leading zero"),  # a tag number padded with 80
    ],
)
def test_the_walker_refuses_what_ber_as_9303_uses_it_forbids(data: bytes, refusal: str) -> None:
    with pytest.raises(NonConformance, match=refusal):
        one_element(data)


# --------------------------------------------------------------------------- ISO/IEC 19794


@dataclass(frozen=True)
class FaceRecord:
    image_type: int
    data_type: int
    width: int
    height: int
    image: bytes


def parse_face_record(record: bytes) -> FaceRecord:
    """ISO/IEC 19794-5:2005 (the version 9303 requires), one image: a 14-byte header
    ("FAC\\0", "010\\0", record length, number of images), the facial information block
    (its length, feature points, ...: 20 bytes, then 8 per feature point), the image
    information (12 bytes), the image."""
    if record[:4] != b"FAC\x00" or record[4:8] != b"010\x00":
        raise NonConformance("not an ISO/IEC 19794-5:2005 facial record")
    if int.from_bytes(record[8:12], "big") != len(record):
        raise NonConformance("the facial record's length field is not its length")
    if int.from_bytes(record[12:14], "big") != 1:
        raise NonConformance("the facial record holds more or less than one image")
    block_length = int.from_bytes(record[14:18], "big")
    if block_length != len(record) - 14:
        raise NonConformance("the facial record data length does not reach the end")
    feature_points = int.from_bytes(record[18:20], "big")
    info = 14 + 20 + 8 * feature_points
    image_type, data_type = record[info], record[info + 1]
    width = int.from_bytes(record[info + 2 : info + 4], "big")
    height = int.from_bytes(record[info + 4 : info + 6], "big")
    image = record[info + 12 :]
    magic = {0: b"\xff\xd8\xff", 1: b"\x00\x00\x00\x0cjP  \r\n\x87\n"}
    if data_type not in magic or not image.startswith(magic[data_type]):
        raise NonConformance("the face image is not the JPEG or JPEG 2000 its header says")
    return FaceRecord(image_type, data_type, width, height, image)


@dataclass(frozen=True)
class FingerView:
    position: int
    minutiae: int


def parse_minutiae_record(record: bytes) -> FingerView:
    """ISO/IEC 19794-2:2005, one finger view: a 24-byte header ("FMR\\0", " 20\\0", record
    length (4), capture equipment (2), image width, height, x and y resolution (2 each),
    number of views (1), reserved (1)), the view (position, view number and impression
    type, quality, number of minutiae), 6 bytes per minutia, extended data length (2)."""
    if record[:4] != b"FMR\x00" or record[4:8] != b" 20\x00":
        raise NonConformance("not an ISO/IEC 19794-2:2005 finger minutiae record")
    if int.from_bytes(record[8:12], "big") != len(record):
        raise NonConformance("the minutiae record's length field is not its length")
    width = int.from_bytes(record[14:16], "big")
    height = int.from_bytes(record[16:18], "big")
    if min(width, height, *(int.from_bytes(record[i : i + 2], "big") for i in (18, 20))) == 0:
        raise NonConformance("the image size or resolution is zero")
    if record[22] != 1 or record[23] != 0:
        raise NonConformance("the record holds other than one finger view, or a reserved byte")
    position, _, quality, count = record[24:28]
    if not 1 <= position <= 10 or quality > 100:
        raise NonConformance("finger position or quality out of range")
    minutiae = record[28 : 28 + 6 * count]
    for offset in range(0, len(minutiae), 6):
        x = int.from_bytes(minutiae[offset : offset + 2], "big")
        y = int.from_bytes(minutiae[offset + 2 : offset + 4], "big")
        kind, reserved = x >> 14, y >> 14
        if kind == 0b11 or reserved or (x & 0x3FFF) >= width or (y & 0x3FFF) >= height:
            raise NonConformance("a minutia's type, reserved bits or position is invalid")
        if minutiae[offset + 5] > 100:
            raise NonConformance("a minutia's quality is over 100")
    extended = 28 + 6 * count
    if int.from_bytes(record[extended : extended + 2], "big") != len(record) - extended - 2:
        raise NonConformance("the extended data block does not end the record")
    return FingerView(position=position, minutiae=count)
