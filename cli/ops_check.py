"""`ops-check`: the daily and weekly checklist in one command (shared.operations.ops_check).

Exit codes: 0 every check passed (or does not apply); 1 at least one failed.
"""

from __future__ import annotations

import argparse
import json
import os

from cli.common import AddCommand, load_settings

PASSED, FAILED, NOT_APPLICABLE = "✓", "✗", "-"


def cmd_ops_check(args: argparse.Namespace) -> int:
    """Check a deployed app as the daily and weekly checklists ask: health (GET and HEAD),
    readiness, backup ages, the restore drill, maintenance, migrations, the matching model, Key
    Vault secret expiry and the TLS certificate. Prints a table (or --json); exits 1 if any
    check fails."""
    from shared.operations.ops_check import NOT_APPLICABLE as NOT_APPLICABLE_DETAIL
    from shared.operations.ops_check import Target, run_checks

    load_settings()
    token = os.environ.get(args.token_env) or None
    checks = run_checks(Target(args.url, admin_token=token))
    if args.json:
        print(json.dumps({"checks": [c.as_dict() for c in checks]}, ensure_ascii=False))
    else:
        width = max(len(c.name) for c in checks)
        for check in checks:
            skipped = check.ok and check.detail.startswith(NOT_APPLICABLE_DETAIL)
            mark = NOT_APPLICABLE if skipped else PASSED if check.ok else FAILED
            print(f"{mark} {check.name:{width}}  {check.detail}")
        failed = [c.name for c in checks if not c.ok]
        print(f"\n{len(checks) - len(failed)} of {len(checks)} passed" + (
            f"; failed: {', '.join(failed)}" if failed else ""
        ))  # fmt: skip
    return 0 if all(c.ok for c in checks) else 1


def register(add: AddCommand) -> None:
    sub = add("ops-check", cmd_ops_check)
    sub.add_argument(
        "--url", required=True, help="the app's base URL, e.g. https://<app>.azurewebsites.net"
    )
    sub.add_argument(
        "--json", action="store_true", help='print {"checks": [{"name", "ok", "detail"}]}'
    )
    sub.add_argument(
        "--token-env",
        default="ADMIN_TOKEN",
        metavar="NAME",
        help="environment variable holding an admin's bearer token (ADMIN_TOKEN): with it the "
        "ready check names failing checks and the model check asks the instance what it serves",
    )
