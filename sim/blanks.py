"""The blank cards' maker: every blank leaves it with its own transport key.

A card maker loads each blank chip with a transport key before it ships, so that only
the issuer it was made for can personalise it. Here, as with real batches, each blank's
key is derived from the transport master the maker and the station share and the card's
serial (`appliance.card.diversify`, NIST SP 800-108). The master is read from the file
the station's `appliance keys init` created (`[keys] card_transport_key`), when each blank
is made: a simulator started before the station's keys exist still makes blanks the
station can open once they do. A blank made while there is no master has no transport
key at all: nobody can personalise it, and the station spoils it (`access_denied`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from appliance._secrets import SecretFileError
from appliance.card import TRANSPORT_LABEL, diversify, load_transport_master
from appliance.logs import get_logger

from .smartcard import VirtualCard

log = get_logger(__name__)


class BlankSupplier:
    """Makes blank `VirtualCard`s keyed for one station."""

    def __init__(self, *, master: Callable[[], bytes | None], seed: int = 0) -> None:
        self._master = master
        self._seed = seed

    @classmethod
    def for_master(cls, master: bytes, *, seed: int = 0) -> BlankSupplier:
        return cls(master=lambda: master, seed=seed)

    @classmethod
    def from_file(cls, path: Path | Callable[[], Path | None], *, seed: int = 0) -> BlankSupplier:
        """Blanks keyed with the transport master in `path` (or wherever `path()` says,
        once it says)."""

        def master() -> bytes | None:
            where = path() if callable(path) else path
            if where is None:
                return None
            try:
                return load_transport_master(where)
            except SecretFileError as error:
                log.warning("blank_without_transport_key", reason=str(error))
                return None

        return cls(master=master, seed=seed)

    def blank(self, serial: str) -> VirtualCard:
        master = self._master()
        key = None if master is None else diversify(master, TRANSPORT_LABEL, serial)
        return VirtualCard(serial=serial, seed=self._seed, transport_key=key)
