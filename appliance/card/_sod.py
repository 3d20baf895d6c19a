"""EF.SOD, the card's security object, as ICAO 9303-10 section 4.6.2 defines it.

The file is tag 77 around a CMS `ContentInfo` (RFC 5652) holding `SignedData`:

* version 3; digestAlgorithms {SHA-256};
* encapContentInfo: eContentType id-icao-mrtd-security-ldsSecurityObject (2.23.136.1.1.1),
  eContent the DER of an `LDSSecurityObject` - version v1, hashAlgorithm SHA-256, the hash of
  every data group's file, and the LDS and Unicode versions EF.COM states;
* certificates: the document signer's certificate, and nothing else;
* one SignerInfo: version 1, the signer named by issuer and serial number, SHA-256, the
  signed attributes content-type and message-digest (SHA-256 of the eContent), signed with
  ECDSA P-256 over SHA-256.

Reading is strict: the file must be exactly what this module writes for the same content,
signed attributes, certificate and signature, so nothing outside the signature can be
altered without the card being refused. Parsing (`parse_sod`) raises `CardDataError`;
`verify_sod` then says whether the station trusts the signer and the signature holds, and
only then returns the hashes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

from ._errors import CardDataError, bad_signature, untrusted_signer
from ._signer import DocumentSigner
from ._tlv import decode_tlv, encode_tlv

SOD_TAG: Final = 0x77
LDS_SECURITY_OBJECT_OID: Final = "2.23.136.1.1.1"
LDS_VERSION: Final = "0108"
"""LDS 1.8, as EF.COM and the LDSSecurityObject (v1) both state."""
UNICODE_VERSION: Final = "040000"

_SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
_SHA256_SIZE = 32
_MAX_DATA_GROUP = 16
# What asn1crypto raises on bytes that are not the structure asked for; it parses lazily,
# so these can come from any field access, not only from load().
_ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


# asn1crypto has no types (mypy sees Any), hence the ignores on the subclasses.
class _DataGroupHash(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012 - asn1crypto's class-level schema
        ("data_group_number", core.Integer),
        ("data_group_hash_value", core.OctetString),
    ]


class _DataGroupHashValues(core.SequenceOf):  # type: ignore[misc]
    _child_spec = _DataGroupHash


class _LdsVersionInfo(core.Sequence):  # type: ignore[misc]
    _fields = [  # noqa: RUF012
        ("lds_version", core.PrintableString),
        ("unicode_version", core.PrintableString),
    ]


class _LdsSecurityObject(core.Sequence):  # type: ignore[misc]
    """ICAO 9303-10's LDSSecurityObject; v1 carries the LDSVersionInfo."""

    _fields = [  # noqa: RUF012
        ("version", core.Integer),
        ("hash_algorithm", algos.DigestAlgorithm),
        ("data_group_hash_values", _DataGroupHashValues),
        ("lds_version_info", _LdsVersionInfo, {"optional": True}),
    ]


def encode_lds_security_object(hashes_by_group: Mapping[int, bytes]) -> bytes:
    """The DER of the LDSSecurityObject for these data-group hashes (SHA-256)."""
    encoded: bytes = _LdsSecurityObject(
        {
            "version": 1,
            "hash_algorithm": {"algorithm": "sha256"},
            "data_group_hash_values": [
                {"data_group_number": number, "data_group_hash_value": hashes_by_group[number]}
                for number in sorted(hashes_by_group)
            ],
            "lds_version_info": {"lds_version": LDS_VERSION, "unicode_version": UNICODE_VERSION},
        }
    ).dump()
    return encoded


def decode_lds_security_object(data: bytes) -> Mapping[int, bytes]:
    """The data-group hashes of an LDSSecurityObject, which must be exactly what
    `encode_lds_security_object` writes for them."""
    try:
        parsed = _LdsSecurityObject.load(data, strict=True)
        entries = [
            (int(entry["data_group_number"].native), bytes(entry["data_group_hash_value"].native))
            for entry in parsed["data_group_hash_values"]
        ]
    except _ASN1_ERRORS as exc:
        raise CardDataError(f"the LDS security object does not parse: {exc}") from None
    hashes_by_group = dict(entries)
    if len(hashes_by_group) != len(entries):
        raise CardDataError("the LDS security object lists a data group twice")
    for number, digest in entries:
        if not 1 <= number <= _MAX_DATA_GROUP or len(digest) != _SHA256_SIZE:
            raise CardDataError("the LDS security object holds a data group hash out of range")
    if encode_lds_security_object(hashes_by_group) != data:
        raise CardDataError("the LDS security object is not in the form this station writes")
    return MappingProxyType(hashes_by_group)


@dataclass(frozen=True, slots=True)
class SignedSecurityObject:
    """A parsed, not yet verified, EF.SOD."""

    content: bytes = field(repr=False)
    """The eContent: the LDSSecurityObject's DER, as signed."""
    signed_attributes: bytes = field(repr=False)
    """The DER of the signed attributes as a SET OF, which is what the signature covers."""
    certificate: x509.Certificate
    signature: bytes = field(repr=False)


def sign_sod(hashes_by_group: Mapping[int, bytes], signer: DocumentSigner) -> bytes:
    """EF.SOD for these data-group hashes, signed by `signer`."""
    content = encode_lds_security_object(hashes_by_group)
    attributes = _signed_attributes(content)
    signature = signer.sign(attributes.dump())
    certificate = asn1_x509.Certificate.load(signer.certificate_der)
    return encode_tlv(SOD_TAG, _content_info(content, attributes, certificate, signature))


