"""The extraction's numpy image operations against the SciPy operations they stand for
(SciPy stays installed for the simulator's fingerprints), and the thinning's properties."""

from __future__ import annotations

import functools
import io
import subprocess
import sys

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image
from scipy import ndimage

from appliance.fingerprint import _imageops as ops
from sim.fingerprints import SyntheticFinger


@functools.cache
def _finger(person: int) -> npt.NDArray[np.float32]:
    """A synthetic impression, ridges bright, as the extraction sees it."""
    png = SyntheticFinger(person_seed=person, finger=2).impression(
        rng=np.random.default_rng([person, 2, 0])
    )
    with Image.open(io.BytesIO(png)) as image:
        return 255.0 - np.asarray(image.convert("L"), dtype=np.float32)


def _noise(seed: int, shape: tuple[int, int] = (131, 97)) -> npt.NDArray[np.float32]:
    return np.random.default_rng(seed).normal(0, 40, shape).astype(np.float32)


IMAGES = [
    pytest.param(lambda: _finger(1), id="finger-1"),
    pytest.param(lambda: _finger(2), id="finger-2"),
]
IMAGES += [pytest.param(functools.partial(_noise, seed), id=f"noise-{seed}") for seed in (1, 2)]


@pytest.mark.parametrize("make", IMAGES)
def test_linear_filters_equal_scipys_to_the_bit(make: object) -> None:
    image = make()  # type: ignore[operator]
    assert np.array_equal(ops.uniform_filter(image, 17), ndimage.uniform_filter(image, 17))
    squared = image * image
    assert np.array_equal(ops.uniform_filter(squared, 17), ndimage.uniform_filter(squared, 17))
    for sigma in (4.0, 6.0):
        assert np.array_equal(
            ops.gaussian_filter(image, sigma), ndimage.gaussian_filter(image, sigma)
        )
    for axis in (0, 1):
        assert np.array_equal(ops.sobel(image, axis), ndimage.sobel(image, axis=axis))


@pytest.mark.parametrize("make", IMAGES)
@pytest.mark.parametrize("level", [-20.0, 40.0, 120.0])
def test_binary_morphology_and_labels_equal_scipys(make: object, level: float) -> None:
    mask = make() > level  # type: ignore[operator]
    assert np.array_equal(ops.opening(mask, 3), ndimage.binary_opening(mask, iterations=3))
    assert np.array_equal(ops.closing(mask, 4), ndimage.binary_closing(mask, iterations=4))
    assert np.array_equal(ops.fill_holes(mask), ndimage.binary_fill_holes(mask))
    for connectivity in (1, 2):
        structure = ndimage.generate_binary_structure(2, connectivity)
        labels, count = ops.label(mask, connectivity=connectivity)
        expected, expected_count = ndimage.label(mask, structure=structure)
        assert count == expected_count
        assert np.array_equal(labels, expected)  # the same numbers, in scan order
    edt = ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    for distance in (1.0, 4.5, 12.0):
        assert np.array_equal(ops.farther_than(mask, distance), edt > distance)


def test_labels_of_empty_and_full_images() -> None:
    empty = np.zeros((5, 7), dtype=bool)
    assert ops.label(empty)[1] == 0
    assert not ops.label(empty)[0].any()
    labels, count = ops.label(~empty)
    assert count == 1
    assert (labels == 1).all()
    assert np.array_equal(ops.fill_holes(empty), empty)


def test_a_spiral_is_one_component_however_long_its_path() -> None:
    """Union-find, not a fixed number of propagation rounds: a long winding path."""
    spiral = np.zeros((41, 41), dtype=bool)
    top, left, bottom, right = 0, 0, 40, 40
    while top <= bottom and left <= right:
        spiral[top, left : right + 1] = True
        spiral[top : bottom + 1, right] = True
        spiral[bottom, left : right + 1] = True
        spiral[top + 2 : bottom + 1, left] = True
        spiral[top + 2, left : right - 1] = True
        top, left, bottom, right = top + 2, left + 2, bottom - 2, right - 2
        right -= 2
    labels, count = ops.label(spiral)
    expected, expected_count = ndimage.label(spiral)
    assert count == expected_count
    assert np.array_equal(labels, expected)


def test_zoom_interpolates_linearly_with_the_corners_kept() -> None:
    image = _finger(3)
    for factor in (0.5, 1.25, 500 / 600):
        zoomed = ops.zoom(image, factor)
        expected = ndimage.zoom(image, factor, order=1)
        assert zoomed.shape == expected.shape
        # SciPy's "constant" mode may put its cval (0) in the last column when the last
        # coordinate rounds past the edge; the rest is the same interpolation.
        assert np.allclose(zoomed[:-1, :-1], expected[:-1, :-1], atol=1e-3)
        assert zoomed[0, 0] == image[0, 0]
        assert zoomed[-1, -1] == image[-1, -1]


def _eight_connected_components(mask: npt.NDArray[np.bool_]) -> int:
    return int(ndimage.label(mask, structure=np.ones((3, 3)))[1])


@pytest.mark.parametrize("person", [1, 2, 3])
def test_thinning_gives_a_one_pixel_skeleton_of_the_same_pieces(person: int) -> None:
    ridges = _finger(person) > 127
    skeleton = ops.thin(ridges)
    assert not (skeleton & ~ridges).any()  # only ridge pixels remain
    assert skeleton.sum() < ridges.sum() / 3
    # No 2x2 block anywhere: one pixel wide, diagonals included.
    blocks = skeleton[:-1, :-1] & skeleton[1:, :-1] & skeleton[:-1, 1:] & skeleton[1:, 1:]
    assert not blocks.any()
    assert _eight_connected_components(skeleton) == _eight_connected_components(ridges)
    assert np.array_equal(ops.thin(skeleton), skeleton)  # nothing more to remove


def test_a_thick_bar_thins_to_a_line() -> None:
    bar = np.zeros((20, 60), dtype=bool)
    bar[6:14, 5:55] = True
    skeleton = ops.thin(bar)
    assert _eight_connected_components(skeleton) == 1
    assert set(skeleton[:, 20:40].sum(axis=0)) == {1}  # one pixel across, mid-bar


def test_the_extraction_imports_neither_scipy_nor_scikit_image() -> None:
    """The worker's weight (docs/footprint.md): numpy and Pillow only."""
    code = (
        "import sys; import appliance.fingerprint._extract; "
        "print(sorted({m.split('.')[0] for m in sys.modules} & {'scipy', 'skimage', 'pydantic'}))"
    )
    found = subprocess.run(
        [sys.executable, "-c", code], check=True, capture_output=True, text=True
    ).stdout
    assert found.strip() == "[]"
