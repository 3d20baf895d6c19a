"""The SOP of seed 003 (427.90/Kasi Yanmum/04/2022), *Perekaman dan Pencetakan KTP-el Tuntas
di Kecamatan*, as data: its eight steps, who does each, and its time standard ("Mutu Baku -
Waktu") in minutes.

The minutes are the default per-step budgets of the pipeline; an office may override them
in its configuration through `step_budgets`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import timedelta
from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING, TypeVar

from appliance._text import Text
from appliance.domain._identity import DomainError

if TYPE_CHECKING:
    from collections.abc import Mapping

_K = TypeVar("_K", bound=str)


class SopError(DomainError):
    """An unknown SOP step, or a step budget that is not a positive number of minutes."""


class Step(StrEnum):
    """The SOP's steps, in order."""

    SUBMIT = "submit"
    CHECK = "check"
    VALIDATE = "validate"
    BIOMETRIC = "biometric"
    ENCODE_PRINT = "encode_print"
    ACTIVATE = "activate"
    TRANSFER = "transfer"
    HANDOVER = "handover"

    @property
    def spec(self) -> StepSpec:
        return _BY_STEP[self]


class Role(StrEnum):
    """The SOP's actors ("Pelaksana"), and the office's leadership who oversee them."""

    APPLICANT = "pemohon"
    COUNTER_OFFICER = "petugas_loket"
    SECTION_HEAD = "kasi_yanmum"
    OPERATOR = "operator"
    SUPERVISOR = "pimpinan"
    """The Camat or the Sekretaris Kecamatan (seed 001 §10-14): reads the reports, sees the
    complaint book, approves its quarterly recap; serves no applicant."""

    @property
    def label(self) -> Text:
        return _ROLE_LABELS[self]


_ROLE_LABELS: Mapping[Role, Text] = MappingProxyType(
    {
        Role.APPLICANT: Text(id="Pemohon", en="Applicant"),
        Role.COUNTER_OFFICER: Text(id="Petugas Loket", en="Counter officer"),
        Role.SECTION_HEAD: Text(
            id="Kepala Seksi Pelayanan Umum (Kasi Yanmum)",
            en="Head of the public services section (Kasi Yanmum)",
        ),
        Role.OPERATOR: Text(id="Operator SIAK", en="SIAK operator"),
        Role.SUPERVISOR: Text(
            id="Pimpinan (Camat / Sekretaris Kecamatan)",
            en="Leadership (Camat / district secretary)",
        ),
    }
)


class StepKind(StrEnum):
    """Who paces the step: a person (an overrun is a breach, escalated) or a device (cancelled
    at its budget)."""

    HUMAN = "human"
    DEVICE = "device"


@dataclass(frozen=True, slots=True)
class StepSpec:
    """One row of the SOP table."""

    step: Step
    number: int
    name: Text
    short: Text
    """A few words for summaries and narrow screens, where the seed's sentence is too long."""
    actors: tuple[Role, ...]
    minutes: int
    kind: StepKind
    output: Text | None = None
    decision: Text | None = None

    @property
    def budget(self) -> timedelta:
        return timedelta(minutes=self.minutes)


_RETURNED = "dikembalikan kepada pemohon untuk dilengkapi"

