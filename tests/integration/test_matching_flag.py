"""ENABLE_MATCHING_ALGORITHM=false does what it says: with a valid model published, the model is
neither downloaded nor loaded, the rule scorer ranks (`"kind": "rules"`), reloads keep it off,
and readiness reports the model as `disabled`."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from shared.matching.model_registry import DISABLED_DETAIL, ModelRegistry
from shared.matching.model_store import ModelLocation, publish
from tests.factories import Parties, cursor, make_guardian, make_patient
from tests.integration.test_matching_api import add_caregivers, next_slot, request_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from training.pipeline import train_and_write

    directory = tmp_path_factory.mktemp("model")
    train_and_write(directory, requests=250, seed=1, progress=lambda _m: None)
    return directory


@pytest.fixture
def published(blob_service: BlobServiceClient, model_dir: Path) -> tuple[str, str]:
    """(XGBOOST_MODEL_PATH, version) of a valid model published in a container of its own."""
    path = f"models-{uuid.uuid4().hex[:10]}/matching"
    version = publish(blob_service, ModelLocation.parse(path), model_dir).version
    return path, version


def test_the_disabled_registry_never_touches_the_store(published, tmp_path):
    path, _version = published

    def no_blob() -> object:
        raise AssertionError("the model store was used although matching's model is disabled")

    cache = tmp_path / "cache"
    registry = ModelRegistry(
        model_path=path,
        fallback_enabled=False,  # the flag, not a failure, chose the rules: no 503
        blob_service_factory=no_blob,
        cache_root=cache,
        enabled=False,
    )
    active = registry.get()
    assert (active.kind, active.detail) == ("rules", DISABLED_DETAIL)
    assert registry.reload().kind == "rules"
    assert registry.health() == ("disabled", DISABLED_DETAIL)
    assert registry.status()["kind"] == "rules"
    assert not cache.exists()


def served(start_app_server, path: str, temp: Path, flag: str):
    temp.mkdir()
    return start_app_server(
        ENABLE_MATCHING_ALGORITHM=flag, XGBOOST_MODEL_PATH=path, TMPDIR=str(temp)
    )


def rank(app, database_url: str) -> dict:
    slot = next_slot()
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian, region_code="JEJU_SEOGWIPO")
        add_caregivers(cur, 4, slot)
    answer = app.request(
        "POST",
        f"api/patients/{patient_id}/matching-requests",
        json=request_body(slot),
        headers=guardian.headers,
    )
    assert answer.status_code == 201, answer.text
    body: dict = answer.json()
    assert body["results"]
    return body


def model_caches(temp: Path) -> list[Path]:
    """The model's disk cache lives under the served app's temp directory."""
    return [p for p in temp.glob("neulbomcare-model-cache/*/*") if p.is_dir()]


def test_the_served_app_with_the_flag_on_loads_the_published_model(
    start_app_server, published, database_url, tmp_path
):
    """The control: the same setup with the flag on downloads, caches and serves the model."""
    path, version = published
    temp = tmp_path / "tmp"
    app = served(start_app_server, path, temp, "true")
    assert rank(app, database_url)["model"] == {"kind": "xgboost", "version": version}
    assert model_caches(temp)


def test_the_served_app_with_the_flag_off_ranks_with_rules_and_loads_no_model(
    start_app_server, published, parties: Parties, database_url, tmp_path
):
    path, _version = published
    temp = tmp_path / "tmp"
    app = served(start_app_server, path, temp, "false")
    body = rank(app, database_url)
    assert body["model"]["kind"] == "rules"

    admin = parties.admin.headers
    reloaded = app.request("POST", "api/admin/model/reload", headers=admin)
    assert reloaded.status_code == 200, reloaded.text
    status = app.get("api/admin/model", headers=admin).json()
    assert (status["kind"], status["detail"]) == ("rules", DISABLED_DETAIL)

    ready = app.get("health/ready", headers=admin).json()
    check = ready["checks"]["matching_model"]
    assert (check["status"], check["detail"]) == ("disabled", DISABLED_DETAIL)

    # No model was downloaded or loaded: nothing was cached, nothing logged it.
    assert model_caches(temp) == []
    logs = app.logs()
    assert "matching_model_loaded" not in logs
    assert "matching_model_disabled" in logs
