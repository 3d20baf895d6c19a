"""The sync package's exceptions, under the station's one base."""

from __future__ import annotations

from appliance.errors import ApplianceError


class SyncError(ApplianceError):
    """Something the uplink or the collector refused or could not do."""


class MalformedMessage(SyncError, ValueError):
    """A message that does not have the contract's form; nothing in it is used."""


class RejectedMessage(SyncError, ValueError):
    """A signed message that is malformed, unsigned, signed by another key or addressed to
    another station or kind; nothing in it is used."""

    def __init__(self, reason: str, *, forged: bool = False) -> None:
        super().__init__(reason)
        self.forged = forged
        """Well formed but not signed as it must be: a forgery, or another's message."""


class StoreError(SyncError):
    """The collector's database cannot be opened, reached or written."""


class LinkDown(SyncError):
    """The broker stopped confirming what it was sent: the session is over."""
