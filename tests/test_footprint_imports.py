"""The idle daemon's weight (docs/footprint.md): what only some operations need loads
with the first of them, not with the daemon."""

from __future__ import annotations

import subprocess
import sys

import pytest

# Each is several MB once imported, and only printing, a card, a signature or a finger
# needs it; numpy and SciPy live in the fingerprint worker only.
LOADED_ON_FIRST_USE = {
    "PIL",
    "escpos",
    "qrcode",
    "barcode",
    "yaml",
    "asn1crypto",
    "numpy",
    "scipy",
    "matplotlib",
    "fpdf",
}


def _top_level_modules_after(code: str) -> set[str]:
    probe = f"{code}; import sys; print(' '.join(sorted({{m.split('.')[0] for m in sys.modules}})))"
    out = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout
    return set(out.split())


def test_the_daemon_starts_without_the_libraries_of_single_operations() -> None:
    loaded = _top_level_modules_after("import appliance.daemon, appliance.station, appliance.hal")
    assert loaded & LOADED_ON_FIRST_USE == set()


TICKET = (
    "from appliance.hal._ticket_printer import Ticket, ticket_bytes; import datetime; "
    "ticket_bytes(Ticket(office='X', number='A-001', service='baru', "
    "issued_at=datetime.datetime(2026, 1, 1), qr_payload='q'))"
)

REPORT_PDF = (
    "from zoneinfo import ZoneInfo; from appliance.oversight import Period; "
    "from appliance.reports import Letterhead, TargetsSection, render_pdf, report; "
    "render_pdf(report([], Period.parse('2026-Q4'), ZoneInfo('Asia/Jakarta'), "
    "TargetsSection()), letterhead=Letterhead(office='X', station='x'))"
)


@pytest.mark.parametrize(
    ("code", "needs"),
    [
        (TICKET, {"escpos", "qrcode"}),
        ("from appliance.hal._signature_pad import render_png; render_png([], 8, 8, 1)", {"PIL"}),
        (REPORT_PDF, {"matplotlib", "fpdf"}),
    ],
)
def test_the_operation_that_needs_a_library_loads_it(code: str, needs: set[str]) -> None:
    assert needs <= _top_level_modules_after(code)
