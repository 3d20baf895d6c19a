"""The biometric recording, observable and steerable: its progress one modality at a time,
the operator's decision on a capture below its threshold, and what the operator declared
missing (with the reason) in the register."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest
import pytest_asyncio

from appliance.biostore import Modality
from appliance.domain import Role, Step
from appliance.hal import (
    BiometricCapture,
    BioType,
    CaptureNotAccepted,
    CaptureResult,
    DeviceIdentity,
    Eye,
    Finger,
)
from appliance.pipeline import (
    BiometricPlan,
    BiometricProgress,
    Busy,
    Decision,
    Invalid,
    MissingPart,
    Officer,
    Stage,
    StageState,
    WrongState,
)
from appliance.pipeline._biometrics import BiometricSessions
from appliance.register import InvalidEvent, MissingReason
from appliance.register._events import canonical_data, validate_payload
from sim.pcscd import PrivatePcscd
from sim.sbi import SbiSimulator

from .office_rig import PERSON, Office, form, office

pytestmark = pytest.mark.asyncio(loop_scope="module")

EKO = Officer(person="eko", roles=frozenset({Role.OPERATOR}))

# --------------------------------------------------------------------------- the register


async def test_a_recording_with_nothing_missing_is_stored_as_before() -> None:
    payload = validate_payload(
        "biometrics.recorded", {"modalities": ["face"], "chip_fingers": [1, 6]}, "app"
    )
    assert canonical_data(payload) == '{"chip_fingers":[1,6],"modalities":["face"]}'


async def test_what_was_missing_is_stored_with_its_reason_and_nonsense_is_refused() -> None:
    data = {
        "modalities": ["face", "fingerprints"],
        "chip_fingers": [1, 6],
        "exceptions": [{"finger": 9, "reason": "amputasi"}, {"eye": "left", "reason": "perban"}],
    }
    stored = canonical_data(validate_payload("biometrics.recorded", data, "app"))
    assert '"exceptions":[{"eye":null,"finger":9,"reason":"amputasi"}' in stored
    for wrong in (
        {"finger": 9, "eye": "left", "reason": "amputasi"},  # two parts in one
        {"reason": "amputasi"},  # no part at all
        {"finger": 11, "reason": "amputasi"},
        {"eye": "middle", "reason": "perban"},
        {"finger": 2, "reason": "lupa"},  # not a reason the register knows
    ):
        with pytest.raises(InvalidEvent):
            validate_payload("biometrics.recorded", {**data, "exceptions": [wrong]}, "app")


# --------------------------------------------------------------------------- the recording


def _capture(subtype: str | None, quality: float) -> BiometricCapture:
    return BiometricCapture(
        bio_type=BioType.FACE if subtype is None else BioType.FINGER,
        bio_subtype=subtype,
        quality=quality,
        requested_score=60,
        bio_value=b"",
        device=DeviceIdentity(make="x", model="x", serial="1", firmware="1"),
        transaction_id="t",
        timestamp="",
        chain_hash="",
    )


def _faces(*qualities: float) -> Callable[[], Awaitable[CaptureResult]]:
    """A camera whose every capture (one attempt each) gives the next quality, refused
    below 60 as the device refuses it, with the best it saw."""
    left = list(qualities)

    async def take() -> CaptureResult:
        quality = left.pop(0)
        result = CaptureResult((_capture(None, quality),), (), 1, 60)
        if quality < 60:
            raise CaptureNotAccepted("camera", "low_quality", "low", best=result)
        return result

    return take


def _sessions() -> tuple[BiometricSessions, list[str]]:
    """The recordings, and the applications whose progress their listener heard of."""
    sessions = BiometricSessions()
    heard: list[str] = []
    sessions.add_listener(heard.append)
    return sessions, heard


async def test_without_the_operator_steering_the_best_capture_is_accepted_as_before() -> None:
    plan = BiometricPlan()
    sessions, heard = _sessions()
    with sessions.recording("app", plan) as recording:
        result = await recording.capture(Stage.FACE, _faces(41), threshold=60)
        face = recording.progress().stages[0]
    assert result.captures[0].quality == 41
    assert (face.state, face.attempts, face.threshold) == (StageState.ACCEPTED, 1, 60)
    assert face.below_threshold
    assert heard
    assert set(heard) == {"app"}
    ended = sessions.progress("app")
    assert ended is not None
    assert ended.ended


async def test_the_operator_captures_a_poor_face_again_and_the_best_is_kept() -> None:
    plan = BiometricPlan(operator_decides=True)
    sessions, _heard = _sessions()
    with sessions.recording("app", plan) as recording:
        taking = asyncio.create_task(
            recording.capture(Stage.FACE, _faces(41, 52, 48), threshold=60)
        )
        progress = await _until(sessions, lambda p: p.stages[0].state is StageState.DECIDING)
        assert progress.current is not None
        assert progress.current.stage is Stage.FACE
        assert [stage.state for stage in progress.stages[1:]] == [StageState.WAITING] * 5
        sessions.decide("app", Stage.FACE, Decision.RETRY)
        with pytest.raises(WrongState):  # the second click of a double click
            sessions.decide("app", Stage.FACE, Decision.RETRY)
        await _until(sessions, lambda p: p.stages[0].attempts == 2)
        sessions.decide("app", Stage.FACE, Decision.RETRY)
        progress = await _until(sessions, lambda p: p.stages[0].attempts == 3)
        assert progress.stages[0].parts[0].quality == 52  # the best of 41, 52 and 48
        sessions.decide("app", Stage.FACE, Decision.ACCEPT)
        result = await taking
    assert result.captures[0].quality == 52
    assert sessions.progress("app").stages[0].state is StageState.ACCEPTED  # type: ignore[union-attr]


async def test_a_good_capture_needs_no_decision_and_a_placement_all_missing_is_not_taken() -> None:
    missing = tuple(
        MissingPart(part=finger, reason=MissingReason.AMPUTASI)
        for finger in (Finger.LEFT_THUMB, Finger.RIGHT_THUMB)
    )
    plan = BiometricPlan(missing=missing, operator_decides=True)
    sessions, _heard = _sessions()
    with sessions.recording("app", plan) as recording:
        await recording.capture(Stage.FACE, _faces(75), threshold=60)
        untouched = await recording.capture(Stage.THUMBS, _faces(), threshold=60)
        progress = recording.progress()
    assert untouched.captures == ()
    by_stage = {stage.stage: stage for stage in progress.stages}
    assert by_stage[Stage.FACE].state is StageState.ACCEPTED
    assert by_stage[Stage.THUMBS].state is StageState.NOT_TAKEN
    assert by_stage[Stage.THUMBS].missing == missing


async def test_a_plan_names_each_part_once_and_leaves_two_fingers_for_the_chip() -> None:
    amputated = MissingPart(part=Finger.LEFT_RING, reason=MissingReason.AMPUTASI)
    with pytest.raises(ValueError, match="twice"):
        BiometricPlan(missing=(amputated, amputated))
    nine = tuple(
        MissingPart(part=finger, reason=MissingReason.AMPUTASI)
        for finger in Finger
        if finger is not Finger.RIGHT_THUMB
    )
    with pytest.raises(Invalid) as refused:
        BiometricPlan(missing=nine).refuse_unrecordable()
    assert refused.value.code == "too_few_fingers"
    assert "dua jari" in refused.value.text.id
    one_eye = BiometricPlan(missing=(MissingPart(part=Eye.LEFT, reason=MissingReason.PERBAN),))
    assert one_eye.wanted(Stage.IRISES) == ("Right",)
    assert MissingPart(part=Eye.LEFT, reason=MissingReason.PERBAN).for_register() == {
        "eye": "left",
        "reason": "perban",
    }


async def _until(
    sessions: BiometricSessions, predicate: Callable[[BiometricProgress], bool]
) -> BiometricProgress:
    """Wait on the recording's changes until its progress satisfies `predicate`."""
    changed = asyncio.Event()
    sessions.add_listener(lambda _app: changed.set())
    async with asyncio.timeout(10):
        while True:
            progress = sessions.progress("app")
            if progress is not None and predicate(progress):
                return progress
            changed.clear()
            await changed.wait()


