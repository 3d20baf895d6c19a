"""`[issuance]`: which devices issue and activate cards, and how activation decides."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from appliance.fingerprint import MatcherSettings

DeviceName = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class IssuanceSection(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    card_printer: DeviceName = "card_printer"
    card_encoder: DeviceName = "card_encoder"
    """The reader at the printer's contactless station."""
    activation_reader: DeviceName = "activation_reader"
    """The reader on the operator's desk where the applicant's card is read back."""
    activation_scanner: DeviceName = "single_finger_scanner"
    ticket_printer: DeviceName = "ticket_printer"
    """Prints the Surat Keterangan when no blank card is left."""
    attempts_per_finger: Annotated[int, Field(ge=1, le=10)] = 3
    fingers_to_try: Annotated[int, Field(ge=1, le=2)] = 2
    """Fingers on the chip tried in turn when one does not match."""
    card_timeout_s: Annotated[float, Field(gt=0, le=600)] = 10.0
    """How long a card may take to answer on a reader (each chip operation)."""
    matcher: MatcherSettings = MatcherSettings()
