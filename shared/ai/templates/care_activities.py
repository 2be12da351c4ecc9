"""The care-plan template: a day of activities from the care level, mobility and conditions.

Used when AI is off or its answer fails twice. Deterministic (the same profile and date give
the same day); the cognitive activity rotates with the weekday so a week is not seven copies.
Who does what: at care levels 1-2, or in a wheelchair or bed, the caregiver does the hands-on
tasks; otherwise the family takes the morning and evening routine and the caregiver the
daytime. Every template passes the same checks as AI answers (tests/unit/test_ai_templates.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from models.vocabularies import CareLevel, Condition, MobilityStatus

CAREGIVER, FAMILY = "caregiver", "family"


@dataclass(frozen=True)
class Activity:
    time: str
    title: str
    category: str
    assignee: str
    note: str | None = None


_HIGH_NEED_LEVELS = {str(CareLevel.GRADE_1), str(CareLevel.GRADE_2)}
_HANDS_ON_MOBILITY = {str(MobilityStatus.WHEELCHAIR), str(MobilityStatus.BEDRIDDEN)}
_COGNITIVE_CONDITIONS = {str(Condition.DEMENTIA), str(Condition.COGNITIVE_IMPAIRMENT)}

#: Monday..Sunday.
_COGNITIVE_ACTIVITIES = (
    ("옛 사진 보며 회상 대화", "좋아하시는 시절의 이야기를 천천히 들어 주세요."),
    ("그림 카드 짝 맞추기", "틀려도 괜찮다고 격려해 주세요."),
    ("좋아하는 노래 함께 부르기", None),
    ("색칠하기 또는 종이접기", "손가락을 움직이는 활동입니다."),
    ("간단한 셈 놀이", "장보기 놀이처럼 생활 속 숫자로 해 보세요."),
    ("화분 가꾸기", "물 주기와 잎 닦기를 함께 해 보세요."),
    ("가족과 영상 통화", "오늘 있었던 일을 함께 이야기해 보세요."),
)
_LEISURE_ACTIVITIES = (
    ("신문이나 책 함께 읽기", None),
    ("좋아하는 음악 감상", None),
    ("말벗 대화", "요즘 관심사를 여쭤 보세요."),
    ("손 운동 겸 종이접기", None),
    ("사진 정리하며 이야기 나누기", None),
    ("TV 프로그램 함께 보고 이야기하기", None),
    ("가족과 안부 전화", None),
)


def template_day(
    *,
    day: date,
    care_level: str,
    mobility_status: str,
    conditions: tuple[str, ...] | list[str],
    takes_medication: bool,
) -> list[Activity]:
    """One day's activities, in time order."""
    codes = set(conditions)
    hands_on = care_level in _HIGH_NEED_LEVELS or mobility_status in _HANDS_ON_MOBILITY
    routine = CAREGIVER if hands_on else FAMILY
    bedridden = mobility_status == str(MobilityStatus.BEDRIDDEN)
    activities = [
        Activity("07:30", "기상 후 세면과 옷 갈아입기 도움", "hygiene", routine),
        Activity("08:00", "아침 식사", "meal", routine, "천천히 드시도록 곁에서 살펴 주세요."),
        Activity("12:00", "점심 식사", "meal", CAREGIVER),
        Activity("18:00", "저녁 식사", "meal", routine),
        Activity("20:30", "양치와 잠자리 준비", "hygiene", routine),
    ]
    if takes_medication:
        activities += [
            Activity("08:30", "아침 복약 확인", "medication", routine, "드셨는지 확인만 합니다."),
            Activity("18:30", "저녁 복약 확인", "medication", routine, "드셨는지 확인만 합니다."),
        ]
    activities += _vital_checks(codes)
    activities += _movement(mobility_status, codes)
    weekday = day.weekday()
    if codes & _COGNITIVE_CONDITIONS or care_level == str(CareLevel.COGNITIVE_SUPPORT):
        title, note = _COGNITIVE_ACTIVITIES[weekday]
    else:
        title, note = _LEISURE_ACTIVITIES[weekday]
    activities.append(Activity("15:00", title, "cognitive", CAREGIVER, note))
    if str(Condition.OSTEOPOROSIS) in codes and not bedridden:
        activities.append(
            Activity(
                "16:30",
                "낙상 위험 살피기",
                "other",
                FAMILY,
                "바닥의 물기, 전선, 미끄러운 깔개를 치워 주세요.",
            )
        )
    if str(Condition.CANCER) in codes:
        activities.append(
            Activity(
                "14:00",
                "휴식과 컨디션 살피기",
                "other",
                CAREGIVER,
                "피로, 통증, 식욕을 기록해 주세요.",
            )
        )
    return sorted(activities, key=lambda a: (a.time, a.title))


def _vital_checks(codes: set[str]) -> list[Activity]:
    checks = []
    if codes & {str(Condition.HYPERTENSION), str(Condition.STROKE), str(Condition.PALSY)}:
        checks.append(
            Activity(
                "09:00", "혈압과 맥박 재기", "vital_check", CAREGIVER, "측정값을 기록해 주세요."
            )
        )
    else:
        checks.append(Activity("09:00", "체온과 컨디션 확인", "vital_check", CAREGIVER))
    if str(Condition.DIABETES) in codes:
        checks.append(
            Activity(
                "14:00",
                "점심 식후 혈당 재기",
                "vital_check",
                CAREGIVER,
                "식사 2시간 뒤에 재고 기록해 주세요.",
            )
        )
    return checks


def _movement(mobility_status: str, codes: set[str]) -> list[Activity]:
    if mobility_status == str(MobilityStatus.BEDRIDDEN):
        moves = [
            Activity(
                "10:00",
                "누운 자세에서 관절 가동 운동 도움",
                "exercise",
                CAREGIVER,
                "팔다리 관절을 천천히 움직여 드리세요.",
            )
        ]
        moves += [
            Activity(
                time, "자세 바꾸기와 피부 상태 확인", "hygiene", CAREGIVER, "2시간마다 바꿔 주세요."
            )
            for time in ("11:00", "13:00", "16:00")
        ]
        return moves
    walk = {
        str(MobilityStatus.INDEPENDENT): Activity(
            "10:00",
            "가벼운 산책 30분",
            "exercise",
            CAREGIVER,
            "날씨가 궂으면 실내 걷기로 바꿔 주세요.",
        ),
        str(MobilityStatus.ASSISTIVE_DEVICE): Activity(
            "10:00", "보조기구로 실내 걷기 연습", "exercise", CAREGIVER, "곁에서 부축해 주세요."
        ),
        str(MobilityStatus.WHEELCHAIR): Activity(
            "10:00",
            "휠체어 산책과 팔 운동",
            "exercise",
            CAREGIVER,
            "옮겨 앉을 때 브레이크를 꼭 잠가 주세요.",
        ),
    }[mobility_status]
    moves = [walk]
    if codes & {str(Condition.STROKE), str(Condition.PALSY)}:
        moves.append(
            Activity(
                "11:00",
                "불편한 쪽 팔다리 재활 운동",
                "exercise",
                CAREGIVER,
                "무리하지 않게 천천히 해 주세요.",
            )
        )
    if str(Condition.PARKINSONS) in codes:
        moves.append(Activity("16:00", "균형 잡기와 보폭 넓혀 걷기", "exercise", CAREGIVER))
    if codes & {str(Condition.ARTHRITIS), str(Condition.SPONDYLITIS)}:
        moves.append(
            Activity("17:00", "관절 스트레칭", "exercise", FAMILY, "아프면 바로 멈춰 주세요.")
        )
    return moves
