"""The unit of work on a real database: when it begins, commits and rolls back, what it
authorises and audits, and how integrity errors become API errors."""

from __future__ import annotations

import json

import azure.functions as func
import pytest

from models.vocabularies import Role
from shared import integrity
from shared.audit import AuditAction
from shared.auth.authorization import PatientAction
from shared.auth.principal import Actor, Principal
from shared.db import get_database
from shared.errors import ConflictError, NotFoundError, ValidationFailedError
from shared.http import Api, ApiRequest, RouteRegistry
from shared.http.pipeline import handle_http
from shared.integrity import ConflictRule, FieldRule, register_constraints
from shared.unit_of_work import UnitOfWork
from tests.factories import cursor, make_guardian, make_patient

pytestmark = pytest.mark.integration


@pytest.fixture
def patient(app_env, database_url):
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian)
    return guardian, patient_id


def actor_of(user_id: int, role: Role = Role.GUARDIAN, request_id: str = "req-1") -> Actor:
    return Actor(Principal(user_id, role, "x@test.invalid", "x"), request_id, "203.0.113.9")


RENAME = "UPDATE patients SET name = %s WHERE patient_id = %s"


def patient_name(database_url: str, patient_id: int) -> str | None:
    with cursor(database_url) as cur:
        cur.execute("SELECT name FROM patients WHERE patient_id = %s", (patient_id,))
        row = cur.fetchone()
    return None if row is None else row["name"]


def test_work_that_needs_no_database_borrows_no_connection(app_env):
    borrowed: list[object] = []

    def database():
        borrowed.append(object())
        return get_database()

    with UnitOfWork.for_job(database=database) as uow:
        assert not uow.in_transaction
    assert borrowed == []


def test_committed_when_the_work_returns(patient, database_url):
    _guardian, patient_id = patient
    with UnitOfWork.for_job() as uow:
        uow.cursor.execute(
            "UPDATE patients SET name = '이순자' WHERE patient_id = %s", (patient_id,)
        )
        assert uow.in_transaction
    assert not uow.in_transaction
    assert patient_name(database_url, patient_id) == "이순자"


def test_rolled_back_when_the_work_raises(patient, database_url):
    _guardian, patient_id = patient

    def work() -> None:
        with UnitOfWork.for_job() as uow:
            uow.cursor.execute(RENAME, ("이순자", patient_id))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        work()
    assert patient_name(database_url, patient_id) == "김환자"


def test_commit_ends_the_transaction_early_and_the_next_use_begins_another(patient, database_url):
    _guardian, patient_id = patient

    def work() -> None:
        with UnitOfWork.for_job() as uow:
            uow.cursor.execute(RENAME, ("첫째", patient_id))
            uow.commit()
            assert not uow.in_transaction
            # Seen from outside while the unit of work is still open: the first part is durable.
            assert patient_name(database_url, patient_id) == "첫째"
            uow.cursor.execute(RENAME, ("둘째", patient_id))
            raise RuntimeError("the second part fails")

    with pytest.raises(RuntimeError, match="second part"):
        work()
    assert patient_name(database_url, patient_id) == "첫째"


def test_begin_with_options_is_refused_inside_an_open_transaction(app_env):
    with UnitOfWork.for_job() as uow:
        cur = uow.begin(readonly=True)
        cur.execute("SHOW transaction_read_only")
        assert cur.fetchone() == {"transaction_read_only": "on"}
        with pytest.raises(RuntimeError, match="already open"):
            uow.begin()
        uow.commit()
        # Options apply to the transaction they were given for, not to the next one.
        uow.cursor.execute("SHOW transaction_read_only")
        assert uow.cursor.fetchone() == {"transaction_read_only": "off"}


def test_read_only_begins_a_read_only_transaction_only_when_none_is_open(app_env):
    with UnitOfWork.for_job() as uow:
        uow.read_only().execute("SHOW transaction_read_only")
        assert uow.cursor.fetchone() == {"transaction_read_only": "on"}
        uow.commit()
        uow.cursor.execute("SELECT 1")  # a read-write transaction is open now
        uow.read_only().execute("SHOW transaction_read_only")
        assert uow.cursor.fetchone() == {"transaction_read_only": "off"}


def test_a_job_has_no_caller_to_audit_or_authorise(app_env):
    with UnitOfWork.for_job() as uow:
        with pytest.raises(RuntimeError, match="no caller"):
            uow.audit(AuditAction.VIEW, "patient", patient_id=None)
        with pytest.raises(RuntimeError, match="no caller"):
            uow.authorize(1, PatientAction.READ_PROFILE)


def test_authorize_and_audit_commit_with_the_work(patient, database_url):
    guardian, patient_id = patient
    with UnitOfWork(actor_of(guardian.user_id, request_id="uow-audit")) as uow:
        access = uow.authorize(patient_id, PatientAction.MANAGE)
        assert access.guardian_user_id == guardian.user_id
        uow.audit(AuditAction.UPDATE, "patient", patient_id=patient_id, resource_id=patient_id)
        uow.audit_many(AuditAction.VIEW, "medication", [(patient_id, 1), (patient_id, 2)])
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_type, resource_id, actor_user_id, host(client_ip) AS ip"
            " FROM audit_events WHERE request_id = 'uow-audit' ORDER BY event_id"
        )
        events = cur.fetchall()
    assert [(e["action"], e["resource_type"], e["resource_id"]) for e in events] == [
        ("update", "patient", str(patient_id)),
        ("view", "medication", "1"),
        ("view", "medication", "2"),
    ]
    assert {e["actor_user_id"] for e in events} == {guardian.user_id}
    assert {e["ip"] for e in events} == {"203.0.113.9"}


