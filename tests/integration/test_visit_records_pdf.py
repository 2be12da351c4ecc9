"""The visit record's PDF read as a person would: its text extracted (pdftotext) and its first
page turned into an image (pdftoppm, Debian's poppler-utils; `make deps` installs it), so a
missing Korean font or glyphs drawn as empty boxes fail here, not in a family's hands.

The page is also saved to /tmp/visit_record_page1.png for a look by eye.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
from PIL import Image, ImageChops

from shared.visit_records import builder, pdf
from shared.visit_records.service import read_rows
from tests.factories import Parties, cursor
from tests.integration.visit_records_data import write_month

pytestmark = pytest.mark.integration

PAGE_IMAGE = Path("/tmp/visit_record_page1.png")


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    assert path, f"{tool} is missing: install Debian's poppler-utils (make deps does, as root)"
    return path


def rasterise(document: bytes, folder: Path, name: str, dpi: int = 60) -> Image.Image:
    source = folder / f"{name}.pdf"
    source.write_bytes(document)
    prefix = folder / name
    subprocess.run(
        [
            poppler("pdftoppm"),
            "-png",
            "-r",
            str(dpi),
            "-f",
            "1",
            "-l",
            "1",
            "-singlefile",
            str(source),
            str(prefix),
        ],
        check=True,
        timeout=60,
    )
    return Image.open(f"{prefix}.png").convert("L")


def text_of(document: bytes, folder: Path) -> str:
    source = folder / "record.pdf"
    source.write_bytes(document)
    result = subprocess.run(
        [poppler("pdftotext"), "-layout", str(source), "-"],
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    )
    return result.stdout


@pytest.fixture
def record(app_env: Any, database_url: str, parties: Parties) -> dict[str, Any]:
    with cursor(database_url) as cur:
        care = write_month(cur, parties.patient_id, parties.assigned_caregiver)
        rows = read_rows(cur, parties.patient_id, care.month)
    content = builder.build(rows)
    content["generated_at"] = "2026-12-01T01:00:00+00:00"
    return content


def test_the_pdf_says_in_korean_what_the_record_holds(
    record: dict[str, Any], tmp_path: Path
) -> None:
    text = text_of(pdf.render(record), tmp_path)
    for expected in (
        f"급여제공기록지 ({record['month']})",
        "김환자",
        "3등급",
        "방문 기록",
        "NFC 태그",
        "GPS 위치",
        "수기 기록",
        "정정 승인",
        "수기 검토 완료",
        "미방문",
        "병원 진료",
        "신체활동지원",
        "인지·정서지원",
        "가사 및 일상생활지원",
        "점심 식사 도움",
        "어르신이 피곤해하심",
        "점심을 반만 드심",
        "식사량이 평소보다 적음",
        "아리셉트",
        "투약 거부",
        "쓰다고 거부하심",
        "낙상",
        "화장실에서 미끄러짐",
        "미확인",
        record["content_sha256"][:16],
    ):
        assert expected in text, expected
    fonts = subprocess.run(
        [poppler("pdffonts"), "-"], input=pdf.render(record), capture_output=True, check=True
    ).stdout.decode()
    assert "NotoSansKR" in fonts
    assert all(" yes " in line for line in fonts.splitlines()[2:])  # embedded (subset)


def test_page_one_is_drawn_with_korean_glyphs_not_boxes(
    record: dict[str, Any], tmp_path: Path
) -> None:
    page = rasterise(pdf.render(record), tmp_path, "page", dpi=100)
    shutil.copyfile(tmp_path / "page.png", PAGE_IMAGE)
    width, height = page.size
    assert width == 827  # A4 (210 mm) at 100 dpi
    assert height in (1169, 1170)  # 297 mm, rounded either way
    ink = sum(page.histogram()[:128]) / (width * height)  # share of dark pixels
    assert 0.01 < ink < 0.3, ink  # text and tables, neither blank nor a black page

    # Different Korean words must look different: a font without Hangul would draw the same
    # empty box (.notdef) for every syllable, and these two lines would rasterise alike.
    def line(words: str) -> Image.Image:
        doc = pdf._Document("glyphs")  # the renderer's own page setup
        doc.line(words, 28, height=14)
        return rasterise(doc.output(), tmp_path, f"line-{len(words)}-{ord(words[0])}", dpi=72)

    first, second = line("신체활동지원"), line("가사일상지원")
    assert ImageChops.difference(first, second).getbbox() is not None
    # ...and the same word twice looks the same (the comparison can tell).
    assert ImageChops.difference(first, line("신체활동지원")).getbbox() is None


def test_a_month_without_care_still_renders_each_section_empty(
    record: dict[str, Any], tmp_path: Path
) -> None:
    empty = {
        **record,
        "visits": [],
        "not_delivered": [],
        "sections": [{**s, "activities": []} for s in record["sections"]],
        "condition_changes": [],
        "notes": [],
        "medications": [],
        "incidents": [],
        "acknowledgements": [],
    }
    text = text_of(pdf.render(empty), tmp_path)
    assert text.count("기록 없음") == 8  # visits, 3 sections, conditions, notes, meds, incidents
    assert "미제공 방문" not in text
