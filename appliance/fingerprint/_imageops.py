"""The image operations of the extraction, in numpy alone.

SciPy's `ndimage` and scikit-image's `skeletonize` did this work before, but importing
them costs about 50 MiB of the fingerprint worker's memory (SciPy's `ndimage` loads
`scipy.special`, `scipy.linalg` and `scipy.sparse`; scikit-image loads SciPy again and
more), for a handful of filters on one small image (docs/footprint.md). Each function
here says which SciPy operation it stands for; they compute the same thing, with the
borders handled the same way (`mode="reflect"` for filters, an empty outside for binary
morphology), in float64 as SciPy does, with float32 results.
"""

from __future__ import annotations

import math
from typing import Final

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]
Labels = npt.NDArray[np.int32]


# ---------------------------------------------------------------- linear filters


def _along(
    image: npt.NDArray[np.float64], axis: int, start: int, stop: int
) -> npt.NDArray[np.float64]:
    index: list[slice] = [slice(None), slice(None)]
    index[axis] = slice(start, stop)
    return image[tuple(index)]


def _reflected(image: FloatArray, axis: int, width: int) -> npt.NDArray[np.float64]:
    """`image` in float64, extended by `width` mirrored pixels on both sides of `axis`
    (SciPy's "reflect": d c b a | a b c d | d c b a)."""
    pad = [(0, 0), (0, 0)]
    pad[axis] = (width, width)
    return np.pad(image.astype(np.float64), pad, mode="symmetric")


def correlate1d(image: FloatArray, weights: npt.NDArray[np.float64], axis: int) -> FloatArray:
    """`scipy.ndimage.correlate1d(image, weights, axis, mode="reflect")` for an odd number
    of weights: each output pixel is the weighted sum of its neighbours along `axis`."""
    radius = len(weights) // 2
    padded = _reflected(image, axis, radius)
    length = image.shape[axis]

    def taps(offset: int) -> npt.NDArray[np.float64]:
        return _along(padded, axis, offset, offset + length)

    # Mirror-image weights are applied to the pair's sum, as SciPy does; the two working
    # arrays are reused, not made anew for each weight.
    total: npt.NDArray[np.float64] = np.multiply(taps(radius), weights[radius])
    term = np.empty_like(total)
    for offset in range(radius):
        weight, mirrored = weights[offset], weights[-1 - offset]
        if weight == mirrored:
            np.add(taps(offset), taps(2 * radius - offset), out=term)
            total += np.multiply(term, weight, out=term)
        else:
            total += np.multiply(taps(offset), weight, out=term)
            total += np.multiply(taps(2 * radius - offset), mirrored, out=term)
    return total.astype(np.float32)


def gaussian_filter(image: FloatArray, sigma: float) -> FloatArray:
    """`scipy.ndimage.gaussian_filter(image, sigma)`: the kernel cut at 4 sigma."""
    radius = int(4.0 * sigma + 0.5)
    x = np.arange(-radius, radius + 1, dtype=np.float64)
    kernel = np.exp(-0.5 / (sigma * sigma) * x * x)
    kernel /= kernel.sum()
    return correlate1d(correlate1d(image, kernel, 0), kernel, 1)


_DERIVATIVE: Final = np.array([-1.0, 0.0, 1.0])
_SMOOTHING: Final = np.array([1.0, 2.0, 1.0])


def sobel(image: FloatArray, axis: int) -> FloatArray:
    """`scipy.ndimage.sobel(image, axis)`: the derivative along `axis`, smoothed across."""
    return correlate1d(correlate1d(image, _DERIVATIVE, axis), _SMOOTHING, 1 - axis)


