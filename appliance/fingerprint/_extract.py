"""Minutiae extraction: a fingerprint image in, an ISO/IEC 19794-2 template out.

The classical pipeline of Hong, Wan and Jain ("Fingerprint image enhancement: algorithm
and performance evaluation", IEEE TPAMI 1998) with crossing-number detection (Maltoni et
al., Handbook of Fingerprint Recognition, 2nd ed., §3.7):

1. segmentation: the local grey-level spread separates the finger from the background;
2. local normalisation to zero mean and unit spread;
3. ridge orientation from smoothed gradient tensors (doubled angles), with coherence;
4. one ridge period for the image, from the peak of its power spectrum (a single-finger
   scanner at a fixed resolution does not need a per-block frequency map);
5. enhancement by a bank of even Gabor filters, one per quantised orientation, applied
   through the FFT and blended per pixel between the two nearest orientations;
6. binarisation, removal of specks and pinholes, thinning (Zhang and Suen);
7. crossing numbers on the skeleton: 1 is a ridge ending, 3 a bifurcation;
8. pruning of false minutiae: near the finger's edge, in clusters, and pairs closer than
   most of a ridge period (spurs, bridges, breaks, short islands);
9. direction: the smoothed ridge orientation at the minutia, turned to point into its own
   ridge (ending) or into the fork (bifurcation), decided by where its skeleton lies.

The work is a fixed number of array passes over the image (16 inverse FFTs dominate), so
its time depends on the image size, not on its content. It needs numpy and Pillow only
(`_imageops` has the filters and the morphology): the worker that runs it stays small.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from collections.abc import Iterator
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image

from ._deferred import MAX_MINUTIAE, WORKING_DPI, ExtractionError
from ._imageops import (
    closing,
    farther_than,
    fill_holes,
    gaussian_filter,
    label,
    opening,
    sobel,
    thin,
    uniform_filter,
    zoom,
)
from ._iso import ANGLE_UNITS, PPCM_500_DPI, FingerTemplate, Minutia, MinutiaKind

_MIN_SIDE: Final = 96
_MAX_SIDE: Final = 2048
_BINS: Final = 16
_EDGE_MARGIN: Final = 12.0
"""Pixels: minutiae closer than this to the finger's edge are where ridges are cut off."""
FloatArray = npt.NDArray[np.float32]
BoolArray = npt.NDArray[np.bool_]


def extract(
    image: bytes | npt.NDArray[np.uint8],
    *,
    finger_position: int,
    resolution_dpi: int,
) -> FingerTemplate:
    """`extract_template`'s work (see `_deferred`)."""
    if not 1 <= finger_position <= 10:
        raise ValueError(f"finger position {finger_position} is not 1-10")
    if not 250 <= resolution_dpi <= 2000:
        raise ValueError(f"resolution {resolution_dpi} dpi is not 250-2000")
    gray = _decode(image)
    if resolution_dpi != WORKING_DPI:
        gray = zoom(gray, WORKING_DPI / resolution_dpi)
    height, width = gray.shape
    if min(height, width) < _MIN_SIDE:
        raise ExtractionError(f"a {width}x{height} image is too small for a fingerprint")

    ridges = 255.0 - gray  # ridges bright from here on
    mask, spread = _segment(ridges)
    normalised = np.where(mask, (ridges - uniform_filter(ridges, 17)) / spread, 0.0)
    normalised = normalised.astype(np.float32)
    orientation, coherence = _orientation(normalised, mask)
    period = _ridge_period(normalised, mask)
    enhanced = _enhance(normalised, orientation, period)
    skeleton = _skeleton(enhanced > 0, mask, period)
    minutiae = _minutiae(skeleton, mask, orientation, coherence, period)
    return FingerTemplate(
        width=width,
        height=height,
        resolution_ppcm=PPCM_500_DPI,
        finger_position=finger_position,
        quality=round(100 * float(np.mean(coherence[mask]))),
        minutiae=minutiae,
    )


