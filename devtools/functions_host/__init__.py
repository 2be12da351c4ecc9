"""A local stand-in for the Azure Functions host: serves a FunctionApp over real HTTP.

Core Tools cannot be installed on this machine, so ``serve(app)`` runs the same FunctionApp
object that Azure runs, with the host's behaviour where it matters:

- local.settings.json ``Values`` exported into the environment at start (``local_settings``;
  existing variables win), as ``func start`` does;
- host.json read (``host_config``): ``extensions.http.routePrefix``, ``functionTimeout`` and
  ``extensions.queues``, each overridable by an ``AzureFunctionsJobHost__...`` app setting;
- the host's routing rules (``routes``) and its admin API (``GET /admin/functions``;
  ``POST /admin/functions/{name}`` answers 202 and runs a timer or queue function in the
  background);
- a timer whose NCRONTAB schedule or ``%Setting%`` does not resolve refuses the start
  (``ncrontab``), naming the function;
- queue triggers polled from Storage (Azurite locally) with the host's batch, retry, poison-queue
  and back-off rules (``queues``).

Timers do not fire on their schedules here: run one with the admin API or ``manage.py
run-timer``. A dev harness, not a product.
"""

from devtools.functions_host.host import (
    FunctionsHost,
    FunctionTimeoutError,
    HostResponse,
    HostStartError,
    HttpFunction,
    TimerFunction,
)
from devtools.functions_host.host_config import HostConfig, QueueOptions, load_host_config
from devtools.functions_host.local_settings import export_local_settings
from devtools.functions_host.queues import QueueFunction
from devtools.functions_host.routes import RouteTemplate, split_path
from devtools.functions_host.server import (
    RunningServer,
    WsgiApp,
    serve,
    start_background_server,
    summary_line,
)

__all__ = [
    "FunctionTimeoutError",
    "FunctionsHost",
    "HostConfig",
    "HostResponse",
    "HostStartError",
    "HttpFunction",
    "QueueFunction",
    "QueueOptions",
    "RouteTemplate",
    "RunningServer",
    "TimerFunction",
    "WsgiApp",
    "export_local_settings",
    "load_host_config",
    "serve",
    "split_path",
    "start_background_server",
    "summary_line",
]
