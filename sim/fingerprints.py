"""Synthetic fingerprints: one master ridge pattern per (person, finger), many captures of it.

A master is grown the way SFinGe does it (Cappelli, Maio, Maltoni, "Synthetic
fingerprint-image generation", ICPR 2000; Maltoni et al., Handbook of Fingerprint
Recognition, ch. 8):

1. a pattern class (loop, whorl, arch, tented arch) and its singular points, placed with
   some freedom, give an orientation field through the Sherlock-Monro zero-pole model
   (Sherlock & Monro, "A model for interpreting fingerprint topology", Pattern Recognition
   1993), with a smooth random perturbation so that two loops are not the same loop;
2. a ridge period per finger (7.5-10.5 px at 500 dpi, i.e. 0.38-0.53 mm);
3. starting from white noise, repeated space-variant Gabor filtering along that field,
   with a saturating non-linearity in between, grows ridges; where growth fronts meet
   out of phase, minutiae appear, as in SFinGe. The filter bank is applied through the
   FFT, one filter per quantised orientation, blended between the two nearest.

An impression is one capture of the master: rotated (about ±17°), shifted, elastically
distorted more away from the centre of contact (after Cappelli, Maio, Maltoni, "Modelling
plastic distortion in fingerprint images", ICAPR 2001), seen through an elliptic contact
area that is sometimes partial, with pressure (ridge width), dryness (ridge breaks),
contrast, blur and sensor noise.

What it is not: a model of real skin. Scars, creases, sweat pores, incipient ridges,
sensor-specific artefacts and the true statistics of minutiae are missing; error rates
measured on these images say that the pipeline works, not how it would fare on people.

Masters are cached in memory, and on disk under the system temp directory keyed by the
source of this module, so that a benchmark or test run after the first does not grow
them again.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import io
import math
import os
import random
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy import fft, ndimage

IMPRESSION_WIDTH: Final = 320
IMPRESSION_HEIGHT: Final = 400
RESOLUTION_DPI: Final = 500

_MASTER_H: Final = 512
_MASTER_W: Final = 416
_CX: Final = _MASTER_W / 2
_CY: Final = 236.0
_BINS: Final = 16
_GROWTH_ROUNDS: Final = 10
_PERIOD_SPREAD: Final = 0.15

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True, slots=True)
class _Master:
    ridges: FloatArray
    """In [-1, 1], positive on ridges."""
    mask: FloatArray
    """1 on the finger, 0 off it, with a soft edge."""
    period: float


class SyntheticFinger:
    """One finger of one synthetic person: deterministic for (person_seed, finger)."""

    def __init__(self, *, person_seed: int, finger: int) -> None:
        if not 1 <= finger <= 10:
            raise ValueError(f"finger position {finger} is not 1-10")
        self.person_seed = person_seed
        self.finger = finger

    @property
    def ridge_period(self) -> float:
        """The master's ridge period in pixels at 500 dpi."""
        return _master(self.person_seed, self.finger).period

    def impression(self, *, rng: random.Random | np.random.Generator) -> bytes:
        """One capture: a 320x400 grayscale PNG at 500 dpi, different for each rng state."""
        generator = rng if isinstance(rng, np.random.Generator) else _numpy_rng(rng)
        pixels = _impression(_master(self.person_seed, self.finger), generator)
        out = io.BytesIO()
        Image.fromarray(pixels, mode="L").save(
            out, format="PNG", dpi=(RESOLUTION_DPI, RESOLUTION_DPI), compress_level=1
        )
        return out.getvalue()


def _numpy_rng(rng: random.Random) -> np.random.Generator:
    return np.random.default_rng(rng.getrandbits(64))


# --------------------------------------------------------------------------- masters


@functools.lru_cache(maxsize=64)
def _master(person_seed: int, finger: int) -> _Master:
    path = _cache_dir() / f"{person_seed}-{finger}.npz"
    with contextlib.suppress(OSError, ValueError, KeyError), np.load(path) as stored:
        return _Master(
            ridges=stored["ridges"].astype(np.float32),
            mask=stored["mask"].astype(np.float32),
            period=float(stored["period"]),
        )
    master = _grow(np.random.default_rng([person_seed & 0xFFFFFFFF, finger, 0x46494E47]))
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        # Written aside and renamed: parallel test workers may grow the same finger.
        fd, temporary = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as handle:
            np.savez(
                handle,
                ridges=master.ridges.astype(np.float16),
                mask=master.mask.astype(np.float16),
                period=master.period,
            )
        Path(temporary).replace(path)
    return master


@functools.cache
def _cache_dir() -> Path:
    source = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]
    return Path(tempfile.gettempdir()) / "ktpel-synthetic-fingers" / source


