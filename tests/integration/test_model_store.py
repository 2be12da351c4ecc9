"""Publishing and serving the matching model through Azurite: verified, cached, swapped safely.

Two small models are trained once per module; each test publishes into its own container.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import numpy as np
import pytest
from azure.storage.blob import BlobServiceClient

from devtools.azurite import Azurite
from shared.errors import ServiceUnavailableError
from shared.matching.explain import reasons
from shared.matching.features import FEATURE_NAMES, build_features
from shared.matching.model_registry import (
    ModelRegistry,
    configure_model_registry,
    get_active_model,
    model_status,
    reload_model,
    reset_model_registry,
)
from shared.matching.model_store import (
    ModelIncompatibleError,
    ModelIntegrityError,
    ModelLocation,
    list_versions,
    publish,
    read_pointer,
)
from tests.unit.test_matching_features import PATIENT, REQUEST, candidates

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """Two model directories with different versions (different seeds)."""
    from training.pipeline import train_and_write

    out = {}
    for name, seed in (("v1", 1), ("v2", 2)):
        directory = tmp_path_factory.mktemp(f"model-{name}")
        train_and_write(directory, requests=250, seed=seed, progress=lambda _m: None)
        out[name] = directory
    return out


def version_of(directory: Path) -> str:
    return json.loads((directory / "manifest.json").read_text())["version"]


@pytest.fixture
def path() -> str:
    """A fresh container/prefix per test (the Azurite server is shared by the session)."""
    return f"models-{uuid.uuid4().hex[:10]}/matching"


@pytest.fixture
def registry_for(blob_service: BlobServiceClient, tmp_path: Path):
    """Build registries on the test's container with a private disk cache."""

    def build(path: str, *, fallback: bool = True, service=None, cache: Path | None = None):
        client = service or blob_service
        return ModelRegistry(
            model_path=path,
            fallback_enabled=fallback,
            blob_service_factory=lambda: client,
            cache_root=cache or tmp_path / "cache",
        )

    return build


def features() -> np.ndarray:
    return build_features(PATIENT, REQUEST, candidates(), platform_mean_rating=4.2)


def tamper(blob_service: BlobServiceClient, path: str, version: str, name: str, change) -> None:
    location = ModelLocation.parse(path)
    container = blob_service.get_container_client(location.container)
    blob = location.version_blob(version, name)
    data = container.download_blob(blob).readall()
    container.upload_blob(blob, change(data), overwrite=True)


def test_publish_then_load_verifies_and_serves_the_model(blob_service, trained, path, registry_for):
    result = publish(blob_service, ModelLocation.parse(path), trained["v1"])
    assert result.version == version_of(trained["v1"])
    container = blob_service.get_container_client(path.split("/")[0])
    names = {b.name for b in container.list_blobs()}
    base = f"matching/versions/{result.version}"
    assert {f"{base}/model.ubj", f"{base}/manifest.json", "matching/current.json"} <= names
    assert f"{base}/report/ndcg_model_vs_rules.png" in names
    assert read_pointer(blob_service, ModelLocation.parse(path)) == result.version
    manifest = json.loads(container.download_blob(f"{base}/manifest.json").readall())
    assert manifest["feature_names"] == list(FEATURE_NAMES)
    assert manifest["published_at"]
    assert manifest["xgboost_version"]
    assert container.download_blob(f"{base}/model.ubj").readall()[:1] == b"{"  # UBJSON object

    registry = registry_for(path)
    active = registry.get()
    assert (active.kind, active.version, active.source) == ("xgboost", result.version, "blob")
    assert active.metrics["ndcg@5_model"] > 0
    assert registry.health() == ("ok", f"xgboost {result.version} (blob)")
    scored = active.scorer.score(features(), top_k=2)
    assert np.all((scored.scores >= 0) & (scored.scores <= 100))
    top = scored.ranking(1)[0]
    said = reasons(PATIENT, REQUEST, candidates(), features(), scored.contributions, top)
    assert said  # the best candidate of this pool has something good to say
    status = registry.status()
    assert (status["kind"], status["source"]) == ("xgboost", "blob")
    assert status["loaded_at"]


