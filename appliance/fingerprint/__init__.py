"""Fingerprint templates for the card chip: ISO/IEC 19794-2 records, minutiae extraction
and the 1:1 match of a live finger against the chip at card activation.

The numeric work (numpy) loads when a finger first needs it; the daemon runs it in a
worker process it starts on demand (`FingerprintWorker`). That worker imports this
package too, so the names that need pydantic (the matcher's settings) or the daemon's
logging (the worker's client) load on first use, not with the package: the worker
stays small (docs/footprint.md).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._deferred import (
    MAX_MINUTIAE,
    ExtractionError,
    Fingerprints,
    InProcessFingerprints,
    extract_template,
    match_score,
)
from ._iso import (
    ANGLE_UNITS,
    PPCM_500_DPI,
    FingerTemplate,
    ImpressionType,
    Minutia,
    MinutiaKind,
    TemplateError,
    decode_iso19794_2,
    encode_iso19794_2,
)

if TYPE_CHECKING:
    from ._matcher import DEFAULT_THRESHOLD, FingerMatcher, MatcherSettings, MatchResult
    from ._worker import FingerprintWorker, FingerprintWorkerError

_ON_FIRST_USE = {
    "DEFAULT_THRESHOLD": "._matcher",
    "FingerMatcher": "._matcher",
    "MatcherSettings": "._matcher",
    "MatchResult": "._matcher",
    "FingerprintWorker": "._worker",
    "FingerprintWorkerError": "._worker",
}


def __getattr__(name: str) -> Any:
    module = _ON_FIRST_USE.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value  # once loaded, an ordinary attribute
    return value


__all__ = [
    "ANGLE_UNITS",
    "DEFAULT_THRESHOLD",
    "MAX_MINUTIAE",
    "PPCM_500_DPI",
    "ExtractionError",
    "FingerMatcher",
    "FingerTemplate",
    "FingerprintWorker",
    "FingerprintWorkerError",
    "Fingerprints",
    "ImpressionType",
    "InProcessFingerprints",
    "MatchResult",
    "MatcherSettings",
    "Minutia",
    "MinutiaKind",
    "TemplateError",
    "decode_iso19794_2",
    "encode_iso19794_2",
    "extract_template",
    "match_score",
]
