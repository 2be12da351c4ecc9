"""The backup runs recorded in the database, as `list-backups --runs` shows them: by chain (a
full backup with the incrementals built on it, newest full first) or as single runs of one kind.

Ninety-six incrementals a day would bury last night's full backup in a newest-first list of
runs; a chain is what a restore uses and what an operator asks about ("did last night's full
backup succeed, and have the incrementals kept coming since?").
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import cast

from psycopg2 import sql

from shared.backup.ops_records import RUN_COLUMNS, BackupRunRow, DrillRow, drills_for
from shared.db import Cursor

_RUN = sql.SQL(RUN_COLUMNS)
EPOCH = datetime.fromisoformat("1970-01-01T00:00:00+00:00")


@dataclass
class Chain:
    """A full backup run and the incremental runs built on it (newest first)."""

    full: BackupRunRow
    incrementals: list[BackupRunRow] = field(default_factory=list)
    latest_drill: DrillRow | None = None

    def by_status(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        for run in self.incrementals:
            counts[run["status"]] = counts.get(run["status"], 0) + 1
        return counts

    @property
    def newest_success(self) -> BackupRunRow | None:
        """The newest succeeded member: what a restore of this chain reaches."""
        members = [*self.incrementals, self.full]
        return next((run for run in members if run["status"] == "succeeded"), None)

    @property
    def rows(self) -> int:
        return sum(run["rows"] or 0 for run in [self.full, *self.incrementals])

    @property
    def bytes(self) -> int:
        return sum(run["bytes"] or 0 for run in [self.full, *self.incrementals])


def chains(cur: Cursor, *, limit: int, since: datetime | None = None) -> list[Chain]:
    """The newest `limit` chains (by their full backup's start) with a member started at or
    after `since`, each with all its incrementals and its newest restore drill."""
    cur.execute(
        sql.SQL("""
        WITH picked AS (
            SELECT f.backup_id FROM ops_backup_runs f
            WHERE f.kind = 'full'
              AND (f.started_at >= %(since)s OR EXISTS (
                  SELECT 1 FROM ops_backup_runs i
                  WHERE i.base_backup_id = f.backup_id AND i.started_at >= %(since)s))
            ORDER BY f.started_at DESC, f.backup_id DESC
            LIMIT %(limit)s
        )
        SELECT {cols} FROM ops_backup_runs
        WHERE backup_id IN (SELECT backup_id FROM picked)
           OR base_backup_id IN (SELECT backup_id FROM picked)
        ORDER BY started_at DESC, backup_id DESC
        """).format(cols=_RUN),
        {"since": since or EPOCH, "limit": limit},
    )
    rows = cast(list[BackupRunRow], cur.fetchall())
    found: dict[str, Chain] = {
        row["backup_id"]: Chain(row) for row in rows if row["kind"] == "full"
    }
    for row in rows:
        if row["kind"] != "full" and row["base_backup_id"] in found:
            found[row["base_backup_id"]].incrementals.append(row)
    drills = drills_for(cur, [row["backup_id"] for row in rows])
    for chain in found.values():
        members = [chain.full["backup_id"], *(run["backup_id"] for run in chain.incrementals)]
        chain_drills = [drill for member in members for drill in drills.get(member, [])]
        chain.latest_drill = max(chain_drills, key=lambda d: d["started_at"], default=None)
    return sorted(found.values(), key=lambda c: c.full["started_at"], reverse=True)


def runs(
    cur: Cursor, *, limit: int, kind: str | None = None, since: datetime | None = None
) -> list[BackupRunRow]:
    """Single runs, newest first, of one kind (or both) started at or after `since`."""
    cur.execute(
        sql.SQL("""
        SELECT {cols} FROM ops_backup_runs
        WHERE (%(kind)s::text IS NULL OR kind = %(kind)s) AND started_at >= %(since)s
        ORDER BY started_at DESC, backup_id DESC
        LIMIT %(limit)s
        """).format(cols=_RUN),
        {"kind": kind, "since": since or EPOCH, "limit": limit},
    )
    return cast(list[BackupRunRow], cur.fetchall())
