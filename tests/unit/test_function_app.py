"""The Function App object: what the Functions host indexes when it loads function_app.py."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from tests.fresh_interpreter import run_fresh

REPO_ROOT = Path(__file__).resolve().parents[2]
#: Loaded on first use only: importing them would slow every cold start.
HEAVY_MODULES = (
    "xgboost",
    "numpy",
    "openai",
    "azure.identity",
    "azure.keyvault.secrets",
    "azure.storage.blob",
    "azure.monitor.opentelemetry",
    "sqlalchemy",
    "alembic",
)


def test_import_connects_to_nothing_and_reads_no_secret():
    """Importing and indexing the app must not open a socket, load a model or read a secret."""
    script = textwrap.dedent(
        """
        import json, socket, sys
        attempts = []
        def refuse(self, address):
            attempts.append(str(address))
            raise OSError("no network at import time")
        socket.socket.connect = refuse
        import function_app
        names = [f.get_function_name() for f in function_app.app.get_functions()]
        import shared.config, shared.db, shared.secrets
        print(json.dumps({
            "attempts": attempts,
            "names": names,
            "built": [name for name, value in (
                ("settings", shared.config._settings),
                ("secrets", shared.secrets._provider),
                ("database", shared.db._database),
            ) if value is not None],
            "heavy": [m for m in HEAVY if m in sys.modules],
        }))
        """
    ).replace("HEAVY", repr(HEAVY_MODULES))
    report = run_fresh(script, KEY_VAULT_URL="https://kv.invalid")
    assert report["attempts"] == []
    assert report["built"] == []
    assert report["heavy"] == []
    assert "health" in report["names"]


def test_function_names_are_unique_and_every_route_is_registered():
    import function_app
    from shared.http import default_registry

    functions = function_app.app.get_functions()
    names = [f.get_function_name() for f in functions]
    assert len(names) == len(set(names))
    triggers = {str(f.get_function_name()): f.get_trigger() for f in functions}
    assert all(trigger is not None for trigger in triggers.values())
    http: dict[str, Any] = {
        name: trigger
        for name, trigger in triggers.items()
        if trigger is not None and trigger.type == "httpTrigger"
    }
    for route in default_registry.routes():
        assert route.name in http
        assert http[route.name].route == route.path
        assert [m.value for m in http[route.name].methods] == [route.method]
    timers = {
        name
        for name, trigger in triggers.items()
        if trigger is not None and trigger.type == "timerTrigger"
    }
    assert "health_check" in timers
    assert "route_not_found" in http
    assert http["route_not_found"].route == "{*path}"