def test_publishing_the_same_version_again_is_idempotent_but_versions_are_immutable(
    blob_service, trained, path, tmp_path
):
    location = ModelLocation.parse(path)
    first = publish(blob_service, location, trained["v1"])
    again = publish(blob_service, location, trained["v1"])
    assert again.version == first.version
    assert again.reused
    assert list_versions(blob_service, location) == [first.version]
    # Same version name, other bytes: refused, and the pointer does not move.
    forged = tmp_path / "forged"
    forged.mkdir()
    manifest = json.loads((trained["v2"] / "manifest.json").read_text())
    manifest["version"] = first.version
    (forged / "manifest.json").write_text(json.dumps(manifest))
    (forged / "model.ubj").write_bytes((trained["v2"] / "model.ubj").read_bytes())
    with pytest.raises(ModelIntegrityError, match="immutable"):
        publish(blob_service, location, forged)
    # A directory whose model does not match its own manifest is never uploaded.
    (forged / "model.ubj").write_bytes(b"{}")
    with pytest.raises(ModelIntegrityError, match="sha256"):
        publish(blob_service, location, forged)
    assert read_pointer(blob_service, location) == first.version


def test_a_tampered_model_is_refused_and_the_rules_serve(blob_service, trained, path, registry_for):
    version = publish(blob_service, ModelLocation.parse(path), trained["v1"]).version
    tamper(blob_service, path, version, "model.ubj", lambda data: data[:-8] + b"\x00" * 8)
    registry = registry_for(path)
    active = registry.get()
    assert active.kind == "rules"
    assert "sha256" in active.detail
    status, detail = registry.health()
    assert status == "degraded"
    assert detail.startswith("rule fallback serving: refused model")
    # Matching still works: the rules score every candidate.
    assert len(active.scorer.score(features()).scores) == len(candidates())


def test_a_tampered_new_version_keeps_the_previous_model_serving(
    blob_service, trained, path, registry_for
):
    location = ModelLocation.parse(path)
    v1 = publish(blob_service, location, trained["v1"]).version
    registry = registry_for(path)
    assert registry.get().version == v1
    v2 = publish(blob_service, location, trained["v2"]).version
    tamper(blob_service, path, v2, "model.ubj", lambda data: data + b"!")
    active = registry.reload()
    assert (active.kind, active.version) == ("xgboost", v1)
    status, detail = registry.health()
    assert status == "degraded"
    assert v2 in detail
    assert "sha256" in detail
    assert registry.status()["last_error"].startswith(f"refused model {v2}")


def test_no_published_model_means_rules_and_degraded(path, registry_for):
    registry = registry_for(path)
    active = registry.get()
    assert (active.kind, active.version, active.source) == ("rules", "rules-2", "fallback")
    status, detail = registry.health()
    assert status == "degraded"
    assert detail == f"rule fallback serving: no model is published under {path}"


def test_without_the_fallback_a_missing_model_is_a_503(path, registry_for):
    registry = registry_for(path, fallback=False)
    with pytest.raises(ServiceUnavailableError, match="fallback is off"):
        registry.get()
    assert registry.health()[0] == "down"


def test_an_incompatible_feature_list_is_refused(blob_service, trained, path, registry_for):
    version = publish(blob_service, ModelLocation.parse(path), trained["v1"]).version

    def rename_feature(data: bytes) -> bytes:
        manifest = json.loads(data)
        manifest["feature_names"][0] = "caregiver_age"
        return json.dumps(manifest).encode()

    tamper(blob_service, path, version, "manifest.json", rename_feature)
    registry = registry_for(path)
    assert registry.get().kind == "rules"
    assert "feature list differs" in registry.health()[1]
    assert "caregiver_age" in registry.health()[1]


def test_publish_refuses_a_directory_with_an_incompatible_feature_list(
    blob_service, trained, path, tmp_path
):
    bad = tmp_path / "bad"
    bad.mkdir()
    manifest = json.loads((trained["v1"] / "manifest.json").read_text())
    manifest["feature_names"] = list(reversed(manifest["feature_names"]))
    (bad / "manifest.json").write_text(json.dumps(manifest))
    (bad / "model.ubj").write_bytes((trained["v1"] / "model.ubj").read_bytes())
    with pytest.raises(ModelIncompatibleError, match="another order"):
        publish(blob_service, ModelLocation.parse(path), bad)


