"""Chip fingerprint templates: ISO/IEC 19794-2 records, extraction and 1:1 matching."""

from __future__ import annotations

import functools
import io
import random
import struct
import uuid

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from pydantic import ValidationError

from appliance.fingerprint import (
    DEFAULT_THRESHOLD,
    ExtractionError,
    FingerMatcher,
    FingerTemplate,
    ImpressionType,
    MatcherSettings,
    Minutia,
    MinutiaKind,
    TemplateError,
    decode_iso19794_2,
    encode_iso19794_2,
    extract_template,
    match_score,
)
from appliance.hal import (
    CaptureResult,
    Finger,
    SbiFingerprintScanner,
    SbiFingerprintScannerConfig,
    Slap,
)
from sim._base import Timing
from sim.fingerprints import IMPRESSION_HEIGHT, IMPRESSION_WIDTH, SyntheticFinger
from sim.sbi import SbiKind, SbiSimulator

FUZZ = settings(max_examples=300, deadline=None)

# --------------------------------------------------------------------------- ISO/IEC 19794-2

SAMPLE = FingerTemplate(
    width=320,
    height=400,
    finger_position=2,
    quality=71,
    minutiae=(
        Minutia(x=10, y=20, angle=0, kind=MinutiaKind.ENDING, quality=80),
        Minutia(x=319, y=399, angle=255, kind=MinutiaKind.BIFURCATION, quality=100),
        Minutia(x=0, y=0, angle=64, kind=MinutiaKind.OTHER, quality=0),
    ),
)


def test_a_record_has_the_2005_layout() -> None:
    record = encode_iso19794_2(SAMPLE)

    assert len(record) == 24 + 4 + 3 * 6 + 2
    assert record[:8] == b"FMR\x00 20\x00"
    assert struct.unpack(">I", record[8:12]) == (len(record),)
    assert struct.unpack(">HHHH", record[14:22]) == (320, 400, 197, 197)
    assert record[22:24] == b"\x01\x00"  # one finger view
    assert record[24:28] == bytes([2, 0, 71, 3])
    # First minutia: type 01 and x=10, y=20, angle 0, quality 80.
    assert record[28:34] == bytes([0x40, 10, 0, 20, 0, 80])
    assert record[34:36] == bytes([0x80 | 319 >> 8, 319 & 0xFF])
    assert record[-2:] == b"\x00\x00"


def test_a_record_decodes_to_the_template_it_came_from() -> None:
    assert decode_iso19794_2(encode_iso19794_2(SAMPLE)) == SAMPLE


@st.composite
def templates(draw: st.DrawFn) -> FingerTemplate:
    width = draw(st.integers(1, 2000))
    height = draw(st.integers(1, 2000))
    minutia = st.builds(
        Minutia,
        x=st.integers(0, width - 1),
        y=st.integers(0, height - 1),
        angle=st.integers(0, 255),
        kind=st.sampled_from(MinutiaKind),
        quality=st.integers(0, 100),
    )
    return FingerTemplate(
        width=width,
        height=height,
        resolution_ppcm=draw(st.integers(1, 0xFFFF)),
        finger_position=draw(st.integers(1, 10)),
        impression_type=draw(st.sampled_from(ImpressionType)),
        quality=draw(st.integers(0, 100)),
        minutiae=tuple(draw(st.lists(minutia, max_size=255))),
    )


@FUZZ
@given(templates())
def test_every_template_survives_a_round_trip(template: FingerTemplate) -> None:
    assert decode_iso19794_2(encode_iso19794_2(template)) == template


@FUZZ
@given(st.binary(max_size=400))
def test_garbage_records_are_template_errors(record: bytes) -> None:
    with pytest.raises(TemplateError):
        decode_iso19794_2(record)


