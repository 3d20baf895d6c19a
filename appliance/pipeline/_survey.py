"""The survey at the station: after each handover, the satisfaction keypad is lit for one
anonymous press, and the kiosk may take one questionnaire for the service just given.

Neither holds up the counter: the handover is acknowledged first, and the keypad waits
in a task of its own; a keypad unplugged, busy or ignored is logged and the day goes on.
The next handover takes the keypad over (the last applicant has left the counter).

Each handover opens one press (the coins, on the keypad or on the kiosk's screen) and one
questionnaire for its service, for `questionnaire_window_minutes`: a second press for the
same handover is refused, and the kiosk takes no more questionnaires of a service than
handovers of it. Nothing links a response to the applicant, the officer or the counter;
only the service type is recorded.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from appliance._text import Text
from appliance.domain import EventType, ServiceType
from appliance.hal import DeviceError, DeviceState, SatisfactionKeypad
from appliance.logs import get_logger
from appliance.oversight import OversightSection, Satisfaction

from ._core import PipelineCore
from ._errors import PipelineError, WrongState
from ._oversight_forms import QuestionnaireForm, SurveyOffers, SurveyReceipt

log = get_logger(__name__)

KEYPAD_TASK: Final = "keypad-press"
"""The name of the task waiting for the keypad's press."""


@dataclass(slots=True)
class _Handover:
    """One handover's press, open until `expires_ns` (monotonic)."""

    service: ServiceType
    expires_ns: int
    pressed: bool = False


class SurveyDesk:
    def __init__(self, *, core: PipelineCore, settings: OversightSection) -> None:
        self._core = core
        self._window_ns = settings.questionnaire_window_minutes * 60 * 1_000_000_000
        self._questionnaires: list[tuple[ServiceType, int]] = []
        self._handover: _Handover | None = None
        self._keypad_task: asyncio.Task[None] | None = None

    def after_handover(self, service: ServiceType) -> None:
        """Open the handover's press and questionnaire, and light the keypad."""
        expires = self._core.clock.monotonic_ns() + self._window_ns
        self._questionnaires.append((service, expires))
        handover = _Handover(service, expires)
        self._handover = handover
        previous = self._keypad_task
        if previous is not None:
            previous.cancel()  # the last applicant has gone: the keypad goes dark
        self._keypad_task = None
        keypad = self._core.devices.get(self._core.settings.satisfaction_keypad)
        if not isinstance(keypad, SatisfactionKeypad):
            log.info("keypad_not_ready", keypad=self._core.settings.satisfaction_keypad)
            return
        self._keypad_task = self._core.spawn(
            self._await_press(keypad, handover, after=previous), KEYPAD_TASK
        )

    async def _await_press(
        self,
        keypad: SatisfactionKeypad,
        handover: _Handover,
        *,
        after: asyncio.Task[None] | None,
    ) -> None:
        if after is not None:
            # The keypad stays busy until the last applicant's wait, cancelled, has put it
            # dark: judged before that, an unpressed keypad would stay dark for this one.
            await asyncio.wait({after})
        if keypad.status.state is not DeviceState.READY:
            log.info("keypad_not_ready", keypad=keypad.name)
            return
        try:
            rating = await keypad.rating(timeout_s=self._core.settings.keypad_timeout_s)
        except DeviceError as error:  # not pressed in time, unplugged, garbage
            log.info("keypad_no_press", error=str(error))
            return
        try:
            self._press(handover, Satisfaction[rating.name])
        except PipelineError as refused:  # pressed on the kiosk's screen meanwhile
            log.info("keypad_press_refused", code=refused.code)

    def press(self, rating: Satisfaction) -> SurveyReceipt:
        """The coins pressed on the kiosk's screen, for the latest handover."""
        handover = self._handover
        if handover is None or self._expired(handover.expires_ns):
            raise WrongState(
                "keypad_not_armed",
                Text(
                    "Tidak ada penyerahan KTP-el yang menunggu penilaian.",
                    "No handover is waiting for a rating.",
                ),
            )
        receipt = self._press(handover, rating)
        if self._keypad_task is not None:
            self._keypad_task.cancel()
        return receipt

    def _press(self, handover: _Handover, rating: Satisfaction) -> SurveyReceipt:
        if handover.pressed or handover is not self._handover:
            raise WrongState(
                "keypad_already_pressed",
                Text(
                    "Penilaian untuk penyerahan ini sudah tercatat; satu penilaian saja.",
                    "This handover's rating is already recorded; one rating only.",
                ),
            )
        event = self._core.append(
            EventType.SURVEY_KEYPAD_PRESSED, {"service": handover.service, "rating": rating}
        )
        handover.pressed = True
        return SurveyReceipt(service=handover.service, recorded_at=datetime.fromisoformat(event.ts))

    def answer(self, form: QuestionnaireForm) -> SurveyReceipt:
        """A questionnaire from the kiosk, for a handover of its service still open."""
        self._prune()
        index = next(
            (i for i, (service, _) in enumerate(self._questionnaires) if service is form.service),
            None,
        )
        if index is None:
            raise WrongState(
                "no_survey_invitation",
                Text(
                    f"Kuesioner layanan {form.service.label.id} hanya dapat diisi setelah "
                    "KTP-el diserahkan, satu kuesioner untuk setiap penyerahan.",
                    f"A questionnaire on {form.service.label.en} is taken after a card is "
                    "handed over, one for each handover.",
                ),
            )
        event = self._core.append(
            EventType.SURVEY_QUESTIONNAIRE_ANSWERED,
            {"service": form.service, "answers": form.answers, "profile": form.profile},
        )
        del self._questionnaires[index]
        return SurveyReceipt(service=form.service, recorded_at=datetime.fromisoformat(event.ts))

    def offers(self) -> SurveyOffers:
        self._prune()
        counts = dict.fromkeys(ServiceType, 0)
        for service, _ in self._questionnaires:
            counts[service] += 1
        handover = self._handover
        open_press = (
            handover is not None and not handover.pressed and not self._expired(handover.expires_ns)
        )
        return SurveyOffers(questionnaires=counts, keypad=open_press)

    def _expired(self, expires_ns: int) -> bool:
        return self._core.clock.monotonic_ns() >= expires_ns

    def _prune(self) -> None:
        self._questionnaires = [q for q in self._questionnaires if not self._expired(q[1])]
