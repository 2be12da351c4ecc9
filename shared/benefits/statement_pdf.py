"""The printable monthly statement (장기요양급여비용 명세서): a Korean A4 PDF of a
`MonthStatement` (shared.benefits.pricing), in the visit record's page flow and font
(shared.visit_records.pdf: fpdf2 with Noto Sans KR shipped in a Python package, subset into each
file).

The page: the patient and profile (grade, recognition number, co-payment class), the month's
amounts (급여비용 총액, 월 한도액, 공단부담금, 본인부담금, 한도 초과분, 비급여, 본인 부담
합계), each visit priced (band, base fee, surcharge, amount, coverage, the part above the
cap), and how it was computed (the rounding rules in the notice's words, the notices, visits
waiting for review, figures not yet verified against the notice), with the statement's
fingerprint.
"""

from __future__ import annotations

from typing import Any

from models.benefits import MonthStatement
from models.dates import KOREA
from shared.visit_records.pdf import _Document

TITLE = "장기요양급여비용 명세서"


def won(amount: int) -> str:
    """1234567 -> '1,234,567'."""
    return f"{amount:,}"


def render(
    statement: MonthStatement, patient: dict[str, Any], content_sha256: str, generated_at: str
) -> bytes:
    """The statement as PDF bytes (A4 portrait, Korean). `patient`: name and birth_date."""
    doc = _Document(f"{TITLE} {patient['name']} {statement.month}")
    doc.line(f"{TITLE} ({statement.month})", 18, height=11, align="C")
    _profile(doc, statement, patient)
    _amounts(doc, statement)
    _items(doc, statement)
    _basis(doc, statement)
    doc.pdf.ln(2)
    written = generated_at[:16].replace("T", " ")
    doc.line(f"명세 지문 {content_sha256[:16]} · 작성 {written} (UTC)", 7, height=5)
    return doc.output()


def _profile(doc: _Document, statement: MonthStatement, patient: dict[str, Any]) -> None:
    profile = statement.profile
    doc.table(
        (25, 25, 30, 45, 45),
        ("수급자", "생년월일", "장기요양등급", "장기요양인정번호", "본인부담 구분"),
        [
            (
                patient["name"],
                str(patient["birth_date"]),
                profile.grade_label,
                profile.recognition_number or "-",
                profile.copay_label,
            )
        ],
    )


def _amounts(doc: _Document, statement: MonthStatement) -> None:
    t = statement.totals
    doc.title("1. 청구 금액 (원)")
    doc.table(
        (1, 1, 1, 1),
        ("급여비용 총액", "월 한도액", "한도 내 급여비용", "공단부담금"),
        [(won(t.benefit_total_won), won(t.cap_won), won(t.within_cap_won), won(t.insurer_won))],
    )
    doc.pdf.ln(2)
    doc.table(
        (1, 1, 1, 1),
        ("본인부담금", "한도 초과분 (전액 본인부담)", "비급여", "본인 부담 합계"),
        [(won(t.copay_won), won(t.over_cap_won), won(t.private_pay_won), won(t.family_total_won))],
    )


def _items(doc: _Document, statement: MonthStatement) -> None:
    doc.title(f"2. 방문요양 내역 ({statement.visits_counted}회)")
    doc.table(
        (13, 22, 11, 13, 18, 27, 20, 26, 18),
        ("일자", "시간", "분", "수가 구간", "기본 수가", "가산", "금액", "구분", "한도 초과"),
        [
            (
                item.date.strftime("%m.%d"),
                f"{item.start.astimezone(KOREA):%H:%M}~{item.end.astimezone(KOREA):%H:%M}",
                item.minutes,
                f"{item.band_minutes}분" if item.band_minutes else "-",
                won(item.base_won),
                _surcharge(item.surcharge_label, item.surcharge_percent) if item.surcharge else "-",
                won(item.amount_won),
                item.coverage_label + (f" ({item.reason_label})" if item.reason_label else ""),
                won(item.over_cap_won) if item.over_cap_won else "",
            )
            for item in statement.items
        ],
    )


def _basis(doc: _Document, statement: MonthStatement) -> None:
    doc.title("3. 산정 기준")
    notes = [*statement.rounding]
    if statement.visits_pending_review:
        notes.append(
            f"수기 기록 방문 {statement.visits_pending_review}회는 운영자 검토 후 산정됩니다."
        )
    if statement.unverified_figures:
        notes.append("일부 수가는 고시 원문과 대조 확인 중입니다.")
    notes.extend(f"근거: {source}" for source in statement.sources)
    doc.table((170,), ("내용",), [(note,) for note in notes])


def _surcharge(label: str | None, percent: int) -> str:
    """'야간 가산 (18:00~22:00)' and 20 -> '야간 가산 20%' (the window is in 3. 산정 기준)."""
    return f"{(label or '').split(' (')[0]} {percent}%"
