"""The API's vocabularies (codes) with their Korean display labels, as API.md fixes them.

Codes travel in the API and the database; labels are for display and for importing the pilot's
CSV files, which use the Korean labels.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Self


class LabeledEnum(StrEnum):
    """A code with a Korean label: `Condition.DEMENTIA.label == "치매"`."""

    _value_: str
    label: str

    if TYPE_CHECKING:

        @property
        def value(self) -> str:
            """The code (a type checker would otherwise see the (code, label) declaration)."""
            ...

    else:
        # Members are declared as (code, label); a type checker sees them looked up by code
        # (`Condition("dementia")`), which is how every caller uses them.
        def __new__(cls, code: str, label: str) -> LabeledEnum:
            member = str.__new__(cls, code)
            member._value_ = code
            member.label = label
            return member

    @classmethod
    def from_label(cls, label: str) -> Self:
        """The member whose Korean label (or code) is `label`; ValueError otherwise."""
        text = label.strip()
        for member in cls:
            if text in (member.label, member.value):
                return member
        raise ValueError(f"unknown {cls.__name__} label: {label!r}")


class Role(LabeledEnum):
    GUARDIAN = "guardian", "보호자"
    CAREGIVER = "caregiver", "요양보호사"
    ADMIN = "admin", "운영자"


class Gender(LabeledEnum):
    FEMALE = "female", "여성"
    MALE = "male", "남성"


class GenderPreference(LabeledEnum):
    ANY = "any", "무관"
    FEMALE = "female", "여성"
    MALE = "male", "남성"


class CareLevel(LabeledEnum):
    GRADE_1 = "grade_1", "1등급"
    GRADE_2 = "grade_2", "2등급"
    GRADE_3 = "grade_3", "3등급"
    GRADE_4 = "grade_4", "4등급"
    GRADE_5 = "grade_5", "5등급"
    COGNITIVE_SUPPORT = "cognitive_support", "인지지원등급"
    NONE = "none", "등급외"


class MobilityStatus(LabeledEnum):
    INDEPENDENT = "independent", "자립"
    ASSISTIVE_DEVICE = "assistive_device", "보조기구 사용"
    WHEELCHAIR = "wheelchair", "휠체어"
    BEDRIDDEN = "bedridden", "와상"


class Condition(LabeledEnum):
    DEMENTIA = "dementia", "치매"
    COGNITIVE_IMPAIRMENT = "cognitive_impairment", "인지장애"
    STROKE = "stroke", "뇌졸중"
    PALSY = "palsy", "중풍"
    PARKINSONS = "parkinsons", "파킨슨"
    DIABETES = "diabetes", "당뇨"
    HYPERTENSION = "hypertension", "고혈압"
    ARTHRITIS = "arthritis", "관절염"
    SPONDYLITIS = "spondylitis", "척추염"
    OSTEOPOROSIS = "osteoporosis", "골다공증"
    CANCER = "cancer", "암"


#: Service tags a caregiver can offer on top of the conditions they are experienced with.
SERVICE_TAGS: dict[str, tuple[str, str]] = {
    "HOSPICE": ("hospice", "호스피스"),
    "BEDRIDDEN_CARE": ("bedridden_care", "와상환자"),
    "FEEDING_ASSIST": ("feeding_assist", "식사보조"),
    "REHABILITATION": ("rehabilitation", "재활"),
}

#: Specialty codes: every condition code, plus the service tags (API.md). Built from the two
#: tables, which a type checker cannot follow: it sees a labeled code.
if TYPE_CHECKING:
    Specialty = LabeledEnum
else:
    Specialty = LabeledEnum(
        "Specialty",
        {**{c.name: (c.value, c.label) for c in Condition}, **SERVICE_TAGS},
        module=__name__,
    )


class Certification(LabeledEnum):
    CAREGIVER_1 = "caregiver_1", "요양보호사 1급"
    CAREGIVER_2 = "caregiver_2", "요양보호사 2급"
    NURSE = "nurse", "간호사"
    NURSE_AIDE = "nurse_aide", "간호조무사"
    PHYSICAL_THERAPIST = "physical_therapist", "물리치료사"
    OCCUPATIONAL_THERAPIST = "occupational_therapist", "작업치료사"
    REHAB_THERAPIST = "rehab_therapist", "재활치료사"
    SOCIAL_WORKER_2 = "social_worker_2", "사회복지사 2급"


class CareType(LabeledEnum):
    CAREGIVER = "caregiver", "요양보호사"
    NURSE_AIDE = "nurse_aide", "간호조무사"
    NURSE = "nurse", "간호사"


#: Which certifications satisfy each care type a guardian can ask for.
CARE_TYPE_CERTIFICATIONS: dict[CareType, frozenset[Certification]] = {
    CareType.CAREGIVER: frozenset({Certification.CAREGIVER_1, Certification.CAREGIVER_2}),
    CareType.NURSE_AIDE: frozenset({Certification.NURSE_AIDE}),
    CareType.NURSE: frozenset({Certification.NURSE}),
}


class DietType(LabeledEnum):
    REGULAR = "regular", "일반식"
    LOW_SODIUM = "low_sodium", "저염식"
    LOW_SUGAR = "low_sugar", "저당식"
    LOW_FAT = "low_fat", "저지방식"
    HIGH_PROTEIN = "high_protein", "고단백식"
    SOFT = "soft", "연식"
    LIQUID = "liquid", "유동식"


class Allergen(LabeledEnum):
    SOY = "soy", "대두"
    EGG = "egg", "계란"
    BUCKWHEAT = "buckwheat", "메밀"
    WHEAT = "wheat", "밀가루"
    PEANUT = "peanut", "땅콩"
    MILK = "milk", "우유"
    TOMATO = "tomato", "토마토"
    SHRIMP = "shrimp", "새우"
    CRAB = "crab", "게"
    PEACH = "peach", "복숭아"


class Day(LabeledEnum):
    MON = "mon", "월"
    TUE = "tue", "화"
    WED = "wed", "수"
    THU = "thu", "목"
    FRI = "fri", "금"
    SAT = "sat", "토"
    SUN = "sun", "일"


class Province(LabeledEnum):
    SEOUL = "SEOUL", "서울특별시"
    BUSAN = "BUSAN", "부산광역시"
    DAEGU = "DAEGU", "대구광역시"
    INCHEON = "INCHEON", "인천광역시"
    GWANGJU = "GWANGJU", "광주광역시"
    DAEJEON = "DAEJEON", "대전광역시"
    ULSAN = "ULSAN", "울산광역시"
    SEJONG = "SEJONG", "세종특별자치시"
    GYEONGGI = "GYEONGGI", "경기도"
    GANGWON = "GANGWON", "강원특별자치도"
    CHUNGBUK = "CHUNGBUK", "충청북도"
    CHUNGNAM = "CHUNGNAM", "충청남도"
    JEONBUK = "JEONBUK", "전북특별자치도"
    JEONNAM = "JEONNAM", "전라남도"
    GYEONGBUK = "GYEONGBUK", "경상북도"
    GYEONGNAM = "GYEONGNAM", "경상남도"
    JEJU = "JEJU", "제주특별자치도"


CAPITAL_AREA: frozenset[Province] = frozenset({Province.SEOUL, Province.GYEONGGI, Province.INCHEON})

#: `PROVINCE_DISTRICT` in capitals, e.g. SEOUL_GANGNAM.
REGION_CODE_PATTERN = r"^(" + "|".join(str(p) for p in Province) + r")_[A-Z]+$"


class PersonalityAxis(LabeledEnum):
    EMPATHY = "empathy", "공감"
    ACTIVITY = "activity", "활동성"
    PATIENCE = "patience", "인내"
    INDEPENDENCE = "independence", "독립성"


class MatchingStatus(LabeledEnum):
    RECOMMENDED = "recommended", "추천"
    SELECTED = "selected", "선택됨"
    ACTIVE = "active", "진행 중"
    COMPLETED = "completed", "완료"
    DECLINED = "declined", "거절"
    CANCELLED = "cancelled", "취소"


class CareLogCategory(LabeledEnum):
    MEDICATION = "medication", "복약"
    MEAL = "meal", "식사"
    EXERCISE = "exercise", "운동"
    VITAL_CHECK = "vital_check", "활력징후"
    HYGIENE = "hygiene", "위생"
    COGNITIVE = "cognitive", "인지활동"
    OTHER = "other", "기타"


class Grade(StrEnum):
    A_PLUS = "A+"
    A = "A"
    B_PLUS = "B+"
    B = "B"
    C = "C"


#: (minimum score, grade), best first; a score below every cut-off is C.
GRADE_CUTOFFS: tuple[tuple[float, Grade], ...] = (
    (90.0, Grade.A_PLUS),
    (80.0, Grade.A),
    (70.0, Grade.B_PLUS),
    (60.0, Grade.B),
)


def grade_for(score: float) -> Grade:
    """The API's grade for a 0..100 score."""
    for minimum, grade in GRADE_CUTOFFS:
        if score >= minimum:
            return grade
    return Grade.C


