"""SQL for guardians and patients as the API reads and writes them. Three other writers exist:
the CSV import (bulk statements of its own), the demo seed (row-by-row INSERTs of its own) and
a backup restore, which reloads the tables whole.

Reads return rows in the API's shapes (TypedDicts below), so other areas can reuse them:
`get_patient`, `get_patients` and `list_patients` give the whole Patient (age, Korean labels,
conditions, medications, diet, personality) in one query whatever the number of patients: the
patients with their diet and personality, and each one's conditions and medications as JSON
arrays (subqueries on their patient_id indexes).
`get_patient_summaries` gives the reduced card shown with a matching offer (no name, address or
notes). Nothing here authorises or audits: services do that before calling in.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypedDict, cast

from psycopg2 import sql

from models.dates import age_on, korea_today
from models.vocabularies import Allergen, CareLevel, Condition, DietType, MobilityStatus
from shared.auth.care_relationships import caregiver_holds_matching
from shared.db import Cursor
from shared.personality import AXES, axis_columns, upsert_statement

#: Patient columns a guardian writes (POST and PATCH); nothing else may be set through here.
PATIENT_FIELDS = (
    "name",
    "birth_date",
    "gender",
    "care_address",
    "region_code",
    "care_level",
    "mobility_status",
    "height_cm",
    "weight_kg",
)


class GuardianRow(TypedDict):
    guardian_id: int
    user_id: int
    address: str
    relationship_to_patient: str | None
    emergency_contact: str | None
    created_at: datetime
    updated_at: datetime


class MedicationRow(TypedDict):
    medication_id: int
    patient_id: int
    name: str
    dosage: str | None
    frequency: str | None
    intake_method: str | None
    created_at: datetime


class ConditionEntry(TypedDict):
    code: str
    label: str
    note: str | None


class CodeLabel(TypedDict):
    code: str
    label: str


class DietShape(TypedDict):
    diet_type: str
    diet_type_label: str
    allergens: list[str]
    allergen_labels: list[str]
    updated_at: datetime


class PatientShape(TypedDict):
    """A whole patient in the API's shape (models.patients.Patient)."""

    patient_id: int
    guardian_id: int
    name: str
    birth_date: date
    age: int
    gender: str
    care_address: str
    region_code: str
    care_level: str
    care_level_label: str
    mobility_status: str
    mobility_status_label: str
    height_cm: float | None
    weight_kg: float | None
    conditions: list[ConditionEntry]
    medications: list[MedicationRow]
    diet: DietShape | None
    personality: dict[str, Any] | None
    created_at: datetime
    updated_at: datetime


class PatientSummary(TypedDict):
    """The reduced card of a matching offer: no name, address, contacts or notes."""

    patient_id: int
    age: int
    gender: str
    care_level: str
    care_level_label: str
    mobility_status: str
    mobility_status_label: str
    region_code: str
    conditions: list[CodeLabel]


_GUARDIAN_COLUMNS = (
    "guardian_id, user_id, address, relationship_to_patient, emergency_contact,"
    " created_at, updated_at"
)
_MEDICATION_COLUMNS = (
    "medication_id, patient_id, name, dosage, frequency, intake_method, created_at"
)
_PATIENT_COLUMNS = f"""
    p.patient_id, p.guardian_id, p.name, p.birth_date, p.gender, p.care_address,
    p.region_code, p.care_level, p.mobility_status, p.height_cm, p.weight_kg,
    p.created_at, p.updated_at,
    d.diet_type, d.allergens, d.updated_at AS diet_updated_at,
    {axis_columns("pp")},
    pp.source AS personality_source, pp.updated_at AS personality_updated_at,
    (SELECT json_agg(json_build_object('code', c.code, 'note', c.note) ORDER BY c.code)
     FROM patient_conditions c WHERE c.patient_id = p.patient_id) AS condition_list,
    (SELECT json_agg(json_build_object(
                'medication_id', m.medication_id, 'patient_id', m.patient_id, 'name', m.name,
                'dosage', m.dosage, 'frequency', m.frequency,
                'intake_method', m.intake_method, 'created_at', m.created_at)
            ORDER BY m.medication_id)
     FROM patient_medications m WHERE m.patient_id = p.patient_id) AS medication_list
"""  # noqa: S608  (constant fragments only)
_PATIENT_JOINS = """
    LEFT JOIN patient_diets d ON d.patient_id = p.patient_id
    LEFT JOIN patient_personality pp ON pp.patient_id = p.patient_id
"""
_PATIENT_SELECT = f"SELECT {_PATIENT_COLUMNS} FROM patients p {_PATIENT_JOINS}"  # noqa: S608


