"""Backups, restores and restore drills, without pg_dump.

The Functions runtime has no PostgreSQL client tools, so everything goes through the database
connection: a full backup is one gzip'd `COPY ... TO STDOUT` stream per table, read in a single
REPEATABLE READ snapshot and streamed to Blob in blocks; an incremental is the same for the rows
changed since the previous backup's snapshot (see migrations 0002 for how changes are tracked);
a restore checks every blob's sha256, migrates the target with Alembic and loads with
`COPY ... FROM STDIN`. A backup is complete only when its manifest exists, and the manifest is
written last.

Modules, one job each:

- `layout`: blob names and backup ids.         - `manifest`: the manifest document.
- `signing`: HMAC-SHA256 signatures of manifests (Key Vault `BackupSigningKey`), checked first.
- `blobio`: streaming block upload, download.  - `verify`: sha256 checks.
- `data_tables`: the tables to back up (columns, keys, FK order), read from the catalog.
- `stored_backups`: the complete backups in Blob (their manifests) and the chain a restore needs.
- `ops_records`: the records in the ops_* tables (backup runs, drills, health snapshots).
- `sessions`: connections with fixed output formats, so checksums are reproducible.
- `locks`: advisory locks that keep timer runs from overlapping (reusable by any timer).
- `writer`: full and incremental backups.       - `restore`: loading a chain into a database.
- `retention`: pruning old chains.              - `drill`: the weekly restore drill.
- `status`: how fresh the backups are.          - `service`: what timers, CLI and admin API call.
- `export_audit`: the audit event of each backup, restore and drill (who, what, when).

The health-check timer and database maintenance live in shared.operations.
"""
