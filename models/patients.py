"""Guardians and patients (API.md "Guardians and patients"): request and response bodies.

Ranges and lengths repeat the database's CHECK constraints, so a bad value is a 422 naming the
field rather than a constraint error. Responses carry Korean `label`s beside vocabulary codes
for display.

PATCH bodies declare their non-nullable fields with a `None` default but a non-optional type:
an absent field stays unset (pydantic does not validate defaults), while an explicit `null` is
refused for that field. Only columns that may be NULL (height, weight) accept `null`.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Annotated, Any

from pydantic import (
    AfterValidator,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from models.common import ApiModel, PageQuery, ResponseModel
from models.dates import korea_today
from models.vocabularies import (
    REGION_CODE_PATTERN,
    Allergen,
    CareLevel,
    Condition,
    DietType,
    Gender,
    MobilityStatus,
)

_REGION_CODE = re.compile(REGION_CODE_PATTERN)
#: The database's CHECK: `birth_date > DATE '1900-01-01'`.
EARLIEST_BIRTH_DATE = date(1900, 1, 1)


def _check_birth_date(value: date) -> date:
    if value <= EARLIEST_BIRTH_DATE:
        raise ValueError("must be after 1900-01-01")
    if value >= korea_today():
        raise ValueError("must be in the past (Korea time)")
    return value


def _check_region_code(value: str) -> str:
    if not _REGION_CODE.match(value):
        raise ValueError(
            "must be PROVINCE_DISTRICT in capitals (e.g. SEOUL_GANGNAM) with a known province"
        )
    return value


Text100 = Annotated[str, StringConstraints(max_length=100)]
PatientName = Annotated[
    str, StringConstraints(min_length=1, max_length=100), Field(examples=["김순자"])
]
Address = Annotated[
    str,
    StringConstraints(min_length=1, max_length=500),
    Field(examples=["서울특별시 강남구 테헤란로 1"]),
]
BirthDate = Annotated[
    date,
    AfterValidator(_check_birth_date),
    Field(description="YYYY-MM-DD, after 1900-01-01 and before today (Korea time)."),
]
RegionCode = Annotated[
    str,
    StringConstraints(max_length=64),
    AfterValidator(_check_region_code),
    Field(
        description="PROVINCE_DISTRICT in capitals, e.g. SEOUL_GANGNAM (province from API.md).",
        json_schema_extra={"pattern": REGION_CODE_PATTERN},
        examples=["SEOUL_GANGNAM"],
    ),
]
HeightCm = Annotated[float, Field(ge=50, le=250, description="Centimetres, 50..250 (0.1 steps).")]
WeightKg = Annotated[float, Field(ge=20, le=300, description="Kilograms, 20..300 (0.1 steps).")]
Axis = Annotated[int, Field(ge=0, le=100, description="0..100")]


def _no_null_defaults(schema: dict[str, Any]) -> None:
    """In the JSON schema, a field that may be absent but not null shows no `default: null`."""
    for prop in schema.get("properties", {}).values():
        if "default" in prop and prop["default"] is None and "anyOf" not in prop:
            del prop["default"]


def _one_decimal(value: float | None) -> float | None:
    """The columns are numeric(5, 1): round here so the response shows what was stored."""
    return None if value is None else round(value, 1)


# -- guardians -------------------------------------------------------------------------------


class GuardianIn(ApiModel):
    """The signed-in guardian's profile (created or replaced by PUT)."""

    address: Address
    relationship_to_patient: Annotated[str, StringConstraints(max_length=50)] | None = Field(
        None, examples=["딸"]
    )
    emergency_contact: Text100 | None = Field(None, examples=["010-9876-5432"])


class Guardian(ResponseModel):
    guardian_id: int
    user_id: int
    address: str
    relationship_to_patient: str | None
    emergency_contact: str | None
    created_at: datetime
    updated_at: datetime


# -- patients --------------------------------------------------------------------------------


class PatientIn(ApiModel):
    """A new patient of the signed-in guardian."""

    name: PatientName
    birth_date: BirthDate
    gender: Gender
    care_address: Address
    region_code: RegionCode
    care_level: CareLevel = CareLevel.NONE
    mobility_status: MobilityStatus = MobilityStatus.INDEPENDENT
    height_cm: HeightCm | None = None
    weight_kg: WeightKg | None = None

    _round = field_validator("height_cm", "weight_kg")(_one_decimal)


