"""1:1 minutiae matching: local structures to find alignments, a global pass to count.

Two stages, in the family of Jiang and Yau ("Fingerprint minutiae matching based on the
local and global structures", ICPR 2000) and of NIST's Bozorth3 inter-minutia tables:

1. Local structures. Each minutia is described by its K nearest neighbours, each as
   (distance, direction of the neighbour seen from the minutia, difference of the two
   minutia directions): invariant to where the finger sits and how it is turned. Every
   probe/reference pair of minutiae gets a local similarity, the share of neighbours that
   agree within tolerances wide enough for skin distortion.
2. Global consolidation. The most similar local pairs each propose a rigid alignment
   (the rotation and translation that superpose the two minutiae). Under each, the probe
   is moved onto the reference and minutiae pair up one-to-one (mutual nearest within a
   distance that grows away from the anchor, as distortion does, and a direction
   tolerance); the best alignment is refined by a least-squares fit on its pairs and
   counted again.

The score counts the pairs, each weighing (1 + its local similarity) / 2, so that pairs
whose neighbourhoods agree count fully and chance coincidences half; the sum w is
normalised by the minutiae each side has in the region both prints cover (bounding boxes
after alignment): score = w^2 / (max(m_p, M) * max(m_r, M)), clipped to [0, 1]. The
floor M keeps a handful of pairs in a sliver of overlap from scoring like a full match.

All stages are array operations on at most MAX_MINUTIAE minutiae a side; no loop runs
per minutia pair.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from ._iso import PPCM_500_DPI, FingerTemplate

_NEIGHBOURS: Final = 8
_CANDIDATES: Final = 12
_MIN_OVERLAP: Final = 12
_LOCAL_DISTANCE: Final = 6.0
_LOCAL_DISTANCE_SLOPE: Final = 0.06
_LOCAL_COSINE: Final = math.cos(math.radians(15))
_PAIR_DISTANCE: Final = 8.0
_PAIR_DISTANCE_SLOPE: Final = 0.04
_PAIR_COSINE: Final = math.cos(math.radians(25))
_OVERLAP_MARGIN: Final = 10.0

Floats = npt.NDArray[np.float64]
Floats32 = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _Minutiae:
    """One template's minutiae as arrays, with the local structure of each."""

    xy: Floats  # (n, 2), pixels at 500 dpi
    theta: Floats  # (n,), radians in image axes (y down)
    direction: Floats32  # (n, 2): unit vectors of theta
    distance: Floats32  # (n, K): to each nearest neighbour, NaN where there is none
    bearing: Floats32  # (n, K, 2): unit vector to the neighbour, relative to theta
    turn: Floats32  # (n, K, 2): unit vector of the neighbour's theta, relative to theta


def score(probe: FingerTemplate, reference: FingerTemplate) -> float:
    """`match_score`'s work (see `_deferred`)."""
    a, b = _prepare(probe), _prepare(reference)
    if len(a.xy) < 3 or len(b.xy) < 3:
        return 0.0
    local = _local_similarity(a, b)
    flat = np.argsort(-local, axis=None, kind="stable")[:_CANDIDATES]
    anchors_a, anchors_b = np.unravel_index(flat, local.shape)
    rotation = b.theta[anchors_b] - a.theta[anchors_a]
    moved = _rotate(a.xy, rotation)
    moved += (b.xy[anchors_b] - moved[np.arange(len(flat)), anchors_a])[:, None, :]
    anchor_distance = np.linalg.norm(a.xy[None, :, :] - a.xy[anchors_a][:, None, :], axis=2)
    pairs = _pairs(moved, rotation, anchor_distance, a, b)
    weights = (pairs * (1.0 + local)).sum(axis=(1, 2))
    best = int(np.argmax(weights))
    best_weight, best_moved = float(weights[best]), moved[best]

    # Refine the best alignment on all of its pairs, then pair again under it.
    ia, ib = np.nonzero(pairs[best])
    if len(ia) >= 3:
        fit_rotation, fit_translation = _rigid_fit(a.xy[ia], b.xy[ib])
        refined_moved = _rotate(a.xy, np.array([fit_rotation])) + fit_translation
        spread = np.linalg.norm(a.xy - a.xy[ia].mean(axis=0), axis=1)[None]
        refined = _pairs(refined_moved, np.array([fit_rotation]), spread, a, b)
        refined_weight = float((refined[0] * (1.0 + local)).sum())
        if refined_weight > best_weight:
            best_weight, best_moved = refined_weight, refined_moved[0]
    return _normalised(best_weight, best_moved, b.xy)


def _prepare(template: FingerTemplate) -> _Minutiae:
    scale = PPCM_500_DPI / template.resolution_ppcm
    xy = np.array([(m.x, m.y) for m in template.minutiae], dtype=np.float64).reshape(-1, 2)
    xy *= scale
    # Record angles turn counter-clockwise with y down the image; work in image axes.
    theta = -np.array([m.radians for m in template.minutiae], dtype=np.float64)
    n = len(xy)
    k = min(_NEIGHBOURS, max(n - 1, 0))
    distance = np.full((n, _NEIGHBOURS), np.nan)
    bearing = np.zeros((n, _NEIGHBOURS))
    turn = np.zeros((n, _NEIGHBOURS))
    if k > 0:
        delta = xy[None, :, :] - xy[:, None, :]
        between = np.hypot(delta[..., 0], delta[..., 1])
        np.fill_diagonal(between, np.inf)
        nearest = np.argsort(between, axis=1, kind="stable")[:, :k]
        rows = np.arange(n)[:, None]
        distance[:, :k] = between[rows, nearest]
        bearing[:, :k] = np.arctan2(delta[rows, nearest, 1], delta[rows, nearest, 0])
        bearing[:, :k] -= theta[:, None]
        turn[:, :k] = theta[nearest] - theta[:, None]
    return _Minutiae(
        xy=xy,
        theta=theta,
        direction=_unit(theta),
        distance=distance.astype(np.float32),
        bearing=_unit(bearing),
        turn=_unit(turn),
    )


