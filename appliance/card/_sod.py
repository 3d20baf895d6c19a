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

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import ModuleType
from typing import Final

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


def _asn1() -> ModuleType:
    """`_sod_asn1`, imported with the first card written or read: asn1crypto stays out
    of an idle station (docs/footprint.md)."""
    return importlib.import_module("._sod_asn1", __package__)


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
    asn1 = _asn1()
    content = asn1.encode_lds_security_object(hashes_by_group)
    attributes = asn1.signed_attributes(content)
    signature = signer.sign(attributes.dump())
    certificate = asn1.signer_certificate(signer.certificate_der)
    der: bytes = asn1.content_info(content, attributes, certificate, signature)
    return encode_tlv(SOD_TAG, der)


def parse_sod(data: bytes) -> SignedSecurityObject:
    """Parse EF.SOD; raises `CardDataError` for anything but the form `sign_sod` writes."""
    der = decode_tlv(data, tag=SOD_TAG)
    asn1 = _asn1()
    try:
        content, attributes, certificate_der, signature = asn1.signed_parts(der)
    except CardDataError:
        raise
    except asn1.ASN1_ERRORS as exc:
        raise CardDataError(f"EF.SOD does not parse: {exc}") from None
    try:
        certificate = x509.load_der_x509_certificate(certificate_der)
    except (ValueError, x509.InvalidVersion) as exc:
        raise CardDataError(f"the document signer's certificate does not parse: {exc}") from None
    return SignedSecurityObject(
        content=content, signed_attributes=attributes, certificate=certificate, signature=signature
    )


def verify_sod(sod: SignedSecurityObject, trust: Sequence[x509.Certificate]) -> Mapping[int, bytes]:
    """The data-group hashes, once the signer is trusted and the signature holds.

    Raises `CardVerificationError` (`untrusted_signer`, `bad_signature`), or
    `CardDataError` if the signed content is not an LDSSecurityObject.
    """
    if not any(_trusted_by(sod.certificate, anchor) for anchor in trust):
        raise untrusted_signer()
    asn1 = _asn1()
    if sod.signed_attributes != asn1.signed_attributes_der(sod.content):
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
    hashes_by_group: Mapping[int, bytes] = asn1.decode_lds_security_object(sod.content)
    return hashes_by_group


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
