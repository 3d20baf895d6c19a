"""A simulated office day's plan: who comes when, for which service, with which file.

`plan_day` draws the day from a seed: who comes when, for which service, with which
file (some incomplete, some whose form contradicts their NIK), who was recorded before
(enrolled in the simulated central records), and how long each officer takes over each
step (`DurationModel`, around the SOP minutes). Each applicant's part in the
satisfaction survey after the handover (`SurveyChoice`: a keypad button, the kiosk's
questionnaire, both or neither) comes from a random stream of its own, so the rest of
the day is drawn as it was before the survey was simulated. `Applicant.outcome` is what
the SOP makes of each file; `DayPlan` adds up the work the day gives each officer and
the card printer, and the shortest the day can be because of it. The officers who play
the plan against a running station are `sim.day_officers.OfficeDay`.
"""

from __future__ import annotations

import dataclasses
import random
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any, Final, Literal

from appliance.domain import (
    SOP_STEPS,
    Document,
    DomainError,
    MaritalStatus,
    ServiceType,
    Sex,
    Step,
    check_new_card_eligibility,
    check_nik_matches,
    compose_kk,
    compose_nik,
    required_documents,
)
from appliance.oversight import AgeBand, Education, Occupation

from ._base import Fault
from .scenario import ScheduledFault

SERVICE_MIX: Final = (
    (ServiceType.BARU, 0.55),
    (ServiceType.PINDAH_DATANG, 0.15),
    (ServiceType.HILANG, 0.12),
    (ServiceType.RUSAK, 0.10),
    (ServiceType.PERUBAHAN_DATA, 0.08),
)
PERSONS: Final = (11, 12, 13, 14, 15, 16)
"""Synthetic people whose fingers the scanners present: a small pool, since each one's
finger images are made once (about a second each) and then cached on disk."""
_NAMES: Final = (
    "Ahmad Fauzi",
    "Siti Aminah",
    "Dewi Lestari",
    "Fitri Handayani",
    "Gunawan Wibowo",
    "Hartini",
    "Imam Syafii",
    "Joko Susilo",
    "Kartika Sari",
    "Lukman Hakim",
    "Maya Puspita",
    "Nur Hidayah",
    "Rudi Hartono",
)
_VILLAGES: Final = ("Ditotrunan", "Citrodiwangsan", "Jogotrunan", "Tompokersan", "Rogotrunan")
_REGIONS: Final = ("350801", "350802", "350810", "350815")
_MINUTES: Final = {spec.step: spec.minutes for spec in SOP_STEPS}
KEYPAD_SHARE: Final = 0.85
"""Of the applicants handed a card, those who press a keypad button on their way out."""
QUESTIONNAIRE_SHARE: Final = 0.4
"""Those who also answer the kiosk's questionnaire (drawn independently: some do neither)."""
PROFILE_SHARE: Final = 0.6
"""Of the questionnaires, those that come with the respondent's profile."""
KEYPAD_BUTTONS: Final = ((1, 45), (2, 40), (3, 10), (4, 5))
"""The keypad's buttons (1 sangat puas ... 4 tidak puas) and how often each is pressed."""
_SCORES: Final = ((1, 3), (2, 12), (3, 55), (4, 30))
"""An element's score on the questionnaire and its weight: mostly satisfied, as the
keypad."""
_OCCUPATIONS: Final = {
    "Petani": Occupation.LAINNYA,
    "Pedagang": Occupation.WIRAUSAHA,
    "Guru": Occupation.PNS,
    "Pelajar/Mahasiswa": Occupation.PELAJAR,
}
_PERSON_STEPS: Final = (Step.SUBMIT, Step.CHECK, Step.VALIDATE, Step.TRANSFER, Step.HANDOVER)
_OPERATOR_SESSIONS: Final = (Step.BIOMETRIC, Step.ACTIVATE)


@dataclass(frozen=True, slots=True)
class DurationModel:
    """How long the officers take, in seconds of the day's clock.

    A person's step (submit, check, validate, transfer, handover) lasts its SOP minutes
    times a factor drawn around 0.85 between 1 - 1.6 * spread and 1 + spread / 2: most
    keep to the standard, a few overrun their budget. The operator's sessions at the
    biometric and activation desks last their SOP minutes times a factor from
    [1 - spread, 1], ending with the devices' own work. The card printer takes
    `card_print_s` per card, with no one standing by it.
    """

    spread: float = 0.25
    card_print_s: float = 210.0
    instant: bool = False

    @classmethod
    def without_people(cls) -> DurationModel:
        """Every officer acts at once and the devices are instant: the machinery alone."""
        return cls(spread=0.0, card_print_s=0.0, instant=True)

    def draw(self, rng: random.Random) -> dict[Step, float]:
        if self.instant:
            return dict.fromkeys((*_PERSON_STEPS, *_OPERATOR_SESSIONS), 0.0)
        drawn = {
            step: 60
            * _MINUTES[step]
            * rng.triangular(1 - 1.6 * self.spread, 1 + self.spread / 2, 0.85)
            for step in _PERSON_STEPS
        }
        for step in _OPERATOR_SESSIONS:
            drawn[step] = 60 * _MINUTES[step] * rng.uniform(1 - self.spread, 1.0)
        return drawn