# --------------------------------------------------------------------------- the station


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def pcscd() -> AsyncIterator[PrivatePcscd]:
    async with PrivatePcscd() as daemon:
        yield daemon


@pytest_asyncio.fixture(loop_scope="module")
async def rig(tmp_path: Path, pcscd: PrivatePcscd) -> AsyncIterator[Office]:
    async with office(tmp_path, pcscd) as station:
        yield station


async def _to_biometric(rig: Office, serial: int = 1) -> str:
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    view = await rig.ok("siti", "POST", "/applications", json=form(ticket["ticket"], serial=serial))
    app = str(view["id"])
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    view = await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    assert (view["step"], view["phase"]) == ("biometric", "waiting")
    return app


async def _recording_until(
    rig: Office, app: str, predicate: Callable[[BiometricProgress], bool]
) -> BiometricProgress:
    pipeline = rig.station.pipeline
    changed = asyncio.Event()
    pipeline.add_recording_listener(lambda _app: changed.set())
    async with asyncio.timeout(30):
        while True:
            progress = pipeline.recording(app)
            if progress is not None and predicate(progress):
                return progress
            changed.clear()
            await changed.wait()


async def test_a_steered_recording_with_a_missing_finger_ends_in_the_register(rig: Office) -> None:
    app = await _to_biometric(rig)
    rig.present(PERSON)
    camera = rig.sim.devices["camera"]
    assert isinstance(camera, SbiSimulator)
    camera.script_scores(30, 35, 32)  # the device's three attempts, all poor
    plan = BiometricPlan(
        missing=(MissingPart(part=Finger.LEFT_RING, reason=MissingReason.AMPUTASI),),
        operator_decides=True,
    )
    pipeline = rig.station.pipeline
    await pipeline.start_step(EKO, app, Step.BIOMETRIC, biometrics=plan)
    deciding = await _recording_until(rig, app, lambda p: p.stages[0].state is StageState.DECIDING)
    face = deciding.stages[0]
    assert (face.stage, face.state, face.attempts) == (Stage.FACE, StageState.DECIDING, 3)
    assert (face.threshold, face.parts[0].quality) == (60, 35)

    someone_else = Officer(person="dewi", roles=frozenset({Role.OPERATOR}))
    with pytest.raises(Busy):
        pipeline.steer_recording(someone_else, app, Stage.FACE, Decision.ACCEPT)
    pipeline.steer_recording(EKO, app, Stage.FACE, Decision.RETRY)  # a good face this time
    await rig.until(app, lambda v: v["step"] == "encode_print")

    progress = pipeline.recording(app)
    assert progress is not None
    assert progress.ended
    stages = {stage.stage: stage for stage in progress.stages}
    assert stages[Stage.FACE].attempts == 4
    assert not stages[Stage.FACE].below_threshold
    assert [p.part for p in stages[Stage.LEFT_FOUR].parts] == [
        "Left IndexFinger",
        "Left MiddleFinger",
        "Left LittleFinger",
    ]
    recorded = [
        e for e in rig.station.register.events() if e.type == "biometrics.recorded" and e.app == app
    ]
    assert recorded[0].data["exceptions"] == [{"eye": None, "finger": 9, "reason": "amputasi"}]
    prints = [r for r in rig.station.biostore.list(app) if r.modality is Modality.FINGERPRINT_IMAGE]
    assert len(prints) == 9
    outcomes = pipeline.outcomes(app)
    assert outcomes.recorded is not None
    assert outcomes.recorded.missing == plan.missing
    assert outcomes.skipped is None
    with pytest.raises(WrongState):  # the recording is over
        pipeline.steer_recording(EKO, app, Stage.FACE, Decision.ACCEPT)


