"""What the biometric store holds, as its callers see it: modalities, blob references,
purge tallies, and the master key file."""

from __future__ import annotations

import os
from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Final

from appliance._secrets import write_secret_file

if TYPE_CHECKING:
    from datetime import datetime
    from pathlib import Path

KEY_BYTES: Final = 32


class Modality(StrEnum):
    """What kind of capture a blob holds."""

    FACE = "face"
    FINGERPRINT_IMAGE = "fingerprint_image"
    FINGERPRINT_TEMPLATE = "fingerprint_template"  # ISO/IEC 19794-2
    IRIS = "iris"
    SIGNATURE = "signature"


@dataclass(frozen=True, slots=True)
class BlobRef:
    """What the index knows about one stored blob; never the biometric bytes themselves.

    `label` says which finger or eye (free text, e.g. "right_thumb", "left").
    """

    blob_id: str
    application_id: str
    modality: Modality
    label: str
    size: int
    created_at: datetime


@dataclass(frozen=True, slots=True)
class PurgeTally:
    """Purges done but not yet reported to the register, and how far the register's
    reports have been taken into account (None: never; see `appliance.retention`)."""

    applications: int
    blobs: int
    reported_seq: int | None


def create_master_key(path: Path) -> None:
    """Create a new master key file (32 random bytes, mode 0600); refuse to overwrite one."""
    write_secret_file(path, os.urandom(KEY_BYTES))
