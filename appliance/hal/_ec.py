"""Elliptic-curve points for PACE's Generic Mapping, which `cryptography` cannot do alone.

PACE-GM (ICAO Doc 9303-11 §4.4.3.3.1) maps the nonce s to a new generator
G' = s·G + H, where H = SK·PK is the mapping's shared point, both coordinates of it;
the ephemeral key pair that follows is generated on G'. `cryptography`'s ECDH gives only
the x coordinate of a shared point and generates keys on the standard generator only, so
this module adds the few affine operations the mapping needs. Everything a standard
generator or a plain ECDH can do (the mapping key pair, the shared secret K, checking that
a point lies on the curve) is left to `cryptography`.

The arithmetic is plain Python big integers, not constant time: it runs on the station on
keys that live for one PACE run (a few milliseconds), where timing is not observable by
anyone but the station itself. Points are affine (x, y); None is the point at infinity.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import ec

Point = tuple[int, int] | None


class PointError(ValueError):
    """Bytes that are not an uncompressed point on the curve."""


@dataclass(frozen=True, slots=True)
class Curve:
    """A short Weierstrass curve y² = x³ + ax + b over GF(p), its generator and order."""

    name: str
    p: int
    a: int
    b: int
    g: tuple[int, int]
    n: int
    standard: ec.EllipticCurve

    @property
    def size(self) -> int:
        """Bytes of one coordinate."""
        return (self.p.bit_length() + 7) // 8

    def contains(self, point: Point) -> bool:
        if point is None:
            return False
        x, y = point
        return (
            0 <= x < self.p
            and 0 <= y < self.p
            and (y * y - x**3 - self.a * x - self.b) % self.p == 0
        )

    def add(self, first: Point, second: Point) -> Point:
        if first is None:
            return second
        if second is None:
            return first
        p = self.p
        (x1, y1), (x2, y2) = first, second
        if x1 == x2:
            if (y1 + y2) % p == 0:
                return None  # P + (-P)
            slope = (3 * x1 * x1 + self.a) * pow(2 * y1, -1, p) % p
        else:
            slope = (y2 - y1) * pow(x2 - x1, -1, p) % p
        x3 = (slope * slope - x1 - x2) % p
        return x3, (slope * (x1 - x3) - y1) % p

    def multiply(self, point: Point, scalar: int) -> Point:
        """scalar·point, by double-and-add from the top bit."""
        result: Point = None
        for bit in f"{scalar % self.n:b}":
            result = self.add(result, result)
            if bit == "1":
                result = self.add(result, point)
        return result

    def times(self, point: tuple[int, int], scalar: int) -> tuple[int, int]:
        """scalar·point for a point and scalar that must not give infinity."""
        product = self.multiply(point, scalar)
        if product is None:
            raise PointError("the product is the point at infinity")
        return product

    def random_scalar(self) -> int:
        return 1 + secrets.randbelow(self.n - 1)

    def encode(self, point: Point) -> bytes:
        """The uncompressed encoding 04 || x || y (SEC 1 §2.3.3; 9303-11 §9.4.2)."""
        if point is None:
            raise PointError("the point at infinity has no encoding")
        x, y = point
        return b"\x04" + x.to_bytes(self.size, "big") + y.to_bytes(self.size, "big")

    def decode(self, raw: bytes) -> tuple[int, int]:
        """A point from its uncompressed encoding, refused unless it lies on the curve
        (a point off the curve would leak the private key it is multiplied with)."""
        if len(raw) != 1 + 2 * self.size or raw[0] != 0x04:
            raise PointError(f"not an uncompressed {self.name} point ({len(raw)} bytes)")
        point = (
            int.from_bytes(raw[1 : 1 + self.size], "big"),
            int.from_bytes(raw[1 + self.size :], "big"),
        )
        if not self.contains(point):
            raise PointError(f"the point is not on {self.name}")
        return point

    def public_point(self, private: int) -> tuple[int, int]:
        """private·G, computed by `cryptography` (the standard generator)."""
        numbers = ec.derive_private_key(private, self.standard).public_key().public_numbers()
        return numbers.x, numbers.y

    def shared_x(self, private: int, peer: tuple[int, int]) -> bytes:
        """The x coordinate of private·peer, by `cryptography`'s ECDH: valid for a peer on
        any generator of the curve's one prime-order group (cofactor 1 here)."""
        public = ec.EllipticCurvePublicNumbers(peer[0], peer[1], self.standard).public_key()
        return ec.derive_private_key(private, self.standard).exchange(ec.ECDH(), public)


BRAINPOOL_P256R1: Final = Curve(
    name="brainpoolP256r1",  # RFC 5639 §3.4
    p=0xA9FB57DBA1EEA9BC3E660A909D838D726E3BF623D52620282013481D1F6E5377,
    a=0x7D5A0975FC2C3057EEF67530417AFFE7FB8055C126DC5C6CE94A4B44F330B5D9,
    b=0x26DC5C6CE94A4B44F330B5D9BBD77CBF958416295CF7E1CE6BCCDC18FF8C07B6,
    g=(
        0x8BD2AEB9CB7E57CB2C4B482FFC81B7AFB9DE27E1E3BD23C23A4453BD9ACE3262,
        0x547EF835C3DAC4FD97F8461A14611DC9C27745132DED8E545C1D54C72F046997,
    ),
    n=0xA9FB57DBA1EEA9BC3E660A909D838D718C397AA3B561A6F7901E0E82974856A7,
    standard=ec.BrainpoolP256R1(),
)

NIST_P256: Final = Curve(
    name="secp256r1",  # FIPS 186-4 D.1.2.3
    p=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF,
    a=0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFC,
    b=0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    g=(
        0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
        0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
    ),
    n=0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551,
    standard=ec.SECP256R1(),
)

# ICAO Doc 9303-11 §9.5.1, table of standardized domain parameters: the ones used here.
STANDARD_DOMAINS: Final = {12: NIST_P256, 13: BRAINPOOL_P256R1}


def generic_mapping(curve: Curve, nonce: int, shared: tuple[int, int]) -> tuple[int, int]:
    """G' = nonce·G + H (9303-11 §4.4.3.3.1); a mapping that lands on infinity fails."""
    mapped = curve.add(curve.public_point(nonce), shared)
    if mapped is None:
        raise PointError("the mapping gave the point at infinity")
    return mapped
