#!/usr/bin/env python3
"""NeulbomCare command line: run the app locally and operate its database.

    python manage.py --help
    python manage.py COMMAND --help

Commands that touch the database read `DATABASE_URL` (or Key Vault's `DatabaseURL` when
`KEY_VAULT_URL` is set), exactly as the Function App does, so operators can run them against any
environment. `serve` and `dev` are local tools (Core Tools cannot be installed here).
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import signal
import sys
from collections.abc import Callable
from pathlib import Path

from cli.common import fail as _fail
from cli.common import load_settings as _settings
from cli.common import read_password as _read_password

ROOT = Path(__file__).resolve().parent
DEV_DATABASE_NAME = "neulbomcare"
DEV_BLOB_PORT = 10000
# Modules of `cli/` that add commands (each has `register(add)`).
COMMAND_MODULES: tuple[str, ...] = (
    "cli.accounts",
    "cli.backup",
    "cli.data_import",
    "cli.db_roles",
    "cli.model",
    "cli.ops_check",
    "cli.visit_records",
)


def _database_url() -> str:
    from shared.secrets import get_secret

    return get_secret("DatabaseURL")


# -- commands ---------------------------------------------------------------------------------


def cmd_check_config(args: argparse.Namespace) -> int:
    """Load and check the settings; print a summary without secret values (--connect: then log in
    to the database as the app does)."""
    from pydantic import SecretStr

    from shared.config import Settings

    settings = _settings()
    for name in Settings.model_fields:
        value = getattr(settings, name)
        if isinstance(value, SecretStr):
            value = "(set)" if value.get_secret_value() else "(empty)"
        print(f"{name:40} {value}")
    print(f"\nSettings OK for {settings.app_env.value}.")
    if args.connect:
        from shared.operations.ops_check import check_database

        check = check_database()
        print(f"database: {check.detail}")
        return 0 if check.ok else 1
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    """Serve the Function App over HTTP, as `func start` would."""
    from devtools.functions_host import HostStartError, serve
    from devtools.functions_host.host_config import HostConfigError

    _settings()
    from function_app import app

    try:
        serve(app, host=args.host, port=args.port, threads=args.threads)
    except (HostStartError, HostConfigError) as exc:
        return _fail(str(exc))
    return 0


def cmd_migrate(args: argparse.Namespace) -> int:
    """Upgrade the database schema (same as `alembic upgrade REVISION`)."""
    from devtools.database import current_revision, migrate

    _settings()
    url = _database_url()
    migrate(url, args.revision)
    print(f"database at revision {current_revision(url)}")
    return 0


def cmd_seed_demo(_args: argparse.Namespace) -> int:
    """Insert demo users, patients and caregivers (idempotent)."""
    from devtools.seed_demo import seed_demo
    from shared.unit_of_work import UnitOfWork

    settings = _settings()
    if settings.is_production:
        return _fail("refusing to seed demo data into a production database")
    password = settings.seed_demo_password
    if password is None or not password.get_secret_value():
        return _fail("set SEED_DEMO_PASSWORD (the demo accounts' password)")
    with UnitOfWork.for_job() as uow:
        report = seed_demo(
            uow,
            password=password.get_secret_value(),
            caregiver_count=settings.seed_caregiver_count,
            seed=settings.seed_random_seed,
        )
    if report.created:
        print(
            f"demo data created: {report.guardians} guardian, {report.patients} patients, "
            f"{report.caregivers} caregivers"
        )
    else:
        print("demo data already present; nothing changed")
    return 0


def cmd_create_admin(args: argparse.Namespace) -> int:
    """Create an operator account; the password is read from standard input."""
    from shared.auth.admin import AdminAccountError, create_admin
    from shared.unit_of_work import UnitOfWork

    _settings()
    password = _read_password("Password for the new admin: ")
    try:
        with UnitOfWork.for_job() as uow:
            user_id = create_admin(uow, email=args.email, name=args.name, password=password)
    except AdminAccountError as exc:
        return _fail(str(exc))
    print(f"admin {args.email} created (user_id {user_id})")
    return 0


def cmd_run_timer(args: argparse.Namespace) -> int:
    """Run one timer-triggered function now, as `POST /admin/functions/NAME` does."""
    from devtools.functions_host import FunctionsHost

    _settings()
    from function_app import app

    host = FunctionsHost(app)
    timers = sorted(timer.name for timer in host.timer_functions)
    if args.name not in timers:
        return _fail(f"no timer function named {args.name!r}; known: {', '.join(timers)}")
    host.run_timer(args.name, past_due=args.past_due)
    print(f"{args.name} finished")
    return 0


def cmd_openapi(args: argparse.Namespace) -> int:
    """Print the OpenAPI document (or write it to --output)."""
    import function_app  # noqa: F401  (declares every route)
    from shared.config import get_settings
    from shared.http import default_registry
    from shared.http.openapi import build_openapi

    document = build_openapi(
        default_registry, title="NeulbomCare API", version=get_settings().app_version
    )
    text = json.dumps(document, ensure_ascii=False, indent=2)
    if args.output:
        Path(args.output).write_text(text + "\n", encoding="utf-8")
    else:
        print(text)
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    """Everything `make run` does: Azurite, a database, migrations, demo data, then serve."""
    from devtools.devstack import local_services, step
    from devtools.functions_host.local_settings import EXAMPLE_PATH, export_local_settings
    from shared.config import reset_settings

    with local_services() as database_url:
        os.environ["DATABASE_URL"] = database_url
        # As `func start` would with the developer's local.settings.json, then the example's
        # working local values for what is still unset (the host needs e.g. BACKUP_SCHEDULE).
        _settings()
        export_local_settings(EXAMPLE_PATH)
        reset_settings()
        if not args.no_seed:
            step("seeding demo data")
            if cmd_seed_demo(args) != 0:
                return 1
            _publish_demo_model(step)
        step(f"serving on http://{args.host}:{args.port} (Ctrl-C stops)")
        return cmd_serve(args)


# -- parser -----------------------------------------------------------------------------------


def _publish_demo_model(step: Callable[[str], None]) -> None:
    """Train and publish a demo matching model to local Blob Storage unless one is there."""
    from devtools.demo_model import ensure_demo_model
    from shared.storage import get_blob_service

    settings = _settings()
    step("matching model: publishing a demo model to local Blob Storage if none is there")
    version = ensure_demo_model(get_blob_service(), settings.xgboost_model_path, progress=step)
    step(f"matching model {version} is published at {settings.xgboost_model_path}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="manage.py",
        description="Run NeulbomCare locally and operate its database.",
        epilog="Run 'manage.py COMMAND --help' for a command's options.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, handler: Callable[[argparse.Namespace], int]) -> argparse.ArgumentParser:
        doc = (handler.__doc__ or "").strip()
        sub = commands.add_parser(name, help=doc, description=doc)
        sub.set_defaults(handler=handler)
        return sub

    def server_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
        sub.add_argument("--port", type=int, default=7071, help="port to bind (7071)")
        sub.add_argument("--threads", type=int, default=8, help="worker threads (8)")

    server_options(add("serve", cmd_serve))
    dev = add("dev", cmd_dev)
    server_options(dev)
    dev.add_argument(
        "--no-seed", action="store_true", help="skip the demo data and the demo matching model"
    )
    add("migrate", cmd_migrate).add_argument(
        "--revision", default="head", help="target revision (head)"
    )
    add("seed-demo", cmd_seed_demo)
    admin = add("create-admin", cmd_create_admin)
    admin.add_argument("email", help="the operator's email address")
    admin.add_argument("--name", default="운영자", help="display name (운영자)")
    timer = add("run-timer", cmd_run_timer)
    timer.add_argument("name", help="function name, e.g. health_check")
    timer.add_argument("--past-due", action="store_true", help="pretend the run is late")
    add("check-config", cmd_check_config).add_argument(
        "--connect",
        action="store_true",
        help="also log in to the database (DATABASE_URL or Key Vault's DatabaseURL) and say as "
        "whom, where and how fast; exit 1 if it refuses or does not answer",
    )
    add("openapi", cmd_openapi).add_argument("--output", help="file to write instead of stdout")
    for module in COMMAND_MODULES:
        importlib.import_module(module).register(add)
    return parser


def main(argv: list[str] | None = None) -> int:
    os.chdir(ROOT)
    sys.path.insert(0, str(ROOT))
    args = build_parser().parse_args(argv)
    # Stop cleanly on SIGTERM (and on Ctrl-C even when started in the background), so that
    # `serve` and `dev` shut the server down and stop the Azurite they started.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from azure.core.exceptions import ClientAuthenticationError

    from shared.errors import ConfigurationError

    try:
        return int(args.handler(args))
    except ConfigurationError as exc:
        return _fail(str(exc))
    except ClientAuthenticationError as exc:
        # STORAGE_ACCOUNT_URL / KEY_VAULT_URL read Azure with the operator's own login.
        reason = (exc.message or str(exc)).strip().splitlines()[0]
        return _fail(
            "Azure sign-in failed: run `az login` (and export "
            f"AZURE_TOKEN_CREDENTIALS=AzureCliCredential); {reason}"
        )
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
