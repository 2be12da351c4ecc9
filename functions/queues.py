"""Queue-triggered functions: the background jobs (shared.jobs).

`backup_job` runs a backup job named by its message (`%BACKUP_QUEUE%`, an app setting the host
resolves); `backup_job_poison` takes the messages the host moved to `%BACKUP_QUEUE%-poison` after
`extensions.queues.maxDequeueCount` deliveries (host.json) and fails their jobs. Each calls one
service (shared.backup.service) and logs what happened. Returning deletes the message; raising
(the database or the queue unreachable) leaves it for another delivery.
"""

from __future__ import annotations

import time

import azure.functions as func

from shared.config import get_settings
from shared.observability import bind_context, clear_context, configure_logging, get_logger

# azure.functions.Blueprint() has no annotations.
bp = func.Blueprint()  # type: ignore[no-untyped-call]
log = get_logger("queues")

#: The Functions host's storage connection (identity-based in Azure: AzureWebJobsStorage__*).
CONNECTION = "AzureWebJobsStorage"


def _start(name: str, message: func.QueueMessage) -> str | None:
    """Log context for one delivery; the job id, or None for a message that names no job."""
    from shared.jobs.queue import InvalidJobMessage, decode

    configure_logging(get_settings())
    clear_context()
    bind_context(function=name, message_id=message.id, dequeue_count=message.dequeue_count)
    try:
        job_id = decode(message.get_body())
    except InvalidJobMessage as exc:  # another delivery cannot help: drop it
        log.error("job_message_invalid", reason=str(exc))
        return None
    bind_context(job_id=job_id)
    return job_id


@bp.function_name(name="backup_job")
@bp.queue_trigger(arg_name="message", queue_name="%BACKUP_QUEUE%", connection=CONNECTION)
def backup_job(message: func.QueueMessage) -> None:
    """A backup job: claim it and run it; a settled job is left alone, a dead one started over."""
    from shared.backup.service import run_backup_job

    started = time.perf_counter()
    job_id = _start("backup_job", message)
    if job_id is None:
        return
    outcome = run_backup_job(job_id)
    level = log.error if outcome == "failed" else log.info
    level(
        "backup_job_finished",
        outcome=outcome,
        duration_ms=round((time.perf_counter() - started) * 1000, 1),
    )


@bp.function_name(name="backup_job_poison")
@bp.queue_trigger(arg_name="message", queue_name="%BACKUP_QUEUE%-poison", connection=CONNECTION)
def backup_job_poison(message: func.QueueMessage) -> None:
    """A backup job's message the host gave up on: the job is failed, saying so."""
    from shared.backup.service import fail_poisoned_job

    job_id = _start("backup_job_poison", message)
    if job_id is None:
        return
    fail_poisoned_job(job_id, message.dequeue_count or 0)
