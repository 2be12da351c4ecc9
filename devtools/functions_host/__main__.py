"""Serve any FunctionApp object: ``python -m devtools.functions_host MODULE:ATTRIBUTE``.

What ``manage.py serve`` does for function_app.py, for another app (the tests' small apps):
local.settings.json exported, host.json read, the app indexed and checked, HTTP served and queue
triggers polled until Ctrl+C or SIGTERM.
"""

from __future__ import annotations

import argparse
import importlib
import signal
import sys

from devtools.functions_host.host import HostStartError
from devtools.functions_host.host_config import HostConfigError
from devtools.functions_host.local_settings import LocalSettingsError
from devtools.functions_host.server import serve


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devtools.functions_host")
    parser.add_argument("app", help="MODULE:ATTRIBUTE of an azure.functions.FunctionApp")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="port to bind (7071)")
    parser.add_argument("--threads", type=int, default=8, help="worker threads (8)")
    args = parser.parse_args(argv)
    module_name, _, attribute = args.app.partition(":")
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    app = getattr(importlib.import_module(module_name), attribute or "app")
    try:
        serve(app, host=args.host, port=args.port, threads=args.threads)
    except (HostStartError, HostConfigError, LocalSettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
