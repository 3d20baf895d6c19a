"""The domain rules as data and small pure functions: service types and their required
documents, NIK and KK numbers, eligibility, and the SOP's steps with their minutes.

Nothing here does I/O or keeps state; everything an operator may read is a bilingual `Text`,
and every rule broken is a `DomainError` (a ValueError) with a stable `code`.
"""

from __future__ import annotations

from appliance.domain._identity import (
    MINIMUM_AGE_NEW_CARD,
    NUMBER_LENGTH,
    DomainError,
    IdentityError,
    IdentityErrorCode,
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
    validate_kk,
    validate_nik,
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
    "REQUIREMENTS",
    "SERVICE_PROMISE_WORKING_DAYS",
    "SOP_STEPS",
    "SOP_TOTAL_MINUTES",
    "Document",
    "DomainError",
    "IdentityError",
    "IdentityErrorCode",
    "MaritalStatus",
    "NikParts",
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
    "mask_nik",
    "missing_documents",
    "required_documents",
    "step_budgets",
    "step_spec",
    "validate_kk",
    "validate_nik",
]
