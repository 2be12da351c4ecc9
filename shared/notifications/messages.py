"""The words of a notification: a Korean title and body per event, written from the outbox row's
data (what the publisher put in `Notice.data`) and the patient's name.

Privacy (PIPA): a notification leaves the app on two channels we do not control, a phone's lock
screen (Web Push) and a mailbox (email). So there are two renderings of each event:

- `Audience.INBOX` (the in-app inbox, read signed in): the patient's full name and the details
  (the visit summary, the incident's kind and actions, the caregiver's name);
- `Audience.OUTSIDE` (Web Push, email): the name masked to its first syllable (김OO), the kind
  of event and the time only; never free text written by a caregiver (a summary, an incident's
  description or actions), never a diagnosis. The reader opens the app for the rest.

Times are shown in Korean local time (Asia/Seoul) as HH:MM, dates as M월 D일.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from models.vocabularies import NotificationEvent

BRAND = "[늘봄케어]"
SEOUL = ZoneInfo("Asia/Seoul")
TITLE_MAX = 200
BODY_MAX = 2000


class Audience(enum.Enum):
    INBOX = "inbox"
    OUTSIDE = "outside"


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def mask_name(name: str | None) -> str:
    """The first syllable and OO: 김영희 -> 김OO; an empty name is '어르신'."""
    name = (name or "").strip()
    if not name:
        return "어르신"
    return name[0] + "OO"


def clock(value: Any) -> str:
    """HH:MM in Seoul of an ISO 8601 instant (or a datetime); '' when there is none."""
    when = _instant(value)
    return when.astimezone(SEOUL).strftime("%H:%M") if when else ""


def day(value: Any) -> str:
    """M월 D일 in Seoul of an ISO 8601 instant; '' when there is none."""
    when = _instant(value)
    if when is None:
        return ""
    local = when.astimezone(SEOUL)
    return f"{local.month}월 {local.day}일"


def _instant(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if isinstance(value, str) and value:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            return None
    return None


def _with_time(text: str, value: Any) -> str:
    shown = clock(value)
    return f"{text} ({shown})" if shown else text


_Writer = Callable[[str, Mapping[str, Any], bool], Message]


def _check_in(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    body = _with_time(f"{who} 님 방문이 시작되었습니다", data.get("check_in_at"))
    if inbox and data.get("caregiver_name"):
        body += f"\n요양보호사: {data['caregiver_name']}"
    return Message("방문 시작", body)


def _check_out(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    body = _with_time(f"{who} 님 방문이 끝났습니다", data.get("check_out_at"))
    if data.get("minutes") is not None:
        body += f", {data['minutes']}분"
    if inbox and data.get("summary"):
        body += f"\n요약: {data['summary']}"
    return Message("방문 종료", body)


def _late(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    body = _with_time(f"{who} 님 방문 시작이 늦어지고 있습니다", data.get("planned_start"))
    return Message("방문 지연", body + " 예정")


def _missed(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    planned = data.get("planned_start")
    return Message(
        "미방문", f"{who} 님 {day(planned)} {clock(planned)} 예정 방문이 이루어지지 않았습니다"
    )


def _cancelled(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    planned = data.get("planned_start")
    body = f"{who} 님 {day(planned)} {clock(planned)} 예정 방문이 취소되었습니다"
    if inbox and data.get("reason"):
        body += f"\n사유: {data['reason']}"
    return Message("방문 취소", body)


def _incident(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    kind = data.get("kind_label") or "사고"
    severity = data.get("severity_label")
    title = f"사고 발생: {kind}" + (f" ({severity})" if severity else "")
    body = _with_time(f"{who} 님에게 {kind}이(가) 보고되었습니다", data.get("occurred_at"))
    if inbox and data.get("actions_taken"):
        body += f"\n조치: {data['actions_taken']}"
    return Message(title, body + "\n앱에서 자세한 내용을 확인해 주세요.")


def _care_report(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    period = data.get("period") or data.get("month") or ""
    text = (
        f"{who} 님의 {period} 돌봄 보고서가 준비되었습니다"
        if period
        else (f"{who} 님의 돌봄 보고서가 준비되었습니다")
    )
    return Message("돌봄 보고서 준비", text)


def _correction(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
    planned = data.get("planned_start")
    body = f"{who} 님 {day(planned)} 방문 기록의 수정 승인을 요청합니다"
    if inbox and data.get("reason_label"):
        body += f"\n사유: {data['reason_label']}"
    return Message("방문 기록 수정 승인 요청", body)


def _benefit_cap(percent: int) -> _Writer:
    """The month's use of the long-term-care benefit reached `percent` % of the grade's monthly
    cap (the amounts in the app only)."""

    def write(who: str, data: Mapping[str, Any], inbox: bool) -> Message:
        month = data.get("month") or "이번 달"
        body = f"{who} 님의 {month} 장기요양 급여 이용액이 월 한도액의 {percent}%에 이르렀습니다"
        if inbox and data.get("used") is not None and data.get("cap") is not None:
            body += f"\n이용액 {data['used']:,}원 / 한도액 {data['cap']:,}원"
        if percent >= 100:
            body += "\n한도액을 넘는 금액은 전액 본인 부담입니다."
        return Message(f"월 한도액 {percent}% 사용", body)

    return write


_WRITERS: Mapping[NotificationEvent, _Writer] = {
    NotificationEvent.VISIT_CHECK_IN: _check_in,
    NotificationEvent.VISIT_CHECK_OUT: _check_out,
    NotificationEvent.VISIT_LATE: _late,
    NotificationEvent.VISIT_MISSED: _missed,
    NotificationEvent.VISIT_CANCELLED: _cancelled,
    NotificationEvent.INCIDENT: _incident,
    NotificationEvent.CARE_REPORT_READY: _care_report,
    NotificationEvent.CORRECTION_PENDING: _correction,
    NotificationEvent.BENEFIT_CAP_80: _benefit_cap(80),
    NotificationEvent.BENEFIT_CAP_100: _benefit_cap(100),
}


def render(
    event: NotificationEvent,
    data: Mapping[str, Any],
    patient_name: str | None,
    audience: Audience,
) -> Message:
    """The event's title and body for `audience` (module docstring), within the inbox's limits."""
    inbox = audience is Audience.INBOX
    who = (patient_name or "어르신").strip() if inbox else mask_name(patient_name)
    message = _WRITERS[NotificationEvent(event)](who, data, inbox)
    title = f"{BRAND} {message.title}"
    return Message(title[:TITLE_MAX], message.body[:BODY_MAX])
