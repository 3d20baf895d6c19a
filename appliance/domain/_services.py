"""The services a kecamatan offers for the KTP-el and the documents each one requires.

Two offices publish their own requirements, kept here as two profiles:

* `LUMAJANG` - seed 000, *Standar Pelayanan Perekaman dan Pencetakan KTP-el*, Kecamatan
  Lumajang: per service type. It says nothing about a change of data; that row follows
  DOMAIN.md (the original KTP, a copy of the KK, the document proving the change).
* `JATIROTO` - seed 001, *SP-KEC.JATIROTO-PELY-02 Penerbitan KTP*, section 2: one list for
  every service (copy of the KK, copy of the birth certificate), the original KTP "bila
  rusak dan perubahan data", the police letter "bila hilang". It does not name the documents
  that make a move or a change of data possible at all; those (the Surat Keterangan Pindah
  Datang, the document proving the change) are required in every profile, since the service
  cannot be recorded without them.

The tables are read-only; each row is in display order, the order of the seed.
"""

from __future__ import annotations

from enum import StrEnum
from types import MappingProxyType
from typing import TYPE_CHECKING

from appliance._text import Text
from appliance.domain._identity import DomainError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping


class RequirementError(DomainError):
    """An unknown service type, requirement profile or document code."""


class ServiceType(StrEnum):
    """Why the applicant needs a KTP-el."""

    BARU = "baru"
    PINDAH_DATANG = "pindah_datang"
    HILANG = "hilang"
    RUSAK = "rusak"
    PERUBAHAN_DATA = "perubahan_data"

    @property
    def label(self) -> Text:
        return _SERVICE_LABELS[self]


_SERVICE_LABELS: Mapping[ServiceType, Text] = MappingProxyType(
    {
        ServiceType.BARU: Text(
            id="KTP elektronik baru bagi WNI", en="New electronic ID card for a citizen"
        ),
        ServiceType.PINDAH_DATANG: Text(
            id="KTP elektronik karena pindah datang", en="Electronic ID card after moving in"
        ),
        ServiceType.HILANG: Text(id="KTP elektronik hilang", en="Lost electronic ID card"),
        ServiceType.RUSAK: Text(id="KTP elektronik rusak", en="Damaged electronic ID card"),
        ServiceType.PERUBAHAN_DATA: Text(
            id="KTP elektronik karena perubahan data",
            en="Electronic ID card after a change of data",
        ),
    }
)


class Document(StrEnum):
    """A document the applicant hands in."""

    FC_KK = "fc_kk"
    KK = "kk"
    SKPD = "skpd"
    FC_KTP = "fc_ktp"
    SURAT_KEHILANGAN = "surat_kehilangan"
    KTP_ASLI = "ktp_asli"
    DOKUMEN_PERUBAHAN = "dokumen_perubahan"
    FC_AKTA_KELAHIRAN = "fc_akta_kelahiran"

    @property
    def label(self) -> Text:
        return _DOCUMENT_LABELS[self]


_DOCUMENT_LABELS: Mapping[Document, Text] = MappingProxyType(
    {
        Document.FC_KK: Text(
            id="Fotokopi Kartu Keluarga (KK) terbaru dan data sudah benar",
            en="Copy of the latest Family Card (KK), with correct data",
        ),
        Document.KK: Text(id="Kartu Keluarga (KK)", en="Family Card (KK)"),
        Document.SKPD: Text(
            id="Surat Keterangan Pindah Datang dari daerah asal",
            en="Certificate of moving in (SKPD) from the region of origin",
        ),
        Document.FC_KTP: Text(id="Fotokopi KTP", en="Copy of the ID card (KTP)"),
        Document.SURAT_KEHILANGAN: Text(
            id="Surat laporan kehilangan dari kepolisian",
            en="Police report of the loss",
        ),
        Document.KTP_ASLI: Text(id="KTP asli", en="The original ID card (KTP)"),
        Document.DOKUMEN_PERUBAHAN: Text(
            id="Dokumen bukti perubahan data (ijazah, akta kelahiran, surat nikah, dll.)",
            en="Document proving the change (diploma, birth certificate, marriage "
            "certificate, etc.)",
        ),
        Document.FC_AKTA_KELAHIRAN: Text(
            id="Fotokopi Akta Kelahiran", en="Copy of the birth certificate"
        ),
    }
)


class RequirementProfile(StrEnum):
    """Whose published service standard the office follows."""

    LUMAJANG = "lumajang"
    JATIROTO = "jatiroto"

    @property
    def label(self) -> Text:
        return _PROFILE_LABELS[self]


_PROFILE_LABELS: Mapping[RequirementProfile, Text] = MappingProxyType(
    {
        RequirementProfile.LUMAJANG: Text(
            id="Standar Pelayanan Perekaman dan Pencetakan KTP-el, Kecamatan Lumajang",
            en="Service standard for recording and printing the KTP-el, Kecamatan Lumajang",
        ),
        RequirementProfile.JATIROTO: Text(
            id="Standar Pelayanan Publik SP-KEC.JATIROTO-PELY-02, Kecamatan Jatiroto",
            en="Public service standard SP-KEC.JATIROTO-PELY-02, Kecamatan Jatiroto",
        ),
    }
)

_D = Document
_S = ServiceType