def _local_similarity(a: _Minutiae, b: _Minutiae) -> Floats:
    """(n_a, n_b): the share of neighbours the two local structures have in common."""
    n_a, n_b = len(a.xy), len(b.xy)
    da, db = a.distance.reshape(-1, 1), b.distance.reshape(1, -1)
    # NaN (no such neighbour) compares false: absent neighbours agree with nothing.
    agree = np.abs(da - db) < _LOCAL_DISTANCE + _LOCAL_DISTANCE_SLOPE * np.minimum(da, db)
    # Two angles are within the tolerance when the cosine of their difference is above
    # the tolerance's cosine: a product of unit vectors, cheaper than wrapping angles.
    agree &= a.bearing.reshape(-1, 2) @ b.bearing.reshape(-1, 2).T > _LOCAL_COSINE
    agree &= a.turn.reshape(-1, 2) @ b.turn.reshape(-1, 2).T > _LOCAL_COSINE
    agree4 = agree.reshape(n_a, _NEIGHBOURS, n_b, _NEIGHBOURS)
    # Each neighbour pairs with at most one: count the side with fewer agreeing.
    common = np.minimum(agree4.any(axis=3).sum(axis=1), agree4.any(axis=1).sum(axis=2))
    known_a = (~np.isnan(a.distance)).sum(axis=1)[:, None]
    known_b = (~np.isnan(b.distance)).sum(axis=1)[None, :]
    similarity: Floats = common / np.maximum(np.minimum(known_a, known_b), 1)
    return similarity


def _pairs(
    moved: Floats, rotation: Floats, anchor_distance: Floats, a: _Minutiae, b: _Minutiae
) -> npt.NDArray[np.bool_]:
    """(T, n_a, n_b): one-to-one pairs (mutual nearest within tolerance) per alignment."""
    delta = moved[:, :, None, :] - b.xy[None, None, :, :]
    distance = np.hypot(delta[..., 0], delta[..., 1])
    reach = _PAIR_DISTANCE + _PAIR_DISTANCE_SLOPE * anchor_distance
    turned = _rotate(a.direction.astype(np.float64), rotation)
    aligned = turned @ b.direction.T.astype(np.float64) > _PAIR_COSINE
    cost = np.where((distance < reach[:, :, None]) & aligned, distance, np.inf)
    nearest_b = np.argmin(cost, axis=2)
    nearest_a = np.argmin(cost, axis=1)
    t, n_a, n_b = cost.shape
    ti, ai = np.indices((t, n_a))
    chosen = (nearest_a[ti, nearest_b] == ai) & np.isfinite(cost[ti, ai, nearest_b])
    mutual = np.zeros((t, n_a, n_b), dtype=bool)
    mutual[ti[chosen], ai[chosen], nearest_b[chosen]] = True
    return mutual


def _normalised(weight: float, moved_a: Floats, xy_b: Floats) -> float:
    """The pair weight normalised by the minutiae each side has where both prints are."""
    overlap_a = max(int(_inside_box(xy_b, moved_a).sum()), _MIN_OVERLAP)
    overlap_b = max(int(_inside_box(moved_a, xy_b).sum()), _MIN_OVERLAP)
    # A pair weighs 1 plus its local similarity: at most 2.
    effective = weight / 2
    return float(min(1.0, effective * effective / (overlap_a * overlap_b)))


def _inside_box(points: Floats, region: Floats) -> npt.NDArray[np.bool_]:
    low = region.min(axis=0) - _OVERLAP_MARGIN
    high = region.max(axis=0) + _OVERLAP_MARGIN
    inside: npt.NDArray[np.bool_] = np.all((points >= low) & (points <= high), axis=1)
    return inside


def _rigid_fit(source: Floats, target: Floats) -> tuple[float, Floats]:
    """Least-squares rotation and translation taking source onto target (2-D Kabsch)."""
    source_centre, target_centre = source.mean(axis=0), target.mean(axis=0)
    s, t = source - source_centre, target - target_centre
    rotation = math.atan2(
        float(np.sum(s[:, 0] * t[:, 1] - s[:, 1] * t[:, 0])),
        float(np.sum(s[:, 0] * t[:, 0] + s[:, 1] * t[:, 1])),
    )
    moved_centre: Floats = _rotate(source_centre[None, :], np.array([rotation]))[0, 0]
    return rotation, target_centre - moved_centre


def _rotate(points: Floats, angle: Floats) -> Floats:
    """(n, 2) points turned about the origin by each of (T,) angles: (T, n, 2)."""
    cos, sin = np.cos(angle)[:, None], np.sin(angle)[:, None]
    x, y = points[None, :, 0], points[None, :, 1]
    return np.stack([cos * x - sin * y, sin * x + cos * y], axis=-1)


def _unit(angle: Floats) -> Floats32:
    return np.stack([np.cos(angle), np.sin(angle)], axis=-1).astype(np.float32)