@dataclass(frozen=True, slots=True)
class SurveyChoice:
    """What an applicant does after their card is handed over."""

    button: int | None = None
    """The satisfaction keypad's button pressed (1-4), or None: they walk past it."""
    answers: Mapping[str, int] | None = None
    """The questionnaire on the kiosk, each element `U1`..`U9` scored 1-4; None: not taken."""
    profile: Mapping[str, str] = field(default_factory=dict)
    """The questionnaire's optional profile, as much of it as the respondent gave."""


Outcome = Literal["returned_at_check", "returned_at_validate", "served"]


@dataclass(frozen=True, slots=True)
class Applicant:
    number: int
    arrival_s: float
    """Seconds after the office opens."""
    service: ServiceType
    form: Mapping[str, Any]
    """The submission form as the counter officer types it, without the ticket."""
    documents: tuple[Document, ...]
    """What the applicant actually hands in."""
    person: int
    """The synthetic person whose fingers and face they have."""
    recorded_before: bool
    durations: Mapping[Step, float]
    survey: SurveyChoice = SurveyChoice()

    @property
    def nik(self) -> str:
        return str(self.form["nik"])

    def outcome(self, today: date) -> Outcome:
        """What the SOP makes of this file: returned at the counter, at validation, or
        served (a card, or a Surat Keterangan while there is no blank)."""
        if set(required_documents(self.service)) - set(self.documents):
            return "returned_at_check"
        declared = date.fromisoformat(str(self.form["birth_date"]))
        try:
            check_nik_matches(self.nik, birth_date=declared, sex=Sex(self.form["sex"]))
            if self.service is ServiceType.BARU:
                check_new_card_eligibility(
                    birth_date=declared,
                    marital_status=MaritalStatus(self.form["marital_status"]),
                    on=today,
                )
        except DomainError:
            return "returned_at_validate"
        return "served"

    def path(
        self, today: date, card_print_s: float, *, blank: bool = True
    ) -> list[tuple[str, float]]:
        """Who works on this applicant, in order, and for how many seconds; without a
        `blank` card they leave after recording, with a Surat Keterangan."""
        d = self.durations
        path = [("counter officer", d[Step.SUBMIT] + d[Step.CHECK])]
        outcome = self.outcome(today)
        if outcome != "returned_at_check":
            path.append(("section head", d[Step.VALIDATE]))
        if outcome != "served":
            return path
        if not self.recorded_before:
            path.append(("operator", d[Step.BIOMETRIC]))
        if not blank:
            return path
        path.append(("card printer", card_print_s))
        path.append(("operator", d[Step.ACTIVATE] + d[Step.TRANSFER]))
        path.append(("counter officer", d[Step.HANDOVER]))
        return path


@dataclass(frozen=True, slots=True)
class DayPlan:
    seed: int
    applicants: tuple[Applicant, ...]
    blanks: int
    faults: tuple[ScheduledFault, ...]
    model: DurationModel
    today: date

    def loads(self) -> dict[str, float]:
        """Seconds of work over the day for each officer and the card printer."""
        total: dict[str, float] = {}
        for _, path in self._paths():
            for who, seconds in path:
                total[who] = total.get(who, 0.0) + seconds
        return total

    def sequential_s(self) -> float:
        """The day served strictly one applicant at a time: every step of each in turn."""
        return sum(self.loads().values())

    def bound(self) -> tuple[str, float]:
        """The busiest person or device, and the shortest the day can be because of it:
        its work over the day, after the soonest any applicant can reach it, and before
        the least work that must still follow its last use."""
        loads = self.loads()
        busiest = max(loads, key=lambda who: loads[who])
        leads, tails = [], []
        for applicant, path in self._paths():
            uses = [i for i, (who, _) in enumerate(path) if who == busiest]
            if uses:
                leads.append(applicant.arrival_s + sum(s for _, s in path[: uses[0]]))
                tails.append(sum(s for _, s in path[uses[-1] + 1 :]))
        return busiest, min(leads) + loads[busiest] + min(tails)

    def _paths(self) -> list[tuple[Applicant, list[tuple[str, float]]]]:
        """Each applicant's path; the blanks go to the first served, in ticket order."""
        paths = []
        blanks = self.blanks
        for applicant in self.applicants:
            served = applicant.outcome(self.today) == "served"
            path = applicant.path(self.today, self.model.card_print_s, blank=blanks > 0)
            blanks -= served
            paths.append((applicant, path))
        return paths