def _decode(image: bytes | npt.NDArray[np.uint8]) -> FloatArray:
    if isinstance(image, np.ndarray):
        if image.ndim != 2 or image.dtype != np.uint8:
            raise ExtractionError(f"expected a 2-D uint8 array, got {image.ndim}-D {image.dtype}")
        return _checked(image.astype(np.float32))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            # Only the formats a scanner hands over: fewer parsers see untrusted bytes.
            with Image.open(io.BytesIO(image), formats=("PNG", "PPM")) as opened:
                width, height = opened.size
                # Decoded only when its size is sane: a header can promise gigapixels.
                pixels = (
                    None
                    if max(width, height) > _MAX_SIDE
                    else np.asarray(opened.convert("L"), dtype=np.float32)
                )
    except (
        OSError,
        ValueError,
        EOFError,
        SyntaxError,
        struct.error,
        Image.DecompressionBombWarning,
        Image.DecompressionBombError,
    ) as error:
        raise ExtractionError(f"not a readable PNG or PGM image: {error}") from error
    if pixels is None:
        raise ExtractionError(f"a {width}x{height} image is too large")
    return _checked(pixels)


def _checked(pixels: FloatArray) -> FloatArray:
    height, width = pixels.shape
    if min(height, width) < _MIN_SIDE or max(height, width) > _MAX_SIDE:
        raise ExtractionError(f"a {width}x{height} image is not a fingerprint's size")
    return pixels


def _segment(ridges: FloatArray) -> tuple[BoolArray, FloatArray]:
    """The finger's area, and the local grey-level spread used to normalise it."""
    mean = uniform_filter(ridges, 17)
    spread = np.sqrt(np.maximum(uniform_filter(ridges * ridges, 17) - mean * mean, 0))
    threshold = max(10.0, 0.35 * float(np.percentile(spread, 95)))
    mask = opening(spread > threshold, 3)
    labels, count = label(mask)
    if count == 0:
        raise ExtractionError("no fingerprint area found in the image")
    sizes = np.bincount(labels.ravel())[1:]
    largest = labels == 1 + int(np.argmax(sizes))
    mask = fill_holes(closing(largest, 4)) | largest
    if mask.sum() < 64 * 64:
        raise ExtractionError("the fingerprint area is too small to match")
    return mask, np.maximum(spread, threshold).astype(np.float32)


def _orientation(normalised: FloatArray, mask: BoolArray) -> tuple[FloatArray, FloatArray]:
    """Ridge orientation (radians modulo pi, image axes) and its coherence (0-1)."""
    gx = sobel(normalised, 1)
    gy = sobel(normalised, 0)
    gxx = gaussian_filter(gx * gx, 4.0)
    gyy = gaussian_filter(gy * gy, 4.0)
    gxy = gaussian_filter(gx * gy, 4.0)
    del gx, gy  # half a megabyte each, no longer needed
    # Doubled angles average without the 0/pi wrap; a second, wider pass bridges noise.
    cos2 = gaussian_filter(gxx - gyy, 6.0)
    sin2 = gaussian_filter(2 * gxy, 6.0)
    gradient = 0.5 * np.arctan2(sin2, cos2)
    coherence = np.hypot(gxx - gyy, 2 * gxy) / (gxx + gyy + 1e-6)
    orientation = np.mod(gradient + np.pi / 2, np.pi)
    return orientation.astype(np.float32), np.where(mask, coherence, 0).astype(np.float32)


def _ridge_period(normalised: FloatArray, mask: BoolArray) -> float:
    """The dominant ridge period in pixels, from the image's power spectrum."""
    window = np.where(mask, normalised, 0)
    power = np.abs(np.fft.rfft2(window)) ** 2
    fy = np.fft.fftfreq(window.shape[0])[:, None]
    fx = np.fft.rfftfreq(window.shape[1])[None, :]
    radius = np.hypot(fy, fx)
    # 5-15 px at 500 dpi covers the ridge spacing of children's to large adult fingers.
    band = (radius > 1 / 15) & (radius < 1 / 5)
    weights = power * band
    peak = float(np.sum(weights * radius) / (np.sum(weights) + 1e-12))
    return float(np.clip(1 / peak, 5.0, 15.0)) if peak > 0 else 9.0


