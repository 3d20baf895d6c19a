"""The Surat Keterangan: what the applicant takes home when no blank card is left.

It is printed on the queue-ticket printer: the holder's identity as recorded, a number,
the statement that it stands in for the KTP-el until the card is printed, and a QR code
carrying the same facts signed by the station key, so that anyone with the station's
public key can tell a genuine one from a forgery. The register records it first; the
application then waits as "recorded, not printed" (`waiting_blank`).
"""

from __future__ import annotations

import base64
from dataclasses import dataclass
from datetime import date, datetime

from appliance.card import CardHolder
from appliance.hal import Slip, TicketPrinter
from appliance.logs import get_logger
from appliance.register import EventType, PublicKey, Register, StationKey

log = get_logger(__name__)

QR_PREFIX = "KTPEL-SK1"


@dataclass(frozen=True, slots=True)
class SuratKeterangan:
    number: str
    slip: Slip


@dataclass(frozen=True, slots=True)
class SuketFacts:
    """What a genuine certificate's QR code vouches for."""

    number: str
    nik: str
    issued_on: date


def check_suket_qr(payload: str, public_key: PublicKey) -> SuketFacts | None:
    """The facts a QR code vouches for if the station's key signed them, else None."""
    facts, _, signature = payload.rpartition("|")
    fields = facts.split("|")
    if len(fields) != 4 or fields[0] != QR_PREFIX:
        return None
    try:
        raw = base64.urlsafe_b64decode(signature + "=" * (-len(signature) % 4))
        issued_on = date.fromisoformat(fields[3])
    except ValueError:
        return None
    if not public_key.verify(facts.encode(), raw):
        return None
    return SuketFacts(number=fields[1], nik=fields[2], issued_on=issued_on)


def suket_slip(
    *, number: str, holder: CardHolder, office: str, issued_at: datetime, key: StationKey
) -> Slip:
    """The printed certificate; its QR is `KTPEL-SK1|number|nik|date|signature`."""
    day = issued_at.strftime("%d-%m-%Y")
    facts = "|".join((QR_PREFIX, number, holder.nik, issued_at.date().isoformat()))
    signature = base64.urlsafe_b64encode(key.sign(facts.encode())).rstrip(b"=").decode()
    return Slip(
        title=(office.upper(), "SURAT KETERANGAN", "PENGGANTI KTP-el", f"Nomor: {number}"),
        rows=(
            ("NIK", holder.nik),
            ("Nama", holder.name),
            ("Tempat/Tgl Lahir", f"{holder.birth_place}, {holder.birth_date:%d-%m-%Y}"),
            ("Alamat", holder.address),
            ("RT/RW", holder.rt_rw),
            ("Kel/Desa", holder.village),
            ("Kecamatan", holder.kecamatan),
        ),
        closing=(
            "Yang bersangkutan telah melakukan perekaman KTP-el.",
            "Surat ini berlaku sebagai pengganti KTP-el",
            "sampai KTP-el selesai dicetak.",
            f"{office}, {day}",
        ),
        qr_payload=f"{facts}|{signature}",
    )


async def issue_surat_keterangan(
    *,
    register: Register,
    printer: TicketPrinter,
    key: StationKey,
    application_id: str,
    holder: CardHolder,
    office: str,
    issued_at: datetime,
) -> SuratKeterangan:
    """Record the certificate, then print it: a failed print can be repeated from the
    register's record, a printed certificate without a record could not be checked."""
    with register.transaction() as txn:
        number = f"SK-{register.station_id}-{txn.head_seq + 1:07d}"
        txn.append(
            EventType.SURAT_KETERANGAN_ISSUED, {"number": number}, application_id=application_id
        )
    slip = suket_slip(number=number, holder=holder, office=office, issued_at=issued_at, key=key)
    await printer.print_slip(slip)
    log.info("surat_keterangan_printed", application=application_id, number=number)
    return SuratKeterangan(number, slip)