# -- guardians -------------------------------------------------------------------------------


def get_guardian_by_user(cur: Cursor, user_id: int) -> GuardianRow | None:
    """The guardian profile of a user, or None when the user has not created one."""
    cur.execute(
        f"SELECT {_GUARDIAN_COLUMNS} FROM guardians WHERE user_id = %s",  # noqa: S608
        (user_id,),
    )
    return cast(GuardianRow | None, cur.fetchone())


def upsert_guardian(
    cur: Cursor,
    user_id: int,
    *,
    address: str,
    relationship_to_patient: str | None,
    emergency_contact: str | None,
) -> tuple[GuardianRow, bool]:
    """Create or replace the user's guardian profile; (profile, whether it was created)."""
    cur.execute(
        "INSERT INTO guardians (user_id, address, relationship_to_patient, emergency_contact)"  # noqa: S608  (constant columns)
        " VALUES (%s, %s, %s, %s)"
        " ON CONFLICT (user_id) DO UPDATE SET address = EXCLUDED.address,"
        " relationship_to_patient = EXCLUDED.relationship_to_patient,"
        " emergency_contact = EXCLUDED.emergency_contact"
        f" RETURNING {_GUARDIAN_COLUMNS}, (xmax = 0) AS created",
        (user_id, address, relationship_to_patient, emergency_contact),
    )
    row = dict(_one(cur))
    created = bool(row.pop("created"))
    return cast(GuardianRow, row), created


# -- patients --------------------------------------------------------------------------------


def insert_patient(cur: Cursor, guardian_id: int, fields: Mapping[str, Any]) -> int:
    """A new patient of the guardian from PATIENT_FIELDS values; its patient_id."""
    columns = [name for name in PATIENT_FIELDS if name in fields]
    cur.execute(
        sql.SQL(
            "INSERT INTO patients (guardian_id, {}) VALUES (%s, {}) RETURNING patient_id"
        ).format(
            sql.SQL(", ").join(map(sql.Identifier, columns)),
            sql.SQL(", ").join(sql.Placeholder() * len(columns)),
        ),
        (guardian_id, *(fields[name] for name in columns)),
    )
    return int(_one(cur)["patient_id"])


def update_patient(cur: Cursor, patient_id: int, changes: Mapping[str, Any]) -> bool:
    """Set the given PATIENT_FIELDS columns; False when the patient does not exist."""
    unknown = set(changes) - set(PATIENT_FIELDS)
    if unknown:
        raise ValueError(f"not patient fields: {sorted(unknown)}")
    if not changes:
        return lock_patient(cur, patient_id, profile_changed=True)
    columns = list(changes)
    cur.execute(
        sql.SQL("UPDATE patients SET {} WHERE patient_id = %s RETURNING patient_id").format(
            sql.SQL(", ").join(sql.SQL("{} = %s").format(sql.Identifier(name)) for name in columns)
        ),
        (*(changes[name] for name in columns), patient_id),
    )
    return cur.fetchone() is not None


def lock_patient(cur: Cursor, patient_id: int, *, profile_changed: bool) -> bool:
    """Lock the patient row until this transaction ends; False if the patient is gone.

    Every change to one patient's records takes this lock first, so changes of one patient are
    serialised: no lost updates, no child rows inserted for a patient being deleted, and the
    one-active-schedule-a-day rule holds under concurrency. With `profile_changed` the row's
    `updated_at` is stamped too (conditions, medications, diet, personality), which takes the
    same lock (an UPDATE of non-key columns locks FOR NO KEY UPDATE).
    """
    if profile_changed:
        cur.execute(
            "UPDATE patients SET updated_at = now() WHERE patient_id = %s RETURNING patient_id",
            (patient_id,),
        )
    else:
        cur.execute(
            "SELECT patient_id FROM patients WHERE patient_id = %s FOR NO KEY UPDATE",
            (patient_id,),
        )
    return cur.fetchone() is not None