def uniform_filter(image: FloatArray, size: int) -> FloatArray:
    """`scipy.ndimage.uniform_filter(image, size)` for an odd `size`: the mean of the
    `size` x `size` square around each pixel."""
    result = image
    for axis in (0, 1):
        # Running sums (exact: the inputs are float32 in float64), differenced `size` apart.
        sums = np.cumsum(_reflected(result, axis, size // 2), axis=axis)
        length = result.shape[axis]
        window = _along(sums, axis, size - 1, size - 1 + length).copy()
        later = [slice(None), slice(None)]
        later[axis] = slice(1, None)
        window[tuple(later)] -= _along(sums, axis, 0, length - 1)
        del sums
        result = np.divide(window, size, out=window).astype(np.float32)
    return result


def zoom(image: FloatArray, factor: float) -> FloatArray:
    """`scipy.ndimage.zoom(image, factor, order=1)`: linear interpolation onto a grid
    `factor` times as fine, the corner pixels kept in the corners."""
    result = image.astype(np.float64)
    for axis in (0, 1):
        size = result.shape[axis]
        out = round(size * factor)
        position = np.arange(out) * ((size - 1) / (out - 1) if out > 1 else 0.0)
        lower = np.minimum(np.floor(position).astype(np.intp), size - 1)
        upper = np.minimum(lower + 1, size - 1)
        weight = position - lower
        low, high = np.take(result, lower, axis=axis), np.take(result, upper, axis=axis)
        shape = [1, 1]
        shape[axis] = out
        weight = weight.reshape(shape)
        result = low * (1 - weight) + high * weight
    return result.astype(np.float32)


# ---------------------------------------------------------------- binary morphology


def _shifted(image: BoolArray, dy: int, dx: int) -> BoolArray:
    """`image` moved by (dy, dx), with nothing coming in from outside."""
    height, width = image.shape
    moved = np.zeros_like(image)
    moved[max(dy, 0) : height + min(dy, 0), max(dx, 0) : width + min(dx, 0)] = image[
        max(-dy, 0) : height + min(-dy, 0), max(-dx, 0) : width + min(-dx, 0)
    ]
    return moved


_CROSS: Final = ((-1, 0), (1, 0), (0, -1), (0, 1))


def dilate(image: BoolArray, iterations: int = 1) -> BoolArray:
    """`scipy.ndimage.binary_dilation` with the 4-neighbour cross."""
    for _ in range(iterations):
        grown = image.copy()
        for dy, dx in _CROSS:
            grown |= _shifted(image, dy, dx)
        image = grown
    return image


def erode(image: BoolArray, iterations: int = 1) -> BoolArray:
    """`scipy.ndimage.binary_erosion` with the 4-neighbour cross: the outside counts as
    empty, so the image's edge erodes too."""
    for _ in range(iterations):
        kept = image.copy()
        for dy, dx in _CROSS:
            kept &= _shifted(image, dy, dx)
        image = kept
    return image


def opening(image: BoolArray, iterations: int) -> BoolArray:
    """`scipy.ndimage.binary_opening(image, iterations=...)`."""
    return dilate(erode(image, iterations), iterations)


def closing(image: BoolArray, iterations: int) -> BoolArray:
    """`scipy.ndimage.binary_closing(image, iterations=...)`."""
    return erode(dilate(image, iterations), iterations)


def label(image: BoolArray, *, connectivity: int = 1) -> tuple[Labels, int]:
    """`scipy.ndimage.label`: each connected set of True pixels numbered 1, 2, ... in the
    order its first pixel comes in a row-by-row scan; 0 elsewhere. Neighbours share an
    edge (`connectivity` 1) or an edge or a corner (2).

    The runs of True pixels along each row are the nodes (a few thousand, where pixels
    are a hundred thousand); runs in adjacent rows that touch are joined by union-find,
    vectorised: every round hooks each tree's root to the smallest root across any of
    its links, then flattens the trees, until no link joins two trees. A tree's root ends
    as its first run in scan order, which gives the order of the numbers."""
    height, width = image.shape
    begins = image & ~_shifted(image, 0, 1)  # a run starts where its left neighbour is off
    run_of = np.cumsum(begins, dtype=np.int32).reshape(height, width) - 1
    runs = int(run_of[-1, -1]) + 1 if image.size else 0
    labels = np.zeros((height, width), dtype=np.int32)
    if runs == 0:
        return labels, 0
    firsts: list[npt.NDArray[np.int32]] = []
    seconds: list[npt.NDArray[np.int32]] = []
    for dx in (0,) if connectivity == 1 else (-1, 0, 1):
        # Pixels of each row with a True pixel below them (dx = 0) or diagonally below.
        above = image[:-1] & _shifted(image, 0, -dx)[1:]
        ys, xs = np.nonzero(above)
        upper = run_of[ys, xs]
        lower = run_of[ys + 1, xs + dx]
        # Along a pair of touching runs the same link repeats pixel after pixel: once is enough.
        new = np.ones(len(upper), dtype=bool)
        new[1:] = (upper[1:] != upper[:-1]) | (lower[1:] != lower[:-1])
        firsts.append(upper[new])
        seconds.append(lower[new])
    first, second = np.concatenate(firsts), np.concatenate(seconds)
    parent = np.arange(runs, dtype=np.int32)
    while True:
        a, b = parent[first], parent[second]
        apart = a != b
        if not apart.any():
            break
        low, high = np.minimum(a[apart], b[apart]), np.maximum(a[apart], b[apart])
        np.minimum.at(parent, high, low)
        while True:
            flattened = parent[parent]
            if np.array_equal(flattened, parent):
                break
            parent = flattened
    is_root = parent == np.arange(runs, dtype=np.int32)
    component = np.cumsum(is_root, dtype=np.int32)  # roots in scan order: 1, 2, ...
    np.copyto(labels, component[parent][run_of], where=image)
    return labels, int(component[-1])


def fill_holes(image: BoolArray) -> BoolArray:
    """`scipy.ndimage.binary_fill_holes`: empty areas that do not reach the border (through
    edge-sharing neighbours) are filled."""
    holes, count = label(~image, connectivity=1)
    if count == 0:
        return image.copy()
    border = np.concatenate([holes[0], holes[-1], holes[:, 0], holes[:, -1]])
    outside = np.zeros(count + 1, dtype=bool)
    outside[border] = True
    outside[0] = True  # the image itself
    return image | ~outside[holes]


def farther_than(mask: BoolArray, distance: float) -> BoolArray:
    """The pixels of `mask` farther than `distance` from every pixel outside it and from
    the image's edge: `scipy.ndimage.distance_transform_edt(np.pad(mask, 1))[1:-1, 1:-1]
    > distance`, as an erosion by the disc of that radius."""
    reach = math.floor(distance)
    height, width = mask.shape
    outside = np.pad(~mask, reach + 1, constant_values=True)
    # Per row of the disc, the outside pixels in the row's span, from running counts.
    counts = np.concatenate(
        [np.zeros((outside.shape[0], 1), dtype=np.intp), np.cumsum(outside, axis=1)], axis=1
    )
    near = np.zeros((height, width), dtype=bool)
    for dy in range(-reach, reach + 1):
        span = math.isqrt(math.floor(distance * distance) - dy * dy)
        rows = slice(reach + 1 + dy, reach + 1 + dy + height)
        left = reach + 1 - span
        hits = (
            counts[rows, left + 2 * span + 1 : left + 2 * span + 1 + width]
            - counts[rows, left : left + width]
        )
        near |= hits > 0
    return mask & ~near


# ---------------------------------------------------------------- thinning


def _guo_hall_tables() -> tuple[BoolArray, BoolArray]:
    """For each of the 256 neighbourhoods, whether the first and the second sub-iteration
    of Guo and Hall's thinning remove the pixel ("Parallel thinning with two-subiteration
    algorithms", CACM 32(3), 1989: conditions G1, G2 and G3 or G3'). Bit i of a
    neighbourhood is its i-th neighbour anticlockwise from the east one (x1 ... x8 in the
    paper). Unlike Zhang and Suen's, its skeletons are one pixel wide on diagonals too,
    so that crossing numbers find no false minutiae on every staircase."""
    first = np.zeros(256, dtype=bool)
    second = np.zeros(256, dtype=bool)
    for code in range(256):
        # x[k] is x_k of the paper (x[0] unused), and x9 is x1 again.
        x = [0, *((code >> bit) & 1 for bit in range(8)), code & 1]
        crossings = sum(not x[2 * i - 1] and (x[2 * i] or x[2 * i + 1]) for i in range(1, 5))
        n1 = sum(x[2 * k - 1] or x[2 * k] for k in range(1, 5))
        n2 = sum(x[2 * k] or x[2 * k + 1] for k in range(1, 5))
        if crossings == 1 and 2 <= min(n1, n2) <= 3:
            first[code] = not ((x[2] or x[3] or not x[8]) and x[1])
            second[code] = not ((x[6] or x[7] or not x[4]) and x[5])
    return first, second


_FIRST_PASS, _SECOND_PASS = _guo_hall_tables()
_ANTICLOCKWISE: Final = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))
"""(dy, dx) of x1 ... x8: east, north-east, north, ... south-east."""


def thin(image: BoolArray) -> BoolArray:
    """A one-pixel-wide, 8-connected skeleton of `image` (Guo and Hall's parallel
    thinning, as scikit-image's `thin`), the outside counted as empty."""
    skeleton = image.copy()
    while True:
        removed = False
        for table in (_FIRST_PASS, _SECOND_PASS):
            code = np.zeros(skeleton.shape, dtype=np.uint8)
            for bit, (dy, dx) in enumerate(_ANTICLOCKWISE):
                code |= _shifted(skeleton, -dy, -dx).astype(np.uint8) << bit
            remove = skeleton & table[code]
            if remove.any():
                skeleton &= ~remove
                removed = True
        if not removed:
            return skeleton
