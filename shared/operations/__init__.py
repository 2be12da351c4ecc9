"""Operations jobs that are not backups: the health-check timer's work (`health_check`) and
weekly database maintenance (`maintenance`). Backups, restores and drills are shared.backup."""
