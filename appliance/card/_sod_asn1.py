"""EF.SOD's ASN.1 (ICAO 9303-10 section 4.6.2, RFC 5652) through asn1crypto: the
LDSSecurityObject's schema, and the CMS SignedData written and taken apart.

A module of its own so that asn1crypto (about 2 MB) loads when a card is first written
or read, not with the daemon (docs/footprint.md); `_sod` holds the rules.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from types import MappingProxyType

from asn1crypto import algos, cms, core
from asn1crypto import x509 as asn1_x509

from ._errors import CardDataError
from ._sod import LDS_SECURITY_OBJECT_OID, LDS_VERSION, UNICODE_VERSION

_SIGNED_DATA_OID = "1.2.840.113549.1.7.2"
_SHA256_SIZE = 32
_MAX_DATA_GROUP = 16
# What asn1crypto raises on bytes that are not the structure asked for; it parses lazily,
# so these can come from any field access, not only from load().
ASN1_ERRORS = (ValueError, TypeError, KeyError, IndexError, OverflowError)


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
    except ASN1_ERRORS as exc:
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


def signed_parts(der: bytes) -> tuple[bytes, bytes, bytes, bytes]:
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
    if content_info(content_bytes, attributes, certificate, signature) != der:
        raise CardDataError("EF.SOD is not in the form this station writes")
    return content_bytes, bytes(attributes.untag().dump()), bytes(certificate.dump()), signature


def signed_attributes(content: bytes) -> cms.CMSAttributes:
    # DER sorts a SET OF by encoding: content-type (shorter) comes first.
    return cms.CMSAttributes(
        [
            {"type": "content_type", "values": [LDS_SECURITY_OBJECT_OID]},
            {"type": "message_digest", "values": [hashlib.sha256(content).digest()]},
        ]
    )


def content_info(
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


def signed_attributes_der(content: bytes) -> bytes:
    """The DER of the signed attributes for this eContent, as the signature covers them."""
    encoded: bytes = signed_attributes(content).dump()
    return encoded


def signer_certificate(der: bytes) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(der)
