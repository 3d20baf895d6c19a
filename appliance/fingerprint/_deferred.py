"""The fingerprint package's entry points to its numeric work, which loads on first use.

numpy costs about 20 MB and a fifth of a second at start, and only a finger to extract
or to match needs it: the station starts, and idles, without it. The daemon goes further
and runs the work in a worker process (`_worker`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Final, Protocol

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
    from ._extract import extract  # noqa: PLC0415 - numpy loads here

    return extract(image, finger_position=finger_position, resolution_dpi=resolution_dpi)


def match_score(probe: FingerTemplate, reference: FingerTemplate) -> float:
    """Similarity of two finger templates, 0 (unrelated) to 1; deterministic."""
    from ._match import score  # noqa: PLC0415 - numpy loads here

    return score(probe, reference)


class Fingerprints(Protocol):
    """Extraction and 1:1 scores off the event loop: in the daemon's worker process
    (`FingerprintWorker`) or in this process's threads (`InProcessFingerprints`)."""

    async def start(self) -> None:
        """Fingers are coming: get ready now, so that the first of them does not wait."""

    async def extract_template(
        self, image: bytes, *, finger_position: int, resolution_dpi: int = WORKING_DPI
    ) -> FingerTemplate: ...

    async def verify_score(
        self,
        image: bytes,
        reference: FingerTemplate,
        *,
        finger_position: int,
        resolution_dpi: int = WORKING_DPI,
    ) -> float: ...


class InProcessFingerprints:
    """The numeric work in a thread of this process: for tools and tests that run a few
    fingers and exit; the daemon uses its worker process."""

    async def start(self) -> None:
        """Nothing to get ready: the libraries load with the first finger."""

    async def extract_template(
        self, image: bytes, *, finger_position: int, resolution_dpi: int = WORKING_DPI
    ) -> FingerTemplate:
        # asyncio (with ssl, 10 MB) is the daemon's already; the worker process, which
        # imports this module too, never needs it.
        import asyncio  # noqa: PLC0415

        return await asyncio.to_thread(
            extract_template, image, finger_position=finger_position, resolution_dpi=resolution_dpi
        )

    async def verify_score(
        self,
        image: bytes,
        reference: FingerTemplate,
        *,
        finger_position: int,
        resolution_dpi: int = WORKING_DPI,
    ) -> float:
        def work() -> float:
            live = extract_template(
                image, finger_position=finger_position, resolution_dpi=resolution_dpi
            )
            return match_score(live, reference)

        import asyncio  # noqa: PLC0415 - see extract_template

        return await asyncio.to_thread(work)
