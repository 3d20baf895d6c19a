"""The counter's part of the work module: the slip an incomplete file's applicant takes
home (exactly what is missing, in Indonesian), printed or not, and the receipt's
signature read back for the counter."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

import pytest

from appliance.biostore import BiometricStore, Modality, create_master_key
from appliance.domain import Document, ServiceType
from appliance.hal import DeviceBusy, DeviceFault, Slip, TicketPrinter
from appliance.pipeline import PipelineSection, StepWork
from appliance.pipeline._records import NoRecords
from appliance.pipeline._work import SLIP_COLUMNS, return_slip
from appliance.register import Register, StationKey

RETURNED_AT = datetime(2026, 3, 2, 9, 41)  # noqa: DTZ001 - printed as the wall clock reads


class _Printer(TicketPrinter):
    """The ticket printer's driver with its USB cut off: keeps the slips, or fails, or is
    busy with tickets for a while."""

    def __init__(self, *, fails: bool = False, busy_for: int = 0) -> None:
        super().__init__(name="ticket_printer", vendor_id=0x0416, product_id=0x5011)
        self.slips: list[Slip] = []
        self.fails = fails
        self.busy_for = busy_for

    async def print_slip(self, slip: Slip, *, timeout_s: float | None = None) -> None:
        del timeout_s
        if self.busy_for:
            self.busy_for -= 1
            raise DeviceBusy(self.name, "in use by print_ticket")
        if self.fails:
            raise DeviceFault(self.name, "paper_out", "refused to print")
        self.slips.append(slip)


@pytest.fixture
def biostore(tmp_path: Path) -> Iterator[BiometricStore]:
    key = tmp_path / "bio.key"
    create_master_key(key)
    with BiometricStore.open(tmp_path / "bio", master_key_path=key) as store:
        yield store


def _work(
    register: Register, biostore: BiometricStore, station_key: StationKey, printer: _Printer
) -> StepWork:
    return StepWork(
        register=register,
        biostore=biostore,
        devices={"ticket_printer": printer},
        settings=PipelineSection(),
        issuer=None,
        activator=None,
        records=NoRecords(),
        ticket_printer="ticket_printer",
        station_key=station_key,
        office="Kecamatan Lumajang",
    )


def _listed(slip: Slip) -> list[str]:
    """The slip's numbered list, each entry's wrapped lines joined again."""
    closing = slip.closing
    start = closing.index("Dokumen yang belum ada:") + 1
    entries: list[str] = []
    for line in closing[start : closing.index("", start)]:
        if line[:1].isdigit():
            entries.append(line.split(". ", 1)[1])
        else:
            entries[-1] += " " + line.strip()
    return entries


def test_the_slip_lists_exactly_the_missing_documents_in_indonesian() -> None:
    missing = (Document.SURAT_KEHILANGAN, Document.FC_KK)
    slip = return_slip(
        office="Kecamatan Lumajang",
        station_id="lumajang-01",
        app="20260302-0004",
        ticket="C-004",
        service=ServiceType.HILANG,
        missing=missing,
        returned_at=RETURNED_AT,
    )
    assert _listed(slip) == [document.label.id for document in missing]
    assert all(len(line) <= SLIP_COLUMNS for line in slip.closing)
    assert slip.title == ("KECAMATAN LUMAJANG", "BERKAS BELUM LENGKAP")
    assert dict(slip.rows) == {
        "No. antrean": "C-004",
        "Permohonan": "20260302-0004",
        "Layanan": "KTP elektronik hilang",
        "Tanggal": "02-03-2026 09:41",
    }
    assert slip.qr_payload == "lumajang-01/20260302-0004"
    # The document handed in is not on it.
    assert not any("Fotokopi KTP" in line for line in slip.closing)


async def test_the_work_prints_the_slip_and_says_so(
    register: Register, biostore: BiometricStore, station_key: StationKey
) -> None:
    printer = _Printer()
    work = _work(register, biostore, station_key, printer)
    printed = await work.print_return_slip(
        "20260302-0001",
        ticket="A-001",
        service=ServiceType.BARU,
        missing=(Document.FC_KK,),
        returned_at=RETURNED_AT,
    )
    assert printed
    assert [_listed(slip) for slip in printer.slips] == [[Document.FC_KK.label.id]]


async def test_a_slip_waits_for_the_ticket_being_printed(
    register: Register, biostore: BiometricStore, station_key: StationKey
) -> None:
    printer = _Printer(busy_for=2)
    work = _work(register, biostore, station_key, printer)
    printed = await work.print_return_slip(
        "20260302-0001",
        ticket="A-001",
        service=ServiceType.BARU,
        missing=(Document.FC_KK,),
        returned_at=RETURNED_AT,
    )
    assert printed
    assert len(printer.slips) == 1


async def test_a_slip_the_printer_refuses_is_reported_not_raised(
    register: Register, biostore: BiometricStore, station_key: StationKey
) -> None:
    work = _work(register, biostore, station_key, _Printer(fails=True))
    printed = await work.print_return_slip(
        "20260302-0001",
        ticket=None,
        service=ServiceType.BARU,
        missing=(Document.FC_KK,),
        returned_at=RETURNED_AT,
    )
    assert not printed


async def test_the_receipt_signature_reads_back_as_stored(
    register: Register, biostore: BiometricStore, station_key: StationKey
) -> None:
    work = _work(register, biostore, station_key, _Printer())
    png = b"\x89PNG\r\n\x1a\n receipt"
    ref = biostore.put("20260302-0001", Modality.SIGNATURE, png, label="receipt")
    assert await work.receipt_signature(ref.blob_id) == png