#: The personality axes' codes in their fixed order: the one list every SQL column list, feature
#: name and rubric derives from.
PERSONALITY_AXES: tuple[str, ...] = tuple(axis.value for axis in PersonalityAxis)


# --- The record of care: visits and what happens in them -------------------------------------


class VisitStatus(LabeledEnum):
    PLANNED = "planned", "방문 예정"
    IN_PROGRESS = "in_progress", "방문 중"
    COMPLETED = "completed", "방문 완료"
    MISSED = "missed", "미방문"
    CANCELLED = "cancelled", "방문 취소"


class EvidenceMethod(LabeledEnum):
    """How a check-in or check-out was shown to happen in the patient's home."""

    NFC_TAG = "nfc_tag", "NFC 태그"
    GPS = "gps", "GPS 위치"
    MANUAL = "manual", "수기 기록"


class VisitPhase(LabeledEnum):
    CHECK_IN = "check_in", "방문 시작"
    CHECK_OUT = "check_out", "방문 종료"


class CorrectionReason(LabeledEnum):
    FORGOT_CHECK_IN = "forgot_check_in", "시작 태그 누락"
    FORGOT_CHECK_OUT = "forgot_check_out", "종료 태그 누락"
    DEVICE_FAILURE = "device_failure", "기기 고장"
    TAG_UNREADABLE = "tag_unreadable", "태그 분실·인식 불가"
    WRONG_TIME = "wrong_time", "시간 오기록"
    OTHER = "other", "기타"