def test_audit_events_roll_back_with_the_work(patient, database_url):
    guardian, patient_id = patient

    def work() -> None:
        with UnitOfWork(actor_of(guardian.user_id, request_id="uow-rb")) as uow:
            uow.audit(AuditAction.VIEW, "patient", patient_id=patient_id)
            raise RuntimeError("the read failed after all")

    with pytest.raises(RuntimeError, match="failed after all"):
        work()
    with cursor(database_url) as cur:
        cur.execute("SELECT count(*) AS n FROM audit_events WHERE request_id = 'uow-rb'")
        assert cur.fetchone()["n"] == 0


def test_another_guardian_is_told_the_patient_does_not_exist(patient, database_url):
    _guardian, patient_id = patient
    with cursor(database_url) as cur:
        stranger = make_guardian(cur)
    with pytest.raises(NotFoundError), UnitOfWork(actor_of(stranger.user_id)) as uow:
        uow.authorize(patient_id, PatientAction.READ_PROFILE)


def test_an_unregistered_check_names_the_column_and_changes_nothing(patient, database_url):
    _guardian, patient_id = patient
    with pytest.raises(ValidationFailedError) as refused, UnitOfWork.for_job() as uow:
        uow.cursor.execute(
            "UPDATE patients SET name = '바뀜', height_cm = 10 WHERE patient_id = %s",
            (patient_id,),
        )
    assert [e.loc for e in refused.value.errors] == [("body", "height_cm")]
    assert patient_name(database_url, patient_id) == "김환자"


@pytest.fixture
def own_registry(monkeypatch):
    """The registrations a test makes stay in that test."""
    monkeypatch.setattr(integrity, "_RULES", dict(integrity._RULES))


def test_registered_constraints_say_what_they_mean(patient, own_registry):
    guardian, patient_id = patient
    register_constraints(
        {
            "patients_height_cm_check": FieldRule("height_cm", "is outside 50-250 cm"),
            "guardians_user_id_key": ConflictRule("This account already has a guardian profile."),
        }
    )
    with pytest.raises(ValidationFailedError) as refused, UnitOfWork.for_job() as uow:
        uow.cursor.execute(
            "UPDATE patients SET height_cm = 10 WHERE patient_id = %s", (patient_id,)
        )
    assert refused.value.errors[0].msg == "is outside 50-250 cm"
    with (
        pytest.raises(ConflictError, match="already has a guardian profile"),
        UnitOfWork.for_job() as uow,
    ):
        uow.cursor.execute(
            "INSERT INTO guardians (user_id, address) VALUES (%s, 'x')", (guardian.user_id,)
        )


def test_an_unregistered_uniqueness_violation_is_a_conflict(patient, monkeypatch):
    monkeypatch.setattr(integrity, "_RULES", {})  # as if no area had said what it means
    guardian, _patient_id = patient
    with (
        pytest.raises(ConflictError, match="changed at the same time"),
        UnitOfWork.for_job() as uow,
    ):
        uow.cursor.execute(
            "INSERT INTO users (email, name, role) VALUES (%s, 'x', 'guardian')", (guardian.email,)
        )


def test_the_same_constraint_cannot_mean_two_things(own_registry):
    register_constraints({"probe_only_constraint": FieldRule("a")})
    register_constraints({"probe_only_constraint": FieldRule("a")})  # the same meaning again: fine
    with pytest.raises(ValueError, match="registered twice"):
        register_constraints({"probe_only_constraint": FieldRule("b")})


# -- the pipeline owns the request's unit of work ----------------------------------------------


def _call(handler, patient_id: int) -> func.HttpResponse:
    """One request through the real pipeline to a public route whose handler is `handler`."""
    api = Api(tag="probe", registry=RouteRegistry())
    api.route("POST", "api/probe/{patient_id:long}", name="probe", public=True)(handler)
    (spec,) = api.registry.routes()
    request = func.HttpRequest(
        method="POST",
        url=f"http://127.0.0.1/api/probe/{patient_id}",
        headers={},
        route_params={"patient_id": str(patient_id)},
        body=b"",
    )
    return handle_http(spec, request)


def test_the_pipeline_commits_what_the_handler_did(patient, database_url):
    _guardian, patient_id = patient

    def rename(request: ApiRequest) -> dict[str, bool]:
        request.uow.cursor.execute(RENAME, ("이순자", request.path_params["patient_id"]))
        return {"ok": True}

    assert _call(rename, patient_id).status_code == 200
    assert patient_name(database_url, patient_id) == "이순자"


def test_the_pipeline_rolls_back_a_failed_handler(patient, database_url):
    _guardian, patient_id = patient

    def rename_then_fail(request: ApiRequest) -> None:
        request.uow.cursor.execute(RENAME, ("이순자", request.path_params["patient_id"]))
        raise RuntimeError("after the write")

    assert _call(rename_then_fail, patient_id).status_code == 500
    assert patient_name(database_url, patient_id) == "김환자"


def test_the_pipeline_answers_a_refused_value_with_a_problem_and_changes_nothing(
    patient, database_url
):
    _guardian, patient_id = patient

    def too_short(request: ApiRequest) -> None:
        request.uow.cursor.execute(RENAME, ("바뀜", request.path_params["patient_id"]))
        request.uow.cursor.execute(
            "UPDATE patients SET height_cm = 10 WHERE patient_id = %s",
            (request.path_params["patient_id"],),
        )

    response = _call(too_short, patient_id)
    assert response.status_code == 422
    assert response.headers["Content-Type"].startswith("application/problem+json")
    body = json.loads(response.get_body())
    assert body["errors"][0]["loc"] == ["body", "height_cm"]
    assert patient_name(database_url, patient_id) == "김환자"
