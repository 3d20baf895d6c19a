"""The section head's decision on a refused activation.

When the applicant's finger does not match the chip, or the card on the reader is not the
applicant's, the activation step fails and waits. The operator's message says to call the
section head, who decides one of three things (`ActivationDecision`): activate the same
card again, spoil it and print a new one, or spoil it and return the file with a reason.
The decision is recorded with who made it; a spoiled card is counted as such, so every
blank stays accounted for.
"""

from __future__ import annotations

from typing import Final

from appliance._text import Text
from appliance.domain import CardState, EventType, Phase, Role, Step
from appliance.issuance import ActivationRefused, WrongCard
from appliance.logs import get_logger
from appliance.register import ActivationDecision, ApplicationRow, SpoilReason

from ._core import PipelineCore
from ._deadlines import Deadlines, promise_watch
from ._errors import Invalid, WrongState
from ._forms import Officer

log = get_logger(__name__)

REFUSALS: Final = frozenset({ActivationRefused.code, WrongCard.code})
"""The activation failures that wait for the section head's decision (a device's failure
is the operator's to start again)."""


def awaits_decision(core: PipelineCore, row: ApplicationRow) -> str | None:
    """The refusal's code when the application's activation was refused and nobody has
    decided yet."""
    if row.step is not Step.ACTIVATE or row.phase is not Phase.WAITING:
        return None
    event = core.register.event(row.phase_seq)
    if event is None or event.type != EventType.STEP_FAILED:
        return None
    code = event.data.get("code")
    return code if code in REFUSALS else None


class ActivationDecisions:
    def __init__(self, *, core: PipelineCore, deadlines: Deadlines) -> None:
        self._core = core
        self._deadlines = deadlines

    def decide(
        self, officer: Officer, app: str, decision: ActivationDecision, reason: str | None
    ) -> None:
        core = self._core
        core.require(officer, Role.SECTION_HEAD)
        row = core.application(app)
        refusal = awaits_decision(core, row)
        if refusal is None:
            raise WrongState(
                "no_refusal_to_decide",
                Text(
                    f"Permohonan {app} tidak menunggu keputusan aktivasi: sudah diputuskan, "
                    "atau aktivasinya tidak ditolak.",
                    f"Application {app} awaits no activation decision: it was decided "
                    "already, or its activation was not refused.",
                ),
            )
        reason = (reason or "").strip()[:200]
        if decision is ActivationDecision.RETURN and not reason:
            raise Invalid(
                "reason_required",
                Text("Sebutkan alasan berkas dikembalikan.", "Say why the file is returned."),
            )
        actor = officer.actor(Role.SECTION_HEAD)
        serial = self._printed_card(app)
        with core.transaction() as txn:
            txn.append(
                EventType.ACTIVATION_DECIDED,
                {
                    "decision": decision,
                    "refusal": refusal,
                    "reason": reason,
                    "card_serial": serial,
                    "by": actor,
                },
                application_id=app,
            )
            if decision is not ActivationDecision.RETRY and serial is not None:
                txn.append(
                    EventType.BLANK_SPOILED,
                    {
                        "reason": SpoilReason.ACTIVATION_REFUSED,
                        "detail": f"{refusal}: {reason}"[:500],
                        "card_serial": serial,
                        "by": actor,
                    },
                    application_id=app,
                )
            if decision is ActivationDecision.REPRINT:
                # As after a card spoiled at activation: back to encoding, by the station.
                txn.append(
                    EventType.APPLICATION_ADVANCED, {"step": Step.ENCODE_PRINT}, application_id=app
                )
            elif decision is ActivationDecision.RETURN:
                txn.append(
                    EventType.APPLICATION_RETURNED,
                    {"step": Step.ACTIVATE, "reason": reason, "by": actor},
                    application_id=app,
                )
        if decision is ActivationDecision.RETURN:
            self._deadlines.cancel(promise_watch(app))
        core.encode_wake.set()
        log.info("activation_decided", application=app, decision=decision, refusal=refusal)

    def _printed_card(self, app: str) -> str | None:
        for card in self._core.register.open_cards():
            if card.application_id == app and card.state == CardState.PRINTED:
                return card.card_serial
        return None
