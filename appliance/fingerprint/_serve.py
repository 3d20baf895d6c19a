"""The fingerprint worker process: extraction and 1:1 scores, served over its stdin/stdout.

The daemon starts it (`python -m appliance.fingerprint._serve`) when a finger first needs
numeric work and stops it when idle (`_worker.FingerprintWorker`), so that numpy and
its working arrays never stay in the daemon (docs/footprint.md). It imports numpy and
Pillow, and nothing of the daemon's: about 35 MB before its first request.

The requests and answers are in `_wire`. Nothing personal is written anywhere: the
images and records only pass through. The worker exits at the end of its stdin: the
daemon's stop, or the daemon's death.
"""

from __future__ import annotations

import ctypes
import os
import signal
import struct
import sys
from typing import BinaryIO, Final

from ._wire import (
    EXTRACT,
    EXTRACT_ARGS,
    EXTRACTION,
    HEADER,
    INTERNAL,
    INVALID,
    MAX_PAYLOAD,
    OK,
    SCORE,
    SCORE_ANSWER,
    SCORE_ARGS,
    VERIFY,
    VERIFY_ARGS,
    frame,
)

_PR_SET_PDEATHSIG: Final = 1


def _read_exactly(stream: BinaryIO, size: int) -> bytes | None:
    """`size` bytes, or None at the end of the stream (the daemon closed it)."""
    chunks: list[bytes] = []
    while size:
        chunk = stream.read(size)
        if not chunk:
            return None
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def _die_with_parent() -> None:
    """SIGTERM when the daemon dies, even mid-computation (the end of stdin is only read
    between requests). Linux only, and best effort: the stdin rule still holds without it."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        return


def _release_memory() -> None:
    """Give the freed working arrays back to the system between requests (glibc)."""
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except (OSError, AttributeError):
        return


def serve(requests: BinaryIO, answers: BinaryIO) -> None:
    """Answer requests until the end of `requests`."""
    # The numeric work loads here, in the worker only (see the module's docstring).
    from ._deferred import ExtractionError  # noqa: PLC0415
    from ._extract import extract  # noqa: PLC0415
    from ._iso import decode_iso19794_2, encode_iso19794_2  # noqa: PLC0415
    from ._match import score  # noqa: PLC0415

    while (header := _read_exactly(requests, HEADER.size)) is not None:
        op, length = HEADER.unpack(header)
        if length > MAX_PAYLOAD:
            raise SystemExit(f"fingerprint worker: a {length}-byte request is not one")
        payload = _read_exactly(requests, length)
        if payload is None:
            return
        try:
            if op == EXTRACT:
                position, dpi = EXTRACT_ARGS.unpack_from(payload)
                image = payload[EXTRACT_ARGS.size :]
                template = extract(image, finger_position=position, resolution_dpi=dpi)
                answer = frame(OK, encode_iso19794_2(template))
            elif op == SCORE:
                (size,) = SCORE_ARGS.unpack_from(payload)
                probe = payload[SCORE_ARGS.size : SCORE_ARGS.size + size]
                reference = payload[SCORE_ARGS.size + size :]
                value = score(decode_iso19794_2(probe), decode_iso19794_2(reference))
                answer = frame(OK, SCORE_ANSWER.pack(value))
            elif op == VERIFY:
                position, dpi, size = VERIFY_ARGS.unpack_from(payload)
                reference = payload[VERIFY_ARGS.size : VERIFY_ARGS.size + size]
                image = payload[VERIFY_ARGS.size + size :]
                live = extract(image, finger_position=position, resolution_dpi=dpi)
                value = score(live, decode_iso19794_2(reference))
                answer = frame(OK, SCORE_ANSWER.pack(value))
            else:
                answer = frame(INVALID, f"unknown request {op}".encode())
        except ExtractionError as error:
            answer = frame(EXTRACTION, str(error).encode())
        except (ValueError, struct.error) as error:
            answer = frame(INVALID, str(error).encode())
        except Exception as error:  # noqa: BLE001 - answered, and the worker goes on
            answer = frame(INTERNAL, type(error).__name__.encode())
        answers.write(answer)
        answers.flush()
        _release_memory()


def main() -> None:
    _die_with_parent()
    # The answers get a descriptor of their own, and stdout becomes stderr: a library that
    # prints cannot corrupt the stream.
    answers = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    serve(sys.stdin.buffer, answers)


if __name__ == "__main__":
    main()