def _grow(rng: np.random.Generator) -> _Master:
    orientation = _orientation_field(rng)
    period = float(np.clip(rng.normal(9.0, 0.7), 7.5, 10.5))
    lower, weight = _bin_weights(orientation)
    # Ridge spacing varies over a finger; where it changes, ridges must end or fork, which
    # gives smooth patterns (arches) their share of minutiae.
    dense = _gabor_bank((_MASTER_H, _MASTER_W), period * (1 - _PERIOD_SPREAD))
    sparse = _gabor_bank((_MASTER_H, _MASTER_W), period * (1 + _PERIOD_SPREAD))
    mix = np.clip(0.5 + _smooth_noise(rng, (_MASTER_H, _MASTER_W), cell=64, amplitude=0.4), 0, 1)

    def filtered(image: FloatArray) -> FloatArray:
        blend: FloatArray = (1 - mix) * _oriented_filter(image, dense, lower, weight)
        blend += mix * _oriented_filter(image, sparse, lower, weight)
        return blend

    ridges = rng.standard_normal((_MASTER_H, _MASTER_W)).astype(np.float32)
    for _ in range(_GROWTH_ROUNDS):
        grown = filtered(ridges)
        # The saturation is what makes the pattern grow into ridges instead of blurring.
        ridges = np.tanh(2.5 * grown / (grown.std() + 1e-6)).astype(np.float32)
    grown = filtered(ridges)
    ridges = np.clip(grown / (np.percentile(np.abs(grown), 95) + 1e-6), -1, 1)
    return _Master(ridges=ridges.astype(np.float32), mask=_finger_mask(rng), period=period)


def _orientation_field(rng: np.random.Generator) -> FloatArray:
    """Ridge orientation in radians (image axes, y down), modulo pi."""
    yy, xx = np.mgrid[0:_MASTER_H, 0:_MASTER_W].astype(np.float64)
    z = xx + 1j * yy
    kind = rng.choice(
        ["left_loop", "right_loop", "whorl", "arch", "tented_arch"],
        p=[0.32, 0.32, 0.28, 0.04, 0.04],
    )
    jitter = functools.partial(rng.normal, 0.0, 18.0)
    cores: list[complex] = []
    deltas: list[complex] = []
    if kind in ("left_loop", "right_loop"):
        side = -1 if kind == "left_loop" else 1
        cores = [complex(_CX + jitter(), _CY - 30 + jitter())]
        deltas = [complex(_CX + side * rng.uniform(90, 140), _CY + rng.uniform(90, 150))]
    elif kind == "whorl":
        gap = rng.uniform(12, 34)
        tilt = rng.normal(0, 0.5)
        centre = complex(_CX + jitter(), _CY - 20 + jitter())
        offset = gap * complex(math.sin(tilt), math.cos(tilt))
        cores = [centre - offset, centre + offset]
        deltas = [
            complex(_CX - rng.uniform(110, 150), _CY + rng.uniform(100, 150)),
            complex(_CX + rng.uniform(110, 150), _CY + rng.uniform(100, 150)),
        ]
    elif kind == "tented_arch":
        cores = [complex(_CX + jitter(), _CY - 10 + jitter())]
        deltas = [cores[0] + complex(rng.normal(0, 6), rng.uniform(55, 80))]
    theta = np.zeros(z.shape)
    for core in cores:
        theta += 0.5 * np.angle(z - core)
    for delta in deltas:
        theta -= 0.5 * np.angle(z - delta)
    if kind == "arch":
        # No singular point: ridges rise over a hump in the middle of the finger.
        hump = rng.uniform(0.5, 1.1)
        theta = np.arctan(
            hump * (xx - _CX - jitter()) / 120.0 * np.exp(-(((yy - _CY) / 220.0) ** 2))
        )
    theta += _smooth_noise(rng, (_MASTER_H, _MASTER_W), cell=96, amplitude=0.22)
    return np.mod(theta, np.pi).astype(np.float32)


def _finger_mask(rng: np.random.Generator) -> FloatArray:
    yy, xx = np.mgrid[0:_MASTER_H, 0:_MASTER_W].astype(np.float32)
    half_width = rng.uniform(150, 180)
    top = _CY - rng.uniform(200, 230)
    # A fingertip: a half-ellipse on top of straight sides that run off the bottom.
    dx = (xx - _CX) / half_width
    dy = np.minimum(0.0, (yy - _CY) / (_CY - top))
    distance = np.sqrt(dx**2 + dy**2)
    mask: FloatArray = np.clip((1.0 - distance) * 20.0, 0.0, 1.0).astype(np.float32)
    return mask


def _bin_weights(orientation: FloatArray) -> tuple[npt.NDArray[np.intp], FloatArray]:
    position = orientation / (np.pi / _BINS)
    lower = np.floor(position).astype(np.intp) % _BINS
    return lower, (position - np.floor(position)).astype(np.float32)


def _gabor_bank(shape: tuple[int, int], period: float) -> npt.NDArray[np.complex64]:
    """Spectra of even Gabor filters tuned to ridges at each quantised orientation."""
    sigma_along, sigma_across = 0.65 * period, 0.45 * period
    radius = math.ceil(3 * sigma_along)
    ky, kx = np.mgrid[-radius : radius + 1, -radius : radius + 1].astype(np.float64)
    spectra = []
    for b in range(_BINS):
        theta = b * np.pi / _BINS
        along = kx * math.cos(theta) + ky * math.sin(theta)
        across = -kx * math.sin(theta) + ky * math.cos(theta)
        kernel = np.exp(-0.5 * ((along / sigma_along) ** 2 + (across / sigma_across) ** 2))
        kernel *= np.cos(2 * np.pi * across / period)
        kernel -= kernel.mean()
        kernel /= np.abs(kernel).sum()
        padded = np.zeros(shape)
        padded[: kernel.shape[0], : kernel.shape[1]] = kernel
        # Centre the kernel on the origin so that filtering does not shift the image.
        padded = np.roll(padded, (-radius, -radius), axis=(0, 1))
        spectra.append(fft.rfft2(padded))
    return np.asarray(spectra, dtype=np.complex64)