SOP_STEPS: tuple[StepSpec, ...] = (
    StepSpec(
        step=Step.SUBMIT,
        number=1,
        name=Text(
            id="Pemohon menyerahkan berkas persyaratan yang lengkap",
            en="The applicant hands in the complete file",
        ),
        short=Text(id="Penyerahan berkas", en="File handed in"),
        actors=(Role.APPLICANT,),
        minutes=1,
        kind=StepKind.HUMAN,
        output=Text(id="Fc. Kartu Keluarga", en="Copy of the Family Card (KK)"),
    ),
    StepSpec(
        step=Step.CHECK,
        number=2,
        name=Text(
            id="Petugas loket menerima dan memeriksa kelengkapan berkas permohonan",
            en="The counter officer receives the file and checks that it is complete",
        ),
        short=Text(id="Pemeriksaan berkas", en="File check"),
        actors=(Role.COUNTER_OFFICER,),
        minutes=2,
        kind=StepKind.HUMAN,
        decision=Text(
            id=f"Berkas lengkap? Tidak: {_RETURNED}",
            en="Is the file complete? No: returned to the applicant to complete",
        ),
    ),
    StepSpec(
        step=Step.VALIDATE,
        number=3,
        name=Text(
            id=(
                "Kepala Seksi menerima berkas, melakukan validasi dan meneruskan ke petugas "
                "operator SIAK di Kecamatan"
            ),
            en=(
                "The section head receives the file, validates it and forwards it to the "
                "SIAK operator at the kecamatan"
            ),
        ),
        short=Text(id="Validasi", en="Validation"),
        actors=(Role.SECTION_HEAD,),
        minutes=3,
        kind=StepKind.HUMAN,
        decision=Text(
            id=f"Berkas valid? Tidak: {_RETURNED}",
            en="Is the file valid? No: returned to the applicant to complete",
        ),
    ),
    StepSpec(
        step=Step.BIOMETRIC,
        number=4,
        name=Text(
            id=(
                "Dilakukan perekaman biometrik KTP elektronik oleh operator SIAK di Kecamatan "
                "bagi yang belum melakukan perekaman biometrik"
            ),
            en=(
                "The SIAK operator at the kecamatan records the biometrics of applicants "
                "who have never been recorded"
            ),
        ),
        short=Text(id="Perekaman biometrik", en="Biometric recording"),
        actors=(Role.OPERATOR,),
        minutes=6,
        kind=StepKind.DEVICE,
        output=Text(
            id="Foto wajah, sidik jari, iris mata dan tanda tangan",
            en="Face photo, fingerprints, irises and signature",
        ),
        decision=Text(
            id="Sudah pernah melakukan perekaman? Ya: perekaman dilewati",
            en="Recorded before? Yes: the recording is skipped",
        ),
    ),
    StepSpec(
        step=Step.ENCODE_PRINT,
        number=5,
        name=Text(
            id="Proses encode dan pencetakan KTP elektronik oleh operator SIAK di Kecamatan",
            en="The SIAK operator at the kecamatan encodes and prints the KTP-el",
        ),
        short=Text(id="Encode & cetak", en="Encode & print"),
        actors=(Role.OPERATOR,),
        minutes=5,
        kind=StepKind.DEVICE,
        output=Text(id="KTP-el yang sudah dipersonalisasi", en="The personalised KTP-el"),
    ),
    StepSpec(
        step=Step.ACTIVATE,
        number=6,
        name=Text(
            id="Proses aktivasi KTP-el oleh pemohon dibantu petugas",
            en="The applicant activates the KTP-el, helped by an officer",
        ),
        short=Text(id="Aktivasi", en="Activation"),
        actors=(Role.APPLICANT, Role.OPERATOR),
        minutes=5,
        kind=StepKind.DEVICE,
        output=Text(
            id="KTP-el terverifikasi dengan sidik jari pemohon",
            en="The card verified against the applicant's fingerprint",
        ),
    ),
    StepSpec(
        step=Step.TRANSFER,
        number=7,
        name=Text(
            id="Operator SIAK di Kecamatan menyerahkan KTP elektronik ke Petugas Loket",
            en="The SIAK operator hands the KTP-el to the counter officer",
        ),
        short=Text(id="Penyerahan ke loket", en="Hand-over to the counter"),
        actors=(Role.OPERATOR,),
        minutes=2,
        kind=StepKind.HUMAN,
    ),
    StepSpec(
        step=Step.HANDOVER,
        number=8,
        name=Text(
            id=(
                "Petugas Loket menyerahkan KTP elektronik ke Pemohon setelah Pemohon "
                "menandatangani bukti penerimaan"
            ),
            en=(
                "The counter officer hands the KTP-el to the applicant once the applicant "
                "has signed the receipt"
            ),
        ),
        short=Text(id="Penyerahan KTP-el", en="KTP-el handed over"),
        actors=(Role.COUNTER_OFFICER,),
        minutes=2,
        # The receipt is signed on the signature pad, but a person paces the step.
        kind=StepKind.HUMAN,
        output=Text(id="Kartu Tanda Penduduk (KTP)", en="Identity card (KTP)"),
    ),
)
"""The SOP's steps in order, with the seed's wording and minutes."""

_BY_STEP: Mapping[Step, StepSpec] = MappingProxyType({spec.step: spec for spec in SOP_STEPS})

SOP_TOTAL_MINUTES: int = sum(spec.minutes for spec in SOP_STEPS)
"""26 minutes from handing in the file to receiving the card."""

SERVICE_PROMISE_WORKING_DAYS = 1
"""Seed 000 "Jangka waktu: 1 (satu) hari kerja"; seed 001 5.1."""


def _step(value: Step | str) -> Step:
    try:
        return Step(value)
    except ValueError:
        known = ", ".join(step.value for step in Step)
        raise SopError(
            code="sop_unknown_step",
            text=Text(
                id=f"Langkah SOP tidak dikenal: {value!r} (yang dikenal: {known}).",
                en=f"Unknown SOP step {value!r} (known steps: {known}).",
            ),
        ) from None


def step_spec(step: Step | str) -> StepSpec:
    """The SOP row of `step`; an unknown step name raises `SopError` (a ValueError)."""
    return _BY_STEP[_step(step)]


def step_budgets(overrides: Mapping[_K, float] | None = None) -> dict[Step, timedelta]:
    """The time budget of every step, in SOP order: the SOP's minutes, with `overrides`
    (minutes, int or float, keyed by step or step name) applied.

    An unknown step name or a budget that is not a finite positive number raises `SopError`
    (a ValueError) naming the key.
    """
    budgets = {spec.step: spec.budget for spec in SOP_STEPS}
    for key, minutes in (overrides or {}).items():
        step = _step(key)
        budgets[step] = _budget(step, minutes)
    return budgets


def _budget(step: Step, minutes: object) -> timedelta:
    # bool is an int to Python, but `True` minutes is a configuration mistake.
    if (
        not isinstance(minutes, bool)
        and isinstance(minutes, int | float)
        and math.isfinite(minutes)
        and minutes > 0
    ):
        try:
            return timedelta(minutes=minutes)
        except OverflowError:
            pass
    raise SopError(
        code="sop_invalid_budget",
        text=Text(
            id=(
                f"Batas waktu langkah SOP {step.value!r} harus bilangan menit yang positif, "
                f"bukan {minutes!r}."
            ),
            en=(
                f"The budget of SOP step {step.value!r} must be a positive number of minutes, "
                f"not {minutes!r}."
            ),
        ),
    )
