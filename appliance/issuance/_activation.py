"""Step 6 of the SOP: the card becomes the holder's only when their live finger matches
the chip.

The card on the desk reader must be the application's printed card; its data must prove
itself (every group's hash in the security object, the object signed by a document
signer the station trusts) or the card is spoiled as a verification failure. Then the
applicant's finger is captured on the single-finger scanner and matched 1:1 against the
chip's template: each finger on the chip gets the configured number of attempts, in the
configured order, and every attempt is in the register. Only a match issues the blank.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from cryptography import x509

from appliance.card import CARD_AID, FILE_IDS, CardKeys, CardVerificationError, read_card
from appliance.fingerprint import FingerMatcher, decode_iso19794_2
from appliance.hal import (
    AccessKeys,
    CaptureNotAccepted,
    CardEncoder,
    Finger,
    SbiSingleFingerScanner,
)
from appliance.logs import get_logger
from appliance.register import EventType, Register, SpoilReason

from ._errors import ActivationRefused, CardSpoiled, NoCardToActivate, WrongCard

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class ActivatedCard:
    application_id: str
    card_serial: str
    finger: Finger
    attempts: int
    score: float


class CardActivator:
    def __init__(
        self,
        *,
        register: Register,
        reader: CardEncoder,
        scanner: SbiSingleFingerScanner,
        matcher: FingerMatcher,
        trust: Sequence[x509.Certificate],
        card_keys: CardKeys,
        attempts_per_finger: int = 3,
        fingers_to_try: int = 2,
        card_timeout_s: float = 30.0,
    ) -> None:
        self._register = register
        self._reader = reader
        self._scanner = scanner
        self._matcher = matcher
        self._trust = trust
        self._card_keys = card_keys
        self._attempts_per_finger = attempts_per_finger
        self._fingers_to_try = fingers_to_try
        self._card_timeout_s = card_timeout_s

    async def activate(self, application_id: str) -> ActivatedCard:
        """Verify the card on the reader and match the applicant's finger against it.

        Raises NoCardToActivate, WrongCard (nothing recorded: put the right card on the
        reader), CardSpoiled (the chip failed verification: counted as spoiled) or
        ActivationRefused (no finger matched: the card stays printed, not active).
        """
        serial = self._printed_card(application_id)
        card = await self._reader.wait_for_card(timeout_s=self._card_timeout_s)
        if card.serial != serial:
            raise WrongCard
        # Through the card's access control: PACE with its CAN, then its reader key for
        # the fingerprints (DG3), both derived from the station's masters.
        chip = self._card_keys.for_card(serial)
        files = await self._reader.read_application(
            CARD_AID,
            FILE_IDS.values(),
            keys=AccessKeys(can=chip.can, reader_key=chip.reader_key),
            timeout_s=self._card_timeout_s,
        )
        try:
            contents = read_card(files, self._trust)
        except CardVerificationError as error:
            self._register.append(
                EventType.BLANK_SPOILED,
                {
                    "reason": SpoilReason.VERIFICATION_FAILURE,
                    "detail": f"{error.code}: {error}"[:500],
                    "card_serial": serial,
                },
                application_id=application_id,
            )
            raise CardSpoiled(SpoilReason.VERIFICATION_FAILURE, error.code) from error
        attempts = 0
        for record in contents.fingers[: self._fingers_to_try]:
            finger = Finger.from_iso_position(record.position)
            reference = decode_iso19794_2(record.iso_19794_2)
            for attempt in range(1, self._attempts_per_finger + 1):
                attempts += 1
                try:
                    capture = await self._scanner.capture_finger(finger)
                except CaptureNotAccepted as error:  # below the quality asked: try the best
                    capture = error.best
                live = capture.get(finger.value)
                if live is None:
                    continue  # declared missing or never captured: the attempt counts
                # Seconds of array work on a Pi: off the event loop, which the API and the
                # watchdog share (in the daemon's fingerprint worker process).
                result = await self._matcher.verify(
                    live.bio_value, reference, finger_position=record.position
                )
                self._register.append(
                    EventType.CARD_ACTIVATION_ATTEMPT,
                    {
                        "card_serial": serial,
                        "finger": record.position,
                        "attempt": attempt,
                        "score": round(result.score * 1000),
                        "threshold": round(self._matcher.threshold * 1000),
                        "matched": result.matched,
                    },
                    application_id=application_id,
                )
                if result.matched:
                    self._register.append(
                        EventType.BLANK_ISSUED,
                        {"card_serial": serial},
                        application_id=application_id,
                    )
                    log.info("card_activated", application=application_id, card=serial)
                    return ActivatedCard(application_id, serial, finger, attempts, result.score)
        log.warning("card_activation_refused", application=application_id, attempts=attempts)
        raise ActivationRefused(attempts)

    def _printed_card(self, application_id: str) -> str:
        for card in self._register.open_cards():
            if card.application_id == application_id and card.state == "printed":
                assert card.card_serial is not None  # a printed card has its serial
                return card.card_serial
        raise NoCardToActivate(application_id)