def parse_sod(data: bytes) -> SignedSecurityObject:
    """Parse EF.SOD; raises `CardDataError` for anything but the form `sign_sod` writes."""
    der = decode_tlv(data, tag=SOD_TAG)
    try:
        content, attributes, certificate_der, signature = _signed_parts(der)
    except CardDataError:
        raise
    except _ASN1_ERRORS as exc:
        raise CardDataError(f"EF.SOD does not parse: {exc}") from None
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CardDataError(f"the document signer's certificate does not parse: {exc}") from None
    return SignedSecurityObject(
        content=content, signed_attributes=attributes, certificate=certificate, signature=signature
    )


def _signed_parts(der: bytes) -> tuple[bytes, bytes, bytes, bytes]:
    """The eContent, the signed attributes (as the SET OF that is signed), the
    certificate and the signature. asn1crypto parses lazily: any access may raise."""
    info = cms.ContentInfo.load(der, strict=True)
    if info["content_type"].dotted != _SIGNED_DATA_OID:
        raise CardDataError("EF.SOD does not hold CMS SignedData")
    signed = info["content"]
    certificates = signed["certificates"]
    signer_infos = signed["signer_infos"]
    if len(certificates) != 1 or certificates[0].name != "certificate":
        raise CardDataError("EF.SOD must carry exactly the document signer's certificate")
    if len(signer_infos) != 1:
        raise CardDataError("EF.SOD must have exactly one signer")
    certificate = certificates[0].chosen
    signer_info = signer_infos[0]
    attributes = signer_info["signed_attrs"]
    content = signed["encap_content_info"]["content"]
    if isinstance(content, core.Void) or isinstance(attributes, core.Void):
        raise CardDataError("EF.SOD lacks its content or its signed attributes")
    content_bytes = bytes(content.native)
    signature = bytes(signer_info["signature"].native)
    # Everything outside the signature is fixed, so the whole file must re-encode from
    # the signed parts to the same bytes: a changed version, algorithm, signer identifier
    # or an extra field can only be refused.
    if _content_info(content_bytes, attributes, certificate, signature) != der:
        raise CardDataError("EF.SOD is not in the form this station writes")
    return content_bytes, bytes(attributes.untag().dump()), bytes(certificate.dump()), signature


def verify_sod(sod: SignedSecurityObject, trust: Sequence[x509.Certificate]) -> Mapping[int, bytes]:
    """The data-group hashes, once the signer is trusted and the signature holds.

    Raises `CardVerificationError` (`untrusted_signer`, `bad_signature`), or
    `CardDataError` if the signed content is not an LDSSecurityObject.
    """
    if not any(_trusted_by(sod.certificate, anchor) for anchor in trust):
        raise untrusted_signer()
    if sod.signed_attributes != _signed_attributes(sod.content).dump():
        raise bad_signature("the signed message digest is not that of the content")
    try:
        key = sod.certificate.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise bad_signature(f"the signer's key cannot be read: {exc}") from None
    if not isinstance(key, ec.EllipticCurvePublicKey) or not isinstance(key.curve, ec.SECP256R1):
        raise bad_signature("the signer's key is not EC P-256")
    try:
        key.verify(sod.signature, sod.signed_attributes, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        raise bad_signature("the signature does not verify") from None
    return decode_lds_security_object(sod.content)


def _trusted_by(certificate: x509.Certificate, anchor: x509.Certificate) -> bool:
    """The station's own signer certificate, or one issued by a trusted CSCA."""
    if certificate == anchor:
        return True
    try:
        constraints = anchor.extensions.get_extension_for_class(x509.BasicConstraints).value
    except (x509.ExtensionNotFound, ValueError):
        return False
    if not constraints.ca:
        return False
    try:
        certificate.verify_directly_issued_by(anchor)
    except (ValueError, TypeError, InvalidSignature, UnsupportedAlgorithm):
        return False
    return True


def _signed_attributes(content: bytes) -> cms.CMSAttributes:
    # DER sorts a SET OF by encoding: content-type (shorter) comes first.
    return cms.CMSAttributes(
        [
            {"type": "content_type", "values": [LDS_SECURITY_OBJECT_OID]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        ]
    )


def _content_info(
    content: bytes,
    attributes: cms.CMSAttributes,
    certificate: asn1_x509.Certificate,
    signature: bytes,
) -> bytes:
    tbs = certificate["tbs_certificate"]
    signer_info = {
        "version": "v1",
        "sid": cms.SignerIdentifier(
            name="issuer_and_serial_number",
            value={"issuer": tbs["issuer"], "serial_number": tbs["serial_number"]},
        ),
        "digest_algorithm": {"algorithm": "sha256"},
        "signed_attrs": attributes,
        "signature_algorithm": {"algorithm": "sha256_ecdsa"},
        "signature": signature,
    }
    signed_data = {
        "version": "v3",
        "digest_algorithms": [{"algorithm": "sha256"}],
        "encap_content_info": {"content_type": LDS_SECURITY_OBJECT_OID, "content": content},
        "certificates": [certificate],
        "signer_infos": [signer_info],
    }
    encoded: bytes = cms.ContentInfo({"content_type": "signed_data", "content": signed_data}).dump()
    return encoded
