"""The simulated SBI devices' pictures: small synthetic images, and a presented person's
fingers, grown ahead of their first capture.

Images are small synthetic PNGs (ridges, an oval face, iris rings), not the ISO/IEC 19794
records a certified device sends (the station's matcher and card writer read images). A
person's fingers (`sim.fingerprints`) are grown, about a second each, as soon as the
person is presented, not at the first capture, which would otherwise overrun the capture's
answer deadline on a busy machine.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import io
import os
import random
from typing import Final

from PIL import Image, ImageDraw

from ._base import seeded
from .fingerprints import SyntheticFinger

ISO_FINGER_POSITIONS: Final = {
    name: position
    for position, name in enumerate(
        (
            "Right Thumb",
            "Right IndexFinger",
            "Right MiddleFinger",
            "Right RingFinger",
            "Right LittleFinger",
            "Left Thumb",
            "Left IndexFinger",
            "Left MiddleFinger",
            "Left RingFinger",
            "Left LittleFinger",
        ),
        start=1,
    )
}
"""The ISO/IEC 19794-2 position of each SBI finger name."""


# --------------------------------------------------------------------------- first use

# One grower per core: NumPy's FFTs release the GIL, so two fingers grow at once.
_GROWERS: Final = concurrent.futures.ThreadPoolExecutor(
    max_workers=min(2, os.cpu_count() or 1), thread_name_prefix="sim-fingers"
)
_growing: dict[tuple[int, int], concurrent.futures.Future[float]] = {}
"""(person, finger) → its growth, begun when the person was first presented."""


def grow_fingers(person_seed: int) -> None:
    """Begin growing (or loading from the disk cache) a person's ten fingers."""
    for position in ISO_FINGER_POSITIONS.values():
        if (person_seed, position) not in _growing:
            _growing[(person_seed, position)] = _GROWERS.submit(_grow, person_seed, position)


def _grow(person_seed: int, position: int) -> float:
    # Reading the ridge period grows the master, which then stays cached.
    return SyntheticFinger(person_seed=person_seed, finger=position).ridge_period


async def finger_grown(person_seed: int, position: int) -> None:
    grow_fingers(person_seed)
    key = (person_seed, position)
    growth = _growing[key]
    if growth.cancel():
        # Still queued behind the person's other fingers, and wanted now: grown here.
        ridge_period = await asyncio.to_thread(_grow, person_seed, position)
        growth = concurrent.futures.Future()
        growth.set_result(ridge_period)
        _growing[key] = growth
    await asyncio.wrap_future(growth)


# --------------------------------------------------------------------------- images


def face_image(person_seed: int) -> bytes:
    """A synthetic person's face photo, a PNG like the camera's, the same at every call:
    for the central records (`sim.siak`) of people recorded before."""
    return render("Face", seeded(person_seed, "face"))


def render(bio_type: str, rng: random.Random) -> bytes:
    if bio_type == "Face":
        image = _face(rng)
    elif bio_type == "Iris":
        image = _iris(rng)
    else:
        image = _fingerprint(rng)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=False)
    return out.getvalue()


def _fingerprint(rng: random.Random) -> Image.Image:
    image = Image.new("L", (64, 80), 255)
    draw = ImageDraw.Draw(image)
    cx, cy = 32 + rng.randint(-6, 6), 40 + rng.randint(-8, 8)
    for radius in range(3, 60, 4):  # a whorl: concentric ridges around a core
        draw.ellipse((cx - radius, cy - radius * 1.2, cx + radius, cy + radius * 1.2), outline=40)
    return image


def _face(rng: random.Random) -> Image.Image:
    image = Image.new("L", (60, 80), 230)
    draw = ImageDraw.Draw(image)
    dx = rng.randint(-4, 4)
    draw.ellipse((12 + dx, 8, 48 + dx, 70), fill=170, outline=60)
    for eye_x in (22, 36):
        draw.ellipse((eye_x + dx, 30, eye_x + 5 + dx, 34), fill=30)
    draw.arc((22 + dx, 46, 40 + dx, 58), start=20, end=160, fill=40)
    return image


def _iris(rng: random.Random) -> Image.Image:
    image = Image.new("L", (64, 64), 200)
    draw = ImageDraw.Draw(image)
    pupil = rng.randint(7, 11)
    for radius in range(28, pupil, -3):
        draw.ellipse((32 - radius, 32 - radius, 32 + radius, 32 + radius), outline=60 + radius * 3)
    draw.ellipse((32 - pupil, 32 - pupil, 32 + pupil, 32 + pupil), fill=10)
    return image
