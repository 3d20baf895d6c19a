"""What can go wrong with card data: bytes that do not parse, and a card that does not verify."""

from __future__ import annotations

from typing import Literal

from appliance._text import Text
from appliance.errors import ApplianceError

VerificationCode = Literal["hash_mismatch", "bad_signature", "untrusted_signer", "malformed"]


class CardError(ApplianceError):
    """Base of every card-data failure."""


class CardDataError(CardError, ValueError):
    """Bytes that are not what the card format says: bad TLV framing, an unexpected tag,
    a value out of range, an input image no codec reads.

    The message is English, for logs, and never carries a field's value: a NIK or a name
    must not end up in a log because its element was malformed.
    """


class CardVerificationError(CardError):
    """The card must not be activated: its data is not exactly what the document signer
    signed, or the signer is not one the station trusts.

    `code` is stable, for machines; `text` is for the officer, Indonesian first; `group`
    names the data group whose hash differs (`DG1`...) for `hash_mismatch`.
    """

    code: VerificationCode
    text: Text
    group: str | None

    def __init__(self, code: VerificationCode, text: Text, *, group: str | None = None) -> None:
        super().__init__(text.en)
        self.code = code
        self.text = text
        self.group = group


def hash_mismatch(group: str) -> CardVerificationError:
    return CardVerificationError(
        "hash_mismatch",
        Text(
            id=f"Isi {group} pada chip tidak sama dengan yang ditandatangani; kartu ditolak.",
            en=f"{group} on the chip differs from what was signed; the card is refused.",
        ),
        group=group,
    )


def bad_signature(detail: str) -> CardVerificationError:
    return CardVerificationError(
        "bad_signature",
        Text(
            id="Tanda tangan objek keamanan (EF.SOD) tidak sah; kartu ditolak.",
            en=f"The security object's (EF.SOD) signature is not valid: {detail}.",
        ),
    )


def untrusted_signer() -> CardVerificationError:
    return CardVerificationError(
        "untrusted_signer",
        Text(
            id="Kartu ditandatangani oleh penanda tangan yang tidak dipercaya stasiun ini.",
            en="The card was signed by a document signer this station does not trust.",
        ),
    )


def malformed(detail: str) -> CardVerificationError:
    return CardVerificationError(
        "malformed",
        Text(
            id="Data pada chip rusak atau tidak lengkap; kartu ditolak.",
            en=f"The data on the chip is damaged or incomplete: {detail}.",
        ),
    )
