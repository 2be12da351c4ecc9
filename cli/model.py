"""Matching model commands: train a model, publish it to Blob Storage, show what is published.

manage.py train-model [--requests N] [--seed S] [--from-database] [--output DIR]
manage.py publish-model DIR
manage.py model-status
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from cli.common import AddCommand, fail, load_settings

DEFAULT_OUTPUT = ".local/model"


def _progress(message: str) -> None:
    print(message, flush=True)


def cmd_train_model(args: argparse.Namespace) -> int:
    """Train the matching model on simulated (and recorded) history; write model and report."""
    from training.pipeline import train_and_write

    history = None
    if args.from_database:
        from training.history import load_history_from_database

        load_settings()
        _progress("reading recorded history from the database")
        history = load_history_from_database()
        _progress(f"  {history.n_requests} requests with results ({len(history)} rows)")
    if args.requests < 0:
        return fail("--requests must be 0 or more")
    try:
        train_and_write(
            args.output,
            requests=args.requests,
            seed=args.seed,
            history=history,
            progress=_progress,
        )
    except ValueError as exc:
        return fail(str(exc))
    report = Path(args.output) / "report" / "report.md"
    _progress(f"report: {report}")
    _progress(f"publish with: python manage.py publish-model {args.output}")
    return 0


def cmd_publish_model(args: argparse.Namespace) -> int:
    """Upload a trained model directory to Blob Storage (XGBOOST_MODEL_PATH), then point
    `current` at it; every serving instance picks it up by itself within MODEL_REFRESH_SECONDS."""
    from shared.matching.model_store import ModelStoreError
    from training.publish import publish_directory

    settings = load_settings()
    directory = Path(args.directory)
    if not (directory / "manifest.json").is_file():
        return fail(f"{directory} has no manifest.json (run train-model first)")
    try:
        result = publish_directory(directory)
    except ModelStoreError as exc:
        return fail(str(exc))
    container = result.container
    print(f"published version {result.version}" + (" (already uploaded)" if result.reused else ""))
    print(f"  model:    {container}/{result.model_blob}")
    print(f"  manifest: {container}/{result.manifest_blob}")
    for blob in result.report_blobs:
        print(f"  report:   {container}/{blob}")
    print(f"  current:  {container}/{result.pointer_blob} -> {result.version}")
    print(f"XGBOOST_MODEL_PATH={settings.xgboost_model_path}")
    return 0


def cmd_model_status(args: argparse.Namespace) -> int:
    """Show the published model (pointer, manifest, metrics) and whether it verifies."""
    from shared.matching.model_store import (
        ModelLocation,
        ModelStoreError,
        build_scorer,
        fetch_manifest,
        fetch_model,
        list_versions,
        read_pointer,
    )
    from shared.storage import get_blob_service

    settings = load_settings()
    location = ModelLocation.parse(settings.xgboost_model_path)
    service = get_blob_service()
    status: dict[str, object] = {"location": str(location)}
    try:
        status["versions"] = list_versions(service, location)
        version = read_pointer(service, location)
        status["current"] = version
        manifest = fetch_manifest(service, location, version)
        status.update(
            objective=manifest.objective,
            trained_at=manifest.trained_at.isoformat(),
            published_at=manifest.published_at.isoformat() if manifest.published_at else None,
            xgboost_version=manifest.xgboost_version,
            metrics=manifest.metrics,
        )
        build_scorer(manifest, fetch_model(service, location, manifest))
        status["verified"] = True
    except ModelStoreError as exc:
        status["verified"] = False
        status["error"] = str(exc)
    if args.json:
        print(json.dumps(status, ensure_ascii=False, indent=2))
    else:
        for key, value in status.items():
            shown = (
                json.dumps(value, ensure_ascii=False) if isinstance(value, dict | list) else value
            )
            print(f"{key:16} {shown}")
    return 0 if status.get("verified") else 1


def register(add: AddCommand) -> None:
    train = add("train-model", cmd_train_model)
    train.add_argument(
        "--requests", type=int, default=3000, help="simulated requests (3000; 0 for none)"
    )
    train.add_argument("--seed", type=int, default=7, help="random seed of the simulation (7)")
    train.add_argument(
        "--from-database",
        action="store_true",
        help="also train on the database's matching results and reviews (DATABASE_URL)",
    )
    train.add_argument(
        "--output", default=DEFAULT_OUTPUT, help=f"directory to write ({DEFAULT_OUTPUT})"
    )
    publish_cmd = add("publish-model", cmd_publish_model)
    publish_cmd.add_argument("directory", help="a directory written by train-model")
    status = add("model-status", cmd_model_status)
    status.add_argument("--json", action="store_true", help="print JSON")
