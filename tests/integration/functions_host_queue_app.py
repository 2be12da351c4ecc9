"""A small FunctionApp for the local host's queue tests, served in processes of its own
(`python -m devtools.functions_host tests.integration.functions_host_queue_app:app`).

`work` takes JSON messages from `%TEST_QUEUE%` on AzureWebJobsStorage and records every attempt
as an empty file in `%QUEUE_TEST_RESULTS%` named `<kind>-<id>-<pid>-<dequeue count>`:

- `{"id": ..., "action": "ok"}`: records `done` and returns;
- `"fail"`: records `attempt` and raises;
- `"hang-first"`: on its first delivery records `started` and sleeps (the test kills the process);
  on a later one records `done`.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import azure.functions as func

app = func.FunctionApp(http_auth_level=func.AuthLevel.ANONYMOUS)


def record(kind: str, message_id: str, dequeue_count: int | None) -> None:
    folder = Path(os.environ["QUEUE_TEST_RESULTS"])
    (folder / f"{kind}-{message_id}-{os.getpid()}-{dequeue_count}").touch()


@app.route(route="health", methods=["GET", "HEAD"])
def health(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("ok")


@app.queue_trigger(arg_name="msg", queue_name="%TEST_QUEUE%", connection="AzureWebJobsStorage")
def work(msg: func.QueueMessage) -> None:
    body = json.loads(msg.get_body())
    action, message_id = body["action"], body["id"]
    if action == "fail":
        record("attempt", message_id, msg.dequeue_count)
        raise RuntimeError(f"message {message_id} fails on purpose")
    if action == "hang-first" and msg.dequeue_count == 1:
        record("started", message_id, msg.dequeue_count)
        time.sleep(120)
    time.sleep(float(body.get("seconds", 0)))
    record("done", message_id, msg.dequeue_count)