def _gabor_spectra(shape: tuple[int, int], period: float) -> Iterator[npt.NDArray[np.complex64]]:
    """The spectra of the bank's even Gabor filters, one orientation bin after another.

    Made as they are used and not kept: the 16 of a bank are 8 MB for a 320 x 400 scan,
    and each finger has its own period, so a kept bank would seldom serve again."""
    # Longer along the ridge than across it: smooths breaks without merging neighbours.
    sigma_along, sigma_across = 0.7 * period, 0.45 * period
    radius = math.ceil(3 * sigma_along)
    ky, kx = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float64)
    # The kernel is laid with its centre on pixel (0, 0), wrapping round the edges, so
    # that filtering does not shift the image.
    rows = np.arange(-radius, radius + 1) % shape[0]
    cols = np.arange(-radius, radius + 1) % shape[1]
    padded = np.zeros(shape)
    for b in range(_BINS):
        theta = b * math.pi / _BINS
        along = kx * math.cos(theta) + ky * math.sin(theta)
        across = -kx * math.sin(theta) + ky * math.cos(theta)
        kernel = np.exp(-0.5 * ((along / sigma_along) ** 2 + (across / sigma_across) ** 2))
        kernel *= np.cos(2 * math.pi * across / period)
        kernel -= kernel.mean()
        padded[np.ix_(rows, cols)] = kernel
        yield np.fft.rfft2(padded).astype(np.complex64)


def _enhance(normalised: FloatArray, orientation: FloatArray, period: float) -> FloatArray:
    """Each pixel's response to the two filters nearest its orientation, blended; one
    filter's response over the image at a time (16 at once were 8 MB more)."""
    spectrum = np.fft.rfft2(normalised)
    position = orientation / (math.pi / _BINS)
    lower = (np.floor(position) % _BINS).astype(np.uint8)
    upper = (lower + 1) % _BINS
    weight = position - np.floor(position)
    nearer = np.empty_like(normalised)
    farther = np.empty_like(normalised)
    for b, kernel in enumerate(_gabor_spectra(normalised.shape, round(period, 1))):
        response = np.fft.irfft2(spectrum * kernel, s=normalised.shape)
        np.copyto(nearer, response, where=lower == b)
        np.copyto(farther, response, where=upper == b)
    blended = (1 - weight) * nearer
    blended += weight * farther
    enhanced: FloatArray = blended.astype(np.float32)
    return enhanced


def _skeleton(ridge: BoolArray, mask: BoolArray, period: float) -> BoolArray:
    ridge &= mask
    speck = int(period * period / 2)
    # Specks and pinholes become tiny loops and islands, each worth two false minutiae.
    ridge = _without_small_components(ridge, speck)
    ridge = ~_without_small_components(~ridge, speck)
    skeleton = thin(ridge & mask)
    # Skeleton pieces shorter than a couple of ridge periods are islands, not ridges.
    return _without_small_components(skeleton, int(2 * period), connectivity=2)


def _without_small_components(
    image: BoolArray, min_size: int, *, connectivity: int = 1
) -> BoolArray:
    labels, _ = label(image, connectivity=connectivity)
    sizes = np.bincount(labels.ravel())
    keep = sizes >= min_size
    keep[0] = False
    return keep[labels]


