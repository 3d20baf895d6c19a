"""The SOP table of seed 003 and the per-step budgets derived from it."""

from __future__ import annotations

import math
from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.domain import (
    SERVICE_PROMISE_WORKING_DAYS,
    SOP_STEPS,
    SOP_TOTAL_MINUTES,
    Role,
    SopError,
    Step,
    StepKind,
    StepSpec,
    step_budgets,
    step_spec,
)

SEED_MINUTES = {
    Step.SUBMIT: 1,
    Step.CHECK: 2,
    Step.VALIDATE: 3,
    Step.BIOMETRIC: 6,
    Step.ENCODE_PRINT: 5,
    Step.ACTIVATE: 5,
    Step.TRANSFER: 2,
    Step.HANDOVER: 2,
}


def test_steps_in_order_with_the_seeds_minutes() -> None:
    assert [spec.step for spec in SOP_STEPS] == list(Step)
    assert [spec.number for spec in SOP_STEPS] == list(range(1, 9))
    assert {spec.step: spec.minutes for spec in SOP_STEPS} == SEED_MINUTES
    assert [s.value for s in Step] == [
        "submit",
        "check",
        "validate",
        "biometric",
        "encode_print",
        "activate",
        "transfer",
        "handover",
    ]


def test_total_and_service_promise() -> None:
    assert sum(spec.minutes for spec in SOP_STEPS) == 26
    assert SOP_TOTAL_MINUTES == 26
    assert SERVICE_PROMISE_WORKING_DAYS == 1


def test_kinds() -> None:
    device = {spec.step for spec in SOP_STEPS if spec.kind is StepKind.DEVICE}
    assert device == {Step.BIOMETRIC, Step.ENCODE_PRINT, Step.ACTIVATE}
    assert step_spec(Step.HANDOVER).kind is StepKind.HUMAN


def test_actors() -> None:
    actors = {spec.step: spec.actors for spec in SOP_STEPS}
    assert actors[Step.SUBMIT] == (Role.APPLICANT,)
    assert actors[Step.CHECK] == (Role.COUNTER_OFFICER,)
    assert actors[Step.VALIDATE] == (Role.SECTION_HEAD,)
    assert actors[Step.BIOMETRIC] == (Role.OPERATOR,)
    assert actors[Step.ENCODE_PRINT] == (Role.OPERATOR,)
    assert set(actors[Step.ACTIVATE]) == {Role.APPLICANT, Role.OPERATOR}
    assert actors[Step.TRANSFER] == (Role.OPERATOR,)
    assert actors[Step.HANDOVER] == (Role.COUNTER_OFFICER,)
    assert [r.value for r in Role] == [
        "pemohon",
        "petugas_loket",
        "kasi_yanmum",
        "operator",
        "pimpinan",
    ]


def test_seed_wording_and_decisions() -> None:
    assert "perekaman biometrik" in step_spec("biometric").name.id
    assert "menandatangani bukti penerimaan" in step_spec("handover").name.id
    assert "aktivasi" in step_spec("activate").name.id
    handover_output = step_spec(Step.HANDOVER).output
    assert handover_output is not None
    assert handover_output.id == "Kartu Tanda Penduduk (KTP)"
    # The two places where a file goes back to the applicant.
    returns = [
        spec.step for spec in SOP_STEPS if spec.decision and "dikembalikan" in spec.decision.id
    ]
    assert returns == [Step.CHECK, Step.VALIDATE]
    for spec in SOP_STEPS:
        assert spec.name.id
        assert spec.name.en
        assert spec.name.id != spec.name.en
    for role in Role:
        assert role.label.id
        assert role.label.en


def test_step_spec_lookup() -> None:
    for spec in SOP_STEPS:
        assert step_spec(spec.step) is spec
        assert step_spec(spec.step.value) is spec
        assert spec.step.spec is spec
        assert spec.budget == timedelta(minutes=spec.minutes)
    with pytest.raises(SopError) as info:
        step_spec("printing")
    assert info.value.code == "sop_unknown_step"
    assert isinstance(info.value, ValueError)


def test_step_spec_is_frozen() -> None:
    spec = step_spec(Step.CHECK)
    with pytest.raises(AttributeError):
        spec.minutes = 99  # type: ignore[misc]
    assert isinstance(spec, StepSpec)


def test_default_budgets() -> None:
    budgets = step_budgets()
    assert list(budgets) == list(Step)
    assert budgets == {step: timedelta(minutes=m) for step, m in SEED_MINUTES.items()}
    assert step_budgets({}) == budgets
    assert sum(budgets.values(), timedelta()) == timedelta(minutes=SOP_TOTAL_MINUTES)


def test_overrides_by_name_or_step() -> None:
    budgets = step_budgets({"biometric": 7.5, Step.HANDOVER: 3})
    assert budgets[Step.BIOMETRIC] == timedelta(minutes=7.5)
    assert budgets[Step.HANDOVER] == timedelta(minutes=3)
    assert budgets[Step.SUBMIT] == timedelta(minutes=1)
    # The table itself is not changed by an override.
    assert step_spec(Step.BIOMETRIC).minutes == 6


@given(
    st.dictionaries(
        st.sampled_from(Step),
        st.one_of(
            st.integers(1, 10_000),
            st.floats(min_value=0.001, max_value=10_000, allow_nan=False),
        ),
    ),
    st.booleans(),
)
def test_overrides_property(overrides: dict[Step, float], by_name: bool) -> None:
    keyed = {(step.value if by_name else step): m for step, m in overrides.items()}
    budgets = step_budgets(keyed)
    assert list(budgets) == list(Step)
    for step in Step:
        expected = overrides.get(step, SEED_MINUTES[step])
        assert budgets[step] == timedelta(minutes=expected)


@pytest.mark.parametrize("key", ["bio", "SUBMIT", "", "1"])
def test_unknown_step_name_is_named(key: str) -> None:
    with pytest.raises(ValueError, match="Unknown SOP step") as info:
        step_budgets({key: 3})
    assert repr(key) in str(info.value)
    assert isinstance(info.value, SopError)
    assert info.value.code == "sop_unknown_step"


@pytest.mark.parametrize(
    "minutes", [0, -1, -0.5, 0.0, math.nan, math.inf, -math.inf, True, "5", None, 1e300]
)
def test_bad_budget_is_named(minutes: object) -> None:
    with pytest.raises(ValueError, match="'validate'") as info:
        step_budgets({"validate": minutes})  # type: ignore[dict-item]
    assert isinstance(info.value, SopError)
    assert info.value.code == "sop_invalid_budget"