def plan_day(
    *,
    applicants: int,
    seed: int,
    today: date,
    arrivals_over_s: float = 6 * 3600,
    model: DurationModel | None = None,
    blank_ratio: float = 0.9,
    faults: bool = True,
) -> DayPlan:
    """A reproducible day: arrivals spread over `arrivals_over_s` (0: all at opening)."""
    model = model or DurationModel()
    rng = random.Random(seed)  # noqa: S311 - a reproducible scenario, not a secret
    arrivals = sorted(rng.uniform(0, arrivals_over_s) for _ in range(applicants))
    people = [
        _applicant(rng, number, arrival, today, model)
        for number, arrival in enumerate(arrivals, start=1)
    ]
    # A stream of its own: the survey's choices leave every other draw of the day as is.
    survey_rng = random.Random(f"{seed}/survey")  # noqa: S311 - a reproducible scenario
    people = [
        dataclasses.replace(person, survey=_survey_choice(survey_rng, person, today))
        for person in people
    ]
    scheduled: list[ScheduledFault] = []
    if faults and not model.instant and applicants >= 8:
        span = max(arrivals_over_s, applicants * 13 * 60)
        scheduled = [
            # The next card to move jams; a person frees it when they come round to it.
            ScheduledFault(
                at_s=0.4 * span, device="card_printer", fault=Fault.JAM, duration_s=20 * 60
            ),
            ScheduledFault(
                at_s=0.55 * span, device="signature_pad", fault=Fault.UNPLUG, duration_s=180
            ),
        ]
    return DayPlan(
        seed=seed,
        applicants=tuple(people),
        blanks=max(1, round(applicants * blank_ratio)),
        faults=tuple(scheduled),
        model=model,
        today=today,
    )


def _applicant(
    rng: random.Random, number: int, arrival_s: float, today: date, model: DurationModel
) -> Applicant:
    service = rng.choices([s for s, _ in SERVICE_MIX], [w for _, w in SERVICE_MIX])[0]
    sex = rng.choice(list(Sex))
    # Mostly adults; now and then a 16-year-old, who may have a card only if married.
    young = rng.random() < 0.08
    age_days = rng.randint(16 * 365 + 2, 17 * 365 - 2) if young else rng.randint(17 * 366, 70 * 365)
    birth = today - timedelta(days=age_days)
    marital = rng.choices(list(MaritalStatus), [45, 45, 5, 5])[0]
    region = rng.choice(_REGIONS)
    nik = compose_nik(region=region, birth_date=birth, sex=sex, serial=number)
    kk = compose_kk(
        region=region, issued=today - timedelta(days=rng.randint(30, 3000)), serial=number
    )
    documents = list(required_documents(service))
    if rng.random() < 0.1 and documents:
        documents.remove(rng.choice(documents))  # forgot one at home
    # Now and then the form's birth date contradicts the NIK (a typo, or somebody else's
    # papers): the section head's validation must catch it.
    declared = birth if rng.random() > 0.05 else birth + timedelta(days=rng.randint(1, 400))
    form = {
        "service": service,
        "nik": nik,
        "kk": kk,
        "name": rng.choice(_NAMES),
        "birth_date": declared.isoformat(),
        "sex": sex,
        "marital_status": marital,
        "documents": list(documents),
        "biodata": {
            "birth_place": "Lumajang",
            "address": f"Jl. Kyai Ilyas No. {rng.randint(1, 120)}",
            "rt_rw": f"{rng.randint(1, 9):03d}/{rng.randint(1, 12):03d}",
            "village": rng.choice(_VILLAGES),
            "religion": "ISLAM",
            "occupation": rng.choice(("Petani", "Pedagang", "Guru", "Pelajar/Mahasiswa")),
        },
    }
    return Applicant(
        number=number,
        arrival_s=arrival_s,
        service=service,
        form=form,
        documents=tuple(documents),
        person=rng.choice(PERSONS),
        # Everybody but a new card's applicant has had one, and so was recorded before.
        recorded_before=service is not ServiceType.BARU or rng.random() < 0.1,
        durations=model.draw(rng),
    )


def _survey_choice(rng: random.Random, applicant: Applicant, today: date) -> SurveyChoice:
    button = None
    if rng.random() < KEYPAD_SHARE:
        button = rng.choices(*zip(*KEYPAD_BUTTONS, strict=True))[0]
    if rng.random() >= QUESTIONNAIRE_SHARE:
        return SurveyChoice(button=button)
    scores, weights = zip(*_SCORES, strict=True)
    answers = {f"U{i}": rng.choices(scores, weights)[0] for i in range(1, 10)}
    profile: dict[str, str] = {}
    if rng.random() < PROFILE_SHARE:
        born = date.fromisoformat(str(applicant.form["birth_date"]))
        profile = {
            "sex": str(applicant.form["sex"]),
            "age_band": _age_band((today - born).days // 365),
            "education": rng.choice(list(Education)),
            "occupation": _OCCUPATIONS[applicant.form["biodata"]["occupation"]],
        }
    return SurveyChoice(button=button, answers=answers, profile=profile)


def _age_band(years: int) -> AgeBand:
    bands = [(20, AgeBand.UNDER_20), (30, AgeBand.TWENTIES), (40, AgeBand.THIRTIES)]
    bands += [(50, AgeBand.FORTIES), (60, AgeBand.FIFTIES)]
    return next((band for below, band in bands if years < below), AgeBand.SIXTY_PLUS)
