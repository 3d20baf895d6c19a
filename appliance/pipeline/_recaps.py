"""The office's reports from its register: a period's figures (the survey, the keypad,
the complaints) for those who read reports, and the complaint book's quarterly recap,
drafted by the information officer, approved by the Camat and published on the board
(seed 001 §11.8-11.9).

The figures are `appliance.oversight.figures` over the register's events, the same
function the central office runs on the events it received. A recap's counts are
computed that way when it is drafted and recorded in the draft's event, with the
register's head at that moment (`as_of_seq`): what the Camat approves is that record,
which a later complaint does not change, and which anyone can recompute from the events
up to `as_of_seq`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Final

from appliance._text import Text
from appliance.domain import RECAP_TRANSITIONS, EventType, RecapState, Role
from appliance.oversight import (
    FIGURE_EVENTS,
    ComplaintFigures,
    Period,
    PeriodKind,
    complaints_document,
    figures,
    figures_document,
)
from appliance.register import Event as RegisterEvent
from appliance.register import RecapCounts, RecapDrafted, RecapRow

from ._complaints import acting_role
from ._core import PipelineCore
from ._errors import Forbidden, Invalid, NotFound, WrongState
from ._forms import Officer
from ._oversight_forms import PublicRecap, RecapForm, RecapView

READS_REPORTS: Final = frozenset({Role.SECTION_HEAD, Role.SUPERVISOR})
"""Who reads the office's figures: the section head and the office's leadership."""

RECAP_EVENTS: Final = (
    EventType.RECAP_DRAFTED,
    EventType.RECAP_APPROVED,
    EventType.RECAP_PUBLISHED,
)


def counts_of(complaints: ComplaintFigures) -> RecapCounts:
    return RecapCounts(
        received=complaints.received,
        by_channel=dict(complaints.by_channel),
        by_category=dict(complaints.by_category),
        by_status=dict(complaints.by_status),
        by_element=dict(complaints.by_element),
        escalated=complaints.escalated,
        closed=complaints.closed,
        closed_on_time=complaints.closed_on_time,
        close_seconds_total=complaints.close_seconds_total,
        close_seconds_max=complaints.close_seconds_max,
    )


def figures_of(counts: RecapCounts) -> ComplaintFigures:
    return ComplaintFigures(**counts.model_dump())


class RecapDesk:
    def __init__(self, *, core: PipelineCore) -> None:
        self._core = core

    # ------------------------------------------------------------ figures

    def figures(self, officer: Officer, period: Period) -> dict[str, Any]:
        """The period's figures as a JSON document (`figures_document`)."""
        if not READS_REPORTS & officer.roles:
            raise Forbidden(
                "wrong_role",
                Text(
                    "Laporan hanya untuk Kasi Yanmum dan pimpinan (Camat, Sekcam).",
                    "Reports are for the section head and the office's leadership.",
                ),
            )
        core = self._core
        return figures_document(figures(core.register.events_of(FIGURE_EVENTS), period, core.zone))

    # ------------------------------------------------------------ the recap

    def draft(self, officer: Officer, form: RecapForm) -> RecapView:
        core = self._core
        role = acting_role(officer, RECAP_TRANSITIONS[EventType.RECAP_DRAFTED])
        period = form.period
        if period.kind is not PeriodKind.QUARTER:
            raise Invalid(
                "recap_not_a_quarter",
                Text(
                    f"Rekap pengaduan disusun per triwulan (mis. 2026-Q4), bukan {period}.",
                    f"The complaint recap is made per quarter (e.g. 2026-Q4), not {period}.",
                ),
            )
        if core.today() < period.last:
            raise WrongState(
                "recap_too_early",
                Text(
                    f"{period.label.id} belum berakhir: rekap disusun pada hari terakhirnya "
                    f"({period.last:%d-%m-%Y}) atau sesudahnya.",
                    f"{period.label.en} has not ended: the recap is drafted on its last day "
                    f"({period.last:%Y-%m-%d}) or later.",
                ),
            )
        row = core.register.recap(str(period))
        if row is not None and row.state is not RecapState.DRAFTED:
            raise _settled(row)
        as_of, _ = core.register.head()
        complaints = figures(
            core.register.events_of(FIGURE_EVENTS, up_to=as_of), period, core.zone
        ).complaints
        core.append(
            EventType.RECAP_DRAFTED,
            {
                "period": str(period),
                "version": row.version + 1 if row else 1,
                "as_of_seq": as_of,
                "counts": counts_of(complaints),
                "improvements": form.improvements,
                "by": officer.actor(role),
            },
        )
        return self.view(str(period))

    def approve(self, officer: Officer, period: str) -> RecapView:
        return self._advance(officer, period, EventType.RECAP_APPROVED)

    def publish(self, officer: Officer, period: str) -> RecapView:
        return self._advance(officer, period, EventType.RECAP_PUBLISHED)

    def _advance(self, officer: Officer, period: str, event: EventType) -> RecapView:
        transition = RECAP_TRANSITIONS[event]
        role = acting_role(officer, transition)
        row = self._row(period)
        if row.state not in transition.states:
            if row.state is RecapState.DRAFTED:
                raise WrongState(
                    "recap_not_approved",
                    Text("Rekap belum disetujui Camat.", "The recap is not approved by the Camat."),
                )
            raise _settled(row)
        self._core.append(
            event, {"period": period, "version": row.version, "by": officer.actor(role)}
        )
        return self.view(period)

    # ------------------------------------------------------------ reads

    def view(self, period: str) -> RecapView:
        row = self._row(period)
        drafted = self._core.register.event(row.version_seq)
        assert drafted is not None  # the derived row names the event that drafted it
        draft = RecapDrafted.model_validate(drafted.data)
        approved = published = None
        for event in self._events_after(row):
            if event.type == EventType.RECAP_APPROVED:
                approved = event
            elif event.type == EventType.RECAP_PUBLISHED:
                published = event
        parsed = Period.parse(period)
        return RecapView(
            period=period,
            label={"id": parsed.label.id, "en": parsed.label.en},
            state=row.state,
            version=row.version,
            as_of_seq=draft.as_of_seq,
            drafted_at=self._local(drafted.ts),
            drafted_by=draft.by.person,
            approved_at=self._local(approved.ts) if approved else None,
            approved_by=approved.data["by"]["person"] if approved else None,
            published_at=self._local(published.ts) if published else None,
            counts=complaints_document(figures_of(draft.counts)),
            improvements=draft.improvements,
        )

    def published(self) -> PublicRecap | None:
        """The latest recap on the board, as the public may see it."""
        rows = self._core.register.recaps(state=RecapState.PUBLISHED)
        if not rows:
            return None
        view = self.view(rows[0].period)
        assert view.published_at is not None
        return PublicRecap(
            period=view.period,
            label=view.label,
            counts=view.counts,
            improvements=view.improvements,
            published_at=view.published_at,
        )

    def _row(self, period: str) -> RecapRow:
        row = self._core.register.recap(period)
        if row is None:
            raise NotFound(
                "unknown_recap",
                Text(f"Rekap {period} belum disusun.", f"No recap of {period} was drafted."),
            )
        return row

    def _events_after(self, row: RecapRow) -> list[RegisterEvent]:
        events = self._core.register.events_of(RECAP_EVENTS, after=row.version_seq)
        return [e for e in events if e.data["period"] == row.period]

    def _local(self, ts: str) -> datetime:
        return datetime.fromisoformat(ts).astimezone(self._core.zone)


def _settled(row: RecapRow) -> WrongState:
    done = "diumumkan" if row.state is RecapState.PUBLISHED else "disetujui"
    return WrongState(
        "recap_settled",
        Text(
            f"Rekap {row.period} sudah {done}.",
            f"The recap of {row.period} is {row.state.value} already.",
        ),
    )
