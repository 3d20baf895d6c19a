"""Steps 5 and 6 of the SOP: a blank card personalised and printed, then activated by the
holder's finger; the Surat Keterangan when no blank is left; every card accounted for."""

from ._activation import ActivatedCard, CardActivator
from ._errors import (
    ActivationRefused,
    CardSpoiled,
    IssuanceError,
    NoBlankCard,
    NoCardToActivate,
    WrongCard,
)
from ._issuer import CardIssuer, CardRequest, PrintedCard, RecoveredCard
from ._settings import IssuanceSection
from ._suket import (
    SuketFacts,
    SuratKeterangan,
    check_suket_qr,
    issue_surat_keterangan,
    suket_slip,
)

__all__ = [
    "ActivatedCard",
    "ActivationRefused",
    "CardActivator",
    "CardIssuer",
    "CardRequest",
    "CardSpoiled",
    "IssuanceError",
    "IssuanceSection",
    "NoBlankCard",
    "NoCardToActivate",
    "PrintedCard",
    "RecoveredCard",
    "SuketFacts",
    "SuratKeterangan",
    "WrongCard",
    "check_suket_qr",
    "issue_surat_keterangan",
    "suket_slip",
]