class CorrectionStatus(LabeledEnum):
    PENDING = "pending", "승인 대기"
    APPROVED = "approved", "승인"
    REJECTED = "rejected", "반려"


class TaskOutcome(LabeledEnum):
    DONE = "done", "수행"
    NOT_DONE = "not_done", "미수행"


class MedicationOutcome(LabeledEnum):
    GIVEN = "given", "투약 완료"
    REFUSED = "refused", "투약 거부"
    MISSED = "missed", "투약 누락"
    NOT_APPLICABLE = "not_applicable", "해당 없음"


class IncidentKind(LabeledEnum):
    FALL = "fall", "낙상"
    INJURY = "injury", "부상"
    CARE_REFUSAL = "care_refusal", "돌봄 거부"
    BEHAVIOUR_CHANGE = "behaviour_change", "행동 변화(치매)"
    SUSPECTED_ABUSE = "suspected_abuse", "학대·방임 의심"
    MEDICAL_EMERGENCY = "medical_emergency", "응급 상황"
    OTHER = "other", "기타"


class IncidentSeverity(LabeledEnum):
    LOW = "low", "경미"
    MODERATE = "moderate", "보통"
    HIGH = "high", "심각"
    CRITICAL = "critical", "위급"


class FollowUpStatus(LabeledEnum):
    OPEN = "open", "접수"
    IN_PROGRESS = "in_progress", "조치 중"
    RESOLVED = "resolved", "종결"


class ConditionArea(LabeledEnum):
    """The four areas of change of condition on the monthly visit record (급여제공기록지)."""

    PHYSICAL = "physical", "신체"
    MEAL = "meal", "식사"
    COGNITIVE = "cognitive", "인지"
    TOILETING = "toileting", "배설"


class NotificationEvent(LabeledEnum):
    VISIT_CHECK_IN = "visit_check_in", "방문 시작"
    VISIT_CHECK_OUT = "visit_check_out", "방문 종료"
    VISIT_LATE = "visit_late", "방문 지연"
    VISIT_MISSED = "visit_missed", "미방문"
    VISIT_CANCELLED = "visit_cancelled", "방문 취소"
    INCIDENT = "incident", "사고 발생"
    CARE_REPORT_READY = "care_report_ready", "돌봄 보고서 준비"
    CORRECTION_PENDING = "correction_pending", "방문 기록 수정 승인 요청"
    BENEFIT_CAP_80 = "benefit_cap_80", "월 한도액 80% 사용"
    BENEFIT_CAP_100 = "benefit_cap_100", "월 한도액 100% 사용"


class NotificationChannel(LabeledEnum):
    IN_APP = "in_app", "앱 알림"
    WEB_PUSH = "web_push", "웹 푸시"
    EMAIL = "email", "이메일"


class DeliveryStatus(LabeledEnum):
    PENDING = "pending", "발송 대기"
    SENT = "sent", "발송 완료"
    SKIPPED = "skipped", "발송 안 함"
    FAILED = "failed", "발송 실패"