def delete_patient(cur: Cursor, patient_id: int) -> bool:
    """Delete the patient and, by the foreign keys' cascades, everything about it."""
    cur.execute("DELETE FROM patients WHERE patient_id = %s RETURNING patient_id", (patient_id,))
    return cur.fetchone() is not None


def get_patient(cur: Cursor, patient_id: int) -> PatientShape | None:
    """The whole Patient (API shape), or None."""
    found = get_patients(cur, [patient_id])
    return found[0] if found else None


def get_patients(cur: Cursor, patient_ids: Sequence[int]) -> list[PatientShape]:
    """Whole Patients in the order of `patient_ids` (missing ids skipped); one query."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return []
    cur.execute(_PATIENT_SELECT + " WHERE p.patient_id = ANY(%s)", (ids,))
    rows = {row["patient_id"]: row for row in cur.fetchall()}
    return [_patient(rows[pid]) for pid in ids if pid in rows]


def list_patients(
    cur: Cursor,
    *,
    guardian_user_id: int | None = None,
    caregiver_user_id: int | None = None,
    every_patient: bool = False,
    limit: int,
    offset: int,
) -> tuple[list[PatientShape], int]:
    """A page of whole Patients, oldest first, and how many there are in all.

    Exactly one scope: a guardian's own patients, a caregiver's patients with an `active`
    matching, or (operators) every patient.
    """
    if sum((guardian_user_id is not None, caregiver_user_id is not None, every_patient)) != 1:
        raise ValueError("list_patients needs exactly one scope")
    if guardian_user_id is not None:
        where = sql.SQL(
            "WHERE p.guardian_id = (SELECT guardian_id FROM guardians WHERE user_id = %(user)s)"
        )
    elif caregiver_user_id is not None:
        where = sql.SQL("WHERE " + caregiver_holds_matching("p.patient_id", "user"))
    else:
        where = sql.SQL("")
    params = {
        "user": guardian_user_id if guardian_user_id is not None else caregiver_user_id,
        "limit": limit,
        "offset": offset,
    }
    # One query: the page's ids with the count of the whole scope (a window over ids only),
    # then the page's patients whole. A page past the end has no row to carry the count.
    cur.execute(
        sql.SQL(
            "WITH page AS (SELECT p.patient_id, count(*) OVER () AS total FROM patients p {}"
            " ORDER BY p.patient_id LIMIT %(limit)s OFFSET %(offset)s)"
            " SELECT page.total, {} FROM page JOIN patients p ON p.patient_id = page.patient_id"
            " {} ORDER BY p.patient_id"
        ).format(where, sql.SQL(_PATIENT_COLUMNS), sql.SQL(_PATIENT_JOINS)),
        params,
    )
    rows = cur.fetchall()
    if rows:
        return [_patient(row) for row in rows], int(rows[0]["total"])
    cur.execute(sql.SQL("SELECT count(*) AS total FROM patients p {}").format(where), params)
    return [], int(_one(cur)["total"])


def get_patient_summaries(cur: Cursor, patient_ids: Sequence[int]) -> dict[int, PatientSummary]:
    """patient_id -> the reduced card of a matching offer: age, gender, care level, mobility,
    region and condition codes; never the name, address, contacts or free-text notes."""
    ids = list(dict.fromkeys(patient_ids))
    if not ids:
        return {}
    cur.execute(
        "SELECT patient_id, birth_date, gender, care_level, mobility_status, region_code"
        " FROM patients WHERE patient_id = ANY(%s)",
        (ids,),
    )
    rows = cur.fetchall()
    conditions = list_conditions(cur, [row["patient_id"] for row in rows])
    today = korea_today()
    return {
        row["patient_id"]: {
            "patient_id": row["patient_id"],
            "age": age_on(row["birth_date"], today),
            "gender": row["gender"],
            "care_level": row["care_level"],
            "care_level_label": CareLevel(row["care_level"]).label,
            "mobility_status": row["mobility_status"],
            "mobility_status_label": MobilityStatus(row["mobility_status"]).label,
            "region_code": row["region_code"],
            "conditions": [
                {"code": c["code"], "label": c["label"]}
                for c in conditions.get(row["patient_id"], [])
            ],
        }
        for row in rows
    }


# -- conditions ------------------------------------------------------------------------------


def list_conditions(cur: Cursor, patient_ids: Sequence[int]) -> dict[int, list[ConditionEntry]]:
    """patient_id -> its conditions [{code, label, note}], in code order; one query."""
    by_patient: dict[int, list[ConditionEntry]] = defaultdict(list)
    if not patient_ids:
        return by_patient
    cur.execute(
        "SELECT patient_id, code, note FROM patient_conditions"
        " WHERE patient_id = ANY(%s) ORDER BY patient_id, code",
        (list(patient_ids),),
    )
    for row in cur.fetchall():
        by_patient[row["patient_id"]].append(
            {"code": row["code"], "label": Condition(row["code"]).label, "note": row["note"]}
        )
    return by_patient


def replace_conditions(
    cur: Cursor, patient_id: int, conditions: Iterable[tuple[str, str | None]]
) -> None:
    """Make the patient's conditions exactly these (code, note) pairs."""
    cur.execute("DELETE FROM patient_conditions WHERE patient_id = %s", (patient_id,))
    rows = [(patient_id, str(code), note) for code, note in conditions]
    if rows:
        cur.executemany(
            "INSERT INTO patient_conditions (patient_id, code, note) VALUES (%s, %s, %s)", rows
        )