@FUZZ
@given(
    templates(),
    st.data(),
)
def test_damaged_records_decode_or_raise_template_error(
    template: FingerTemplate, data: st.DataObject
) -> None:
    record = bytearray(encode_iso19794_2(template))
    damage = data.draw(st.sampled_from(["truncate", "extend", "flip", "overwrite"]))
    if damage == "truncate":
        del record[data.draw(st.integers(0, len(record) - 1)) :]
    elif damage == "extend":
        record += data.draw(st.binary(min_size=1, max_size=64))
    else:
        index = data.draw(st.integers(0, len(record) - 1))
        value = data.draw(st.integers(0, 255))
        record[index] = record[index] ^ (1 << value % 8) if damage == "flip" else value

    try:
        decoded = decode_iso19794_2(bytes(record))
    except TemplateError:
        return
    assert decode_iso19794_2(encode_iso19794_2(decoded)) == decoded


@pytest.mark.parametrize(
    ("offset", "value", "complaint"),
    [
        (0, b"XMR\x00", "identifier"),
        (4, b" 30\x00", "version"),
        (22, b"\x02", "finger views"),
        (24, b"\x0b", "finger position"),
        (25, b"\x05", "impression type"),
        (26, b"\x65", "quality"),
        (28, b"\xc0", "reserved type"),
        (30, b"\x40", "reserved bits"),
        (33, b"\x65", "quality"),
    ],
)
def test_out_of_range_fields_are_named(offset: int, value: bytes, complaint: str) -> None:
    record = bytearray(encode_iso19794_2(SAMPLE))
    record[offset : offset + len(value)] = value

    with pytest.raises(TemplateError, match=complaint):
        decode_iso19794_2(bytes(record))


def test_a_minutia_outside_the_image_is_refused() -> None:
    record = bytearray(encode_iso19794_2(SAMPLE))
    record[14:16] = struct.pack(">H", 100)  # width 100, but a minutia sits at x=319

    with pytest.raises(TemplateError, match="outside"):
        decode_iso19794_2(bytes(record))


def test_templates_that_do_not_fit_a_record_cannot_be_built() -> None:
    minutia = Minutia(x=1, y=1, angle=0, kind=MinutiaKind.ENDING, quality=50)
    with pytest.raises(TemplateError, match="255"):
        FingerTemplate(width=9, height=9, finger_position=1, quality=1, minutiae=(minutia,) * 256)
    with pytest.raises(TemplateError, match="angle"):
        Minutia(x=1, y=1, angle=256, kind=MinutiaKind.ENDING, quality=50)
    with pytest.raises(TemplateError, match="outside"):
        Minutia(x=1 << 14, y=1, angle=0, kind=MinutiaKind.ENDING, quality=50)


# --------------------------------------------------------------------------- extraction


def impression(person: int, capture: int, *, finger: int = 2) -> bytes:
    rng = np.random.default_rng([person, finger, capture])
    return SyntheticFinger(person_seed=person, finger=finger).impression(rng=rng)


@functools.cache
def template(person: int, capture: int) -> FingerTemplate:
    return extract_template(impression(person, capture), finger_position=2)


def test_a_synthetic_impression_is_a_500_dpi_grayscale_png() -> None:
    with Image.open(io.BytesIO(impression(1, 0))) as image:
        assert image.format == "PNG"
        assert image.mode == "L"
        assert image.size == (IMPRESSION_WIDTH, IMPRESSION_HEIGHT)
        assert round(image.info["dpi"][0]) == 500


def test_synthetic_fingers_are_deterministic_and_captures_vary() -> None:
    assert impression(3, 0) == impression(3, 0)
    assert impression(3, 0) != impression(3, 1)
    assert impression(3, 0) != impression(4, 0)
    with pytest.raises(ValueError, match="finger"):
        SyntheticFinger(person_seed=1, finger=11)


