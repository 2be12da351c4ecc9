"""The personality test: the question set, rubric scores stored on the subject whatever AI
says, the AI analysis with a rules fallback, and who may take which test."""

from __future__ import annotations

import pytest

from models.personality_tests import QUESTION_IDS
from shared.ai import personality
from tests.factories import PARTY_NAMES, Parties, cursor, make_user

pytestmark = pytest.mark.integration

GOOD_ANALYSIS = (
    "다른 사람의 감정에 민감하고 정이 많으신 편입니다. 공감 점수가 100으로 높아 따뜻한 말이 큰 힘이"
    " 됩니다. 활동성은 50으로 활동과 휴식을 적당히 즐기십니다. 일정은 미리 알려 드리면 좋습니다."
)
#: empathy 100, activity 50, patience 50, independence 50
ANSWERS = dict.fromkeys(QUESTION_IDS, 3) | {"q1": 5, "q2": 5, "q3": 1}
SCORES = {"empathy": 100, "activity": 50, "patience": 50, "independence": 50}


def patient_test(parties: Parties) -> dict:
    return {"subject": "patient", "patient_id": parties.patient_id, "answers": ANSWERS}


def stored_patient_personality(database_url: str, patient_id: int) -> dict | None:
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT empathy, activity, patience, independence, source FROM patient_personality"
            " WHERE patient_id = %s",
            (patient_id,),
        )
        return cur.fetchone()


# -- the question set ------------------------------------------------------------------------


@pytest.mark.parametrize("subject", ["patient", "self"])
def test_the_question_set_is_versioned_and_worded_for_the_subject(app_server, parties, subject):
    response = app_server.get(
        "api/personality-tests/questions",
        params={"subject": subject},
        headers=parties.assigned_caregiver.headers,
    )
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["version"] == "pt-2026-11-v1"
    assert [q["id"] for q in body["questions"]] == list(QUESTION_IDS)
    assert body["questions"][0]["options"][0] == {"value": 1, "label": "전혀 그렇지 않다"}
    wording = "신다." if subject == "patient" else "다."
    assert all(q["text"].endswith(wording) for q in body["questions"])


def test_the_question_set_needs_a_subject(app_server, parties):
    response = app_server.get("api/personality-tests/questions", headers=parties.owner.headers)
    assert response.status_code == 422
    assert [e["loc"] for e in response.json()["errors"]] == [["query", "subject"]]
    anonymous = app_server.get("api/personality-tests/questions", params={"subject": "self"})
    assert anonymous.status_code == 401


# -- taking it -------------------------------------------------------------------------------


def test_a_guardian_tests_its_patient_with_an_ai_analysis(
    ai_app_server, fake_openai, parties: Parties, database_url
):
    fake_openai.reply(content={"analysis": GOOD_ANALYSIS})

    response = ai_app_server.request(
        "POST", "api/personality-tests", json=patient_test(parties), headers=parties.owner.headers
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["scores"] == SCORES
    assert (body["analysis"], body["source"]) == (GOOD_ANALYSIS, "ai")
    assert (body["subject"], body["patient_id"], body["caregiver_id"]) == (
        "patient",
        parties.patient_id,
        None,
    )
    assert stored_patient_personality(database_url, parties.patient_id) == {
        **SCORES,
        "source": "test",
    }
    (request,) = fake_openai.requests
    assert "공감(empathy): 100" in request.prompt_text
    assert "김환자" not in request.prompt_text
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT action, resource_type, detail FROM audit_events WHERE patient_id = %s",
            (parties.patient_id,),
        )
        assert cur.fetchall() == [
            {
                "action": "create",
                "resource_type": "personality",
                "detail": {"source": "test", "version": "pt-2026-11-v1", "analysis": "ai"},
            }
        ]