def test_reload_swaps_versions_while_requests_keep_scoring(
    blob_service, trained, path, registry_for
):
    location = ModelLocation.parse(path)
    v1 = publish(blob_service, location, trained["v1"]).version
    registry = registry_for(path)
    assert registry.get().version == v1
    x = features()
    pool = candidates()
    stop = threading.Event()
    failures: list[BaseException] = []
    seen: list[set[str]] = [set() for _ in range(4)]
    calls = [0] * 4

    def serve(worker: int) -> None:
        while not stop.is_set():
            try:
                active = registry.get()
                scored = active.scorer.score(x, top_k=3)
                assert np.isfinite(scored.scores).all()
                for index in scored.ranking(3):
                    reasons(PATIENT, REQUEST, pool, x, scored.contributions, index)
                seen[worker].add(active.version)
                calls[worker] += 1
            except BaseException as exc:
                failures.append(exc)

    threads = [threading.Thread(target=serve, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)
        v2 = publish(blob_service, location, trained["v2"]).version
        swapped = registry.reload()
        time.sleep(0.2)
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=10)
    assert failures == []
    assert swapped.version == v2
    assert registry.get().version == v2
    assert all(versions == {v1, v2} for versions in seen), seen
    assert min(calls) > 5
    # Nothing new: a second reload keeps the same object.
    assert registry.reload() is swapped


def test_a_cold_start_with_blob_storage_down_serves_the_disk_cache(
    trained, path, registry_for, tmp_path
):
    """Its own Azurite, stopped after the model was loaded once: the next cold start (a new
    registry, the same endpoint) cannot reach Blob and serves the verified copy on disk."""
    own = Azurite(tmp_path / "azurite")
    own.start()
    try:
        client = BlobServiceClient.from_connection_string(own.connection_string)
        version = publish(client, ModelLocation.parse(path), trained["v1"]).version
        cache = tmp_path / "cache"
        assert registry_for(path, service=client, cache=cache).get().source == "blob"
    finally:
        own.stop()

    down = BlobServiceClient.from_connection_string(
        own.connection_string, retry_total=0, connection_timeout=2
    )
    cold = registry_for(path, service=down, cache=cache)
    active = cold.get()
    assert (active.kind, active.version, active.source) == ("xgboost", version, "disk-cache")
    status, detail = cold.health()
    assert status == "degraded"
    assert "cannot read the model pointer" in detail
    assert len(active.scorer.score(features()).scores) == len(candidates())
    # Another account's cold start never picks up this cache.
    elsewhere = BlobServiceClient.from_connection_string(
        own.connection_string.replace(f":{own.blob_port}/", ":9/"), retry_total=0
    )
    assert registry_for(path, service=elsewhere, cache=cache).get().kind == "rules"

    # Blob back, same version: the cached copy serves without a download.
    own.start()
    try:
        warm = registry_for(path, service=client, cache=cache)
        assert (warm.get().source, warm.health()[0]) == ("disk-cache", "ok")
    finally:
        own.stop()


def test_the_process_registry_reads_the_settings_and_feeds_readiness(
    monkeypatch, azurite, blob_service, trained, path, tmp_path
):
    from shared.health_checks import check_matching_model

    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", azurite.connection_string)
    monkeypatch.setenv("XGBOOST_MODEL_PATH", path)
    configure_model_registry(cache_root=tmp_path / "cache")
    try:
        assert get_active_model().kind == "rules"
        outcome = check_matching_model()
        assert outcome is not None
        assert outcome.detail is not None
        assert outcome.status == "degraded"
        assert outcome.detail.startswith("rule fallback serving")

        version = publish(blob_service, ModelLocation.parse(path), trained["v1"]).version
        assert reload_model().version == version
        assert get_active_model().kind == "xgboost"
        status = model_status()
        assert (status["version"], status["source"], status["location"]) == (
            version,
            "blob",
            path,
        )
        outcome = check_matching_model()
        assert outcome is not None
        assert (outcome.status, outcome.detail) == ("ok", f"xgboost {version} (blob)")
    finally:
        reset_model_registry()


def test_the_demo_model_is_published_once_and_deterministic(blob_service, path, registry_for):
    from devtools.demo_model import ensure_demo_model

    version = ensure_demo_model(blob_service, path, requests=300)
    assert ensure_demo_model(blob_service, path, requests=300) == version  # already there
    assert list_versions(blob_service, ModelLocation.parse(path)) == [version]
    assert registry_for(path).get().kind == "xgboost"
    # Same seed, same trees: the version's hash part is the same in another container.
    other = f"models-{uuid.uuid4().hex[:10]}/matching"
    again = ensure_demo_model(blob_service, other, requests=300)
    assert again.split("-")[1] == version.split("-")[1]