def _oriented_filter(
    image: FloatArray,
    spectra: npt.NDArray[np.complex64],
    lower: npt.NDArray[np.intp],
    weight: FloatArray,
) -> FloatArray:
    responses = fft.irfft2(fft.rfft2(image)[None] * spectra, s=image.shape, axes=(1, 2))
    rows, cols = np.arange(image.shape[0])[:, None], np.arange(image.shape[1])[None, :]
    low = responses[lower, rows, cols]
    high = responses[(lower + 1) % _BINS, rows, cols]
    blended: FloatArray = ((1 - weight) * low + weight * high).astype(np.float32)
    return blended


def _smooth_noise(
    rng: np.random.Generator, shape: tuple[int, int], *, cell: int, amplitude: float
) -> FloatArray:
    """Low-frequency noise of about `amplitude` (std), varying over `cell` pixels."""
    coarse = rng.standard_normal((shape[0] // cell + 3, shape[1] // cell + 3))
    fine = ndimage.zoom(coarse, cell, order=3)[: shape[0], : shape[1]]
    noise: FloatArray = (amplitude * fine / (fine.std() + 1e-9)).astype(np.float32)
    return noise


# --------------------------------------------------------------------------- captures


def _impression(master: _Master, rng: np.random.Generator) -> npt.NDArray[np.uint8]:
    h, w = IMPRESSION_HEIGHT, IMPRESSION_WIDTH
    vv, uu = np.mgrid[0:h, 0:w].astype(np.float32)
    cu, cv = w / 2, h / 2
    angle = math.radians(float(np.clip(rng.normal(0, 8), -17, 17)))
    shift_x, shift_y = np.clip(rng.normal(0, 14, 2), -32, 32)

    # Contact: an ellipse around a centre near the middle; now and then a partial one.
    contact_u = cu + rng.normal(0, 14)
    contact_v = cv + rng.normal(0, 18)
    semi_u, semi_v = rng.uniform(125, 170), rng.uniform(165, 215)
    if rng.random() < 0.2:
        semi_u, semi_v = semi_u * rng.uniform(0.7, 0.85), semi_v * rng.uniform(0.7, 0.85)
        contact_u += rng.normal(0, 25)
        contact_v += rng.normal(0, 30)
    reach = np.sqrt(((uu - contact_u) / semi_u) ** 2 + ((vv - contact_v) / semi_v) ** 2)

    # Plastic distortion: none at the centre of contact, growing towards its edge.
    growth = np.clip((reach - 0.3) / 0.7, 0.0, 1.0) ** 1.5
    strength = rng.uniform(2.0, 7.0)
    dx = growth * _smooth_noise(rng, (h, w), cell=80, amplitude=strength)
    dy = growth * _smooth_noise(rng, (h, w), cell=80, amplitude=strength)

    cos, sin = math.cos(angle), math.sin(angle)
    xs = cos * (uu - cu) - sin * (vv - cv) + _CX + shift_x + dx
    ys = sin * (uu - cu) + cos * (vv - cv) + _CY + 20 + shift_y + dy
    ridges = ndimage.map_coordinates(master.ridges, [ys, xs], order=1, cval=-1.0)
    on_finger = ndimage.map_coordinates(master.mask, [ys, xs], order=1, cval=0.0)
    contact = np.clip((1.0 - reach) * 12.0, 0.0, 1.0) * on_finger

    # Pressure widens or thins ridges; dryness breaks them up in patches.
    pressure = float(np.clip(rng.normal(0.0, 0.18), -0.4, 0.4))
    ink = 1.0 / (1.0 + np.exp(-5.0 * (ridges + pressure)))
    dryness = rng.uniform(0.0, 0.35)
    if dryness > 0.05:
        speckle = ndimage.gaussian_filter(rng.standard_normal((h, w)), 2.0)
        patches = _smooth_noise(rng, (h, w), cell=48, amplitude=1.0)
        breaks = speckle / (speckle.std() + 1e-9) + patches < np.quantile(
            speckle / (speckle.std() + 1e-9) + patches, dryness
        )
        ink = np.where(breaks, ink * rng.uniform(0.1, 0.4), ink)
    ink = ink * contact

    dark, light = rng.uniform(25, 90), rng.uniform(200, 245)
    image = light - (light - dark) * ink
    image = ndimage.gaussian_filter(image, rng.uniform(0.5, 1.0))
    image += rng.normal(0, rng.uniform(3, 10), (h, w))
    return np.clip(image, 0, 255).astype(np.uint8)
