"""Who signed what an SBI device sends: compact JWS (RFC 7515) and its signer's X.509 chain.

`deviceInfo`, `digitalId` and capture `data` arrive as `header.payload.signature`, RS256,
with the signer's certificate first in `x5c` (MOSIP's MockMDS sends that certificate alone).
The SBI specification's "Signature" table says who signs: the device key signs deviceInfo
and capture data; the digitalId is signed by the FTM chip key of an L1 device (all Auth
devices), by the device key of an L0 one. The device key's certificate is issued by the
device provider's CA under the country's MOSIP root, the chip's by the FTM provider's CA
under the FTM root.

With trust anchors configured (those roots, or a provider's CA, or a pinned device
certificate), every signature must verify and its certificate must chain to an anchor at
the station's clock: cryptography's X.509 verifier builds the chain through the configured
intermediates (provider and FTM CAs, which devices do not send) and the rest of `x5c`,
checking each signature, validity period and CA flag. Without anchors (the default) the
payload is decoded and the signature not checked: the station trusts what is plugged into
its own USB ports.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from ._errors import DeviceFault

Clock = Callable[[], datetime]


def _utc_now() -> datetime:
    return datetime.now(UTC)


# A device PKI is not the web's: no SAN, no EKU, no key identifiers are required (MockMDS's
# certificates carry none). What is required is that every issuer is a CA: basicConstraints
# present on it, with ca=True, which the verifier checks.
_CA_POLICY: Final = ExtensionPolicy.permit_all().require_present(
    x509.BasicConstraints, Criticality.AGNOSTIC, None
)
_LEAF_POLICY: Final = ExtensionPolicy.permit_all()


class Trust:
    """The certificates a device's signatures must chain to; no anchors: decode only."""

    def __init__(
        self,
        *,
        anchors: Sequence[x509.Certificate] = (),
        intermediates: Sequence[x509.Certificate] = (),
        clock: Clock = _utc_now,
    ) -> None:
        self.anchors = tuple(anchors)
        self.intermediates = tuple(intermediates)
        self._clock = clock
        self._store = Store(list(self.anchors)) if self.anchors else None

    @property
    def verifies(self) -> bool:
        return self._store is not None

    def check_chain(
        self, certificate: x509.Certificate, sent: Sequence[x509.Certificate], *, device: str
    ) -> None:
        """Refuse unless `certificate` chains to an anchor now, through the configured
        intermediates and those the device `sent` after it in `x5c`."""
        if self._store is None:
            return
        verifier = (
            PolicyBuilder()
            .store(self._store)
            .time(self._clock())
            .extension_policies(ca_policy=_CA_POLICY, ee_policy=_LEAF_POLICY)
            .build_client_verifier()
        )
        try:
            verifier.verify(certificate, [*self.intermediates, *sent])
        except VerificationError as exc:
            raise DeviceFault(
                device, "untrusted", f"signer {_subject(certificate)} does not chain: {exc}"
            ) from None


def _subject(certificate: x509.Certificate) -> str:
    try:
        return certificate.subject.rfc4514_string()[:120]
    except ValueError:
        return "(unreadable subject)"


NO_TRUST: Final = Trust()


# --------------------------------------------------------------------------- JWS and base64

_B64URL: Final = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def b64url(text: str, *, device: str) -> bytes:
    """Strict base64url (padding optional): anything else is garbage, not skipped."""
    if _B64URL.fullmatch(text) is None:
        raise DeviceFault(device, "garbage", "not base64url")
    text = text.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise DeviceFault(device, "garbage", "not base64url") from exc


def json_of(device: str, body: bytes | str, what: str) -> object:
    try:
        return json.loads(body)
    except (ValueError, RecursionError) as exc:  # also bad UTF-8 and absurd integers
        raise DeviceFault(device, "garbage", f"{what} is not JSON") from exc


def is_signed(token: str) -> bool:
    """A compact JWS has three dot-separated parts; an unsigned payload has one."""
    return "." in token


def decode_jws(
    token: str, *, device: str, trust: Trust = NO_TRUST, unsigned_ok: bool = False
) -> object:
    """The JSON payload of a compact JWS, or of a bare base64url payload (unsigned).

    With trust anchors a payload must be signed (unless `unsigned_ok`: what the
    specification sends unsigned, a not-registered device's info and digital id) and its
    signature must verify by a certificate that chains to an anchor.
    """
    parts = token.split(".")
    if len(parts) == 1:
        if trust.verifies and not unsigned_ok:
            raise DeviceFault(device, "untrusted", "unsigned where a signature is required")
        return json_of(device, b64url(parts[0], device=device), "unsigned payload")
    if len(parts) != 3:
        raise DeviceFault(device, "garbage", "not a compact JWS")
    header = json_of(device, b64url(parts[0], device=device), "JWS header")
    payload = b64url(parts[1], device=device)
    if trust.verifies:
        verify_jws(
            header,
            f"{parts[0]}.{parts[1]}".encode("ascii"),
            b64url(parts[2], device=device),
            device=device,
            trust=trust,
        )
    return json_of(device, payload, "JWS payload")


def verify_jws(
    header: object, signing_input: bytes, signature: bytes, *, device: str, trust: Trust
) -> None:
    """Check an RS256 signature by the first `x5c` certificate, and that certificate's
    chain to a trust anchor."""
    if not isinstance(header, dict) or header.get("alg") != "RS256":
        raise DeviceFault(device, "garbage", "JWS is not RS256")
    chain = header.get("x5c")
    if not isinstance(chain, list) or not chain or not all(isinstance(c, str) for c in chain):
        raise DeviceFault(device, "garbage", "JWS carries no x5c certificate")
    try:
        # RFC 7515 4.1.6: x5c holds standard base64 DER, not base64url.
        certificates = [
            x509.load_der_x509_certificate(base64.b64decode(c, validate=True)) for c in chain
        ]
    except (ValueError, binascii.Error) as exc:
        raise DeviceFault(device, "garbage", "JWS x5c is not a certificate") from exc
    signer = certificates[0]
    try:
        key = signer.public_key()
    except (ValueError, UnsupportedAlgorithm) as exc:
        raise DeviceFault(device, "garbage", "JWS certificate key unreadable") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise DeviceFault(device, "garbage", "JWS certificate is not RSA")
    try:
        key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
    except (InvalidSignature, ValueError) as exc:
        raise DeviceFault(device, "untrusted", "JWS signature does not verify") from exc
    trust.check_chain(signer, certificates[1:], device=device)
