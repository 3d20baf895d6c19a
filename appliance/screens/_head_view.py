"""What the section head's console shows, read from the pipeline's views: the validation
queue, the applications needing attention with what each problem means in Indonesian, the
blank-card stock and the applicants recorded but not printed.

Each part of the page is a block of `head.html` with its own values here, so a live
refresh renders only its part.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Annotated, Any, Final

from fastapi import Depends

from appliance._text import Text
from appliance.domain import ApplicationState, Phase, Role, Step
from appliance.hal import FAULT_CODES
from appliance.pipeline import ApplicationView, Officer
from appliance.register import BlankReceived

from ._context import ScreenContext
from ._head_once import new_token
from ._session import officer_in

SectionHead = Annotated[Officer, Depends(officer_in(Role.SECTION_HEAD))]

BLANKS_PER_DELIVERY: Final = next(
    int(item.le) for item in BlankReceived.model_fields["count"].metadata if hasattr(item, "le")
)
"""One delivery's most blank cards, as the register bounds it."""
REASON_MAX: Final = 200
"""A return's reason, as the register keeps it."""

_FAILURES: Final[Mapping[str, Text]] = MappingProxyType(
    {
        "no_match": Text(
            "Sidik jari pemohon tidak cocok dengan chip setelah semua percobaan; kartu "
            "belum aktif.",
            "The applicant's fingerprint did not match the chip after every attempt; the "
            "card is not active.",
        ),
        "wrong_card": Text(
            "Kartu di pembaca bukan kartu pemohon ini; kartu belum aktif.",
            "The card on the reader is not this applicant's; the card is not active.",
        ),
        "budget_exceeded": Text(
            "Langkah perangkat melewati batas waktu SOP dan dihentikan.",
            "The device step ran past its SOP time and was stopped.",
        ),
        "device_timeout": Text("Perangkat terlambat menjawab.", "A device answered too late."),
        "interrupted": Text(
            "Terhenti karena stasiun berhenti.", "Cut off by the station stopping."
        ),
        "capture_incomplete": Text(
            "Rekaman biometrik tidak lengkap (wajah atau sidik jari).",
            "The biometric capture was incomplete (face or fingers).",
        ),
        "device_missing": Text(
            "Perangkat yang dibutuhkan tidak terpasang.", "A device the step needs is missing."
        ),
        "card_spoiled": Text(
            "Kartu rusak dan dicatat sebagai blangko rusak.",
            "The card was spoiled and counted as such.",
        ),
        "no_printed_card": Text(
            "Tidak ada kartu tercetak untuk diaktifkan.", "There is no printed card to activate."
        ),
        "fingerprint_worker": Text(
            "Pengolah sidik jari berhenti.", "The fingerprint worker stopped."
        ),
        "no_biometric_record": Text(
            "Data biometrik pemohon tidak ada di stasiun maupun di data pusat.",
            "The applicant's biometrics are neither here nor in the central records.",
        ),
    }
)


def failure_words(code: str) -> Text:
    """What a step's failure code means, in words (a device's fault from the HAL's table)."""
    if code in _FAILURES:
        return _FAILURES[code]
    fault = FAULT_CODES.get(code)
    if fault is not None:
        return fault.text
    return Text(f"Kode kegagalan: {code}.", f"Failure code: {code}.")


@dataclass(frozen=True, slots=True)
class Concern:
    """One reason an application needs attention: what happened, and what it means."""

    title: Text
    meaning: Text
    tone: str
    """`bad` (something stopped) or `warn` (late)."""


@dataclass(frozen=True, slots=True)
class Attention:
    app: ApplicationView
    concerns: tuple[Concern, ...]


def concerns_of(view: ApplicationView) -> tuple[Concern, ...]:
    found: list[Concern] = []
    failure = view.last_failure
    if view.awaits_decision and failure is not None:
        found.append(
            Concern(
                Text("Aktivasi ditolak: perlu keputusan Kasi", "Activation refused: decide"),
                failure_words(failure.code),
                "bad",
            )
        )
    elif view.needs_operator and failure is not None:
        found.append(
            Concern(
                Text("Cetak KTP-el gagal", "Card printing failed"),
                _then(
                    failure_words(failure.code),
                    Text(
                        "Operator memulai cetak lagi setelah printer siap.",
                        "The operator starts printing again once the printer is ready.",
                    ),
                ),
                "bad",
            )
        )
    elif failure is not None:
        step = failure.step.spec.short
        found.append(
            Concern(
                Text(f"Langkah {step.id} gagal", f"Step {step.en} failed"),
                _then(
                    failure_words(failure.code),
                    Text(
                        "Operator dapat memulai langkah ini lagi.",
                        "The operator can start this step again.",
                    ),
                ),
                "bad",
            )
        )
    if view.overdue:
        found.append(
            Concern(
                Text("Janji layanan terlewati", "Service promise missed"),
                Text(
                    "Belum selesai dalam satu hari kerja sejak berkas diterima. Utamakan "
                    "berkas ini dan kabari pemohon.",
                    "Not finished within one working day of the file being handed in. Put "
                    "it first and tell the applicant.",
                ),
                "bad",
            )
        )
    if view.breaches:
        found.append(
            Concern(
                Text(
                    f"Melewati waktu SOP di {view.breaches} langkah",
                    f"Over the SOP time at {view.breaches} step"
                    + ("s" if view.breaches > 1 else ""),
                ),
                Text(
                    "Petugas memerlukan lebih lama dari waktu baku SOP untuk satu langkah. "
                    "Tanyakan kendalanya.",
                    "An officer took longer than the SOP's standard time for a step. Ask "
                    "what held it up.",
                ),
                "warn",
            )
        )
    return tuple(found)


