"""Step 5 of the SOP: a blank fed, its chip personalised and read back, its face printed.

The register hears of a card before the printer moves it (`blank.fed`), so whatever
happens next, power cut included, the card is one the station knows to look for. From
then on every path ends in exactly one of: the card printed and ejected
(`card.printed`), the card put in the reject box and counted as spoiled with its reason
(`blank.spoiled`), or no card taken at all (`blank.feed_failed`). `recover()` closes the
cards a crash left open.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from cryptography import x509

from appliance.card import (
    CARD_AID,
    FILE_IDS,
    CardDataError,
    CardHolder,
    CardKeys,
    DocumentSigner,
    FingerTemplateRecord,
    build_card_files,
    read_card,
    render_card_face,
)
from appliance.hal import (
    AccessKeys,
    CardApplication,
    CardEncoder,
    CardInfo,
    CardPrinter,
    DeviceError,
    DeviceFault,
    PersonalisationKeys,
)
from appliance.logs import get_logger
from appliance.register import EventType, OpenCard, Register, SpoilReason

from ._errors import CardSpoiled, NoBlankCard

log = get_logger(__name__)

SOD_FID = 0x011D
SENSITIVE = frozenset({FILE_IDS["DG3"]})
"""Behind the reader key as well as the CAN: the fingerprints."""


@dataclass(frozen=True, slots=True)
class CardRequest:
    """Everything that goes on one card; biometrics stay in memory."""

    application_id: str
    holder: CardHolder
    face_image: bytes
    signature_image: bytes
    fingers: tuple[FingerTemplateRecord, FingerTemplateRecord]


@dataclass(frozen=True, slots=True)
class PrintedCard:
    application_id: str
    card_serial: str
    security_object_sha256: str


@dataclass(frozen=True, slots=True)
class RecoveredCard:
    application_id: str
    card_serial: str | None
    found_in_printer: bool


class CardIssuer:
    """Owns the card's way through the printer and the encoder for one station."""

    def __init__(
        self,
        *,
        register: Register,
        printer: CardPrinter,
        encoder: CardEncoder,
        signer: DocumentSigner,
        card_keys: CardKeys,
        card_timeout_s: float = 10.0,
    ) -> None:
        self._register = register
        self._printer = printer
        self._encoder = encoder
        self._signer = signer
        self._card_keys = card_keys
        self._trust: Sequence[x509.Certificate] = (signer.certificate,)
        self._card_timeout_s = card_timeout_s

    async def issue(self, request: CardRequest) -> PrintedCard:
        """Feed, personalise, verify, print and eject one card.

        Raises NoBlankCard before touching anything if the register has no blank left;
        the printer's own DeviceError (feeder empty, cover open...), with the blank still
        in stock, when it took no card; CardSpoiled when the card had to be rejected (the
        step may run again with a new blank). Cancelling (the step's budget) rejects the
        card and counts it as interrupted.
        """
        app = request.application_id
        if self._left_open():
            # A crash's card (its recovery at start-up waited for the printer) is counted
            # before the stock is judged: it may have been the last blank.
            await self.recover()
        if self._register.blank_stock().available <= 0:
            raise NoBlankCard
        # The chip's data does not depend on the card: built (and any problem with it
        # found) before a blank is spent.
        files = build_card_files(
            request.holder,
            face_image=request.face_image,
            finger_templates=request.fingers,
            signature_image=request.signature_image,
            signer=self._signer,
        )
        read_card(files, self._trust)  # what will be written proves itself
        # A blank fed with no reader to write it would be a blank wasted.
        self._encoder.ensure_usable()
        await self._clear_card_path()
        # The station is empty (the printer feeds only then); a card just taken away may
        # still be reported by the reader, and must not be taken for the new one.
        await self._encoder.wait_until_empty(timeout_s=self._card_timeout_s)
        self._register.append(
            EventType.BLANK_FED, {"printer": self._printer.name}, application_id=app
        )
        stage = _Stage.FEED
        serial: str | None = None
        try:
            await self._printer.feed()
            stage = _Stage.ENCODE
            card = await self._encoder.wait_for_card(timeout_s=self._card_timeout_s)
            serial = card.serial
            chip = self._card_keys.for_card(_keyed_serial(self._encoder, card))
            await self._encoder.personalise(
                CardApplication(aid=CARD_AID, files=files, sensitive=SENSITIVE),
                keys=PersonalisationKeys(
                    transport_key=chip.transport_key,
                    can=chip.can,
                    reader_key=chip.reader_key,
                ),
                timeout_s=self._card_timeout_s,
            )
            # The card is locked now: read it back as activation will, through PACE with
            # the CAN about to be printed and the reader key, and verify what it holds.
            read_back = await self._encoder.read_application(
                CARD_AID,
                FILE_IDS.values(),
                keys=AccessKeys(can=chip.can, reader_key=chip.reader_key),
                timeout_s=self._card_timeout_s,
            )
            read_card(read_back, self._trust)
            digest = hashlib.sha256(files[SOD_FID]).hexdigest()
            self._register.append(
                EventType.CARD_PERSONALISED,
                {
                    "card_serial": serial,
                    "security_object_sha256": digest,
                    "chip_fingers": [f.position for f in request.fingers],
                },
                application_id=app,
            )
            stage = _Stage.PRINT
            face = render_card_face(
                request.holder,
                photo=request.face_image,
                signature=request.signature_image,
                issued_at=request.holder.issue_date,
                can=chip.can,
            )
            await self._printer.print_front(face)  # printed and given out
        except BaseException as error:
            if stage is _Stage.FEED and not await self._card_inside():
                # Refused before anything moved (empty hopper, cover open, ribbon out...):
                # the blank is still in stock and the printer's own error says why.
                self._register.append(
                    EventType.BLANK_FEED_FAILED, {"detail": _describe(error)}, application_id=app
                )
                raise
            reason = _reason_for(error, stage)
            await self._reject(serial)  # a jammed card too, once a person has freed it
            await self._spoil(app, reason, _describe(error), serial)
            if isinstance(error, DeviceError | CardDataError):
                raise CardSpoiled(reason, _describe(error)) from error
            raise
        self._register.append(EventType.CARD_PRINTED, {"card_serial": serial}, application_id=app)
        log.info("card_printed", application=app, card=serial)
        return PrintedCard(app, serial, digest)

    async def recover(self) -> list[RecoveredCard]:
        """Close what a crash left open: every card of this printer that was fed but not
        printed is rejected, if it is still inside, and counted as interrupted. The
        application stays at its step, which runs again from its start."""
        recovered = []
        for card in self._left_open():
            inside = (await self._printer.card_position()).in_printer
            if inside:
                await self._printer.reject()
            detail = (
                "station restarted mid-step; card put in the reject box"
                if inside
                else "station restarted mid-step; card not in the printer: "
                "look for it in the output tray and put it with the spoiled cards"
            )
            await self._spoil(
                card.application_id, SpoilReason.INTERRUPTED, detail, card.card_serial
            )
            recovered.append(RecoveredCard(card.application_id, card.card_serial, inside))
            log.warning("card_recovered", application=card.application_id, inside=inside)
        return recovered

    def _left_open(self) -> list[OpenCard]:
        """This printer's cards fed and not yet printed: after a crash, still inside or
        lost on the way. Printed cards are out, waiting for activation."""
        return [
            card
            for card in self._register.open_cards()
            if card.printer == self._printer.name and card.state != "printed"
        ]

    async def _clear_card_path(self) -> None:
        """Empty the printer before it feeds: the printer refuses to feed over a card, and
        the refusal would be taken for a blank spoiled.

        No card is open in the register then, so a card still inside was counted already:
        a jammed card, spoiled when it jammed, that could be rejected only once a person
        freed it. It is only moved to the reject box.
        """
        if (await self._printer.card_position()).in_printer:
            await self._printer.reject()
            log.warning("leftover_card_rejected", printer=self._printer.name)

    async def _card_inside(self) -> bool:
        """Whether a card is in the printer; when the printer cannot say, assume one is,
        so that it is counted rather than lost."""
        try:
            return (await self._printer.card_position()).in_printer
        except DeviceError:
            return True

    async def _reject(self, serial: str | None) -> None:
        try:
            await self._printer.reject()
        except DeviceError as error:
            # The card stays where it is; the spoil record tells the operator to take it.
            log.warning("card_reject_failed", card=serial, error=str(error))

    async def _spoil(self, app: str, reason: SpoilReason, detail: str, serial: str | None) -> None:
        self._register.append(
            EventType.BLANK_SPOILED,
            {"reason": reason, "detail": detail[:500], "card_serial": serial},
            application_id=app,
        )
        log.warning("card_spoiled", application=app, card=serial, reason=reason)


def _keyed_serial(encoder: CardEncoder, card: CardInfo) -> str:
    """The serial the card's keys are derived from: its own, never a card type's."""
    if card.serial_source == "atr":
        raise DeviceFault(encoder.name, "card_rejected", "the card gives no serial to key it to")
    return card.serial


class _Stage(Enum):
    FEED = "feed"
    ENCODE = "encode"
    PRINT = "print"


def _reason_for(error: BaseException, stage: _Stage) -> SpoilReason:
    if isinstance(error, DeviceFault) and error.code == "card_jam":
        return SpoilReason.JAM
    if isinstance(error, CardDataError):
        return SpoilReason.VERIFICATION_FAILURE  # our own read-back did not verify
    if isinstance(error, DeviceError):
        return SpoilReason.PRINT_FAILURE if stage is _Stage.PRINT else SpoilReason.ENCODE_FAILURE
    return SpoilReason.INTERRUPTED


def _describe(error: BaseException) -> str:
    return str(error) or type(error).__name__
