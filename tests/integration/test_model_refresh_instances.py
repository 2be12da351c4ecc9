"""Every instance follows the published model by itself (MODEL_REFRESH_SECONDS).

The `model_refresh` timer and `POST /api/admin/model/reload` each reach one instance; the others
must notice a new `current` pointer on their own, cheaply (a conditional read at most once per
interval, never a download per request), and swap it in while requests keep succeeding.
"""

from __future__ import annotations

import threading
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient

from shared.matching.model_registry import ModelRegistry
from shared.matching.model_store import ModelLocation, publish
from tests.factories import cursor, make_guardian, make_patient
from tests.integration.test_matching_api import add_caregivers, next_slot, request_body

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two model directories with different versions (different seeds)."""
    from training.pipeline import train_and_write

    out = {}
    for name, seed in (("v1", 1), ("v2", 2)):
        directory = tmp_path_factory.mktemp(f"model-{name}")
        train_and_write(directory, requests=250, seed=seed, progress=lambda _m: None)
        out[name] = directory
    return out


@pytest.fixture
def path() -> str:
    """A fresh container/prefix per test (the Azurite server is shared by the session)."""
    return f"models-{uuid.uuid4().hex[:10]}/matching"


def wait_for(condition, timeout: float, step: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(step)
    return condition()


def test_a_process_looks_at_the_pointer_conditionally_at_most_once_per_interval(
    azurite, blob_service: BlobServiceClient, trained, path: str, tmp_path: Path
):
    """One registry (one process): no Blob call per request, one conditional GET of the pointer
    per interval (a 304 while unchanged), and a newly published version serves without reload."""
    pointer_calls: list[tuple[str, str | None, int]] = []
    model_downloads: list[str] = []

    def hook(response: Any) -> None:
        request = response.http_request
        name = request.url.split("?")[0]
        if name.endswith("/current.json"):
            pointer_calls.append(
                (
                    request.method,
                    request.headers.get("If-None-Match"),
                    response.http_response.status_code,
                )
            )
        elif name.endswith("/model.ubj"):
            model_downloads.append(name)

    counted = BlobServiceClient.from_connection_string(
        azurite.connection_string, raw_response_hook=hook
    )
    location = ModelLocation.parse(path)
    v1 = publish(blob_service, location, trained["v1"]).version
    interval = 0.5
    registry = ModelRegistry(
        model_path=path,
        fallback_enabled=True,
        blob_service_factory=lambda: counted,
        cache_root=tmp_path / "cache",
        refresh_seconds=interval,
    )
    assert registry.get().version == v1
    assert len(pointer_calls) == 1
    method, condition, status = pointer_calls[0]
    assert (method, condition) == ("GET", None)
    assert status in (200, 206)  # the SDK's first read asks for a range
    assert len(model_downloads) == 1

    # Within the interval, asking for the model touches nothing.
    for _ in range(500):
        assert registry.get().version == v1
    assert len(pointer_calls) == 1

    # Once the interval has passed, one request starts one conditional look: a 304 (no body).
    time.sleep(interval + 0.1)
    for _ in range(50):
        assert registry.get().version == v1
    assert wait_for(lambda: len(pointer_calls) == 2, timeout=5)
    method, condition, status = pointer_calls[1]
    assert (method, status) == ("GET", 304)
    assert condition  # If-None-Match: the ETag of the pointer that named v1
    time.sleep(0.2)
    assert len(pointer_calls) == 2  # the other 49 requests started no look of their own

    # A new publication is noticed by the next look and swapped in, downloaded once.
    v2 = publish(blob_service, location, trained["v2"]).version
    assert v2 != v1
    published = time.monotonic()
    seen: set[str] = set()

    def serves_v2() -> bool:
        version = registry.get().version
        seen.add(version)
        return version == v2

    assert wait_for(serves_v2, timeout=interval + 5)
    assert time.monotonic() - published < interval + 5
    assert seen <= {v1, v2}
    assert len(model_downloads) == 2
    assert registry.get().source == "blob"
    assert registry.last_error is None

    # Settled again: the next look is a 304 against the new pointer's ETag.
    before = len(pointer_calls)
    time.sleep(interval + 0.1)
    registry.get()
    assert wait_for(lambda: len(pointer_calls) == before + 1, timeout=5)
    assert pointer_calls[-1][2] == 304
    assert len(model_downloads) == 2


def test_without_a_refresh_interval_only_reload_changes_the_model(
    blob_service: BlobServiceClient, trained, path: str, tmp_path: Path
):
    """Registries built without `refresh_seconds` (tools, tests) keep the old behaviour."""
    location = ModelLocation.parse(path)
    v1 = publish(blob_service, location, trained["v1"]).version
    registry = ModelRegistry(
        model_path=path,
        fallback_enabled=True,
        blob_service_factory=lambda: blob_service,
        cache_root=tmp_path / "cache",
    )
    assert registry.get().version == v1
    v2 = publish(blob_service, location, trained["v2"]).version
    time.sleep(0.3)
    assert registry.get().version == v1
    assert registry.reload().version == v2


def test_an_unpublished_model_is_picked_up_by_the_next_look(
    blob_service: BlobServiceClient, trained, path: str, tmp_path: Path
):
    """Started before anything was published: the rules serve, then the first publication."""
    registry = ModelRegistry(
        model_path=path,
        fallback_enabled=True,
        blob_service_factory=lambda: blob_service,
        cache_root=tmp_path / "cache",
        refresh_seconds=0.3,
    )
    assert registry.get().kind == "rules"
    version = publish(blob_service, ModelLocation.parse(path), trained["v1"]).version
    assert wait_for(lambda: registry.get().version == version, timeout=5)
    assert registry.health() == ("ok", f"xgboost {version} (blob)")


def test_two_instances_both_serve_a_newly_published_model_without_a_reload(
    start_app_server, blob_service: BlobServiceClient, trained, path: str, database_url, tmp_path
):
    location = ModelLocation.parse(path)
    v1 = publish(blob_service, location, trained["v1"]).version
    settings = {
        "XGBOOST_MODEL_PATH": path,
        "MODEL_REFRESH_SECONDS": "1",
        "RATE_LIMIT_MATCHING_PER_HOUR": "100000",
    }
    apps = []
    for n in range(2):
        temp = tmp_path / f"tmp-{n}"
        temp.mkdir()
        apps.append(start_app_server(**settings, TMPDIR=str(temp)))

    slot = next_slot()
    with cursor(database_url) as cur:
        guardian = make_guardian(cur)
        patient_id = make_patient(cur, guardian, region_code="JEJU_SEOGWIPO")
        add_caregivers(cur, 4, slot)

    def rank(app) -> tuple[int, str | None]:
        answer = app.request(
            "POST",
            f"api/patients/{patient_id}/matching-requests",
            json=request_body(slot),
            headers=guardian.headers,
        )
        if answer.status_code != 201:
            return answer.status_code, answer.text[:300]
        model = answer.json()["model"]
        assert model["kind"] == "xgboost", model
        return 201, model["version"]

    for app in apps:
        assert rank(app) == (201, v1)

    # A thread keeps asking both instances while v2 is published and swapped in.
    answers: list[tuple[int, float, int, str | None]] = []  # (app, time, status, version)
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            for n, app in enumerate(apps):
                try:
                    status, version = rank(app)
                except Exception as exc:  # recorded: the test fails on it below
                    status, version = -1, f"{type(exc).__name__}: {exc}"
                answers.append((n, time.monotonic(), status, version))

    asker = threading.Thread(target=keep_asking, daemon=True)
    asker.start()
    try:
        time.sleep(0.5)
        v2 = publish(blob_service, location, trained["v2"]).version
        assert v2 != v1
        published = time.monotonic()

        def both_serve_v2() -> bool:
            return all(
                any(a[0] == n and a[1] > published and a[3] == v2 for a in list(answers))
                for n in range(len(apps))
            )

        assert wait_for(both_serve_v2, timeout=15, step=0.1), answers[-6:]
        took = time.monotonic() - published
        time.sleep(0.5)  # a few more requests on the new model
    finally:
        stop.set()
        asker.join(timeout=30)

    failed = [a for a in answers if a[2] != 201]
    assert failed == []
    assert took < 10  # MODEL_REFRESH_SECONDS=1: a look within a second, then the load
    for n, app in enumerate(apps):
        versions = [a[3] for a in answers if a[0] == n]
        assert set(versions) == {v1, v2}
        # Once an instance served v2 it never went back to v1.
        first_v2 = versions.index(v2)
        assert set(versions[first_v2:]) == {v2}
        logs = app.logs()
        assert "model_pointer_changed" in logs
        assert "matching_model_swapped" in logs
        assert rank(app) == (201, v2)
