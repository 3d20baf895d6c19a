"""Service types and their required documents, checked against seeds 000 and 001."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from appliance.domain import (
    REQUIREMENTS,
    Document,
    DomainError,
    RequirementError,
    RequirementProfile,
    ServiceType,
    missing_documents,
    required_documents,
)

D = Document
S = ServiceType
LUMAJANG = RequirementProfile.LUMAJANG
JATIROTO = RequirementProfile.JATIROTO


def test_enum_values() -> None:
    assert [s.value for s in ServiceType] == [
        "baru",
        "pindah_datang",
        "hilang",
        "rusak",
        "perubahan_data",
    ]
    assert {d.value for d in Document} >= {
        "fc_kk",
        "kk",
        "skpd",
        "fc_ktp",
        "surat_kehilangan",
        "ktp_asli",
        "dokumen_perubahan",
        "fc_akta_kelahiran",
    }


def test_every_profile_covers_every_service_without_duplicates() -> None:
    assert set(REQUIREMENTS) == set(RequirementProfile)
    for profile, table in REQUIREMENTS.items():
        assert set(table) == set(ServiceType), profile
        for service, documents in table.items():
            assert documents, (profile, service)
            assert len(set(documents)) == len(documents), (profile, service)


def test_tables_are_read_only() -> None:
    with pytest.raises(TypeError):
        REQUIREMENTS[LUMAJANG] = REQUIREMENTS[JATIROTO]  # type: ignore[index]
    with pytest.raises(TypeError):
        REQUIREMENTS[LUMAJANG][S.BARU] = ()  # type: ignore[index]


def test_lumajang_as_in_seed_000() -> None:
    # New card for a WNI: the latest copy of the KK.
    assert required_documents(S.BARU) == (D.FC_KK,)
    # Moving in: the SKPD from the region of origin, then the KK itself.
    assert required_documents(S.PINDAH_DATANG) == (D.SKPD, D.KK)
    # Lost or damaged: a copy of the KTP and the police letter if lost, the original KTP if
    # damaged, and in both cases the latest copy of the KK.
    assert required_documents(S.HILANG) == (D.FC_KTP, D.SURAT_KEHILANGAN, D.FC_KK)
    assert required_documents(S.RUSAK) == (D.KTP_ASLI, D.FC_KK)
    # Not in seed 000: DOMAIN.md's row.
    assert required_documents(S.PERUBAHAN_DATA) == (D.KTP_ASLI, D.FC_KK, D.DOKUMEN_PERUBAHAN)


def test_jatiroto_as_in_seed_001() -> None:
    for service in ServiceType:
        documents = required_documents(service, JATIROTO)
        # 2.2 and 2.3 are asked of everyone, in that order, first.
        assert documents[:2] == (D.FC_KK, D.FC_AKTA_KELAHIRAN), service
        # 2.4 "KTP Asli (bila rusak dan perubahan data)"
        assert (D.KTP_ASLI in documents) == (service in {S.RUSAK, S.PERUBAHAN_DATA}), service
        # 2.5 "Keterangan kehilangan dari kepolisian bila hilang"
        assert (D.SURAT_KEHILANGAN in documents) == (service is S.HILANG), service
    assert required_documents(S.BARU, JATIROTO) == (D.FC_KK, D.FC_AKTA_KELAHIRAN)


@pytest.mark.parametrize("profile", list(RequirementProfile))
def test_rules_common_to_both_profiles(profile: RequirementProfile) -> None:
    for service in ServiceType:
        documents = required_documents(service, profile)
        assert (D.SURAT_KEHILANGAN in documents) == (service is S.HILANG)
        assert (D.SKPD in documents) == (service is S.PINDAH_DATANG)
        assert (D.DOKUMEN_PERUBAHAN in documents) == (service is S.PERUBAHAN_DATA)
        # Every file carries the family card, as a copy or (moving in, Lumajang) the card.
        assert D.FC_KK in documents or D.KK in documents
    # The police letter is what a lost card needs; a damaged one is handed in instead.
    assert D.SURAT_KEHILANGAN not in required_documents(S.RUSAK, profile)
    assert D.KTP_ASLI in required_documents(S.RUSAK, profile)


def test_only_jatiroto_asks_for_the_birth_certificate() -> None:
    for service in ServiceType:
        assert D.FC_AKTA_KELAHIRAN not in required_documents(service, LUMAJANG)
        assert D.FC_AKTA_KELAHIRAN in required_documents(service, JATIROTO)


def test_strings_are_accepted_for_service_and_profile() -> None:
    assert required_documents("hilang", "jatiroto") == required_documents(S.HILANG, JATIROTO)


@pytest.mark.parametrize(
    ("service", "profile", "code"),
    [("baru_lagi", "lumajang", "unknown_service"), ("baru", "surabaya", "unknown_profile")],
)
def test_unknown_service_or_profile(service: str, profile: str, code: str) -> None:
    with pytest.raises(RequirementError) as info:
        required_documents(service, profile)
    assert info.value.code == code
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value, DomainError)
    assert repr(service if code == "unknown_service" else profile) in str(info.value)


def test_labels_use_the_seeds_wording() -> None:
    for member in (*ServiceType, *Document, *RequirementProfile):
        assert member.label.id
        assert member.label.en
        assert member.label.id != member.label.en
    assert len({d.label.id for d in Document}) == len(Document)
    assert "kepolisian" in D.SURAT_KEHILANGAN.label.id
    assert D.SKPD.label.id == "Surat Keterangan Pindah Datang dari daerah asal"
    assert "Kartu Keluarga (KK) terbaru" in D.FC_KK.label.id
    assert "Akta Kelahiran" in D.FC_AKTA_KELAHIRAN.label.id


services = st.sampled_from(ServiceType)
profiles = st.sampled_from(RequirementProfile)
document_sets = st.sets(st.sampled_from(Document))


@given(services, profiles, document_sets, st.booleans())
def test_missing_documents_keeps_the_table_order(
    service: ServiceType, profile: RequirementProfile, provided: set[Document], as_strings: bool
) -> None:
    given_codes = [d.value for d in provided] if as_strings else list(provided)
    missing = missing_documents(service, given_codes, profile)
    required = required_documents(service, profile)
    assert missing == tuple(d for d in required if d not in provided)
    assert set(missing).isdisjoint(provided)


@given(services, profiles)
def test_complete_and_empty_files(service: ServiceType, profile: RequirementProfile) -> None:
    required = required_documents(service, profile)
    assert missing_documents(service, required, profile) == ()
    assert missing_documents(service, iter(required), profile) == ()  # any iterable
    assert missing_documents(service, [], profile) == required
    assert missing_documents(service, list(Document), profile) == ()


def test_missing_documents_example() -> None:
    assert missing_documents("hilang", ["fc_kk"]) == (D.FC_KTP, D.SURAT_KEHILANGAN)
    assert missing_documents("hilang", ["fc_kk"], "jatiroto") == (
        D.FC_AKTA_KELAHIRAN,
        D.SURAT_KEHILANGAN,
    )


@given(services, profiles, st.text(min_size=1).filter(lambda t: t not in set(Document)))
def test_unknown_document_code_is_an_error(
    service: ServiceType, profile: RequirementProfile, code: str
) -> None:
    # Even when the file is otherwise complete: a typo is not silently ignored.
    provided = [*required_documents(service, profile), code]
    with pytest.raises(RequirementError) as info:
        missing_documents(service, provided, profile)
    assert info.value.code == "unknown_document"
    assert info.value.text.id.startswith("Kode dokumen tidak dikenal")


def test_a_bare_string_is_refused() -> None:
    with pytest.raises(TypeError):
        missing_documents(S.BARU, "fc_kk")
