"""A station process that issues one card, for the test that SIGKILLs it mid-encoding.

python -m tests.issuance_child STATE_DIR USB_SOCKET PCSC_SOCKET READER

The card masters are STATE_DIR/card-{transport,reader,can}.key.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from appliance.card import CardKeys, DocumentSigner
from appliance.hal import CardEncoder, CardPrinter, SocketUsbBackend
from appliance.issuance import CardIssuer
from appliance.register import Register, StationKey

from .card_rig import request

APP = "APP-0001"


def card_key_paths(state: Path) -> tuple[Path, Path, Path]:
    return state / "card-transport.key", state / "card-reader.key", state / "card-can.key"


async def _issue(state: Path, usb_socket: str, pcsc_socket: str, reader: str) -> None:
    printer = CardPrinter(
        name="card_printer",
        vendor_id=0x0F49,
        product_id=0x5A01,
        backend=SocketUsbBackend(usb_socket),
    )
    encoder = CardEncoder(name="card_encoder", reader=reader, pcsc_socket=pcsc_socket)
    await printer.connect()
    await encoder.connect()
    signer = DocumentSigner.load(state / "ds.key", state / "ds.crt")
    key = StationKey.load(state / "station.key")
    with Register.open(state / "register.sqlite3", station_id="lumajang-01", key=key) as register:
        issuer = CardIssuer(
            register=register,
            printer=printer,
            encoder=encoder,
            signer=signer,
            card_keys=CardKeys.load(card_key_paths(state)),
        )
        await issuer.issue(request(APP))


if __name__ == "__main__":
    state, usb_socket, pcsc_socket, reader = sys.argv[1:5]
    asyncio.run(_issue(Path(state), usb_socket, pcsc_socket, reader))
