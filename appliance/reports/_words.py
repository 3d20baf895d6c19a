"""The words and number forms the HTML page and the PDF share, Indonesian first: one home
for each heading, so the printed and the on-screen report say the same."""

from __future__ import annotations

from fractions import Fraction
from typing import Final

from appliance._text import Language, Text
from appliance.oversight import Period, PeriodKind, shown

from ._report import Measure

WORDS: Final = {
    "title": Text("Laporan Evaluasi Kinerja Pelayanan", "Service performance report"),
    "subtitle": Text("Perekaman dan Pencetakan KTP-el", "Recording and printing of the KTP-el"),
    "period": Text("Periode", "Period"),
    "station": Text("Stasiun", "Station"),
    "office": Text("Kantor", "Office"),
    "dates": Text("Tanggal", "Dates"),
    "summary": Text("{met} dari {measured} target tercapai", "{met} of {measured} targets met"),
    "targets": Text("Target dan capaian", "Targets and achievement"),
    "measure": Text("Ukuran", "Measure"),
    "target": Text("Target", "Target"),
    "achieved": Text("Capaian", "Achieved"),
    "count": Text("Jumlah", "Count"),
    "status": Text("Status", "Status"),
    "met": Text("Tercapai", "Met"),
    "missed": Text("Tidak tercapai", "Missed"),
    "none": Text("Tidak ada data", "No data"),
    "at_least": Text("min.", "at least"),
    "at_most": Text("maks.", "at most"),
    "trend": Text("Tren", "Trend"),
    "activity": Text("Kegiatan pelayanan", "Service activity"),
    "submitted": Text("Berkas diterima", "Files handed in"),
    "handed_over": Text("KTP-el diserahkan", "Cards handed over"),
    "handed_over_late": Text("Diserahkan lewat 1 hari kerja", "Handed over after 1 working day"),
    "returned": Text("Berkas dikembalikan", "Files returned"),
    "cards_issued": Text("Blangko terpakai (diserahkan)", "Blanks used (issued)"),
    "cards_spoiled": Text("Blangko rusak", "Blanks spoiled"),
    "surat_keterangan": Text("Surat Keterangan diterbitkan", "Certificates (Suket) issued"),
    "missing_documents": Text(
        "Dokumen yang kurang (berkas tidak lengkap)", "Documents missing (incomplete files)"
    ),
    "survey": Text("Survei Kepuasan Masyarakat (SKM)", "Satisfaction survey (SKM)"),
    "respondents": Text("Responden", "Respondents"),
    "ikm": Text("IKM", "IKM"),
    "grade": Text("Mutu pelayanan", "Service quality"),
    "sample": Text("Sampel minimum (Krejcie-Morgan)", "Minimum sample (Krejcie-Morgan)"),
    "sample_min": Text("Sampel min.", "Min. sample"),
    "sample_short": Text(
        "Sampel belum mencukupi: {respondents} dari minimal {minimum} responden.",
        "The sample is short: {respondents} of at least {minimum} respondents.",
    ),
    "by_service": Text("IKM per jenis layanan", "IKM by service"),
    "service": Text("Layanan", "Service"),
    "keypad": Text("Koin kepuasan (tombol)", "Satisfaction coins (keypad)"),
    "keypad_share": Text("puas atau sangat puas", "satisfied or very satisfied"),
    "complaints": Text("Pengaduan", "Complaints"),
    "received": Text("Diterima", "Received"),
    "closed": Text("Selesai", "Closed"),
    "closed_on_time": Text("Selesai tepat waktu", "Closed on time"),
    "escalated_open": Text("Terbuka melewati batas waktu", "Open past their deadline"),
    "chart_percent": Text("persen", "percent"),
    "chart_ikm_trend": Text("IKM per periode", "IKM by period"),
    "chart_share_trend": Text("Capaian per bagian periode (%)", "Achieved within the period (%)"),
    "chart_nrr": Text("Nilai rata-rata per unsur (NRR, 1-4)", "Average per element (NRR, 1-4)"),
    "basis": Text(
        "Dihitung dari register kejadian bertanda tangan stasiun; pusat menghitung angka "
        "yang sama dari kejadian yang diterimanya.",
        "Computed from the station's signed register; the central office computes the "
        "same numbers from the events it received.",
    ),
    "signature_place": Text("Tempat, tanggal", "Place, date"),
    "signature_role": Text("Camat", "Camat (district head)"),
    "signature_known": Text("Mengetahui,", "Acknowledged,"),
    "signature_prepared": Text("Dibuat oleh,", "Prepared by,"),
    "signature_prepared_role": Text("Kepala Seksi Pelayanan Umum", "Head of public services"),
    "signature_name": Text("Nama", "Name"),
    "nip": Text("NIP.", "NIP"),
    "page": Text("Halaman {page} dari {pages}", "Page {page} of {pages}"),
    "generated": Text("Dibuat", "Generated"),
}

_SHORT_MONTHS_ID: Final = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "Mei",
    "Jun",
    "Jul",
    "Agu",
    "Sep",
    "Okt",
    "Nov",
    "Des",
]
_SHORT_MONTHS_EN: Final = [
    "Jan",
    "Feb",
    "Mar",
    "Apr",
    "May",
    "Jun",
    "Jul",
    "Aug",
    "Sep",
    "Oct",
    "Nov",
    "Dec",
]


def short_label(period: Period, lang: Language) -> str:
    """A chart's tick: `Okt`, `Trw IV 2026` / `Q4 2026`, `12`, ..."""
    months = _SHORT_MONTHS_EN if lang == "en" else _SHORT_MONTHS_ID
    match period.kind:
        case PeriodKind.DAY:
            return str(period.first.day)
        case PeriodKind.MONTH:
            return f"{months[period.first.month - 1]} {period.first:%y}"
        case PeriodKind.QUARTER:
            quarter = (period.first.month + 2) // 3
            return (
                f"Q{quarter} {period.first.year}"
                if lang == "en"
                else f"Trw {quarter} {period.first.year}"
            )
        case _:
            return period.label.in_language(lang)


def decimal(value: Fraction, lang: Language, places: int = 2) -> str:
    """A number as the reader writes it: `88,31` in Indonesian, `88.31` in English."""
    text = str(shown(value, places))
    return text.replace(".", ",") if lang == "id" else text


def measure_value(measure: Measure, value: Fraction | None, lang: Language) -> str:
    if value is None:
        return "-"
    if measure.unit == "ikm":
        return decimal(value, lang)
    return f"{decimal(value * 100, lang, 1)}%"


def target_text(measure: Measure, lang: Language) -> str:
    bound = WORDS[measure.bound].in_language(lang)
    return f"{bound} {measure_value(measure, measure.target, lang)}"


def status_text(measure: Measure, lang: Language) -> str:
    key = "none" if measure.met is None else "met" if measure.met else "missed"
    return WORDS[key].in_language(lang)


__all__ = ["WORDS", "decimal", "measure_value", "short_label", "status_text", "target_text"]
