"""Guardians and patients over HTTP on the served app: happy paths, validation, audit events.

Who may call what (the authorization matrix) is in test_patients_authorization.py.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import requests

from tests.factories import (
    Parties,
    cursor,
    make_guardian,
    make_patient,
    make_user,
    set_patient_profile,
)

pytestmark = pytest.mark.integration

PATIENT_KEYS = {
    "patient_id",
    "guardian_id",
    "name",
    "birth_date",
    "age",
    "gender",
    "care_address",
    "region_code",
    "care_level",
    "care_level_label",
    "mobility_status",
    "mobility_status_label",
    "height_cm",
    "weight_kg",
    "conditions",
    "medications",
    "diet",
    "personality",
    "created_at",
    "updated_at",
}


def korea_today() -> date:
    return datetime.now(ZoneInfo("Asia/Seoul")).date()


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def patient_body(**overrides: Any) -> dict[str, Any]:
    body = {
        "name": "이순자",
        "birth_date": "1945-01-01",
        "gender": "female",
        "care_address": "서울특별시 마포구 월드컵로 1",
        "region_code": "SEOUL_MAPO",
        "care_level": "grade_2",
        "mobility_status": "wheelchair",
        "height_cm": 152.5,
        "weight_kg": 48.2,
    }
    body.update(overrides)
    return body


def call(app_server, method: str, path: str, user=None, **kwargs) -> requests.Response:
    headers = dict(kwargs.pop("headers", {}))
    if user is not None:
        headers.update(user.headers)
    return app_server.request(method, path, headers=headers, **kwargs)


def assert_422(response: requests.Response, *fields: str) -> dict:
    """A validation problem naming exactly these body/query fields (None: the body itself)."""
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["code"] == "validation_error"
    named = {tuple(error["loc"]) for error in body["errors"]}
    for field in fields:
        assert any(loc[: len(field.split("."))] == tuple(_loc(field)) for loc in named), (
            field,
            named,
        )
    return body


def _loc(field: str) -> list[str | int]:
    return [int(part) if part.isdigit() else part for part in field.split(".")]


def events(database_url: str, patient_id: int | None = None, **where: Any) -> list[dict]:
    """Audit events (oldest first) about a patient, or matching `where` columns."""
    clauses, params = [], []
    if patient_id is not None:
        clauses.append("patient_id = %s")
        params.append(patient_id)
    for column, value in where.items():
        clauses.append(f"{column} = %s")
        params.append(value)
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT actor_user_id, actor_role, action, patient_id, resource_type, resource_id,"
            " detail FROM audit_events WHERE " + " AND ".join(clauses) + " ORDER BY event_id",
            params,
        )
        return cur.fetchall()


def fingerprint(database_url: str, patient_id: int) -> tuple:
    """Everything stored about a patient, to prove a refused request changed nothing."""
    with cursor(database_url) as cur:
        cur.execute("SELECT * FROM patients WHERE patient_id = %s", (patient_id,))
        patient = cur.fetchone()
        parts = [patient]
        for table, order in (
            ("patient_conditions", "code"),
            ("patient_medications", "medication_id"),
            ("patient_diets", "patient_id"),
            ("patient_personality", "patient_id"),
        ):
            cur.execute(
                f"SELECT * FROM {table} WHERE patient_id = %s ORDER BY {order}", (patient_id,)
            )
            parts.append(cur.fetchall())
        return tuple(str(part) for part in parts)


@pytest.fixture
def guardian(database_url):
    with cursor(database_url) as cur:
        return make_guardian(cur)


@pytest.fixture
def owned(database_url, guardian):
    """(guardian, patient_id) with a full profile."""
    with cursor(database_url) as cur:
        patient_id = make_patient(cur, guardian)
        set_patient_profile(
            cur,
            patient_id,
            conditions=("dementia", "hypertension"),
            medications=("아리셉트", "노바스크"),
            diet_type="low_sodium",
            allergens=("peanut", "milk"),
            personality=(70, 30, 60, 40),
        )
    return guardian, patient_id


# -- guardians -------------------------------------------------------------------------------


def test_guardian_profile_is_created_replaced_and_read(app_server, database_url):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian")
    assert call(app_server, "GET", "api/guardians/me", user).status_code == 404

    first = call(
        app_server,
        "PUT",
        "api/guardians/me",
        user,
        json={"address": " 서울특별시 강남구 1 ", "relationship_to_patient": "딸"},
    )
    assert first.status_code == 200, first.text
    created = first.json()
    assert created["user_id"] == user.user_id
    assert created["address"] == "서울특별시 강남구 1"  # stripped
    assert (created["relationship_to_patient"], created["emergency_contact"]) == ("딸", None)
    assert call(app_server, "GET", "api/guardians/me", user).json() == created

    second = call(
        app_server,
        "PUT",
        "api/guardians/me",
        user,
        json={"address": "부산광역시 해운대구 2", "emergency_contact": "010-9999-8888"},
    ).json()
    assert second["guardian_id"] == created["guardian_id"]
    assert second["address"] == "부산광역시 해운대구 2"
    assert second["relationship_to_patient"] is None  # PUT replaces the whole profile
    assert second["emergency_contact"] == "010-9999-8888"
    assert call(app_server, "GET", "api/guardians/me", user).json() == second
    assert [
        (e["action"], e["resource_type"], e["resource_id"], e["patient_id"])
        for e in events(database_url, actor_user_id=user.user_id)
    ] == [
        ("create", "guardian", str(created["guardian_id"]), None),
        ("update", "guardian", str(created["guardian_id"]), None),
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body.address"]),
        ({"address": ""}, ["body.address"]),
        ({"address": "가" * 501}, ["body.address"]),
        (
            {"address": "서울", "relationship_to_patient": "가" * 51},
            ["body.relationship_to_patient"],
        ),
        ({"address": "서울", "emergency_contact": "1" * 101}, ["body.emergency_contact"]),
        ({"address": "서울", "phone": "010-1234-5678"}, ["body.phone"]),
        ({"address": None, "emergency_contact": 5}, ["body.address", "body.emergency_contact"]),
    ],
)
def test_guardian_profile_validation_writes_nothing(app_server, database_url, body, fields):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian")
    assert_422(call(app_server, "PUT", "api/guardians/me", user, json=body), *fields)
    assert call(app_server, "GET", "api/guardians/me", user).status_code == 404


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("other_guardian", 200),
        ("unassigned_caregiver", 403),
        ("assigned_caregiver", 403),
        ("owner", 200),
        ("admin", 403),
    ],
)
def test_guardian_profile_is_for_guardians_only(app_server, parties: Parties, who, status):
    headers = parties.headers(who)
    put = app_server.request(
        "PUT", "api/guardians/me", headers=headers, json={"address": "서울특별시 종로구 3"}
    )
    assert put.status_code == status, put.text
    assert app_server.get("api/guardians/me", headers=headers).status_code == status


# -- create ----------------------------------------------------------------------------------


def test_create_patient_returns_the_whole_patient(app_server, database_url, guardian):
    response = call(app_server, "POST", "api/patients", guardian, json=patient_body())
    assert response.status_code == 201, response.text
    patient = response.json()
    assert set(patient) == PATIENT_KEYS
    assert patient["guardian_id"] == guardian.guardian_id
    assert {k: patient[k] for k in patient_body()} == patient_body()
    assert patient["age"] == korea_today().year - 1945  # born on 1 January
    assert patient["care_level_label"] == "2등급"
    assert patient["mobility_status_label"] == "휠체어"
    assert (patient["conditions"], patient["medications"]) == ([], [])
    assert (patient["diet"], patient["personality"]) == (None, None)

    got = call(app_server, "GET", f"api/patients/{patient['patient_id']}", guardian).json()
    assert got == patient
    assert [(e["action"], e["resource_type"]) for e in events(database_url, patient["patient_id"])][
        :1
    ] == [("create", "patient")]


def test_create_patient_defaults_and_rounding(app_server, guardian):
    body = patient_body(height_cm=160.26)
    for optional in ("care_level", "mobility_status", "weight_kg"):
        del body[optional]
    patient = call(app_server, "POST", "api/patients", guardian, json=body).json()
    assert patient["care_level"] == "none"
    assert patient["care_level_label"] == "등급외"
    assert patient["mobility_status"] == "independent"
    assert patient["height_cm"] == 160.3  # numeric(5, 1)
    assert patient["weight_kg"] is None


def test_age_is_counted_in_korea_time(app_server, guardian):
    today = korea_today()
    birthday_tomorrow = years_before(today, 80) + timedelta(days=1)
    birthday_today = years_before(today, 80)
    younger = call(
        app_server,
        "POST",
        "api/patients",
        guardian,
        json=patient_body(birth_date=birthday_tomorrow.isoformat()),
    ).json()
    older = call(
        app_server,
        "POST",
        "api/patients",
        guardian,
        json=patient_body(birth_date=birthday_today.isoformat()),
    ).json()
    assert (younger["age"], older["age"]) == (79, 80)


def test_create_patient_without_a_guardian_profile_is_a_conflict(app_server, database_url):
    with cursor(database_url) as cur:
        user = make_user(cur, "guardian")
        cur.execute("SELECT count(*) AS n FROM patients")
        before = cur.fetchone()["n"]
    response = call(app_server, "POST", "api/patients", user, json=patient_body())
    assert response.status_code == 409, response.text
    assert response.json()["code"] == "conflict"
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM patients")
        assert cur.fetchone()["n"] == before


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("anonymous", 401),
        ("unassigned_caregiver", 403),
        ("assigned_caregiver", 403),
        ("admin", 403),
        ("other_guardian", 201),
        ("owner", 201),
    ],
)
def test_only_guardians_create_patients(app_server, parties: Parties, who, status):
    response = app_server.request(
        "POST", "api/patients", headers=parties.headers(who), json=patient_body()
    )
    assert response.status_code == status, response.text


def _tomorrow_in_korea() -> str:
    return (korea_today() + timedelta(days=1)).isoformat()


BAD_PATIENT_FIELDS = [
    ({"name": ""}, ["body.name"]),
    ({"name": "   "}, ["body.name"]),
    ({"name": "가" * 101}, ["body.name"]),
    ({"birth_date": "1900-01-01"}, ["body.birth_date"]),
    ({"birth_date": "1899-12-31"}, ["body.birth_date"]),
    ({"birth_date": "1945-02-30"}, ["body.birth_date"]),
    ({"birth_date": "yesterday"}, ["body.birth_date"]),
    ({"gender": "other"}, ["body.gender"]),
    ({"care_address": ""}, ["body.care_address"]),
    ({"care_address": "가" * 501}, ["body.care_address"]),
    ({"region_code": "MARS_CRATER"}, ["body.region_code"]),
    ({"region_code": "seoul_gangnam"}, ["body.region_code"]),
    ({"region_code": "SEOUL_123"}, ["body.region_code"]),
    ({"region_code": "SEOUL"}, ["body.region_code"]),
    ({"care_level": "grade_6"}, ["body.care_level"]),
    ({"mobility_status": "flying"}, ["body.mobility_status"]),
    ({"height_cm": 49.9}, ["body.height_cm"]),
    ({"height_cm": 250.1}, ["body.height_cm"]),
    ({"weight_kg": 19.9}, ["body.weight_kg"]),
    ({"weight_kg": 300.5}, ["body.weight_kg"]),
    ({"weight_kg": "heavy"}, ["body.weight_kg"]),
    ({"nickname": "순이"}, ["body.nickname"]),
    ({"gender": "x", "care_level": "x", "height_cm": 1}, ["body.gender", "body.care_level"]),
]


@pytest.mark.parametrize(("overrides", "fields"), BAD_PATIENT_FIELDS)
def test_create_patient_validation_writes_nothing(
    app_server, database_url, guardian, overrides, fields
):
    response = call(app_server, "POST", "api/patients", guardian, json=patient_body(**overrides))
    assert_422(response, *fields)
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT count(*) AS n FROM patients WHERE guardian_id = %s", (guardian.guardian_id,)
        )
        assert cur.fetchone()["n"] == 0


def test_birth_date_must_be_in_the_past_in_korea(app_server, guardian):
    future = call(
        app_server,
        "POST",
        "api/patients",
        guardian,
        json=patient_body(birth_date=_tomorrow_in_korea()),
    )
    assert_422(future, "body.birth_date")
    today = call(
        app_server,
        "POST",
        "api/patients",
        guardian,
        json=patient_body(birth_date=korea_today().isoformat()),
    )
    assert_422(today, "body.birth_date")


@pytest.mark.parametrize("missing", ["name", "birth_date", "gender", "care_address", "region_code"])
def test_create_patient_requires_each_field(app_server, guardian, missing):
    body = patient_body()
    del body[missing]
    assert_422(call(app_server, "POST", "api/patients", guardian, json=body), f"body.{missing}")


# -- read ------------------------------------------------------------------------------------


def test_get_patient_shows_the_whole_profile_and_is_audited(app_server, database_url, owned):
    guardian, patient_id = owned
    response = call(app_server, "GET", f"api/patients/{patient_id}", guardian)
    assert response.status_code == 200, response.text
    patient = response.json()
    assert set(patient) == PATIENT_KEYS
    assert patient["conditions"] == [
        {"code": "dementia", "label": "치매", "note": None},
        {"code": "hypertension", "label": "고혈압", "note": None},
    ]
    assert [m["name"] for m in patient["medications"]] == ["아리셉트", "노바스크"]
    assert set(patient["medications"][0]) == {
        "medication_id",
        "patient_id",
        "name",
        "dosage",
        "frequency",
        "intake_method",
        "created_at",
    }
    diet = patient["diet"]
    assert (diet["diet_type"], diet["diet_type_label"]) == ("low_sodium", "저염식")
    assert (diet["allergens"], diet["allergen_labels"]) == (["peanut", "milk"], ["땅콩", "우유"])
    personality = patient["personality"]
    assert {k: personality[k] for k in ("empathy", "activity", "patience", "independence")} == {
        "empathy": 70,
        "activity": 30,
        "patience": 60,
        "independence": 40,
    }
    assert events(database_url, patient_id) == [
        {
            "actor_user_id": guardian.user_id,
            "actor_role": "guardian",
            "action": "view",
            "patient_id": patient_id,
            "resource_type": "patient",
            "resource_id": str(patient_id),
            "detail": None,
        }
    ]


@pytest.mark.parametrize("path", ["api/patients/999999999", "api/patients/0", "api/patients/-3"])
def test_missing_patient_is_404(app_server, guardian, path):
    response = call(app_server, "GET", path, guardian)
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


# -- list ------------------------------------------------------------------------------------


def test_guardian_lists_own_patients_paged_and_audited(app_server, database_url, parties):
    with cursor(database_url) as cur:
        second = make_patient(cur, parties.owner, name="박영수")
        third = make_patient(cur, parties.owner, name="최말순")
    everything = call(app_server, "GET", "api/patients", parties.owner).json()
    assert everything["total"] == 3
    assert [p["patient_id"] for p in everything["items"]] == [parties.patient_id, second, third]
    assert set(everything["items"][0]) == PATIENT_KEYS

    page = call(
        app_server, "GET", "api/patients", parties.owner, params={"limit": 1, "offset": 1}
    ).json()
    assert page["total"] == 3
    assert [p["patient_id"] for p in page["items"]] == [second]
    viewed = [
        (e["patient_id"], e["action"], e["resource_type"])
        for e in events(database_url, actor_user_id=parties.owner.user_id)
    ]
    assert viewed == [
        (parties.patient_id, "view", "patient"),
        (second, "view", "patient"),
        (third, "view", "patient"),
        (second, "view", "patient"),
    ]


def test_caregivers_list_the_patients_they_actively_care_for(app_server, parties):
    assigned = call(app_server, "GET", "api/patients", parties.assigned_caregiver).json()
    assert [p["patient_id"] for p in assigned["items"]] == [parties.patient_id]
    assert assigned["total"] == 1
    for who in ("offered_caregiver", "unassigned_caregiver"):
        listed = call(app_server, "GET", "api/patients", getattr(parties, who)).json()
        assert listed == {"items": [], "total": 0}, who


def test_other_guardians_and_guardians_without_profile_see_none_of_it(
    app_server, database_url, parties
):
    other = call(app_server, "GET", "api/patients", parties.other_guardian).json()
    assert other["total"] == 1
    assert parties.patient_id not in [p["patient_id"] for p in other["items"]]
    with cursor(database_url) as cur:
        newcomer = make_user(cur, "guardian")
    assert call(app_server, "GET", "api/patients", newcomer).json() == {"items": [], "total": 0}


def test_admins_list_every_patient(app_server, database_url, parties):
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM patients")
        count = cur.fetchone()["n"]
    first = call(app_server, "GET", "api/patients", parties.admin, params={"limit": 1}).json()
    assert first["total"] == count
    last = call(
        app_server,
        "GET",
        "api/patients",
        parties.admin,
        params={"limit": 100, "offset": max(count - 100, 0)},
    ).json()
    ids = [p["patient_id"] for p in last["items"]]
    assert parties.patient_id in ids
    assert ids == sorted(ids)


@pytest.mark.parametrize(
    ("params", "field"),
    [({"limit": 0}, "limit"), ({"limit": 101}, "limit"), ({"offset": -1}, "offset")],
)
def test_list_query_validation(app_server, guardian, params, field):
    response = call(app_server, "GET", "api/patients", guardian, params=params)
    assert_422(response, f"query.{field}")


def test_listing_needs_a_token(app_server):
    assert app_server.get("api/patients").status_code == 401


# -- patch -----------------------------------------------------------------------------------


def test_patch_changes_only_the_fields_sent(app_server, database_url, owned):
    guardian, patient_id = owned
    before = call(app_server, "GET", f"api/patients/{patient_id}", guardian).json()
    response = call(
        app_server,
        "PATCH",
        f"api/patients/{patient_id}",
        guardian,
        json={"care_level": "grade_1", "height_cm": 158.04, "region_code": "BUSAN_HAEUNDAE"},
    )
    assert response.status_code == 200, response.text
    after = response.json()
    assert (after["care_level"], after["care_level_label"]) == ("grade_1", "1등급")
    assert after["height_cm"] == 158.0
    assert after["region_code"] == "BUSAN_HAEUNDAE"
    unchanged = set(PATIENT_KEYS) - {
        "care_level",
        "care_level_label",
        "height_cm",
        "region_code",
        "updated_at",
    }
    assert {k: after[k] for k in unchanged} == {k: before[k] for k in unchanged}
    assert ts(after["updated_at"]) > ts(before["updated_at"])

    cleared = call(
        app_server, "PATCH", f"api/patients/{patient_id}", guardian, json={"weight_kg": None}
    ).json()
    assert cleared["weight_kg"] is None
    assert cleared["height_cm"] == 158.0
    updates = [e for e in events(database_url, patient_id) if e["action"] == "update"]
    assert [(e["resource_type"], e["detail"]) for e in updates] == [
        ("patient", {"fields": ["care_level", "height_cm", "region_code"]}),
        ("patient", {"fields": ["weight_kg"]}),
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, []),
        ({"name": None}, ["body.name"]),
        ({"birth_date": None}, ["body.birth_date"]),
        ({"care_level": None}, ["body.care_level"]),
        ({"mobility_status": None}, ["body.mobility_status"]),
        ({"region_code": None}, ["body.region_code"]),
        ({"patient_id": 5}, ["body.patient_id"]),
        ({"guardian_id": 5}, ["body.guardian_id"]),
        ({"age": 70}, ["body.age"]),
        *((overrides, fields) for overrides, fields in BAD_PATIENT_FIELDS[:6]),
        ({"birth_date": "2999-01-01", "height_cm": 10}, ["body.birth_date", "body.height_cm"]),
    ],
)
def test_patch_validation_changes_nothing(app_server, database_url, owned, body, fields):
    guardian, patient_id = owned
    before = fingerprint(database_url, patient_id)
    response = call(app_server, "PATCH", f"api/patients/{patient_id}", guardian, json=body)
    problem = assert_422(response, *fields)
    if not fields:
        assert [error["loc"] for error in problem["errors"]] == [["body"]]
    assert fingerprint(database_url, patient_id) == before


# -- delete ----------------------------------------------------------------------------------


def test_delete_removes_the_patient_and_everything_about_it(app_server, database_url, parties):
    with cursor(database_url) as cur:
        set_patient_profile(
            cur,
            parties.patient_id,
            conditions=("stroke",),
            medications=("와파린",),
            diet_type="soft",
            personality=(1, 2, 3, 4),
        )
    path = f"api/patients/{parties.patient_id}"
    response = call(app_server, "DELETE", path, parties.owner)
    assert response.status_code == 204, response.text
    assert response.content == b""
    assert call(app_server, "GET", path, parties.owner).status_code == 404
    assert call(app_server, "DELETE", path, parties.owner).status_code == 404
    with cursor(database_url) as cur:
        for table in (
            "patients",
            "patient_conditions",
            "patient_medications",
            "patient_diets",
            "patient_personality",
            "matching_requests",
            "matching_results",
        ):
            cur.execute(
                f"SELECT count(*) AS n FROM {table} WHERE patient_id = %s", (parties.patient_id,)
            )
            assert cur.fetchone()["n"] == 0, table
    assert [
        (e["action"], e["resource_type"]) for e in events(database_url, parties.patient_id)
    ] == [("delete", "patient")]


# -- conditions ------------------------------------------------------------------------------


def test_conditions_are_replaced_as_a_set(app_server, database_url, owned):
    guardian, patient_id = owned
    path = f"api/patients/{patient_id}/conditions"
    first = call(
        app_server,
        "PUT",
        path,
        guardian,
        json={
            "conditions": [
                {"code": "parkinsons", "note": "2019년 진단"},
                {"code": "diabetes"},
            ],
            "mobility_status": "assistive_device",
        },
    )
    assert first.status_code == 200, first.text
    assert first.json() == {
        "patient_id": patient_id,
        "conditions": [
            {"code": "diabetes", "label": "당뇨", "note": None},
            {"code": "parkinsons", "label": "파킨슨", "note": "2019년 진단"},
        ],
        "mobility_status": "assistive_device",
        "mobility_status_label": "보조기구 사용",
    }
    patient = call(app_server, "GET", f"api/patients/{patient_id}", guardian).json()
    assert [c["code"] for c in patient["conditions"]] == ["diabetes", "parkinsons"]
    assert patient["mobility_status"] == "assistive_device"

    # Without mobility_status, mobility stays; an empty list clears the conditions.
    cleared = call(app_server, "PUT", path, guardian, json={"conditions": []}).json()
    assert cleared["conditions"] == []
    assert cleared["mobility_status"] == "assistive_device"
    changes = [
        (e["action"], e["resource_type"], e["detail"])
        for e in events(database_url, patient_id)
        if e["action"] != "view"
    ]
    assert changes == [
        ("update", "patient_conditions", {"count": 2}),
        ("update", "patient", {"fields": ["mobility_status"]}),
        ("update", "patient_conditions", {"count": 0}),
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body.conditions"]),
        ({"conditions": None}, ["body.conditions"]),
        ({"conditions": [{"code": "flu"}]}, ["body.conditions.0.code"]),
        ({"conditions": [{"code": "치매"}]}, ["body.conditions.0.code"]),
        ({"conditions": [{"note": "x"}]}, ["body.conditions.0.code"]),
        ({"conditions": [{"code": "cancer", "note": "가" * 501}]}, ["body.conditions.0.note"]),
        ({"conditions": [{"code": "cancer", "since": 2020}]}, ["body.conditions.0.since"]),
        ({"conditions": [{"code": "cancer"}, {"code": "cancer"}]}, ["body.conditions"]),
        ({"conditions": [], "mobility_status": None}, ["body.mobility_status"]),
        ({"conditions": [], "mobility_status": "running"}, ["body.mobility_status"]),
        ({"conditions": "dementia"}, ["body.conditions"]),
    ],
)
def test_conditions_validation_changes_nothing(app_server, database_url, owned, body, fields):
    guardian, patient_id = owned
    before = fingerprint(database_url, patient_id)
    response = call(app_server, "PUT", f"api/patients/{patient_id}/conditions", guardian, json=body)
    assert_422(response, *fields)
    assert fingerprint(database_url, patient_id) == before


# -- medications -----------------------------------------------------------------------------


def test_medications_are_added_listed_and_removed(app_server, database_url, guardian):
    with cursor(database_url) as cur:
        patient_id = make_patient(cur, guardian)
    path = f"api/patients/{patient_id}/medications"
    added = []
    for name in ("도네페질", "메트포르민", "암로디핀"):
        response = call(
            app_server,
            "POST",
            path,
            guardian,
            json={"name": name, "dosage": "5mg", "frequency": "하루 1회", "intake_method": "식후"},
        )
        assert response.status_code == 201, response.text
        added.append(response.json())
    assert added[0]["name"] == "도네페질"
    assert added[0]["patient_id"] == patient_id
    assert (added[0]["dosage"], added[0]["frequency"], added[0]["intake_method"]) == (
        "5mg",
        "하루 1회",
        "식후",
    )

    listed = call(app_server, "GET", path, guardian).json()
    assert listed == {"items": added, "total": 3}
    page = call(app_server, "GET", path, guardian, params={"limit": 2, "offset": 2}).json()
    assert page == {"items": added[2:], "total": 3}

    gone = call(app_server, "DELETE", f"{path}/{added[1]['medication_id']}", guardian)
    assert gone.status_code == 204, gone.text
    assert call(app_server, "GET", path, guardian).json() == {
        "items": [added[0], added[2]],
        "total": 2,
    }
    again = call(app_server, "DELETE", f"{path}/{added[1]['medication_id']}", guardian)
    assert again.status_code == 404
    patient = call(app_server, "GET", f"api/patients/{patient_id}", guardian).json()
    assert patient["medications"] == [added[0], added[2]]

    trail = [
        (e["action"], e["resource_type"], e["resource_id"])
        for e in events(database_url, patient_id)
    ]
    ids = [str(m["medication_id"]) for m in added]
    assert trail == [
        ("create", "medication", ids[0]),
        ("create", "medication", ids[1]),
        ("create", "medication", ids[2]),
        ("view", "medication", None),
        ("view", "medication", None),
        ("delete", "medication", ids[1]),
        ("view", "medication", None),
        ("view", "patient", str(patient_id)),
    ]
    views = [e["detail"] for e in events(database_url, patient_id) if e["action"] == "view"]
    assert views[1] == {"medication_ids": [added[2]["medication_id"]]}


def test_a_medication_is_only_reachable_through_its_own_patient(app_server, database_url, parties):
    with cursor(database_url) as cur:
        mine = make_patient(cur, parties.owner, name="둘째")
        (theirs,) = set_patient_profile(cur, parties.patient_id, medications=("와파린",))
    # The owner's other patient does not own this medication: 404, and it stays.
    wrong_path = call(
        app_server, "DELETE", f"api/patients/{mine}/medications/{theirs}", parties.owner
    )
    assert wrong_path.status_code == 404
    missing = call(
        app_server,
        "DELETE",
        f"api/patients/{parties.patient_id}/medications/999999999",
        parties.owner,
    )
    assert missing.status_code == 404
    listed = call(
        app_server, "GET", f"api/patients/{parties.patient_id}/medications", parties.owner
    ).json()
    assert [m["medication_id"] for m in listed["items"]] == [theirs]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body.name"]),
        ({"name": ""}, ["body.name"]),
        ({"name": "가" * 201}, ["body.name"]),
        ({"name": "약", "dosage": "1" * 101}, ["body.dosage"]),
        ({"name": "약", "frequency": "1" * 101}, ["body.frequency"]),
        ({"name": "약", "intake_method": "1" * 101}, ["body.intake_method"]),
        ({"name": "약", "route": "oral"}, ["body.route"]),
        ({"name": None, "dosage": 5}, ["body.name", "body.dosage"]),
    ],
)
def test_medication_validation_writes_nothing(app_server, database_url, owned, body, fields):
    guardian, patient_id = owned
    before = fingerprint(database_url, patient_id)
    response = call(
        app_server, "POST", f"api/patients/{patient_id}/medications", guardian, json=body
    )
    assert_422(response, *fields)
    assert fingerprint(database_url, patient_id) == before


# -- diet and personality --------------------------------------------------------------------


def test_diet_is_set_then_replaced(app_server, database_url, guardian):
    with cursor(database_url) as cur:
        patient_id = make_patient(cur, guardian)
    path = f"api/patients/{patient_id}/diet"
    first = call(
        app_server,
        "PUT",
        path,
        guardian,
        json={"allergens": ["shrimp", "crab", "shrimp"], "diet_type": "low_sugar"},
    )
    assert first.status_code == 200, first.text
    diet = first.json()
    assert {
        k: diet[k] for k in ("diet_type", "diet_type_label", "allergens", "allergen_labels")
    } == {
        "diet_type": "low_sugar",
        "diet_type_label": "저당식",
        "allergens": ["shrimp", "crab"],
        "allergen_labels": ["새우", "게"],
    }
    second = call(app_server, "PUT", path, guardian, json={"diet_type": "regular"}).json()
    assert (second["diet_type"], second["allergens"]) == ("regular", [])
    patient = call(app_server, "GET", f"api/patients/{patient_id}", guardian).json()
    assert patient["diet"] == second
    assert [(e["action"], e["resource_type"]) for e in events(database_url, patient_id)][:2] == [
        ("create", "diet"),
        ("update", "diet"),
    ]


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body.diet_type"]),
        ({"allergens": []}, ["body.diet_type"]),
        ({"diet_type": "keto"}, ["body.diet_type"]),
        ({"diet_type": "soft", "allergens": ["gluten"]}, ["body.allergens.0"]),
        ({"diet_type": "soft", "allergens": ["egg", "땅콩"]}, ["body.allergens.1"]),
        ({"diet_type": "soft", "allergens": "egg"}, ["body.allergens"]),
        ({"diet_type": "soft", "allergens": None}, ["body.allergens"]),
        ({"diet_type": "soft", "calories": 1800}, ["body.calories"]),
    ],
)
def test_diet_validation_changes_nothing(app_server, database_url, owned, body, fields):
    guardian, patient_id = owned
    before = fingerprint(database_url, patient_id)
    response = call(app_server, "PUT", f"api/patients/{patient_id}/diet", guardian, json=body)
    assert_422(response, *fields)
    assert fingerprint(database_url, patient_id) == before


def test_personality_is_set_then_replaced(app_server, database_url, guardian):
    with cursor(database_url) as cur:
        patient_id = make_patient(cur, guardian)
    path = f"api/patients/{patient_id}/personality"
    axes = {"empathy": 0, "activity": 100, "patience": 55, "independence": 20}
    first = call(app_server, "PUT", path, guardian, json=axes)
    assert first.status_code == 200, first.text
    assert {k: first.json()[k] for k in axes} == axes
    assert first.json()["source"] == "manual"
    changed = {**axes, "empathy": 90}
    second = call(app_server, "PUT", path, guardian, json=changed).json()
    assert {k: second[k] for k in axes} == changed
    patient = call(app_server, "GET", f"api/patients/{patient_id}", guardian).json()
    assert patient["personality"] == second
    assert [(e["action"], e["resource_type"]) for e in events(database_url, patient_id)][:2] == [
        ("create", "personality"),
        ("update", "personality"),
    ]


AXES = {"empathy": 50, "activity": 50, "patience": 50, "independence": 50}


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({}, ["body.empathy", "body.activity", "body.patience", "body.independence"]),
        ({**AXES, "empathy": -1}, ["body.empathy"]),
        ({**AXES, "activity": 101}, ["body.activity"]),
        ({**AXES, "patience": 50.5}, ["body.patience"]),
        ({**AXES, "independence": "high"}, ["body.independence"]),
        ({**AXES, "independence": None}, ["body.independence"]),
        ({"empathy": 1, "activity": 2, "patience": 3}, ["body.independence"]),
        ({**AXES, "humor": 10}, ["body.humor"]),
    ],
)
def test_personality_validation_changes_nothing(app_server, database_url, owned, body, fields):
    guardian, patient_id = owned
    before = fingerprint(database_url, patient_id)
    response = call(
        app_server, "PUT", f"api/patients/{patient_id}/personality", guardian, json=body
    )
    assert_422(response, *fields)
    assert fingerprint(database_url, patient_id) == before


def test_child_changes_mark_the_patient_updated(app_server, database_url, owned):
    guardian, patient_id = owned
    before = call(app_server, "GET", f"api/patients/{patient_id}", guardian).json()
    call(app_server, "PUT", f"api/patients/{patient_id}/diet", guardian, json={"diet_type": "soft"})
    after = call(app_server, "GET", f"api/patients/{patient_id}", guardian).json()
    assert ts(after["updated_at"]) > ts(before["updated_at"])
