"""A local stand-in for the Azure Functions host: serves a FunctionApp over real HTTP.

Core Tools cannot be installed on this machine, so ``serve(app)`` runs the same FunctionApp
object that Azure runs, with the host's routing rules and its admin API
(``POST /admin/functions/{name}`` runs a timer). A dev harness, not a product.
"""

from devtools.functions_host.host import FunctionsHost, HostResponse, HttpFunction, TimerFunction
from devtools.functions_host.routes import RouteTemplate, split_path
from devtools.functions_host.server import (
    RunningServer,
    WsgiApp,
    serve,
    start_background_server,
    summary_line,
)

__all__ = [
    "FunctionsHost",
    "HostResponse",
    "HttpFunction",
    "RouteTemplate",
    "RunningServer",
    "TimerFunction",
    "WsgiApp",
    "serve",
    "split_path",
    "start_background_server",
    "summary_line",
]
