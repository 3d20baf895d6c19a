"""The fingerprint worker's wire (`_serve` the worker's side, `_worker` the daemon's).

Both ways, a frame is a `>BI` header (a code, the payload's length) and the
payload. Requests:

- `EXTRACT`: `>BH` finger position, resolution (dpi), then the image file's bytes;
  answered with the template's ISO/IEC 19794-2 record;
- `SCORE`: `>I` the probe record's length, the probe record, the reference record;
  answered with `>d` the score;
- `VERIFY`: `>BHI` finger position, resolution, the reference record's length, the
  reference record, then the live image; extraction and score in one trip, answered `>d`.

Answers carry `OK` or an error code with a UTF-8 message: `EXTRACTION` (an
`ExtractionError`), `INVALID` (another `ValueError`: a bad record or argument), `INTERNAL`
(anything else: only the exception's type, a message could quote what it was given).
"""

from __future__ import annotations

import struct
from typing import Final

HEADER: Final = struct.Struct(">BI")
EXTRACT_ARGS: Final = struct.Struct(">BH")
SCORE_ARGS: Final = struct.Struct(">I")
VERIFY_ARGS: Final = struct.Struct(">BHI")
SCORE_ANSWER: Final = struct.Struct(">d")
MAX_PAYLOAD: Final = 64 * 2**20
"""Far above a 2048x2048 grey PNG; a longer frame is a broken stream, not a request."""

EXTRACT: Final = 1
SCORE: Final = 2
VERIFY: Final = 3

OK: Final = 0
EXTRACTION: Final = 1
INVALID: Final = 2
INTERNAL: Final = 3


def frame(code: int, payload: bytes) -> bytes:
    return HEADER.pack(code, len(payload)) + payload
