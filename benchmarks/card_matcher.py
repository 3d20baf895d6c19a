"""Activation matcher figures on synthetic people: FAR and FRR, and what they cost.

Each synthetic person (sim.fingerprints) gives one finger (right index, ISO position 2).
Its first impression is enrolled: extracted, written as an ISO/IEC 19794-2 record and
read back, as the card chip would hold it. Its other impressions are live captures at
activation. Genuine comparisons: every live capture against its own enrolment. Impostor
comparisons: every person's first live capture against every other person's enrolment
(people x (people - 1), 39,800 for 200 people).

Prints one JSON object. Targets (issue): FAR <= 0.1 % at FRR <= 2 % at the configured
threshold; extraction <= 300 ms per image and one comparison <= 10 ms on the station.
The people are synthetic: these figures show that the pipeline works on plausible prints,
not what it would achieve on a population of real fingers.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from typing import Any

import numpy as np

from appliance.fingerprint import (
    DEFAULT_THRESHOLD,
    FingerTemplate,
    decode_iso19794_2,
    encode_iso19794_2,
    extract_template,
    match_score,
)
from sim.fingerprints import SyntheticFinger

_FINGER = 2
_FIRST_PERSON = 10_000
_TARGET_FAR = 0.001


def matcher_figures(
    *, people: int = 200, impressions: int = 2, threshold: float | None = None
) -> dict[str, Any]:
    """Genuine and impostor score distributions and the error rates at `threshold`."""
    if people < 2 or impressions < 2:
        raise ValueError("need at least two people with two impressions each")
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    started = time.perf_counter()
    extraction_s: list[float] = []
    enrolled: list[FingerTemplate] = []
    live: list[list[FingerTemplate]] = []
    record_bytes: list[int] = []
    for person in range(_FIRST_PERSON, _FIRST_PERSON + people):
        finger = SyntheticFinger(person_seed=person, finger=_FINGER)
        templates = []
        for capture in range(impressions):
            image = finger.impression(rng=np.random.default_rng([person, _FINGER, capture]))
            begun = time.perf_counter()
            templates.append(extract_template(image, finger_position=_FINGER))
            extraction_s.append(time.perf_counter() - begun)
        record = encode_iso19794_2(templates[0])
        record_bytes.append(len(record))
        enrolled.append(decode_iso19794_2(record))
        live.append(templates[1:])
    prepared_s = time.perf_counter() - started

    comparison_s: list[float] = []

    def compare(probe: FingerTemplate, reference: FingerTemplate) -> float:
        begun = time.perf_counter()
        score = match_score(probe, reference)
        comparison_s.append(time.perf_counter() - begun)
        return score

    genuine = np.array([compare(probe, enrolled[p]) for p in range(people) for probe in live[p]])
    impostor = np.array(
        [compare(live[p][0], enrolled[r]) for p in range(people) for r in range(people) if r != p]
    )
    at_target = _threshold_for_far(impostor, _TARGET_FAR)
    return {
        "benchmark": "card_matcher",
        "machine": platform.machine(),
        "people": people,
        "impressions_per_person": impressions,
        "genuine_comparisons": len(genuine),
        "impostor_comparisons": len(impostor),
        "threshold": threshold,
        "far": float(np.mean(impostor >= threshold)),
        "frr": float(np.mean(genuine < threshold)),
        "threshold_for_far_0_1_percent": at_target,
        "frr_at_far_0_1_percent": float(np.mean(genuine < at_target)),
        "eer": _equal_error_rate(genuine, impostor),
        "genuine_scores": _summary(genuine),
        "impostor_scores": _summary(impostor),
        "minutiae_median": statistics.median(
            len(t.minutiae) for t in [*enrolled, *(t for ts in live for t in ts)]
        ),
        "record_bytes_median": statistics.median(record_bytes),
        "extraction_ms_median": round(1000 * statistics.median(extraction_s), 2),
        "extraction_ms_p95": round(1000 * float(np.percentile(extraction_s, 95)), 2),
        "comparison_ms_median": round(1000 * statistics.median(comparison_s), 3),
        "comparison_ms_p95": round(1000 * float(np.percentile(comparison_s, 95)), 3),
        "generation_and_extraction_s": round(prepared_s, 1),
        "total_s": round(time.perf_counter() - started, 1),
    }


def _threshold_for_far(impostor: np.ndarray, far: float) -> float:
    """The lowest threshold at which at most `far` of the impostor scores are accepted."""
    allowed = int(far * len(impostor))
    ranked = np.sort(impostor)[::-1]
    return float(np.nextafter(ranked[allowed], np.inf))


def _equal_error_rate(genuine: np.ndarray, impostor: np.ndarray) -> float:
    candidates = np.unique(np.concatenate([genuine, impostor]))
    far = np.array([np.mean(impostor >= t) for t in candidates])
    frr = np.array([np.mean(genuine < t) for t in candidates])
    crossing = int(np.argmin(np.abs(far - frr)))
    return float((far[crossing] + frr[crossing]) / 2)


def _summary(scores: np.ndarray) -> dict[str, float]:
    quantiles = (0, 1, 2, 5, 50, 95, 99, 99.9, 100)
    values = np.percentile(scores, quantiles)
    return {f"p{q:g}": round(float(v), 4) for q, v in zip(quantiles, values, strict=True)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--people", type=int, default=200)
    parser.add_argument("--impressions", type=int, default=2)
    parser.add_argument("--threshold", type=float, default=None)
    args = parser.parse_args()
    figures = matcher_figures(
        people=args.people, impressions=args.impressions, threshold=args.threshold
    )
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