class PatientPatch(ApiModel):
    """Any non-empty subset of a patient's fields; `null` only for height_cm and weight_kg."""

    model_config = ConfigDict(json_schema_extra=_no_null_defaults)

    # Non-optional types with a None default: absent is fine, an explicit null is a 422.
    name: PatientName = None  # type: ignore[assignment]
    birth_date: BirthDate = None  # type: ignore[assignment]
    gender: Gender = None  # type: ignore[assignment]
    care_address: Address = None  # type: ignore[assignment]
    region_code: RegionCode = None  # type: ignore[assignment]
    care_level: CareLevel = None  # type: ignore[assignment]
    mobility_status: MobilityStatus = None  # type: ignore[assignment]
    height_cm: HeightCm | None = None
    weight_kg: WeightKg | None = None

    _round = field_validator("height_cm", "weight_kg")(_one_decimal)

    @model_validator(mode="after")
    def _not_empty(self) -> PatientPatch:
        if not self.model_fields_set:
            raise ValueError("give at least one field to change")
        return self

    def changes(self) -> dict[str, Any]:
        """Column -> new value, for the fields the caller sent (codes as plain strings)."""
        return {
            name: str(value) if isinstance(value, str) else value
            for name, value in self.model_dump(include=self.model_fields_set).items()
        }


class ConditionIn(ApiModel):
    code: Condition
    note: Annotated[str, StringConstraints(max_length=500)] | None = None


class ConditionsIn(ApiModel):
    """The patient's whole set of conditions (replaces the stored set); optionally mobility."""

    model_config = ConfigDict(json_schema_extra=_no_null_defaults)

    conditions: list[ConditionIn] = Field(max_length=len(Condition))
    mobility_status: MobilityStatus = None  # type: ignore[assignment]

    @field_validator("conditions")
    @classmethod
    def _distinct_codes(cls, conditions: list[ConditionIn]) -> list[ConditionIn]:
        codes = [c.code for c in conditions]
        repeated = sorted({str(code) for code in codes if codes.count(code) > 1})
        if repeated:
            raise ValueError(f"each condition may appear once; repeated: {', '.join(repeated)}")
        return conditions


class MedicationIn(ApiModel):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)] = Field(
        examples=["아리셉트"]
    )
    dosage: Text100 | None = Field(None, examples=["5mg"])
    frequency: Text100 | None = Field(None, examples=["하루 1회 저녁"])
    intake_method: Text100 | None = Field(None, examples=["식후 복용"])


class DietIn(ApiModel):
    allergens: list[Allergen] = Field(default_factory=list, max_length=len(Allergen))
    diet_type: DietType

    @field_validator("allergens")
    @classmethod
    def _distinct(cls, allergens: list[Allergen]) -> list[Allergen]:
        return list(dict.fromkeys(allergens))


class PersonalityIn(ApiModel):
    empathy: Axis
    activity: Axis
    patience: Axis
    independence: Axis


class PatientListQuery(PageQuery):
    pass


class MedicationListQuery(PageQuery):
    pass


# -- responses -------------------------------------------------------------------------------


class PatientCondition(ResponseModel):
    code: Condition
    label: str = Field(description="Korean label of the code, e.g. 치매.")
    note: str | None


class ConditionSet(ResponseModel):
    """A patient's conditions and mobility, as PUT .../conditions leaves them."""

    patient_id: int
    conditions: list[PatientCondition]
    mobility_status: MobilityStatus
    mobility_status_label: str


class Medication(ResponseModel):
    medication_id: int
    patient_id: int
    name: str
    dosage: str | None
    frequency: str | None
    intake_method: str | None
    created_at: datetime


class Diet(ResponseModel):
    diet_type: DietType
    diet_type_label: str
    allergens: list[Allergen]
    allergen_labels: list[str] = Field(description="Korean labels, in the order of `allergens`.")
    updated_at: datetime


class Personality(ResponseModel):
    empathy: int
    activity: int
    patience: int
    independence: int
    source: str = Field(description="manual, test or import.")
    updated_at: datetime


class Patient(ResponseModel):
    patient_id: int
    guardian_id: int
    name: str
    birth_date: date
    age: int = Field(description="Full years (만 나이) as of today in Korea.")
    gender: Gender
    care_address: str
    region_code: str
    care_level: CareLevel
    care_level_label: str
    mobility_status: MobilityStatus
    mobility_status_label: str
    height_cm: float | None
    weight_kg: float | None
    conditions: list[PatientCondition]
    medications: list[Medication]
    diet: Diet | None
    personality: Personality | None
    created_at: datetime
    updated_at: datetime
