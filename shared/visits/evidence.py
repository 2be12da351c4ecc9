"""The rules that decide whether a check-in or check-out is shown to happen in the patient's
home, and when a visit may start or end: pure functions, no database, no clock of their own
(the service passes the server's time and the facts it read).

- `nfc_tag`: the tag must be an active tag registered to this patient's home (a tag of another
  home, a deactivated one and an unknown uid are refused alike, so uids cannot be probed);
- `gps`: the home's location must be set, the fix's accuracy at most `max_accuracy_m`, and the
  fix within `radius_m` of the home (great-circle distance, `haversine_m`);
- `manual`: a reason (the model requires it); the visit is flagged for an operator's review.

Time: a check-in no earlier than `planned_start - early_minutes`; a check-out after the
check-in and at most `MAX_VISIT` after it. Each refusal is an `AppError` with a code of its own
(API.md "Visits", problem codes), so a phone can tell the caregiver what to do.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar

from models.vocabularies import EvidenceMethod
from shared.errors import AppError

#: The mean Earth radius (IUGG), metres.
EARTH_RADIUS_M = 6_371_008.8
#: The longest a visit may last (also a CHECK of the visits table).
MAX_VISIT = timedelta(hours=24)


class EvidenceRefusedError(AppError):
    """The evidence does not show the caregiver in the patient's home (422)."""

    status, code, title = 422, "evidence_refused", "Evidence Refused"


class TagNotRegisteredError(EvidenceRefusedError):
    code: ClassVar[str] = "tag_not_registered"


class HomeLocationMissingError(EvidenceRefusedError):
    code: ClassVar[str] = "home_location_not_set"


class GpsTooInaccurateError(EvidenceRefusedError):
    code: ClassVar[str] = "gps_accuracy_too_low"


class OutsideHomeRadiusError(EvidenceRefusedError):
    code: ClassVar[str] = "outside_home_radius"


class VisitTimingError(AppError):
    """The visit cannot start or end at this time (409)."""

    status, code, title = 409, "visit_timing", "Conflict"


class CheckInTooEarlyError(VisitTimingError):
    code: ClassVar[str] = "check_in_too_early"


class VisitTooLongError(VisitTimingError):
    code: ClassVar[str] = "visit_too_long"


@dataclass(frozen=True)
class RegisteredTag:
    """An NFC tag found by its uid (in any home), as the repository reads it."""

    tag_id: int
    patient_id: int
    active: bool
    label: str | None = None


@dataclass(frozen=True)
class GpsFix:
    latitude: float
    longitude: float
    accuracy_m: float


@dataclass(frozen=True)
class GpsRules:
    radius_m: float
    max_accuracy_m: float


@dataclass(frozen=True)
class AcceptedEvidence:
    """What is stored in visit_evidence for one phase."""

    method: EvidenceMethod
    tag_id: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    accuracy_m: float | None = None
    distance_m: float | None = None
    reason: str | None = None

    @property
    def needs_review(self) -> bool:
        """Recorded without evidence: an operator looks at it."""
        return self.method is EvidenceMethod.MANUAL


def haversine_m(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """The great-circle distance between two points (degrees), in metres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    d_phi = phi2 - phi1
    d_lambda = math.radians(lon2 - lon1)
    a = math.sin(d_phi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(d_lambda / 2) ** 2
    return 2 * EARTH_RADIUS_M * math.asin(min(1.0, math.sqrt(a)))


def nfc_evidence(tag: RegisteredTag | None, patient_id: int) -> AcceptedEvidence:
    """Accept a tag only when it is active and registered to this patient's home."""
    if tag is None or not tag.active or tag.patient_id != patient_id:
        raise TagNotRegisteredError(
            "This NFC tag is not registered to the patient's home. Tap the home's tag, or ask "
            "the guardian to register it (등록된 태그가 아닙니다)."
        )
    return AcceptedEvidence(EvidenceMethod.NFC_TAG, tag_id=tag.tag_id)


def gps_evidence(
    home: tuple[float, float] | None, fix: GpsFix, rules: GpsRules
) -> AcceptedEvidence:
    """Accept a fix that is accurate enough and within the radius of the home."""
    if home is None:
        raise HomeLocationMissingError(
            "The patient's home location is not set, so GPS cannot show the visit; use the "
            "home's NFC tag, or ask the guardian to set the location (집 위치 미등록)."
        )
    if fix.accuracy_m > rules.max_accuracy_m:
        raise GpsTooInaccurateError(
            f"The GPS fix is accurate to {fix.accuracy_m:.0f} m; at most "
            f"{rules.max_accuracy_m:.0f} m is accepted. Try again outdoors or by a window."
        )
    distance = haversine_m(home[0], home[1], fix.latitude, fix.longitude)
    if distance > rules.radius_m:
        raise OutsideHomeRadiusError(
            f"The GPS fix is {distance:.0f} m from the patient's home; it must be within "
            f"{rules.radius_m:.0f} m (방문지 반경 밖)."
        )
    return AcceptedEvidence(
        EvidenceMethod.GPS,
        latitude=fix.latitude,
        longitude=fix.longitude,
        accuracy_m=fix.accuracy_m,
        distance_m=round(distance, 1),
    )


def manual_evidence(reason: str | None) -> AcceptedEvidence:
    """A reason instead of evidence (flagged for review)."""
    text = (reason or "").strip()
    if len(text) < 2:  # the model requires it; kept here so the rule stands on its own
        raise EvidenceRefusedError("A manual record needs a reason (사유).")
    return AcceptedEvidence(EvidenceMethod.MANUAL, reason=text)


def check_in_allowed(now: datetime, planned_start: datetime, early: timedelta) -> None:
    """A check-in no earlier than `early` before the planned start."""
    opens = planned_start - early
    if now < opens:
        raise CheckInTooEarlyError(
            f"Check-in opens at {opens.isoformat()}, {int(early.total_seconds() // 60)} "
            "minutes before the visit's planned start."
        )


def check_out_allowed(now: datetime, check_in_at: datetime) -> None:
    """A check-out after the check-in and at most MAX_VISIT after it."""
    if now <= check_in_at:
        raise VisitTimingError("A visit cannot end before it starts.")
    if now - check_in_at > MAX_VISIT:
        raise VisitTooLongError(
            "A visit lasts at most 24 hours; this one was checked in at "
            f"{check_in_at.isoformat()}. Propose a correction with the real end time "
            "(방문 기록 수정)."
        )
