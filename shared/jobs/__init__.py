"""Work that outlives a request: a job is a database row plus a queue message naming it.

The HTTP function records the job (its row, `queued`) and puts a message carrying only the job id
on an Azure Storage queue (`queue.enqueue`), then answers 202. A queue-triggered function
(functions/queues.py) calls the area's service with the id; the service claims the row, works
under a lease it renews from a heartbeat thread (`lease.Heartbeat`), and settles the row. The
Functions host deletes the message when the function returns, makes it visible again when the
function raises or its instance dies, and moves it to `<queue>-poison` after
`extensions.queues.maxDequeueCount` deliveries (host.json), where a second function marks the job
failed.

Every step is idempotent by job id: a message for a settled job changes nothing, a message for a
job whose worker died starts it over. Nothing here knows what a job does: the backup jobs are
shared.backup.service (`submit_full_backup`, `run_backup_job`, `fail_poisoned_job`).

- `queue`: the queue clients (the app's storage credentials), the message format, `enqueue`;
- `lease`: who a worker is (`worker_name`) and the heartbeat that renews a lease;
- `actors`: who asked for a job, stored with it so the worker's audit event names them.
"""