REQUIREMENTS: Mapping[RequirementProfile, Mapping[ServiceType, tuple[Document, ...]]] = (
    MappingProxyType(
        {
            RequirementProfile.LUMAJANG: MappingProxyType(
                {
                    _S.BARU: (_D.FC_KK,),
                    _S.PINDAH_DATANG: (_D.SKPD, _D.KK),
                    _S.HILANG: (_D.FC_KTP, _D.SURAT_KEHILANGAN, _D.FC_KK),
                    _S.RUSAK: (_D.KTP_ASLI, _D.FC_KK),
                    _S.PERUBAHAN_DATA: (_D.KTP_ASLI, _D.FC_KK, _D.DOKUMEN_PERUBAHAN),
                }
            ),
            RequirementProfile.JATIROTO: MappingProxyType(
                {
                    _S.BARU: (_D.FC_KK, _D.FC_AKTA_KELAHIRAN),
                    _S.PINDAH_DATANG: (_D.FC_KK, _D.FC_AKTA_KELAHIRAN, _D.SKPD),
                    _S.HILANG: (_D.FC_KK, _D.FC_AKTA_KELAHIRAN, _D.SURAT_KEHILANGAN),
                    _S.RUSAK: (_D.FC_KK, _D.FC_AKTA_KELAHIRAN, _D.KTP_ASLI),
                    _S.PERUBAHAN_DATA: (
                        _D.FC_KK,
                        _D.FC_AKTA_KELAHIRAN,
                        _D.KTP_ASLI,
                        _D.DOKUMEN_PERUBAHAN,
                    ),
                }
            ),
        }
    )
)
"""Required documents per profile and service type, in display order."""


def _service(value: ServiceType | str) -> ServiceType:
    try:
        return ServiceType(value)
    except ValueError:
        raise RequirementError(
            code="unknown_service",
            text=Text(
                id=f"Jenis layanan tidak dikenal: {value!r}.",
                en=f"Unknown service type: {value!r}.",
            ),
        ) from None


def _profile(value: RequirementProfile | str) -> RequirementProfile:
    try:
        return RequirementProfile(value)
    except ValueError:
        raise RequirementError(
            code="unknown_profile",
            text=Text(
                id=f"Profil persyaratan tidak dikenal: {value!r}.",
                en=f"Unknown requirement profile: {value!r}.",
            ),
        ) from None


def _document(value: Document | str) -> Document:
    try:
        return Document(value)
    except ValueError:
        raise RequirementError(
            code="unknown_document",
            text=Text(
                id=f"Kode dokumen tidak dikenal: {value!r}.",
                en=f"Unknown document code: {value!r}.",
            ),
        ) from None


def required_documents(
    service: ServiceType | str,
    profile: RequirementProfile | str = RequirementProfile.LUMAJANG,
) -> tuple[Document, ...]:
    """The documents `service` requires under `profile`, in display order."""
    return REQUIREMENTS[_profile(profile)][_service(service)]


def missing_documents(
    service: ServiceType | str,
    provided: Iterable[Document | str],
    profile: RequirementProfile | str = RequirementProfile.LUMAJANG,
) -> tuple[Document, ...]:
    """The required documents not in `provided`, in display order; empty if the file is
    complete. Documents that are not required are ignored; an unknown document code raises
    `RequirementError` (`unknown_document`), since it is a typo, not a document.

    A document counts only as itself: an original KK does not stand in for its copy.
    """
    if isinstance(provided, str):
        # A bare string would be read letter by letter.
        msg = "provided must be a collection of document codes, not one string"
        raise TypeError(msg)
    required = required_documents(service, profile)
    # Validate every provided code before answering: a typo must not read as "missing".
    have = {_document(item) for item in provided}
    return tuple(doc for doc in required if doc not in have)


class ServiceRefused(DomainError):
    """This person may not apply for this service now, given their history here."""


REPLACEMENT_SERVICES: tuple[ServiceType, ...] = (
    ServiceType.HILANG,
    ServiceType.RUSAK,
    ServiceType.PERUBAHAN_DATA,
)
"""What a person whose card was issued may apply for instead of a new card."""


def check_may_apply(
    service: ServiceType, *, open_application: str | None, card_issued: bool
) -> None:
    """One open application per person; a new card ("baru") only for someone who never
    had one. Raises ServiceRefused naming what applies instead."""
    if open_application is not None:
        raise ServiceRefused(
            "application_open",
            Text(
                f"NIK ini sudah memiliki permohonan yang sedang diproses ({open_application}). "
                "Satu orang hanya dapat memiliki satu permohonan terbuka.",
                f"This NIK already has an application in progress ({open_application}). "
                "A person may have only one open application.",
            ),
        )
    if service is ServiceType.BARU and card_issued:
        instead_id = ", ".join(s.label.id for s in REPLACEMENT_SERVICES)
        instead_en = ", ".join(s.label.en for s in REPLACEMENT_SERVICES)
        raise ServiceRefused(
            "card_already_issued",
            Text(
                "KTP-el untuk NIK ini sudah pernah diterbitkan; KTP-el baru tidak dapat "
                f"diterbitkan lagi. Layanan yang berlaku: {instead_id}.",
                "A KTP-el was already issued for this NIK; a new card cannot be issued "
                f"again. The services that apply: {instead_en}.",
            ),
        )