# -- medications -----------------------------------------------------------------------------


def list_medications(cur: Cursor, patient_ids: Sequence[int]) -> dict[int, list[MedicationRow]]:
    """patient_id -> its medications, oldest first; one query."""
    by_patient: dict[int, list[MedicationRow]] = defaultdict(list)
    if not patient_ids:
        return by_patient
    cur.execute(
        f"SELECT {_MEDICATION_COLUMNS} FROM patient_medications"  # noqa: S608
        " WHERE patient_id = ANY(%s) ORDER BY patient_id, medication_id",
        (list(patient_ids),),
    )
    for row in cur.fetchall():
        by_patient[row["patient_id"]].append(cast(MedicationRow, dict(row)))
    return by_patient


def page_medications(
    cur: Cursor, patient_id: int, *, limit: int, offset: int
) -> tuple[list[MedicationRow], int]:
    """A page of one patient's medications, oldest first, and how many it has."""
    cur.execute(
        "SELECT count(*) AS total FROM patient_medications WHERE patient_id = %s", (patient_id,)
    )
    total = int(_one(cur)["total"])
    cur.execute(
        f"SELECT {_MEDICATION_COLUMNS} FROM patient_medications"  # noqa: S608
        " WHERE patient_id = %s ORDER BY medication_id LIMIT %s OFFSET %s",
        (patient_id, limit, offset),
    )
    return [cast(MedicationRow, dict(row)) for row in cur.fetchall()], total


def insert_medication(
    cur: Cursor,
    patient_id: int,
    *,
    name: str,
    dosage: str | None,
    frequency: str | None,
    intake_method: str | None,
) -> MedicationRow:
    """A new medication of the patient."""
    cur.execute(
        "INSERT INTO patient_medications (patient_id, name, dosage, frequency, intake_method)"  # noqa: S608
        f" VALUES (%s, %s, %s, %s, %s) RETURNING {_MEDICATION_COLUMNS}",
        (patient_id, name, dosage, frequency, intake_method),
    )
    return cast(MedicationRow, dict(_one(cur)))


def medication_patient_id(cur: Cursor, medication_id: int) -> int | None:
    """Whose medication this is (for authorisation), or None when there is no such one."""
    cur.execute(
        "SELECT patient_id FROM patient_medications WHERE medication_id = %s", (medication_id,)
    )
    row = cur.fetchone()
    return int(row["patient_id"]) if row else None


