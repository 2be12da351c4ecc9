"""The statement's PDF read as a person would: its text (pdftotext) holds the Korean headings and
the amounts computed by hand, the Korean font is embedded (pdffonts), and page 1 rasterised
(pdftoppm) is ink on A4, saved to /tmp/statement_page1.png for a look by eye."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from models.benefits import LtcProfile
from models.dates import KOREA
from shared.benefits.pricing import VerifiedVisit, statement
from shared.benefits.statement_pdf import render
from shared.benefits.tariffs import TariffBook
from tests.integration.test_visit_records_pdf import poppler, rasterise

pytestmark = pytest.mark.integration

PAGE_IMAGE = Path("/tmp/statement_page1.png")


def kst(day: int, hour: int) -> datetime:
    return datetime(2026, 11, day, hour, tzinfo=KOREA)


def sample() -> bytes:
    """3등급, standard 15 %, November 2026: three visits priced by hand below."""
    profile = LtcProfile(
        profile_id=1,
        patient_id=7,
        grade="grade_3",
        grade_label="3등급",
        recognition_number="L1234567890",
        recognition_valid_from=date(2026, 1, 1),
        recognition_valid_to=date(2027, 12, 31),
        copay_percent=15,
        copay_label="일반 15%",
        effective_from=date(2026, 1, 1),
        source="profile",
    )
    visits = [
        VerifiedVisit(1, 5, kst(2, 9), kst(2, 9) + timedelta(minutes=180)),  # Monday
        VerifiedVisit(2, 5, kst(8, 10), kst(8, 10) + timedelta(minutes=120)),  # Sunday
        VerifiedVisit(3, 5, kst(10, 19), kst(10, 19) + timedelta(minutes=60)),  # evening
    ]
    priced = statement(TariffBook.from_data_files(), profile, date(2026, 11, 1), visits)
    patient = {"name": "김영희", "birth_date": "1940-03-01"}
    return render(priced, patient, "ab" * 32, "2026-12-01T00:00:00+00:00")


def test_the_statement_pdf_reads_in_korean_with_the_hand_computed_amounts(tmp_path: Any) -> None:
    document = sample()
    source = tmp_path / "statement.pdf"
    source.write_bytes(document)
    text = subprocess.run(
        [poppler("pdftotext"), "-layout", str(source), "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    for words in ("장기요양급여비용 명세서 (2026-11)", "김영희", "3등급", "일반 15%", "공단부담금"):
        assert words in text
    # By hand (2026 tariff): 180 min 55,350; Sunday 120 min 43,430 x 1.3 = 56,459;
    # evening 60 min 25,320 x 1.2 = 30,384. Total 142,193 (within the 3등급 cap 1,528,200).
    # Co-payment 15 % = 21,328.95 -> 21,320 (10원 미만 절사); insurer 142,193 - 21,320 = 120,873.
    for amount in ("55,350", "56,459", "30,384", "142,193", "1,528,200", "21,320", "120,873"):
        assert amount in text
    assert "휴일 가산 30%" in text
    assert "야간 가산 20%" in text
    fonts = subprocess.run(
        [poppler("pdffonts"), str(source)], capture_output=True, text=True, check=True
    ).stdout
    assert "NotoSansKR" in fonts

    page = rasterise(document, tmp_path, "page")
    width, height = page.size
    assert abs(height / width - 297 / 210) < 0.01  # A4 portrait
    dark = sum(page.histogram()[:128])  # grey levels below the middle
    assert 0.01 < dark / (width * height) < 0.3  # ink, neither blank nor black
    page.save(PAGE_IMAGE)