@pytest.mark.parametrize("person", [1, 2, 3])
def test_extraction_finds_a_plausible_template(person: int) -> None:
    found = template(person, 0)

    assert 20 <= len(found.minutiae) <= 80
    assert (found.width, found.height, found.resolution_ppcm) == (320, 400, 197)
    assert found.finger_position == 2
    assert 0 < found.quality <= 100
    kinds = {m.kind for m in found.minutiae}
    assert kinds == {MinutiaKind.ENDING, MinutiaKind.BIFURCATION}
    assert decode_iso19794_2(encode_iso19794_2(found)) == found


def test_extraction_reads_gray_arrays_and_other_resolutions() -> None:
    with Image.open(io.BytesIO(impression(1, 0))) as image:
        pixels = np.asarray(image)
        doubled = np.asarray(image.resize((2 * IMPRESSION_WIDTH, 2 * IMPRESSION_HEIGHT)))

    assert extract_template(pixels, finger_position=2) == template(1, 0)
    resampled = extract_template(doubled, finger_position=2, resolution_dpi=1000)
    assert resampled.resolution_ppcm == 197
    assert match_score(resampled, template(1, 1)) >= DEFAULT_THRESHOLD


def png(pixels: np.ndarray) -> bytes:
    out = io.BytesIO()
    Image.fromarray(pixels).save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize(
    "image",
    [
        b"",
        b"not an image at all",
        b"\x89PNG\r\n\x1a\n" + b"\x00" * 40,
        png(np.full((400, 320), 255, dtype=np.uint8)),  # a blank scanner
        png(np.zeros((40, 30), dtype=np.uint8)),  # far too small
        png(np.zeros((3000, 100), dtype=np.uint8)),  # far too large
        impression(1, 0)[:2000],  # cut off in transfer
        b"GIF89a" + impression(1, 0)[6:],  # a format the scanner does not send
    ],
    ids=["empty", "text", "png-header", "blank", "tiny", "huge", "truncated", "gif"],
)
def test_unusable_images_are_extraction_errors(image: bytes) -> None:
    with pytest.raises(ExtractionError):
        extract_template(image, finger_position=2)


def test_a_header_that_promises_gigapixels_is_refused_before_decoding() -> None:
    record = bytearray(png(np.zeros((120, 120), dtype=np.uint8)))
    record[16:24] = struct.pack(">II", 60_000, 60_000)  # IHDR width and height

    with pytest.raises(ExtractionError):
        extract_template(bytes(record), finger_position=2)


def test_arrays_of_the_wrong_shape_or_type_are_extraction_errors() -> None:
    with pytest.raises(ExtractionError):
        extract_template(np.zeros((400, 320, 3), dtype=np.uint8), finger_position=2)
    with pytest.raises(ExtractionError):
        extract_template(np.zeros((400, 320), dtype=np.float64), finger_position=2)


def test_bad_arguments_are_value_errors() -> None:
    with pytest.raises(ValueError, match="finger position"):
        extract_template(impression(1, 0), finger_position=0)
    with pytest.raises(ValueError, match="resolution"):
        extract_template(impression(1, 0), finger_position=2, resolution_dpi=72)


