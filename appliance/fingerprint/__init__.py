"""Fingerprint templates for the card chip: ISO/IEC 19794-2 records, minutiae extraction
and the 1:1 match of a live finger against the chip at card activation.

The numeric work (numpy, SciPy, scikit-image) loads when a finger first needs it; the
daemon runs it in a worker process it starts on demand (`FingerprintWorker`)."""

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
from ._matcher import DEFAULT_THRESHOLD, FingerMatcher, MatcherSettings, MatchResult
from ._worker import FingerprintWorker, FingerprintWorkerError

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
