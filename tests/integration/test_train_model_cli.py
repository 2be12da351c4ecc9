"""`manage.py train-model` / `publish-model` / `model-status` as an operator runs them, and the
recorded history that `--from-database` adds to the simulated one."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest

from shared.matching.features import FEATURE_INDEX, FEATURE_NAMES
from tests.factories import (
    add_caregiver_availability,
    add_caregiver_specialties,
    cursor,
    make_caregiver,
    make_guardian,
    make_patient,
)
from tests.manage_cli import run_manage, service_env

pytestmark = pytest.mark.integration


def record_history(database_url: str) -> dict[str, int]:
    """One request shown to three caregivers: completed and rated 5, recommended, cancelled."""
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient = make_patient(cur, guardian, region_code="SEOUL_GANGNAM", care_level="grade_2")
        cur.execute(
            "INSERT INTO patient_conditions (patient_id, code) VALUES (%s, 'dementia')",
            (patient,),
        )
        kept = make_caregiver(cur, region="SEOUL_GANGNAM", experience_years=8)
        add_caregiver_specialties(cur, kept, ["dementia"])
        add_caregiver_availability(cur, kept, [("mon", "08:00", "13:00")])
        shown = make_caregiver(cur, region="SEOUL_MAPO")
        dropped = make_caregiver(cur, region="GYEONGGI_GOYANG")
        # Someone else's reviews set the platform mean (4.0 over 3 reviews, plus the 5 below).
        other = make_caregiver(cur)
        cur.execute(
            "UPDATE caregivers SET avg_rating = 4.0, total_reviews = 3 WHERE caregiver_id = %s",
            (other.caregiver_id,),
        )
        cur.execute(
            "INSERT INTO matching_requests (patient_id, requested_by, care_type, days, time_slots,"
            " start_date) VALUES (%s, %s, 'caregiver', ARRAY['mon'],"
            ' \'[{"start": "09:00", "end": "12:00"}]\', current_date) RETURNING request_id',
            (patient, guardian.user_id),
        )
        request_id = cur.fetchone()["request_id"]
        ids = {}
        for rank, (who, status) in enumerate(
            ((kept, "completed"), (shown, "recommended"), (dropped, "cancelled")), start=1
        ):
            cur.execute(
                "INSERT INTO matching_results (request_id, patient_id, caregiver_id, rank, score,"
                " grade, status) VALUES (%s, %s, %s, %s, 80, 'A', %s) RETURNING matching_id",
                (request_id, patient, who.caregiver_id, rank, status),
            )
            ids[status] = cur.fetchone()["matching_id"]
        cur.execute(
            "INSERT INTO reviews (matching_id, caregiver_id, reviewer_id, reviewer_role, rating)"
            " VALUES (%s, %s, %s, 'guardian', 5)",
            (ids["completed"], kept.caregiver_id, guardian.user_id),
        )
        cur.execute(
            "UPDATE caregivers SET avg_rating = 5, total_reviews = 1 WHERE caregiver_id = %s",
            (kept.caregiver_id,),
        )
        return ids


def test_recorded_history_becomes_graded_rows_without_leaking_the_outcome(
    migrated_database_url,
):
    from training.frame import CHOSEN, KEPT_AND_RATED_WELL, NOT_CHOSEN
    from training.history import load_history

    record_history(migrated_database_url)
    with cursor(migrated_database_url) as cur:
        frame = load_history(cur)
    assert frame.n_requests == 1
    assert frame.features.shape == (3, len(FEATURE_NAMES))
    # In rank order: completed and rated 5, recommended, cancelled without a contract start.
    assert frame.relevance.tolist() == [KEPT_AND_RATED_WELL, NOT_CHOSEN, CHOSEN]
    kept = frame.features[0]
    assert kept[FEATURE_INDEX["specialty_coverage"]] == 1.0
    assert kept[FEATURE_INDEX["availability_coverage"]] == 1.0
    assert frame.features[1][FEATURE_INDEX["availability_coverage"]] == 0.0
    assert frame.features[:, FEATURE_INDEX["region_closeness"]].tolist() == [3.0, 2.0, 1.0]
    # The 5-star review of this very matching was written after the request: its rating is the
    # platform mean (shrunk from no reviews), not the 5 it earned with this outcome.
    platform_mean = (5 * 1 + 4.0 * 3) / 4
    assert kept[FEATURE_INDEX["rating_shrunk"]] == pytest.approx(platform_mean)
    assert kept[FEATURE_INDEX["review_count"]] == 0
    assert frame.is_new.tolist() == [True, True, True]


def test_train_model_then_publish_model_then_model_status(
    migrated_database_url, azurite, blob_service, tmp_path: Path
):
    record_history(migrated_database_url)
    output = tmp_path / "model"
    model_path = f"models-{uuid.uuid4().hex[:10]}/matching"
    env = service_env(migrated_database_url, azurite, XGBOOST_MODEL_PATH=model_path)

    trained = run_manage(
        "train-model",
        "--requests",
        "900",
        "--seed",
        "5",
        "--from-database",
        "--output",
        str(output),
        env=env,
        timeout=120,
    )
    assert trained.returncode == 0, trained.stderr
    out = trained.stdout
    for line in (
        "reading recorded history from the database",
        "simulating a platform history: 900 requests (seed 5)",
        "adding 1 requests of recorded history (3 rows)",
        "time split:",
        "chosen objective:",
        "held-out NDCG@5 (simulated truth: whole candidate pools): model",
        "publish with: python manage.py publish-model",
    ):
        assert line in out, out

    report = json.loads((output / "report" / "report.json").read_text(encoding="utf-8"))
    head = report["headline"]
    assert head["ndcg@5_model"] > head["ndcg@5_rules"]  # the model wins on held-out requests
    assert 0 < head["recall@5_rules"] <= head["recall@5_model"] <= 1
    assert 0 <= head["new_caregiver_exposure@5_model"] <= 1
    assert 0 <= head["new_caregiver_exposure@5_rules"] <= 1
    assert set(report["validation_ndcg@5"]) == {"rank:ndcg", "binary:logistic"}
    assert report["objective"] in report["validation_ndcg@5"]
    for png in ("feature_importance.png", "ndcg_model_vs_rules.png"):
        data = (output / "report" / png).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 5000
    assert "| ndcg@5 |" in (output / "report" / "report.md").read_text(encoding="utf-8")
    manifest = json.loads((output / "manifest.json").read_text())
    assert manifest["training"]["sources"] == ["database", "simulation"]
    assert manifest["metrics"]["ndcg@5_model"] == head["ndcg@5_model"]
    assert manifest["feature_names"] == list(FEATURE_NAMES)

    published = run_manage("publish-model", str(output), env=env)
    assert published.returncode == 0, published.stderr
    version = manifest["version"]
    container = model_path.split("/", maxsplit=1)[0]
    assert f"published version {version}" in published.stdout
    assert f"current:  {container}/matching/current.json -> {version}" in published.stdout
    assert f"model:    {container}/matching/versions/{version}/model.ubj" in published.stdout
    pointer = blob_service.get_blob_client(container, "matching/current.json")
    assert json.loads(pointer.download_blob().readall())["version"] == version

    status = run_manage("model-status", "--json", env=env)
    assert status.returncode == 0, status.stderr
    shown = json.loads(status.stdout)
    assert (shown["current"], shown["verified"], shown["versions"]) == (version, True, [version])
    assert shown["metrics"]["ndcg@5_rules"] == head["ndcg@5_rules"]


def test_model_status_fails_when_nothing_is_published(azurite, database_url):
    env = service_env(
        database_url, azurite, XGBOOST_MODEL_PATH=f"models-{uuid.uuid4().hex[:10]}/matching"
    )
    status = run_manage("model-status", env=env)
    assert status.returncode == 1
    assert "no model is published" in status.stdout


def test_train_model_refuses_too_little_history(tmp_path: Path, database_url, azurite):
    env = service_env(database_url, azurite)
    result = run_manage("train-model", "--requests", "5", "--output", str(tmp_path), env=env)
    assert result.returncode == 1
    assert "too few to train on" in result.stderr
    assert not (tmp_path / "model.ubj").exists()