@pytest.mark.parametrize(
    ("analysis", "reason"),
    [
        (
            "공감 점수가 87점으로 높습니다. 따뜻한 말과 공감 표현이 큰 힘이 됩니다."
            " 활동과 휴식을 적당히 즐기십니다. 일정은 미리 알려 드리면 좋습니다.",
            "numbers other than the scores (87)",
        ),
        (
            "정이 많으신 편입니다. 불안해하시면 신경안정제를 드시게 하세요."
            " 활동과 휴식을 적당히 즐기십니다. 일정은 미리 알려 드리면 좋습니다.",
            "names a medicine ('신경안정제')",
        ),
        (
            "Warm and empathetic; enjoys a balance of activity and rest. Tell them the plan early.",
            "analysis is not written in Korean",
        ),
        ("짧음", "analysis must be 60..800 characters"),
    ],
    ids=["invented-number", "medicine", "english", "too-short"],
)
def test_a_bad_analysis_falls_back_to_rules_and_never_changes_the_scores(
    ai_settings, fake_openai, analysis, reason
):
    fake_openai.always(content={"analysis": analysis})

    written = personality.write("patient", SCORES, age_band="80대")

    assert written.source == "rules"
    assert written.generation.validation == "failed"
    assert len(fake_openai.requests) == 2
    assert all(reason in failure for failure in written.generation.failures)
    assert "정이 많으신 편입니다" in written.text  # the rules text for empathy 100


def test_a_caregiver_tests_itself(app_server, parties: Parties, database_url):
    response = app_server.request(
        "POST",
        "api/personality-tests",
        json={"subject": "self", "answers": ANSWERS},
        headers=parties.assigned_caregiver.headers,
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["scores"] == SCORES
    assert body["source"] == "rules"  # the shared served app has no AI
    assert body["caregiver_id"] == parties.assigned_caregiver.caregiver_id
    with cursor(database_url) as cur:
        cur.execute(
            "SELECT empathy, activity, patience, independence, source FROM caregiver_personality"
            " WHERE caregiver_id = %s",
            (parties.assigned_caregiver.caregiver_id,),
        )
        assert cur.fetchone() == {**SCORES, "source": "test"}
        cur.execute(
            "SELECT kind, source, validation, resource_type FROM ai_generations"
            " WHERE requested_by = %s",
            (parties.assigned_caregiver.user_id,),
        )
        assert cur.fetchall() == [
            {
                "kind": "personality_analysis",
                "source": "rules",
                "validation": "skipped",
                "resource_type": "caregiver_personality",
            }
        ]


def test_a_caregiver_without_a_profile_is_told_to_create_one(app_server, database_url):
    with cursor(database_url) as cur:
        newcomer = make_user(cur, "caregiver")
    response = app_server.request(
        "POST",
        "api/personality-tests",
        json={"subject": "self", "answers": ANSWERS},
        headers=newcomer.headers,
    )
    assert response.status_code == 409
    assert "PUT /api/caregivers/me" in response.json()["detail"]


@pytest.mark.parametrize(
    ("who", "status"), list(zip(PARTY_NAMES, (401, 404, 403, 403, 201, 403), strict=True))
)
def test_who_tests_a_patient(app_server, parties: Parties, database_url, who, status):
    response = app_server.request(
        "POST", "api/personality-tests", json=patient_test(parties), headers=parties.headers(who)
    )
    assert response.status_code == status, response.text
    stored = stored_patient_personality(database_url, parties.patient_id)
    assert (stored is not None) == (status == 201)


@pytest.mark.parametrize(
    ("who", "status"), list(zip(PARTY_NAMES, (401, 403, 201, 201, 403, 403), strict=True))
)
def test_who_tests_themselves(app_server, parties: Parties, who, status):
    """Guardians have no personality of their own (403); operators take no test."""
    response = app_server.request(
        "POST",
        "api/personality-tests",
        json={"subject": "self", "answers": ANSWERS},
        headers=parties.headers(who),
    )
    assert response.status_code == status, response.text


@pytest.mark.parametrize(
    ("body", "fields"),
    [
        ({"subject": "patient", "answers": ANSWERS}, {("body", "patient_id")}),
        ({"subject": "self", "patient_id": 1, "answers": ANSWERS}, {("body", "patient_id")}),
        ({"subject": "them", "answers": ANSWERS}, {("body", "subject")}),
        (
            {"subject": "self", "answers": {**ANSWERS, "q4": 0, "q99": 3}},
            {("body", "answers", "q4"), ("body", "answers", "q99")},
        ),
        (
            {"subject": "self", "answers": {"q1": 3}},
            {("body", "answers", q) for q in QUESTION_IDS[1:]},
        ),
    ],
)
def test_bad_tests_are_422_and_store_nothing(
    app_server, parties: Parties, database_url, body, fields
):
    response = app_server.request(
        "POST", "api/personality-tests", json=body, headers=parties.owner.headers
    )
    assert response.status_code == 422, response.text
    assert {tuple(e["loc"]) for e in response.json()["errors"]} == fields
    assert stored_patient_personality(database_url, parties.patient_id) is None
