"""The printable monthly visit record (급여제공기록지): a Korean A4 PDF from the record's JSON.

Rendered with fpdf2 in Noto Sans KR, which the `pylopdf-fonts-ko` package ships (SIL Open Font
License; pinned in requirements.txt), so the deployment package carries its font: no system font
is looked for. The font is subset into each PDF (only the glyphs used), so a record is tens of
kilobytes.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

FONT = "NotoSansKR"
_EMPTY = "기록 없음"
_HEADING_FILL = (230, 236, 245)
#: Millimetres a title needs below it (itself, a table's heading and a row) on the same page.
_KEEP_WITH_TITLE = 30


class FontMissingError(RuntimeError):
    """The Korean font package is not installed (requirements.txt names it)."""


def font_path() -> Path:
    """Noto Sans KR from its package; a clear error if the package or file is missing."""
    try:
        import pylopdf_fonts_ko
    except ImportError as exc:  # pragma: no cover - the package is a pinned requirement
        raise FontMissingError(
            "the Korean font package pylopdf-fonts-ko is not installed (requirements.txt)"
        ) from exc
    path = Path(pylopdf_fonts_ko.sans_path())
    if not path.is_file():  # pragma: no cover - a damaged install
        raise FontMissingError(f"the Korean font file is missing from its package: {path.name}")
    return path


def _time(value: str | None) -> str:
    return datetime.fromisoformat(value).strftime("%H:%M") if value else "-"


def _day(value: str) -> str:
    return value[5:10].replace("-", ".")  # 2026-11-03 -> 11.03


class _Document:
    """An A4 page flow of titles and tables in the Korean font."""

    def __init__(self, title: str) -> None:
        from fpdf import FPDF
        from fpdf.fonts import FontFace

        self.pdf = pdf = FPDF(orientation="portrait", unit="mm", format="A4")
        pdf.set_title(title)
        pdf.set_creator("NeulbomCare")
        pdf.set_auto_page_break(auto=True, margin=15)
        pdf.set_margins(12, 12, 12)
        pdf.add_font(FONT, "", str(font_path()))
        pdf.add_page()
        self.heading = FontFace(emphasis=None, fill_color=_HEADING_FILL)

    def line(self, text: str, size: float, height: float = 7, align: str = "L") -> None:
        self.pdf.set_font(FONT, size=size)
        self.pdf.cell(0, height, text, align=align, new_x="LMARGIN", new_y="NEXT")
        self.pdf.set_font(FONT, size=8.5)

    def title(self, text: str, size: int = 12) -> None:
        if self.pdf.will_page_break(_KEEP_WITH_TITLE):  # no title alone at a page's foot
            self.pdf.add_page()
        else:
            self.pdf.ln(3)
        self.line(text, size, height=8)

    def table(
        self, widths: tuple[int, ...], header: tuple[str, ...], rows: list[tuple[Any, ...]]
    ) -> None:
        if not rows:
            self.line(_EMPTY, 8.5, height=6)
            return
        with self.pdf.table(
            col_widths=widths, headings_style=self.heading, line_height=5, text_align="LEFT"
        ) as grid:
            grid.row(header)
            for values in rows:
                grid.row(tuple("" if v is None else str(v) for v in values))

    def output(self) -> bytes:
        return bytes(self.pdf.output())


def render(record: dict[str, Any]) -> bytes:
    """The record as PDF bytes (A4 portrait, Korean)."""
    doc = _Document(f"{record['title']} {record['patient']['name']} {record['month']}")
    doc.line(f"{record['title']} ({record['month']})", 18, height=11, align="C")
    _summary(doc, record)
    _visits(doc, record)
    _activities(doc, record)
    _conditions_and_notes(doc, record)
    _medications_and_incidents(doc, record)
    _acknowledgements(doc, record)
    return doc.output()


def _summary(doc: _Document, record: dict[str, Any]) -> None:
    patient, totals = record["patient"], record["totals"]
    period = f"{record['period_start']} ~ {record['period_end']}"
    doc.table(
        (25, 45, 25, 45),
        ("수급자", "생년월일", "장기요양등급", "기간"),
        [(patient["name"], patient["birth_date"], patient["care_level_label"], period)],
    )
    doc.pdf.ln(2)
    doc.table(
        (1, 1, 1, 1, 1, 1, 1),
        ("방문 횟수", "제공 시간(분)", "미방문", "취소", "투약", "투약 거부", "사고"),
        [
            (
                totals["visits"],
                totals["minutes"],
                totals["missed"],
                totals["cancelled"],
                totals["medications_given"],
                totals["medications_refused"],
                totals["incidents"],
            )
        ],
    )


def _visits(doc: _Document, record: dict[str, Any]) -> None:
    doc.title("1. 방문 기록")
    doc.table(
        (14, 14, 14, 12, 26, 22, 22, 30),
        ("일자", "시작", "종료", "분", "요양보호사", "시작 확인", "종료 확인", "비고"),
        [
            (
                _day(v["date"]),
                _time(v["start"]),
                _time(v["end"]),
                v["minutes"],
                v["caregiver_name"],
                v["check_in_method_label"] or "-",
                v["check_out_method_label"] or "-",
                _visit_remark(v),
            )
            for v in record["visits"]
        ],
    )
    if record["not_delivered"]:
        doc.title("미제공 방문", size=10)
        doc.table(
            (14, 24, 26, 20, 60),
            ("일자", "예정 시간", "요양보호사", "상태", "사유"),
            [
                (
                    _day(v["date"]),
                    f"{_time(v['planned_start'])}~{_time(v['planned_end'])}",
                    v["caregiver_name"],
                    v["status_label"],
                    v["reason"] or "",
                )
                for v in record["not_delivered"]
            ],
        )


def _activities(doc: _Document, record: dict[str, Any]) -> None:
    doc.title("2. 제공 내용")
    for section in record["sections"]:
        doc.line(f"· {section['label']}", 10)
        doc.table(
            (14, 20, 60, 16, 60),
            ("일자", "분류", "활동", "결과", "미수행 사유"),
            [
                (
                    _day(a["date"]),
                    a["category_label"],
                    a["task_name"],
                    a["outcome_label"] or "미기록",
                    a["reason"] or "",
                )
                for a in section["activities"]
            ],
        )


def _conditions_and_notes(doc: _Document, record: dict[str, Any]) -> None:
    doc.title("3. 상태 변화 (신체, 식사, 인지, 배설)")
    doc.table(
        (14, 16, 140),
        ("일자", "영역", "내용"),
        [(_day(c["date"]), c["area_label"], c["note"]) for c in record["condition_changes"]],
    )
    doc.title("4. 특이사항")
    doc.table(
        (14, 156), ("일자", "내용"), [(_day(n["date"]), n["summary"]) for n in record["notes"]]
    )


def _medications_and_incidents(doc: _Document, record: dict[str, Any]) -> None:
    doc.title("5. 투약 기록")
    doc.table(
        (14, 50, 24, 18, 64),
        ("일자", "약품", "결과", "시간", "메모"),
        [
            (
                _day(m["date"]),
                f"{m['name']} {m['dosage'] or ''}".strip(),
                m["outcome_label"],
                _time(m["administered_at"]),
                m["note"] or "",
            )
            for m in record["medications"]
        ],
    )
    doc.title("6. 사고 보고")
    doc.table(
        (22, 22, 14, 50, 44, 18),
        ("일시", "종류", "정도", "내용", "조치", "후속 조치"),
        [
            (
                f"{_day(i['occurred_at'])} {_time(i['occurred_at'])}",
                i["kind_label"],
                i["severity_label"],
                i["description"],
                i["actions_taken"] or "",
                i["follow_up_status_label"],
            )
            for i in record["incidents"]
        ],
    )


def _acknowledgements(doc: _Document, record: dict[str, Any]) -> None:
    doc.title("7. 확인")
    rows: list[tuple[Any, ...]] = []
    for role, label in (("caregiver", "요양보호사"), ("guardian", "보호자")):
        mine = [a for a in record["acknowledgements"] if a["role"] == role]
        rows.extend((label, a["name"], a["acknowledged_at"][:16].replace("T", " ")) for a in mine)
        if not mine:
            rows.append((label, "", "미확인"))
    doc.table((30, 60, 80), ("구분", "성명", "확인 일시"), rows)
    doc.pdf.ln(2)
    generated = str(record.get("generated_at") or "")[:16].replace("T", " ")
    doc.line(f"기록 지문 {record['content_sha256'][:16]} · 작성 {generated} (UTC)", 7, height=5)


def _visit_remark(visit: dict[str, Any]) -> str:
    remarks = []
    if visit["corrected"]:
        remarks.append("정정 승인")
    if visit["reviewed"]:
        remarks.append("수기 검토 완료")
    elif visit["needs_review"]:
        remarks.append("검토 대기")
    return ", ".join(remarks)