def _then(first: Text, second: Text) -> Text:
    return Text(f"{first.id} {second.id}", f"{first.en} {second.en}")


@dataclass(frozen=True, slots=True)
class Desk:
    """The section head's working panel: the file being validated, or a refused
    activation being returned, with the outcome of the last action."""

    app: ApplicationView | None = None
    returning_activation: bool = False
    notice: Text | None = None
    problem: Text | None = None
    problem_detail: Text | None = None
    errors: dict[str, Text] = field(default_factory=dict)
    reason: str = ""


@dataclass(frozen=True, slots=True)
class BlankForm:
    errors: dict[str, Text] = field(default_factory=dict)
    count: str = ""
    reference: str = ""
    notice: Text | None = None


class HeadView:
    """The console's values for one officer, part by part."""

    def __init__(self, context: ScreenContext, officer: Officer) -> None:
        self._context = context
        self._officer = officer
        self._pipeline = context.station.pipeline

    def name_of(self, person: str | None) -> str:
        if person is None:
            return "-"
        member = self._context.station.staff.get(person)
        return member.name if member else person

    def common(self) -> dict[str, Any]:
        once: Callable[[], str] = new_token
        return {"once": once, "name_of": self.name_of, "me": self._officer.person}

    def in_validation(self) -> list[ApplicationView]:
        """At the validation step, the oldest first."""
        views = self._pipeline.applications(state=ApplicationState.IN_PROGRESS, step=Step.VALIDATE)
        return [v for v in reversed(views) if v.phase is not Phase.FINISHED]

    def mine(self) -> ApplicationView | None:
        """The first file this officer holds in validation."""
        return next(
            (
                view
                for view in self.in_validation()
                if view.phase is Phase.ACTIVE and view.active_by == self._officer.person
            ),
            None,
        )

    def queue(self) -> dict[str, Any]:
        return {**self.common(), "validation": self.in_validation()}

    def attention(self) -> dict[str, Any]:
        views = self._pipeline.applications(state=ApplicationState.IN_PROGRESS)
        views += self._pipeline.applications(state=ApplicationState.WAITING_BLANK)
        items = [Attention(view, concerns) for view in views if (concerns := concerns_of(view))]
        # Decisions first, then the oldest.
        items.sort(key=lambda item: (not item.app.awaits_decision, item.app.id))
        available = self._pipeline.blank_stock().available
        return {**self.common(), "attention": items, "available": available}

    def stock(self) -> dict[str, Any]:
        waiting = len(self._pipeline.applications(state=ApplicationState.WAITING_BLANK))
        return {"stock": self._pipeline.blank_stock(), "waiting_blank_count": waiting}

    def receive(self, form: BlankForm | None = None) -> dict[str, Any]:
        return {**self.common(), "blanks": form or BlankForm(), "blanks_max": BLANKS_PER_DELIVERY}

    def waiting_blank(self) -> dict[str, Any]:
        views = self._pipeline.applications(state=ApplicationState.WAITING_BLANK)
        return {
            "recorded": list(reversed(views)),
            "available": self._pipeline.blank_stock().available,
        }

    def desk(self, desk: Desk | None = None) -> dict[str, Any]:
        if desk is None:
            desk = Desk(app=self.mine())
        elif desk.app is None and not desk.returning_activation:
            desk = Desk(
                app=self.mine(),
                notice=desk.notice,
                problem=desk.problem,
                problem_detail=desk.problem_detail,
            )
        return {**self.common(), "desk": desk, "reason_max": REASON_MAX}

    def page(self) -> dict[str, Any]:
        return {
            **self.desk(),
            **self.queue(),
            **self.attention(),
            **self.stock(),
            **self.receive(),
            **self.waiting_blank(),
        }