async def test_a_plan_that_cannot_make_a_card_or_is_not_for_a_recording_changes_nothing(
    rig: Office,
) -> None:
    app = await _to_biometric(rig, serial=2)
    head = rig.station.register.head()
    nine = BiometricPlan(
        missing=tuple(
            MissingPart(part=finger, reason=MissingReason.CACAT_PERMANEN)
            for finger in Finger
            if finger is not Finger.LEFT_INDEX
        )
    )
    pipeline = rig.station.pipeline
    with pytest.raises(Invalid) as refused:
        await pipeline.start_step(EKO, app, Step.BIOMETRIC, biometrics=nine)
    assert refused.value.code == "too_few_fingers"
    with pytest.raises(Invalid):
        await pipeline.start_step(EKO, app, Step.ACTIVATE, biometrics=BiometricPlan())
    assert rig.station.register.head() == head
    assert pipeline.recording(app) is None


async def test_someone_recorded_before_shows_the_skip(rig: Office) -> None:
    ticket = await rig.ok("siti", "POST", "/queue/tickets", json={"service": "baru"})
    await rig.ok("siti", "POST", "/queue/call-next", json={"counter": "loket-1"})
    view = await rig.ok("siti", "POST", "/applications", json=form(ticket["ticket"], serial=77))
    app = str(view["id"])
    rig.siak.enroll(form("A-001", serial=77)["nik"], PERSON)
    await rig.ok("siti", "POST", f"/applications/{app}/steps/check/start")
    await rig.ok("siti", "POST", f"/applications/{app}/check", json={"documents": ["fc_kk"]})
    await rig.ok("budi", "POST", f"/applications/{app}/steps/validate/start")
    await rig.ok("budi", "POST", f"/applications/{app}/validate", json={"valid": True})
    outcomes = rig.station.pipeline.outcomes(app)
    assert outcomes.skipped is not None
    assert "recorded before" in outcomes.skipped
    assert outcomes.recorded is None
