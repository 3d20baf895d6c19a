"""What can go wrong with the register, as a short taxonomy callers can act on."""

from __future__ import annotations

from appliance._secrets import SecretFileError
from appliance.errors import ApplianceError


class RegisterError(ApplianceError):
    """Base of every register failure. Nothing was written when one is raised."""


class RegisterCorrupt(RegisterError):
    """The database file is damaged, truncated or not a register at all."""


class RegisterFull(RegisterError):
    """The disk (or the database's size limit) is full; the event was not written."""


class RegisterReadOnly(RegisterError):
    """The database or its directory cannot be written."""


class RegisterLocked(RegisterError):
    """Another process holds the register's write lock for too long."""


class RegisterMismatch(RegisterError):
    """The register belongs to another station, or was sealed by another key."""


class KeyFileError(SecretFileError, RegisterError):
    """A key file is missing, unreadable, malformed or too widely readable."""


class InvalidEvent(RegisterError, ValueError):
    """The event is not acceptable: unknown type, bad payload, or against a rule
    of the derived state (issuing a blank card that is not in stock)."""
