"""The fingerprint package's entry points to its numeric work, which loads on first use.

numpy, SciPy and scikit-image cost the daemon about 60 MB and half a second at start,
and only a finger to extract or to match needs them: the station starts, and idles,
without them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

    from ._iso import FingerTemplate

MAX_MINUTIAE: Final = 80
"""Best-quality minutiae kept: room enough for a fingertip, and a bounded chip record."""

WORKING_DPI: Final = 500


class ExtractionError(ValueError):
    """The image could not be read, or shows no usable fingerprint."""


def extract_template(
    image: bytes | npt.NDArray[np.uint8],
    *,
    finger_position: int,
    resolution_dpi: int = WORKING_DPI,
) -> FingerTemplate:
    """Extract the minutiae of one finger.

    `image` is a PNG or PGM file, or a 2-D array of 8-bit grey levels (dark ridges on a
    light background, as scanners deliver). Images at another resolution are resampled
    to 500 dpi first; the template is always at 500 dpi (197 pixels per cm).
    """
    from ._extract import extract  # noqa: PLC0415 - numpy, SciPy and scikit-image load here

    return extract(image, finger_position=finger_position, resolution_dpi=resolution_dpi)


def match_score(probe: FingerTemplate, reference: FingerTemplate) -> float:
    """Similarity of two finger templates, 0 (unrelated) to 1; deterministic."""
    from ._match import score  # noqa: PLC0415 - numpy loads here

    return score(probe, reference)
