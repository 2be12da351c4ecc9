"""Reading the pilot's files (headers, line numbers, field counts) and printing the report."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.data_import import files
from shared.data_import.files import FILE_NAMES, FILE_SPECS, FileProblem, discover, read_rows
from shared.data_import.report import (
    FileReport,
    ImportReport,
    format_rejections,
    format_splits,
    format_table,
)

CONDITIONS = next(spec for spec in FILE_SPECS if spec.name == "health_conditions.csv")


def write(tmp_path: Path, text: str, *, encoding: str = "utf-8") -> Path:
    path = tmp_path / CONDITIONS.name
    path.write_bytes(text.encode(encoding))
    return path


def test_files_load_parents_before_children() -> None:
    order = list(FILE_NAMES)
    assert order.index("caregivers_profile.csv") < order.index("caregiver_availability.csv")
    assert order.index("patients_profile.csv") < order.index("health_conditions.csv")
    assert order.index("matching_results.csv") < order.index("reviews.csv")
    assert len(order) == 9


def test_rows_keep_the_line_they_start_on(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "\ufeffpatient_id, Disease_Name ,note,extra\r\n"
        "P1,치매,,x\r\n"
        "\r\n"
        'P2,당뇨,"두 줄\r\n메모",x\r\n'
        "P3,암,짧음,x\r\n",
    )
    report = FileReport(CONDITIONS.name)

    rows = read_rows(CONDITIONS, path, report)

    assert [(row.line, row["patient_id"]) for row in rows] == [(2, "P1"), (4, "P2"), (6, "P3")]
    assert rows[1]["note"] == "두 줄\r\n메모"
    assert set(rows[0].values) == {"patient_id", "disease_name", "note"}
    assert report.read == 3
    assert report.rejections == []


def test_a_row_with_the_wrong_field_count_is_rejected_not_fatal(tmp_path: Path) -> None:
    path = write(tmp_path, "patient_id,disease_name,note\nP1,치매\nP2,당뇨,,extra\nP3,암,\n")
    report = FileReport(CONDITIONS.name)

    rows = read_rows(CONDITIONS, path, report)

    assert [row["patient_id"] for row in rows] == ["P3"]
    assert [str(r) for r in report.rejections] == [
        "health_conditions.csv:2: expected 3 fields, found 2",
        "health_conditions.csv:3: expected 3 fields, found 4",
    ]
    assert report.read == 3


def test_a_header_without_a_needed_column_names_the_missing_ones(tmp_path: Path) -> None:
    path = write(tmp_path, "patient,disease_name\nP1,치매\n")

    with pytest.raises(FileProblem) as caught:
        read_rows(CONDITIONS, path, FileReport(CONDITIONS.name))

    assert str(caught.value) == "health_conditions.csv: header lacks column(s) patient_id, note"


def test_an_empty_file_and_a_non_utf8_file_are_fatal(tmp_path: Path) -> None:
    with pytest.raises(FileProblem, match="empty"):
        read_rows(CONDITIONS, write(tmp_path, ""), FileReport(CONDITIONS.name))
    euc_kr = write(tmp_path, "patient_id,disease_name,note\nP1,치매,\n", encoding="euc-kr")
    with pytest.raises(FileProblem, match="not UTF-8"):
        read_rows(CONDITIONS, euc_kr, FileReport(CONDITIONS.name))


def test_progress_is_reported_every_progress_every_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert files.PROGRESS_EVERY == 50_000  # a national file: a line per 50,000 rows
    monkeypatch.setattr(files, "PROGRESS_EVERY", 1000)
    body = "".join(f"P{i},치매,\n" for i in range(2500))
    path = write(tmp_path, "patient_id,disease_name,note\n" + body)
    messages: list[str] = []

    rows = read_rows(CONDITIONS, path, FileReport(CONDITIONS.name), messages.append)

    assert len(rows) == 2500
    assert messages == [
        "health_conditions.csv: 1000 rows read",
        "health_conditions.csv: 2000 rows read",
    ]


def test_discover_finds_known_files_in_load_order_and_lists_the_others(tmp_path: Path) -> None:
    for name in ("reviews.csv", "caregivers_profile.csv", "notes.csv"):
        (tmp_path / name).write_text("x\n", encoding="utf-8")

    found, ignored = discover(tmp_path)

    assert [spec.name for spec, _ in found] == ["caregivers_profile.csv", "reviews.csv"]
    assert ignored == ["notes.csv"]
    with pytest.raises(FileProblem, match="is not a directory"):
        discover(tmp_path / "nope")
    (tmp_path / "reviews.csv").unlink()
    (tmp_path / "caregivers_profile.csv").unlink()
    with pytest.raises(FileProblem, match="holds none of the pilot files"):
        discover(tmp_path)


def test_the_table_and_the_capped_rejection_list(tmp_path: Path) -> None:
    first = FileReport("caregivers_profile.csv", read=5, imported=3, updated=1)
    first.reject(4, "unknown label in gender: 'X'")
    second = FileReport("matching_results.csv", read=4, updated=1, unchanged=1, skipped=1)
    second.reject(2, "rating 9 is out of range (1..5)")
    second.note_split(3, "matching_id 'M2' imported into a request of its own ('R1/M2')")
    second.note_split(5, "matching_id 'M3' imported into a request of its own ('R1/M3')")
    report = ImportReport(directory=tmp_path, files=[first, second])

    lines = format_table(report).splitlines()

    assert [line.split() for line in lines] == [
        ["file", "read", "imported", "updated", "unchanged", "skipped", "rejected", "split"],
        ["caregivers_profile.csv", "5", "3", "1", "0", "0", "1", "0"],
        ["matching_results.csv", "4", "0", "1", "1", "1", "1", "2"],
        ["total", "9", "3", "2", "1", "1", "2", "2"],
    ]
    assert len({len(line) for line in lines}) == 1  # the columns line up
    assert format_splits(report, limit=1) == [
        "matching_results.csv:3: matching_id 'M2' imported into a request of its own ('R1/M2')",
        "... and 1 more",
    ]
    assert format_rejections(report, limit=1) == [
        "caregivers_profile.csv:4: unknown label in gender: 'X'",
        "... and 1 more",
    ]
    assert len(format_rejections(report)) == 2
    assert report.file("matching_results.csv") is second