def delete_medication(cur: Cursor, medication_id: int) -> bool:
    """Delete one medication; False when it was already gone."""
    cur.execute(
        "DELETE FROM patient_medications WHERE medication_id = %s RETURNING medication_id",
        (medication_id,),
    )
    return cur.fetchone() is not None


# -- diet and personality --------------------------------------------------------------------


def upsert_diet(
    cur: Cursor, patient_id: int, *, diet_type: str, allergens: Sequence[str]
) -> tuple[DietShape, bool]:
    """Set the patient's diet; (Diet in API shape, whether it was created)."""
    cur.execute(
        "INSERT INTO patient_diets (patient_id, diet_type, allergens) VALUES (%s, %s, %s::text[])"
        " ON CONFLICT (patient_id) DO UPDATE SET diet_type = EXCLUDED.diet_type,"
        " allergens = EXCLUDED.allergens"
        " RETURNING diet_type, allergens, updated_at, (xmax = 0) AS created",
        (patient_id, str(diet_type), [str(a) for a in allergens]),
    )
    row = _one(cur)
    return _diet(row["diet_type"], row["allergens"], row["updated_at"]), bool(row["created"])


def upsert_personality(
    cur: Cursor, patient_id: int, scores: Mapping[str, int], *, source: str = "manual"
) -> tuple[dict[str, Any], bool]:
    """Set the patient's four personality axes; (Personality, whether it was created).

    `source` is `manual` (PUT .../personality), `test` (the personality test) or `import`.
    """
    cur.execute(
        upsert_statement(
            "patient_personality",
            "patient_id",
            returning=f"{axis_columns()}, source, updated_at, (xmax = 0) AS created",
        ),
        (patient_id, *(scores[axis] for axis in AXES), source),
    )
    row = dict(_one(cur))
    created = bool(row.pop("created"))
    return row, created


# -- shaping ---------------------------------------------------------------------------------


def _number(value: Decimal | None) -> float | None:
    return None if value is None else float(value)


def _one(cur: Cursor) -> dict[str, Any]:
    """The row a statement that always returns one row returned."""
    row = cur.fetchone()
    if row is None:
        raise RuntimeError("the statement returned no row")
    return row


def _diet(diet_type: str, allergens: Sequence[str], updated_at: datetime) -> DietShape:
    return {
        "diet_type": diet_type,
        "diet_type_label": DietType(diet_type).label,
        "allergens": list(allergens),
        "allergen_labels": [Allergen(code).label for code in allergens],
        "updated_at": updated_at,
    }


def _patient(row: Mapping[str, Any]) -> PatientShape:
    """A row of `_PATIENT_COLUMNS` in the API's shape."""
    conditions: list[ConditionEntry] = [
        {"code": c["code"], "label": Condition(c["code"]).label, "note": c["note"]}
        for c in row["condition_list"] or []
    ]
    medications = [
        cast(MedicationRow, {**m, "created_at": datetime.fromisoformat(m["created_at"])})
        for m in row["medication_list"] or []
    ]
    diet = None
    if row["diet_type"] is not None:
        diet = _diet(row["diet_type"], row["allergens"], row["diet_updated_at"])
    personality = None
    if row["empathy"] is not None:
        personality = {
            **{axis: row[axis] for axis in AXES},
            "source": row["personality_source"],
            "updated_at": row["personality_updated_at"],
        }
    return {
        "patient_id": row["patient_id"],
        "guardian_id": row["guardian_id"],
        "name": row["name"],
        "birth_date": row["birth_date"],
        "age": age_on(row["birth_date"], korea_today()),
        "gender": row["gender"],
        "care_address": row["care_address"],
        "region_code": row["region_code"],
        "care_level": row["care_level"],
        "care_level_label": CareLevel(row["care_level"]).label,
        "mobility_status": row["mobility_status"],
        "mobility_status_label": MobilityStatus(row["mobility_status"]).label,
        "height_cm": _number(row["height_cm"]),
        "weight_kg": _number(row["weight_kg"]),
        "conditions": conditions,
        "medications": medications,
        "diet": diet,
        "personality": personality,
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
    }
