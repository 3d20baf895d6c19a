"""What can stop a card from being issued or activated, in words an operator can act on.

Device failures stay the HAL's typed errors (DeviceFault, DeviceGone...); these are the
outcomes of the card's own story: no blank to feed, a card spoiled on the way, a card
that is not the applicant's, a finger that did not match.
"""

from __future__ import annotations

from appliance._text import Text
from appliance.errors import ApplianceError
from appliance.register import SpoilReason


class IssuanceError(ApplianceError):
    """Base: `code` is stable (the API returns it), `text` is for the operator."""

    code: str = "issuance_error"

    def __init__(self, text: Text) -> None:
        super().__init__(text.en)
        self.text = text


class NoBlankCard(IssuanceError):
    code = "no_blank"

    def __init__(self) -> None:
        super().__init__(
            Text(
                "Blangko KTP-el habis: terbitkan Surat Keterangan",
                "No blank card left: issue a Surat Keterangan",
            )
        )


class CardSpoiled(IssuanceError):
    """The card is counted as spoiled (and, if still in the printer, put in its reject
    box); the step can be run again with a new blank."""

    code = "card_spoiled"

    def __init__(self, reason: SpoilReason, detail: str) -> None:
        super().__init__(
            Text(
                f"Kartu rusak ({_REASONS[reason].id}) dan dicatat sebagai blangko rusak: "
                "ulangi dengan blangko baru",
                f"Card spoiled ({_REASONS[reason].en}) and counted as such: "
                "repeat with a new blank",
            )
        )
        self.reason = reason
        self.detail = detail


_REASONS = {
    SpoilReason.ENCODE_FAILURE: Text("gagal mengisi chip", "chip could not be written"),
    SpoilReason.PRINT_FAILURE: Text("gagal mencetak", "printing failed"),
    SpoilReason.JAM: Text("kartu macet", "card jammed"),
    SpoilReason.VERIFICATION_FAILURE: Text(
        "data chip tidak lolos pemeriksaan", "chip data failed verification"
    ),
    SpoilReason.INTERRUPTED: Text("proses terputus", "the process was interrupted"),
    SpoilReason.ACTIVATION_REFUSED: Text(
        "aktivasi ditolak, disisihkan atas keputusan Kasi",
        "activation refused, put aside by the section head's decision",
    ),
}


class NoCardToActivate(IssuanceError):
    code = "no_printed_card"

    def __init__(self, application_id: str) -> None:
        super().__init__(
            Text(
                f"Permohonan {application_id} tidak memiliki KTP-el tercetak untuk diaktifkan",
                f"Application {application_id} has no printed card to activate",
            )
        )


class WrongCard(IssuanceError):
    code = "wrong_card"

    def __init__(self) -> None:
        super().__init__(
            Text(
                "Kartu di pembaca bukan kartu pemohon ini",
                "The card on the reader is not this applicant's card",
            )
        )


class ActivationRefused(IssuanceError):
    """Every allowed finger and attempt failed to match: the card stays inactive."""

    code = "no_match"

    def __init__(self, attempts: int) -> None:
        super().__init__(
            Text(
                f"Sidik jari tidak cocok dengan chip setelah {attempts} percobaan: "
                "kartu tidak diaktifkan, hubungi Kepala Seksi",
                f"The fingerprint did not match the chip after {attempts} attempts: "
                "the card is not activated; call the section head",
            )
        )
        self.attempts = attempts