@settings(max_examples=60, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_bytes_never_crash_extraction(image: bytes) -> None:
    with pytest.raises(ExtractionError):
        extract_template(image, finger_position=2)


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_noise_images_are_refused_or_give_a_valid_template(seed: int) -> None:
    noise = np.random.default_rng(seed).integers(0, 256, (128, 128), dtype=np.uint8)
    try:
        found = extract_template(png(noise), finger_position=2)
    except ExtractionError:
        return
    assert decode_iso19794_2(encode_iso19794_2(found)) == found


# --------------------------------------------------------------------------- matching

PEOPLE = (11, 12, 13, 14, 15)


@pytest.mark.parametrize("person", PEOPLE)
def test_two_captures_of_the_same_finger_match(person: int) -> None:
    result = FingerMatcher(threshold=DEFAULT_THRESHOLD).matches(
        template(person, 1), template(person, 0)
    )

    assert result.matched
    assert result.score >= DEFAULT_THRESHOLD


def test_different_people_do_not_match() -> None:
    matcher = FingerMatcher(threshold=DEFAULT_THRESHOLD)
    for reference in PEOPLE:
        for probe in PEOPLE:
            if probe != reference:
                result = matcher.matches(template(probe, 1), template(reference, 0))
                assert not result.matched, (probe, reference, result.score)


def test_different_fingers_of_one_person_do_not_match() -> None:
    thumb = extract_template(impression(11, 0, finger=1), finger_position=1)

    assert match_score(thumb, template(11, 0)) < DEFAULT_THRESHOLD


def test_the_score_is_deterministic_bounded_and_nearly_symmetric() -> None:
    a, b = template(11, 1), template(11, 0)

    forward = match_score(a, b)
    assert forward == match_score(a, b)
    assert 0.0 <= forward <= 1.0
    assert abs(forward - match_score(b, a)) < 0.15
    assert match_score(a, a) == pytest.approx(1.0)


def test_the_chip_record_matches_like_the_template() -> None:
    on_chip = decode_iso19794_2(encode_iso19794_2(template(12, 0)))

    assert match_score(template(12, 1), on_chip) == match_score(template(12, 1), template(12, 0))


def test_templates_too_sparse_to_align_score_zero() -> None:
    few = FingerTemplate(width=320, height=400, finger_position=2, quality=10, minutiae=())

    assert match_score(few, template(11, 0)) == 0.0
    assert match_score(template(11, 0), few) == 0.0


def test_settings_hold_the_threshold() -> None:
    assert MatcherSettings().threshold == DEFAULT_THRESHOLD
    matcher = FingerMatcher.from_settings(MatcherSettings(threshold=0.5))
    assert matcher.threshold == 0.5
    with pytest.raises(ValidationError):
        MatcherSettings(threshold=1.5)
    with pytest.raises(ValidationError):
        MatcherSettings.model_validate({"threshold": 0.2, "unknown": 1})
    with pytest.raises(ValueError, match="threshold"):
        FingerMatcher(threshold=0)


# --------------------------------------------------------------------------- the simulated scanner


async def test_the_scanner_shows_the_presented_persons_fingers() -> None:
    sim = SbiSimulator(
        name="slap",
        kind=SbiKind.FINGER_SLAP,
        seed=uuid.uuid4().int,
        timing=Timing(scale=0),
        person_seed=11,
    )
    await sim.start()
    scanner = SbiFingerprintScanner(
        name="slap", config=SbiFingerprintScannerConfig.model_validate(sim.config_overlay())
    )
    others = (Finger.RIGHT_MIDDLE, Finger.RIGHT_RING, Finger.RIGHT_LITTLE)
    try:
        await scanner.connect()
        own = await scanner.capture_slap(Slap.RIGHT_FOUR, missing=others)
        sim.present(12)
        other = await scanner.capture_slap(Slap.RIGHT_FOUR, missing=others)
        sim.present(None)
        toy = await scanner.capture_slap(Slap.RIGHT_FOUR, missing=others)
    finally:
        await scanner.disconnect()
        await sim.stop()

    def index_finger(result: CaptureResult) -> FingerTemplate:
        (capture,) = result.captures
        assert capture.bio_subtype == Finger.RIGHT_INDEX
        return extract_template(capture.bio_value, finger_position=2)

    assert match_score(index_finger(own), template(11, 0)) >= DEFAULT_THRESHOLD
    assert match_score(index_finger(other), template(11, 0)) < DEFAULT_THRESHOLD
    with Image.open(io.BytesIO(toy.captures[0].bio_value)) as image:
        assert image.size == (64, 80)  # the generic print when nobody is presented


def test_an_impression_drawn_from_a_stdlib_rng_is_deterministic() -> None:
    finger = SyntheticFinger(person_seed=5, finger=7)

    assert finger.impression(rng=random.Random(1)) == finger.impression(rng=random.Random(1))
    assert 7.5 <= finger.ridge_period <= 10.5