def _minutiae(
    skeleton: BoolArray,
    mask: BoolArray,
    orientation: FloatArray,
    coherence: FloatArray,
    period: float,
) -> tuple[Minutia, ...]:
    padded = np.pad(skeleton, 1).astype(np.int8)
    h, w = skeleton.shape
    # The 8 neighbours in circular order: the crossing number counts 0-1 transitions.
    ring = [
        padded[dy : dy + h, dx : dx + w]
        for dy, dx in ((0, 1), (0, 2), (1, 2), (2, 2), (2, 1), (2, 0), (1, 0), (0, 0))
    ]
    crossings = sum(np.abs(ring[i] - ring[(i + 1) % 8]) for i in range(8)) // 2
    inside = farther_than(mask, _EDGE_MARGIN)
    kinds = np.zeros(skeleton.shape, dtype=np.int8)
    kinds[skeleton & inside & (crossings == 1)] = MinutiaKind.ENDING
    kinds[skeleton & inside & (crossings == 3)] = MinutiaKind.BIFURCATION
    ys, xs = np.nonzero(kinds)
    points = np.stack([xs, ys], axis=1).astype(np.float32)
    kind = kinds[ys, xs]
    points, kind = _pruned(points, kind, period)
    if len(points) == 0:
        return ()

    xi, yi = points[:, 0].astype(np.intp), points[:, 1].astype(np.intp)
    theta = orientation[yi, xi].astype(np.float64)
    theta = np.where(_skeleton_ahead(skeleton, xi, yi, theta, period), theta, theta + np.pi)
    quality = np.clip(coherence[yi, xi] * 100, 1, 100).astype(int)
    order = np.argsort(-quality, kind="stable")[:MAX_MINUTIAE]
    # Angles in the record turn counter-clockwise on the image; image axes turn clockwise.
    units = np.round(np.mod(-theta, 2 * np.pi) * (ANGLE_UNITS / (2 * np.pi))).astype(int)
    return tuple(
        Minutia(
            x=int(xi[i]),
            y=int(yi[i]),
            angle=int(units[i]) % ANGLE_UNITS,
            kind=MinutiaKind(int(kind[i])),
            quality=int(quality[i]),
        )
        for i in sorted(order, key=lambda i: (yi[i], xi[i]))
    )


def _pruned(
    points: npt.NDArray[np.float32], kind: npt.NDArray[np.int8], period: float
) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.int8]]:
    """Drop clustered candidates: spurs, bridges, breaks and short islands come in pairs."""
    if len(points) == 0:
        return points, kind
    distance = np.hypot(*(points[:, None, :] - points[None, :, :]).transpose(2, 0, 1))
    np.fill_diagonal(distance, np.inf)
    # A thick junction gives adjacent pixels with crossing number 3: keep the first.
    same = (distance <= 2.0) & (kind[:, None] == kind[None, :])
    duplicate = np.triu(same).any(axis=0)
    points, kind, distance = (
        points[~duplicate],
        kind[~duplicate],
        distance[~duplicate][:, ~duplicate],
    )
    crowded = (distance < 0.8 * period).any(axis=1)
    return points[~crowded], kind[~crowded]


def _skeleton_ahead(
    skeleton: BoolArray,
    xs: npt.NDArray[np.intp],
    ys: npt.NDArray[np.intp],
    theta: npt.NDArray[np.float64],
    period: float,
) -> BoolArray:
    """Whether more of the skeleton lies along +theta than along -theta of each point.

    An ending's own ridge lies on one side of it and a bifurcation's two branches on one
    side of it; the parallel neighbouring ridges lie on both sides and cancel out.
    """
    radius = max(4, round(1.3 * period))
    dy, dx = np.mgrid[-radius : radius + 1, -radius : radius + 1]
    disc = (dx * dx + dy * dy <= radius * radius) & (dx * dx + dy * dy > 2)
    padded = np.pad(skeleton, radius)
    patches = padded[ys[:, None, None] + radius + dy, xs[:, None, None] + radius + dx]
    along = dx[None] * np.cos(theta)[:, None, None] + dy[None] * np.sin(theta)[:, None, None]
    ahead: BoolArray = (patches * disc * along).sum(axis=(1, 2)) > 0
    return ahead
