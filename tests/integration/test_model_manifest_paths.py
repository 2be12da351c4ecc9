"""A manifest's `model_file` is a plain file name (review item 8): a manifest naming an absolute
path or climbing out with `..` is refused like a tampered model (the rules, or the previous
model, keep serving), and nothing is written or read outside the model cache directory.

One small model is trained for the module; each test publishes into its own Azurite container.
"""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from azure.storage.blob import BlobServiceClient

from shared.matching.model_registry import ModelRegistry
from shared.matching.model_store import (
    MANIFEST_FILE,
    ModelDiskCache,
    ModelIncompatibleError,
    ModelLocation,
    load_local,
    parse_manifest,
    publish,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from training.pipeline import train_and_write

    directory = tmp_path_factory.mktemp("model")
    train_and_write(directory, requests=200, seed=3, progress=lambda _m: None)
    return directory


@pytest.fixture
def path() -> str:
    return f"models-{uuid.uuid4().hex[:10]}/matching"


def registry(blob_service: BlobServiceClient, path: str, cache: Path) -> ModelRegistry:
    return ModelRegistry(
        model_path=path,
        fallback_enabled=True,
        blob_service_factory=lambda: blob_service,
        cache_root=cache,
    )


def point_model_file_at(
    blob_service: BlobServiceClient, path: str, version: str, model_file: str, *, upload: bool
) -> None:
    """Rewrite the published manifest's `model_file`; with `upload`, put the model's bytes under
    the blob name that manifest makes a reader download (so only the path check can refuse it).
    A name with `..` cannot be uploaded (the URL is normalised before it is signed)."""
    location = ModelLocation.parse(path)
    container = blob_service.get_container_client(location.container)
    raw = container.download_blob(location.version_blob(version, "model.ubj")).readall()
    manifest_blob = location.version_blob(version, MANIFEST_FILE)
    manifest = json.loads(container.download_blob(manifest_blob).readall())
    manifest["model_file"] = model_file
    container.upload_blob(manifest_blob, json.dumps(manifest).encode(), overwrite=True)
    if upload:
        container.upload_blob(location.version_blob(version, model_file), raw, overwrite=True)


def files_under(directory: Path) -> set[Path]:
    return {p for p in directory.rglob("*") if p.is_file()}


def test_a_manifest_naming_an_absolute_path_is_refused_and_nothing_is_written_there(
    blob_service, trained, path, tmp_path
):
    version = publish(blob_service, ModelLocation.parse(path), trained).version
    landing = tmp_path / "outside" / "escaped.ubj"
    point_model_file_at(blob_service, path, version, str(landing), upload=True)
    cache = tmp_path / "cache"

    active = registry(blob_service, path, cache).get()

    assert (active.kind, active.source) == ("rules", "fallback")
    assert "model_file" in (active.detail or "")
    assert not landing.exists()
    assert files_under(tmp_path) <= files_under(cache)  # nothing written anywhere else


def test_a_manifest_climbing_out_with_dot_dot_is_refused_as_a_manifest(
    blob_service, trained, path, tmp_path
):
    version = publish(blob_service, ModelLocation.parse(path), trained).version
    # <cache>/<store key>/<version>/../../../escaped.ubj is tmp_path/escaped.ubj.
    point_model_file_at(blob_service, path, version, "../../../escaped.ubj", upload=False)

    active = registry(blob_service, path, tmp_path / "cache").get()

    assert active.kind == "rules"
    assert "invalid manifest: model_file" in (active.detail or "")
    assert not (tmp_path / "escaped.ubj").exists()


def test_a_cached_manifest_climbing_out_of_the_cache_is_not_served(trained, tmp_path):
    manifest, raw = load_local(trained)
    cache = ModelDiskCache(tmp_path / "cache", "store")
    cache.save(manifest, raw)
    (tmp_path / "escaped.ubj").write_bytes(raw)  # a valid model outside the cache
    moved = manifest.model_copy(update={"model_file": "../../../escaped.ubj"})
    (cache.directory / manifest.version / "model.ubj").unlink()
    (cache.directory / manifest.version / MANIFEST_FILE).write_text(moved.to_json())

    with pytest.raises(ModelIncompatibleError, match="model_file"):
        cache.load(manifest.version)


def test_a_reload_onto_such_a_manifest_keeps_the_previous_model(
    blob_service, trained, path, tmp_path
):
    location = ModelLocation.parse(path)
    v1 = publish(blob_service, location, trained).version
    cache = tmp_path / "cache"
    serving = registry(blob_service, path, cache)
    assert serving.get().version == v1

    # A second version whose manifest names an absolute path, published by hand.
    v2 = f"{v1}-b"
    container = blob_service.get_container_client(location.container)
    published = container.download_blob(location.version_blob(v1, MANIFEST_FILE)).readall()
    manifest = json.loads(published)
    raw = container.download_blob(location.version_blob(v1, "model.ubj")).readall()
    landing = tmp_path / "outside" / "escaped.ubj"
    manifest.update(version=v2, model_file=str(landing))
    container.upload_blob(location.version_blob(v2, MANIFEST_FILE), json.dumps(manifest).encode())
    container.upload_blob(location.version_blob(v2, str(landing)), raw)
    container.upload_blob(location.pointer, json.dumps({"version": v2}).encode(), overwrite=True)

    active = serving.reload()

    assert (active.kind, active.version) == ("xgboost", v1)
    assert "model_file" in (serving.status()["last_error"] or "")
    assert not landing.exists()
    assert files_under(tmp_path) <= files_under(cache)


@pytest.mark.parametrize(
    "model_file",
    ["/etc/escaped.ubj", "../model.ubj", "sub/model.ubj", "..\\model.ubj", "model.bin", ".ubj", ""],
)
def test_only_a_plain_model_file_name_parses(trained, model_file):
    manifest = json.loads((trained / MANIFEST_FILE).read_text())
    assert parse_manifest(json.dumps(manifest)).model_file == "model.ubj"  # what publish writes
    manifest["model_file"] = model_file
    with pytest.raises(ModelIncompatibleError, match="model_file"):
        parse_manifest(json.dumps(manifest))


def test_the_disk_cache_never_reads_or_writes_through_a_link_out_of_it(trained, tmp_path):
    manifest, raw = load_local(trained)
    cache = ModelDiskCache(tmp_path / "cache", "store")
    outside = tmp_path / "outside"
    outside.mkdir()
    cache.directory.mkdir(parents=True)
    (cache.directory / manifest.version).symlink_to(outside, target_is_directory=True)

    with pytest.raises(ModelIncompatibleError, match="cache directory"):
        cache.save(manifest, raw)
    assert list(outside.iterdir()) == []

    # A model placed behind the link is not served from the cache either.
    (outside / "model.ubj").write_bytes(raw)
    (outside / MANIFEST_FILE).write_text(manifest.to_json())
    with pytest.raises(ModelIncompatibleError, match="cache directory"):
        cache.load(manifest.version)
