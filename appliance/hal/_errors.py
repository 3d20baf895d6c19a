"""The HAL's error taxonomy and the table of fault codes behind it.

Four errors are all the pipeline has to tell apart: a device that took too long
(`DeviceTimeout`), one that went away (`DeviceGone`), one in use by another step
(`DeviceBusy`) and one that reported or showed a fault (`DeviceFault`, with a code from
FAULT_CODES). Each carries the status the device is left in, so the supervisor and the
operator see the same reason the caller does.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import MappingProxyType
from typing import Final

from appliance._text import Text
from appliance.errors import ApplianceError

from ._status import DeviceState, DeviceStatus


@dataclass(frozen=True, slots=True)
class FaultSpec:
    state: DeviceState
    text: Text


FAULT_CODES: Final = MappingProxyType(
    {
        "disconnected": FaultSpec(
            DeviceState.DISCONNECTED,
            Text(
                "Perangkat tidak terhubung; periksa kabel USB/serial",
                "Device not connected; check the USB/serial cable",
            ),
        ),
        "not_responding": FaultSpec(
            DeviceState.ERROR,
            Text(
                "Perangkat tidak menjawab; cabut lalu pasang kembali",
                "Device does not answer; unplug and plug it back in",
            ),
        ),
        "garbage": FaultSpec(
            DeviceState.ERROR,
            Text("Perangkat mengirim data rusak", "Device sent corrupted data"),
        ),
        "paper_out": FaultSpec(
            DeviceState.NOT_READY,
            Text(
                "Kertas printer antrean habis; isi kertas",
                "Queue printer is out of paper; load paper",
            ),
        ),
        "paper_low": FaultSpec(
            DeviceState.READY,
            Text("Kertas printer antrean hampir habis", "Queue printer paper is low"),
        ),
        "cover_open": FaultSpec(
            DeviceState.NOT_READY,
            Text("Tutup printer terbuka; tutup kembali", "Printer cover is open; close it"),
        ),
        "device_busy": FaultSpec(
            DeviceState.BUSY,
            Text("Perangkat sedang dipakai", "Device is in use"),
        ),
        "low_quality": FaultSpec(
            DeviceState.READY,
            Text(
                "Kualitas hasil rekam kurang; ulangi perekaman",
                "Capture quality too low; capture again",
            ),
        ),
        "no_capture": FaultSpec(
            DeviceState.READY,
            Text(
                "Tidak ada jari/wajah/iris terbaca; ulangi",
                "No finger, face or iris was seen; try again",
            ),
        ),
        "cancelled": FaultSpec(
            DeviceState.READY,
            Text("Dibatalkan di perangkat", "Cancelled on the device"),
        ),
        "device_error": FaultSpec(
            DeviceState.ERROR,
            Text("Perangkat melaporkan kerusakan", "Device reported a fault"),
        ),
        "not_found": FaultSpec(
            DeviceState.DISCONNECTED,
            Text(
                "Perangkat tidak ditemukan; periksa sambungan dan daya",
                "Device not found; check connection and power",
            ),
        ),
        "not_registered": FaultSpec(
            DeviceState.NOT_READY,
            Text(
                "Alat belum terdaftar di server manajemen pemasoknya; minta pemasok "
                "mendaftarkannya",
                "The device is not registered with its supplier's management server; "
                "ask the supplier to register it",
            ),
        ),
        "untrusted": FaultSpec(
            DeviceState.ERROR,
            Text(
                "Tanda tangan alat tidak dapat dipercaya (sertifikat bukan dari penyedia "
                "yang diakui); hubungi pemasok",
                "The device's signature cannot be trusted (its certificate is not from a "
                "recognised provider); call the supplier",
            ),
        ),
        "unsupported_version": FaultSpec(
            DeviceState.ERROR,
            Text(
                "Layanan alat tidak mendukung versi SBI stasiun; perbarui layanan alat",
                "The device service speaks no SBI version the station does; update it",
            ),
        ),
        "feeder_empty": FaultSpec(
            DeviceState.NOT_READY,
            Text(
                "Blangko habis di pengumpan; isi blangko KTP-el",
                "The card feeder is empty; load blank KTP-el cards",
            ),
        ),
        "ribbon_out": FaultSpec(
            DeviceState.NOT_READY,
            Text(
                "Pita printer kartu habis atau putus; ganti pita",
                "The card printer ribbon is used up or torn; replace it",
            ),
        ),
        "ribbon_low": FaultSpec(
            DeviceState.READY,
            Text("Pita printer kartu hampir habis", "The card printer ribbon is low"),
        ),
        "card_jam": FaultSpec(
            DeviceState.NOT_READY,
            Text(
                "Kartu macet di printer kartu; buka tutup dan bebaskan kartu",
                "A card is jammed in the card printer; open the cover and free it",
            ),
        ),
        "reject_box_full": FaultSpec(
            DeviceState.NOT_READY,
            Text(
                "Kotak kartu gagal penuh; kosongkan dan catat kartunya",
                "The reject box is full; empty it and record its cards",
            ),
        ),
        "card_in_printer": FaultSpec(
            DeviceState.READY,
            Text(
                "Masih ada kartu di dalam printer; tolak kartu itu dahulu",
                "A card is still in the printer; reject it first",
            ),
        ),
        "no_card": FaultSpec(
            DeviceState.READY,
            Text("Tidak ada kartu di dalam printer", "There is no card in the printer"),
        ),
        "no_card_in_reader": FaultSpec(
            DeviceState.READY,
            Text(
                "Tidak ada kartu di pembaca chip; masukkan kartu",
                "No card at the chip reader; insert a card",
            ),
        ),
        "card_removed": FaultSpec(
            DeviceState.READY,
            Text(
                "Kartu terlepas dari pembaca chip saat diproses; ulangi dengan kartu baru",
                "The card left the chip reader during the operation; try again with a new card",
            ),
        ),
        "write_failed": FaultSpec(
            DeviceState.READY,
            Text(
                "Penulisan chip kartu gagal; tolak kartu ini dan pakai kartu baru",
                "Writing the card chip failed; reject this card and use a new one",
            ),
        ),
        "card_rejected": FaultSpec(
            DeviceState.READY,
            Text(
                "Chip kartu menolak perintah; tolak kartu ini dan pakai kartu lain",
                "The card chip refused a command; reject this card and use another",
            ),
        ),
        "access_denied": FaultSpec(
            DeviceState.READY,
            Text(
                "Chip kartu menolak kunci akses (CAN atau kunci kartu tidak cocok); "
                "tolak kartu ini dan pakai kartu lain",
                "The card chip refused the access keys (CAN or card key does not match); "
                "reject this card and use another",
            ),
        ),
        "pcsc_unavailable": FaultSpec(
            DeviceState.DISCONNECTED,
            Text(
                "Layanan pembaca kartu (pcscd) tidak berjalan; jalankan ulang layanan itu",
                "The card reader service (pcscd) is not running; restart it",
            ),
        ),
    }
)


def status_for(code: str, detail: str | None = None) -> DeviceStatus:
    """The status a device is in after fault `code`, with an optional technical detail."""
    spec = FAULT_CODES[code]
    reason = (
        spec.text
        if detail is None
        else Text(f"{spec.text.id} ({detail})", f"{spec.text.en} ({detail})")
    )
    return DeviceStatus(spec.state, code, reason)


class DeviceError(ApplianceError):
    """A device operation failed; `status` is the state it left the device in."""

    code: str = "device_error"

    def __init__(self, device: str, detail: str | None = None, *, code: str | None = None) -> None:
        self.device = device
        self.code = code or type(self).code
        self.detail = detail
        self.status = status_for(self.code, detail)
        super().__init__(f"{device}: {self.code}" + (f": {detail}" if detail else ""))

    @property
    def text(self) -> Text:
        assert self.status.reason is not None
        return self.status.reason


class DeviceTimeout(DeviceError):
    code = "not_responding"


class DeviceGone(DeviceError):
    code = "disconnected"


class DeviceBusy(DeviceError):
    code = "device_busy"


class DeviceFault(DeviceError):
    """The device answered, and the answer was a fault (or was not a valid answer)."""

    def __init__(self, device: str, code: str, detail: str | None = None) -> None:
        if code not in FAULT_CODES:
            raise ValueError(f"unknown fault code {code!r}")
        super().__init__(device, detail, code=code)
