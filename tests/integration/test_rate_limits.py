"""Cost limits (review item 13): AI writing and matching requests are limited per user and hour
in PostgreSQL (shared.rate_limits), a call over the limit is 429 with Retry-After and runs no
work, counts hold under concurrency, and a patient has at most MAX_MEDICATIONS_PER_PATIENT."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models.dates import korea_today
from models.patients import MedicationIn
from models.personality_tests import QUESTION_IDS
from models.vocabularies import Role
from shared import rate_limits
from shared.auth.principal import Actor, Principal
from shared.errors import AppError, ConflictError, RateLimitedError
from shared.patients import service as patients_service
from shared.rate_limits import LimitedAction
from shared.unit_of_work import UnitOfWork
from tests.factories import Parties, TestUser, cursor, make_guardian, make_patient
from tests.fixtures.app_server import ServedApp, start_app
from tests.problems import assert_problem

pytestmark = pytest.mark.integration

AI_LIMIT = 2
MATCHING_LIMIT = 2
MEDICATION_CAP = 3
TOMORROW = korea_today() + timedelta(days=1)
ANSWERS = dict.fromkeys(QUESTION_IDS, 3)
MATCHING_BODY = {
    "care_type": "caregiver",
    "days": ["mon"],
    "time_slots": [{"start": "10:00", "end": "12:00"}],
    "start_date": "2030-01-07",
}


@pytest.fixture(scope="module")
def limited_app(
    base_app_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServedApp]:
    """A served app with small limits (each test uses fresh users, so they never meet)."""
    env = {
        **base_app_env,
        "RATE_LIMIT_AI_PER_HOUR": str(AI_LIMIT),
        "RATE_LIMIT_MATCHING_PER_HOUR": str(MATCHING_LIMIT),
        "MAX_MEDICATIONS_PER_PATIENT": str(MEDICATION_CAP),
    }
    app = start_app(env, tmp_path_factory.mktemp("limited-app") / "serve.log")
    yield app
    app.stop()


def count(database_url: str, sql: str, *params: object) -> int:
    with cursor(database_url) as cur:
        cur.execute(sql, params)
        return int(cur.fetchone()["n"])


def counter(database_url: str, subject: str, action: str) -> int:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT coalesce(sum(hits), 0) AS n FROM ops_rate_limits"
            " WHERE subject = %s AND action = %s",
            (subject, action),
        )
        return int(cur.fetchone()["n"])


def assert_rate_limited(response: Any, *words: str) -> None:
    body = assert_problem(response, 429, "rate_limited")
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= rate_limits.WINDOW_SECONDS
    for word in words:
        assert word in body["detail"]


def actor_for(user: TestUser, role: Role = Role.GUARDIAN) -> Actor:
    return Actor(Principal(user.user_id, role, user.email, "test"), "req", None)


def run_together(calls: int, work: Callable[[], None]) -> list[BaseException | None]:
    """Run `work` in `calls` threads released at once; each one's exception (or None)."""
    barrier = threading.Barrier(calls)
    outcomes: list[BaseException | None] = [None] * calls

    def run(index: int) -> None:
        barrier.wait()
        try:
            work()
        except BaseException as error:
            outcomes[index] = error

    threads = [threading.Thread(target=run, args=(i,)) for i in range(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


# -- over the served app: matching -----------------------------------------------------------


def test_matching_requests_over_the_hourly_limit_are_429_and_rank_nothing(
    limited_app: ServedApp, parties: Parties, database_url: str
):
    url = f"api/patients/{parties.patient_id}/matching-requests"
    headers = parties.owner.headers
    stored = "SELECT count(*) AS n FROM matching_requests WHERE patient_id = %s"
    before = count(database_url, stored, parties.patient_id)
    # A refused call (not this guardian's patient) costs no allowance.
    for _ in range(MATCHING_LIMIT + 1):
        missing = limited_app.request(
            "POST", "api/patients/999999999/matching-requests", json=MATCHING_BODY, headers=headers
        )
        assert_problem(missing, 404, "not_found")

    for _ in range(MATCHING_LIMIT):
        allowed = limited_app.request("POST", url, json=MATCHING_BODY, headers=headers)
        assert allowed.status_code == 201, allowed.text
    refused = limited_app.request("POST", url, json=MATCHING_BODY, headers=headers)

    assert_rate_limited(refused, "matching requests", f"at most {MATCHING_LIMIT} an hour")
    assert count(database_url, stored, parties.patient_id) == before + MATCHING_LIMIT
    # The limit is the user's: another guardian still has its own allowance.
    with cursor(database_url) as cur:
        other = make_guardian(cur)
        other_patient = make_patient(cur, other)
    other_allowed = limited_app.request(
        "POST",
        f"api/patients/{other_patient}/matching-requests",
        json=MATCHING_BODY,
        headers=other.headers,
    )
    assert other_allowed.status_code == 201, other_allowed.text


# -- over the served app: AI writing ---------------------------------------------------------


def test_ai_writing_shares_one_hourly_allowance_and_a_refused_call_stores_nothing(
    limited_app: ServedApp, parties: Parties, database_url: str
):
    patient = parties.patient_id
    headers = parties.owner.headers
    care_plan = {"start_date": TOMORROW.isoformat(), "days": 1}
    meal_plan = {"date": TOMORROW.isoformat(), "meal_types": ["lunch"]}
    report = {"report_type": "weekly", "start_date": "2026-06-01", "end_date": "2026-06-07"}
    personality = {"subject": "patient", "patient_id": patient, "answers": ANSWERS}

    first = limited_app.request(
        "POST", f"api/patients/{patient}/care-plans", json=care_plan, headers=headers
    )
    second = limited_app.request(
        "POST", f"api/patients/{patient}/meal-plans", json=meal_plan, headers=headers
    )
    assert (first.status_code, second.status_code) == (201, 201), (first.text, second.text)

    refused = [
        limited_app.request(
            "POST", f"api/patients/{patient}/care-reports", json=report, headers=headers
        ),
        limited_app.request("POST", "api/personality-tests", json=personality, headers=headers),
        limited_app.request(
            "POST", f"api/patients/{patient}/care-plans", json=care_plan, headers=headers
        ),
        limited_app.request(
            "POST", f"api/patients/{patient}/meal-plans", json=meal_plan, headers=headers
        ),
    ]
    for response in refused:
        assert_rate_limited(response, "AI writing", f"at most {AI_LIMIT} an hour")

    def rows(table: str) -> int:
        return count(
            database_url, f"SELECT count(*) AS n FROM {table} WHERE patient_id = %s", patient
        )

    assert (rows("care_plans"), rows("meal_plans"), rows("care_reports")) == (1, 1, 0)
    assert rows("patient_personality") == 0
    assert rows("ai_generations") == AI_LIMIT
    subject = f"user:{parties.owner.user_id}"
    assert counter(database_url, subject, "ai_writing") == AI_LIMIT + len(refused)


def test_a_call_over_the_limit_never_reaches_azure_openai(
    start_app_server: Callable[..., ServedApp],
    openai_env: dict[str, str],
    fake_openai: Any,
    parties: Parties,
):
    app = start_app_server(**openai_env, RATE_LIMIT_AI_PER_HOUR="1")
    fake_openai.always(content={"analysis": "차분하고 배려심이 깊으신 편입니다."})
    body = {"subject": "patient", "patient_id": parties.patient_id, "answers": ANSWERS}

    allowed = app.request("POST", "api/personality-tests", json=body, headers=parties.owner.headers)
    assert allowed.status_code == 201, allowed.text
    asked = len(fake_openai.requests)
    assert asked >= 1

    refused = app.request("POST", "api/personality-tests", json=body, headers=parties.owner.headers)
    assert_rate_limited(refused, "AI writing")
    assert len(fake_openai.requests) == asked


# -- in process: concurrency, the count's transaction, windows -------------------------------


def test_concurrent_calls_allow_exactly_the_limit(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, parties: Parties, database_url: str
):
    limit, extra = 5, 4
    monkeypatch.setenv("RATE_LIMIT_AI_PER_HOUR", str(limit))
    actor = actor_for(parties.owner)

    def call() -> None:
        with UnitOfWork(actor) as uow:
            rate_limits.charge(uow, LimitedAction.AI_WRITING)

    outcomes = run_together(limit + extra, call)

    assert [o for o in outcomes if o is not None and not isinstance(o, RateLimitedError)] == []
    assert outcomes.count(None) == limit
    assert sum(isinstance(o, RateLimitedError) for o in outcomes) == extra
    subject = f"user:{parties.owner.user_id}"
    assert counter(database_url, subject, "ai_writing") == limit + extra
    assert counter(database_url, subject, "matching_request") == 0  # a budget of its own


def test_the_count_stands_when_the_work_after_it_fails(
    app_env: dict[str, str], parties: Parties, database_url: str
):
    """Counted in a transaction of its own, committed before the work: failing the work (which
    rolls the unit of work back) cannot be used to dodge the limit."""

    def failing_work() -> None:
        with UnitOfWork(actor_for(parties.owner)) as uow:
            rate_limits.charge(uow, LimitedAction.MATCHING_REQUEST)
            uow.cursor.execute("SELECT 1")  # the work's own transaction, rolled back below
            raise RuntimeError("AI timed out")

    with pytest.raises(RuntimeError, match="AI timed out"):
        failing_work()

    assert counter(database_url, f"user:{parties.owner.user_id}", "matching_request") == 1


def test_charging_inside_an_open_transaction_is_refused(app_env: dict[str, str], parties: Parties):
    with UnitOfWork(actor_for(parties.owner)) as uow:
        uow.cursor.execute("SELECT 1")
        with pytest.raises(RuntimeError, match="its own"):
            rate_limits.charge(uow, LimitedAction.AI_WRITING)


def test_windows_retry_after_and_pruning(app_env: dict[str, str], database_url: str):
    from shared.db import get_database

    subject = f"test:{datetime.now(UTC).timestamp()}"
    window = datetime(2025, 1, 6, 10, 0, tzinfo=UTC)
    with get_database().transaction() as cur:
        first = rate_limits.hit(cur, subject, "x", at=window + timedelta(minutes=10))
        second = rate_limits.hit(cur, subject, "x", at=window + timedelta(minutes=59, seconds=30))
        next_window = rate_limits.hit(cur, subject, "x", at=window + timedelta(hours=1))
        other_action = rate_limits.hit(cur, subject, "y", at=window + timedelta(minutes=1))
        old = rate_limits.hit(cur, subject, "x", at=datetime.now(UTC) - timedelta(days=2))
        recent = rate_limits.hit(cur, subject, "x", at=datetime.now(UTC) - timedelta(hours=2))

    assert (first.hits, first.window_start, first.retry_after) == (1, window, 50 * 60)
    assert (second.hits, second.retry_after) == (2, 30)
    assert (next_window.hits, next_window.window_start) == (1, window + timedelta(hours=1))
    assert other_action.hits == 1
    assert (old.hits, recent.hits) == (1, 1)

    with get_database().transaction() as cur:
        deleted = rate_limits.prune_expired(cur)
    assert deleted >= 4  # the 2025 windows and `old`
    with cursor(database_url) as cur:
        cur.execute("SELECT window_start FROM ops_rate_limits WHERE subject = %s", (subject,))
        left = [row["window_start"] for row in cur.fetchall()]
    assert left == [recent.window_start]


def test_the_limits_are_settings_with_documented_defaults(app_env: dict[str, str]):
    from shared.config import load_settings

    settings = load_settings()
    assert settings.rate_limit_ai_per_hour == 20
    assert settings.rate_limit_matching_per_hour == 30
    assert settings.max_medications_per_patient == 50
    example = Path(__file__).resolve().parents[2] / "local.settings.json.example"
    assert '"RATE_LIMIT_AI_PER_HOUR": "20"' in example.read_text(encoding="utf-8")


# -- medications per patient -----------------------------------------------------------------


def test_a_patient_has_at_most_the_medication_cap_and_the_list_is_paged(
    limited_app: ServedApp, parties: Parties, database_url: str
):
    url = f"api/patients/{parties.patient_id}/medications"
    headers = parties.owner.headers
    ids = []
    for n in range(MEDICATION_CAP):
        added = limited_app.request("POST", url, json={"name": f"약{n}"}, headers=headers)
        assert added.status_code == 201, added.text
        ids.append(added.json()["medication_id"])

    refused = limited_app.request("POST", url, json={"name": "하나 더"}, headers=headers)

    body = assert_problem(refused, 409, "conflict")
    assert f"({MEDICATION_CAP})" in body["detail"]
    stored = "SELECT count(*) AS n FROM patient_medications WHERE patient_id = %s"
    assert count(database_url, stored, parties.patient_id) == MEDICATION_CAP

    page = limited_app.get(url, params={"limit": 2, "offset": 0}, headers=headers).json()
    rest = limited_app.get(url, params={"limit": 2, "offset": 2}, headers=headers).json()
    assert (page["total"], rest["total"]) == (MEDICATION_CAP, MEDICATION_CAP)
    assert [m["medication_id"] for m in page["items"] + rest["items"]] == ids

    removed = limited_app.request("DELETE", f"{url}/{ids[0]}", headers=headers)
    assert removed.status_code == 204
    again = limited_app.request("POST", url, json={"name": "하나 더"}, headers=headers)
    assert again.status_code == 201, again.text


def test_concurrent_additions_cannot_pass_the_medication_cap(
    app_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, parties: Parties, database_url: str
):
    monkeypatch.setenv("MAX_MEDICATIONS_PER_PATIENT", str(MEDICATION_CAP))
    actor = actor_for(parties.owner)

    def add() -> None:
        with UnitOfWork(actor) as uow:
            patients_service.add_medication(uow, parties.patient_id, MedicationIn(name="약"))

    outcomes = run_together(MEDICATION_CAP + 3, add)

    assert outcomes.count(None) == MEDICATION_CAP
    refused = [o for o in outcomes if o is not None]
    assert all(isinstance(o, ConflictError) for o in refused), refused
    assert all(isinstance(o, AppError) and o.status == 409 for o in refused)
    stored = "SELECT count(*) AS n FROM patient_medications WHERE patient_id = %s"
    assert count(database_url, stored, parties.patient_id) == MEDICATION_CAP
