"""What an import did, per file: rows read, imported, updated, unchanged, skipped, rejected (and
why), and the rows split off into a request of their own."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Rejection:
    """One row left out: where it is and why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass(frozen=True)
class Split:
    """One row imported into a request of its own (see loaders.matchings): where and why."""

    file: str
    line: int
    note: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.note}"


@dataclass
class FileReport:
    """Counts for one file. Every row read is exactly one of imported, updated, unchanged,
    skipped, rejected:

    - imported: a new row was written (a new caregiver, slot, condition, ...);
    - updated: the row's target existed already (an earlier import) and something in it changed;
    - unchanged: the row's target existed already exactly as the file has it (nothing written);
    - skipped: valid but deliberately not stored (an availability row with is_available False);
    - rejected: left out, with the reason in `rejections`.

    `split` (not a sixth kind: a split row is also imported, updated or unchanged) counts the
    rows held in a request of their own, with what and why in `splits`.
    """

    file: str
    read: int = 0
    imported: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: int = 0
    rejections: list[Rejection] = field(default_factory=list)
    splits: list[Split] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rejected(self) -> int:
        return len(self.rejections)

    @property
    def split(self) -> int:
        return len(self.splits)

    def reject(self, line: int, reason: str) -> None:
        self.rejections.append(Rejection(self.file, line, reason))

    def note_split(self, line: int, note: str) -> None:
        self.splits.append(Split(self.file, line, note))


@dataclass
class ImportReport:
    """The whole run: one FileReport per file found, in the order they were loaded."""

    directory: Path
    files: list[FileReport] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)
    dry_run: bool = False
    seconds: float = 0.0

    @property
    def rejections(self) -> list[Rejection]:
        return [rejection for report in self.files for rejection in report.rejections]

    @property
    def splits(self) -> list[Split]:
        return [split for report in self.files for split in report.splits]

    def file(self, name: str) -> FileReport:
        """The report of the file called `name` (KeyError if it was not in the directory)."""
        for report in self.files:
            if report.file == name:
                return report
        raise KeyError(name)


_COLUMNS = ("read", "imported", "updated", "unchanged", "skipped", "rejected", "split")


def format_table(report: ImportReport) -> str:
    """A fixed-width table: one line per file, then the totals."""
    width = max([len("file"), len("total"), *(len(f.file) for f in report.files)])
    lines = [f"{'file':<{width}}  " + "  ".join(f"{name:>9}" for name in _COLUMNS)]
    for file_report in report.files:
        values = (getattr(file_report, name) for name in _COLUMNS)
        lines.append(f"{file_report.file:<{width}}  " + "  ".join(f"{v:>9}" for v in values))
    totals = (sum(getattr(f, name) for f in report.files) for name in _COLUMNS)
    lines.append(f"{'total':<{width}}  " + "  ".join(f"{v:>9}" for v in totals))
    return "\n".join(lines)


def format_rejections(report: ImportReport, *, limit: int = 50) -> list[str]:
    """`file:line: reason` for the first `limit` rejections, then how many more there are."""
    return _first(report.rejections, limit)


def format_splits(report: ImportReport, *, limit: int = 50) -> list[str]:
    """`file:line: note` for the first `limit` split rows, then how many more there are."""
    return _first(report.splits, limit)


def _first(items: Sequence[Rejection | Split], limit: int) -> list[str]:
    lines = [str(item) for item in items[:limit]]
    if len(items) > limit:
        lines.append(f"... and {len(items) - limit} more")
    return lines
