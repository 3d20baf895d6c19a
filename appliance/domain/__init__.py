"""The domain rules as data and small pure functions: service types and their required
documents, NIK and KK numbers with the official region list, eligibility, and the SOP's steps
with their minutes.

Nothing here does I/O or keeps state, but for the region list (`data/regions.tsv`), read once
on the first NIK or KK checked. Everything an operator may read is a bilingual `Text`, and
every rule broken is a `DomainError` (an `ApplianceError` and a ValueError) with a stable `code`.
"""

from __future__ import annotations

from appliance.domain._errors import DomainError, IdentityError, IdentityErrorCode
from appliance.domain._fields import KkField, NikField, identity_error_of
from appliance.domain._identity import (
    MINIMUM_AGE_NEW_CARD,
    NUMBER_LENGTH,
    NUMBER_PATTERN,
    MaritalStatus,
    NikParts,
    Sex,
    age_on,
    check_new_card_eligibility,
    check_nik_matches,
    compose_kk,
    compose_nik,
    decode_nik,
    mask_nik,
    region_of,
    validate_kk,
    validate_nik,
)
from appliance.domain._regions import (
    NumberKind,
    RegionCheck,
    RegionStatus,
    district_name,
    listed_districts,
    province_name,
    regency_name,
)
from appliance.domain._services import (
    REQUIREMENTS,
    Document,
    RequirementError,
    RequirementProfile,
    ServiceType,
    missing_documents,
    required_documents,
)
from appliance.domain._sop import (
    SERVICE_PROMISE_WORKING_DAYS,
    SOP_STEPS,
    SOP_TOTAL_MINUTES,
    Role,
    SopError,
    Step,
    StepKind,
    StepSpec,
    step_budgets,
    step_spec,
)

__all__ = [
    "MINIMUM_AGE_NEW_CARD",
    "NUMBER_LENGTH",
    "NUMBER_PATTERN",
    "REQUIREMENTS",
    "SERVICE_PROMISE_WORKING_DAYS",
    "SOP_STEPS",
    "SOP_TOTAL_MINUTES",
    "Document",
    "DomainError",
    "IdentityError",
    "IdentityErrorCode",
    "KkField",
    "MaritalStatus",
    "NikField",
    "NikParts",
    "NumberKind",
    "RegionCheck",
    "RegionStatus",
    "RequirementError",
    "RequirementProfile",
    "Role",
    "ServiceType",
    "Sex",
    "SopError",
    "Step",
    "StepKind",
    "StepSpec",
    "age_on",
    "check_new_card_eligibility",
    "check_nik_matches",
    "compose_kk",
    "compose_nik",
    "decode_nik",
    "district_name",
    "identity_error_of",
    "listed_districts",
    "mask_nik",
    "missing_documents",
    "province_name",
    "regency_name",
    "region_of",
    "required_documents",
    "step_budgets",
    "step_spec",
    "validate_kk",
    "validate_nik",
]
