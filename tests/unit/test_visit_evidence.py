"""The rules that accept or refuse a visit's evidence and its times (shared.visits.evidence),
and the request models that carry them (models.visits)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from pydantic import ValidationError

from models.visits import CheckIn, CheckOut, VisitPlan
from models.vocabularies import EvidenceMethod
from shared import idempotency
from shared.errors import ValidationFailedError
from shared.visits import evidence
from shared.visits.evidence import (
    CheckInTooEarlyError,
    GpsFix,
    GpsRules,
    GpsTooInaccurateError,
    HomeLocationMissingError,
    OutsideHomeRadiusError,
    RegisteredTag,
    TagNotRegisteredError,
    VisitTimingError,
    VisitTooLongError,
)

HOME = (37.566535, 126.977969)
RULES = GpsRules(radius_m=150, max_accuracy_m=100)
START = datetime(2026, 12, 7, 1, 0, tzinfo=UTC)  # 10:00 in Korea


# -- distance --------------------------------------------------------------------------------


def test_haversine_is_zero_at_the_same_point_and_symmetric():
    assert evidence.haversine_m(*HOME, *HOME) == 0
    there = (37.5700, 126.9900)
    assert evidence.haversine_m(*HOME, *there) == pytest.approx(evidence.haversine_m(*there, *HOME))


def test_haversine_matches_known_distances():
    # One degree of latitude is about 111.2 km on the mean sphere.
    assert evidence.haversine_m(37.0, 127.0, 38.0, 127.0) == pytest.approx(111_195, rel=1e-3)
    # 서울시청 to 부산시청: about 325 km in a straight line.
    assert evidence.haversine_m(*HOME, 35.179770, 129.075066) == pytest.approx(325_000, rel=0.01)
    # Antipodes: half the circumference, with no domain error from rounding.
    assert evidence.haversine_m(0, 0, 0, 180) == pytest.approx(math_pi_r(), rel=1e-9)


def math_pi_r() -> float:
    import math

    return math.pi * evidence.EARTH_RADIUS_M


# -- NFC -------------------------------------------------------------------------------------


def test_an_active_tag_of_this_home_is_accepted():
    accepted = evidence.nfc_evidence(RegisteredTag(7, patient_id=1, active=True), 1)
    assert (accepted.method, accepted.tag_id, accepted.needs_review) == (
        EvidenceMethod.NFC_TAG, 7, False,
    )  # fmt: skip


@pytest.mark.parametrize(
    "tag",
    [
        None,
        RegisteredTag(7, patient_id=2, active=True),
        RegisteredTag(7, patient_id=1, active=False),
    ],
    ids=["unknown", "another home", "deactivated"],
)
def test_other_tags_are_refused_alike(tag):
    with pytest.raises(TagNotRegisteredError) as refused:
        evidence.nfc_evidence(tag, 1)
    assert refused.value.status == 422
    assert refused.value.code == "tag_not_registered"


# -- GPS -------------------------------------------------------------------------------------


def test_a_fix_near_the_home_is_accepted_with_its_distance():
    accepted = evidence.gps_evidence(HOME, GpsFix(37.5670, 126.9780, 20), RULES)
    assert accepted.method is EvidenceMethod.GPS
    assert accepted.distance_m is not None
    assert 40 < accepted.distance_m < 60
    assert (accepted.latitude, accepted.longitude, accepted.accuracy_m) == (37.5670, 126.9780, 20)


def test_the_radius_and_accuracy_limits_are_inclusive():
    # A point due north of the home at exactly the radius (to the metre).
    north = HOME[0] + 150 / 111_195.08
    assert evidence.gps_evidence(HOME, GpsFix(north - 1e-6, HOME[1], 100), RULES)
    with pytest.raises(OutsideHomeRadiusError):
        evidence.gps_evidence(HOME, GpsFix(north + 2e-5, HOME[1], 100), RULES)
    with pytest.raises(GpsTooInaccurateError) as refused:
        evidence.gps_evidence(HOME, GpsFix(*HOME, 100.5), RULES)
    assert refused.value.code == "gps_accuracy_too_low"


def test_the_radius_is_a_setting():
    far = GpsFix(37.5700, 126.9900, 10)  # about 1.2 km away
    with pytest.raises(OutsideHomeRadiusError) as refused:
        evidence.gps_evidence(HOME, far, RULES)
    assert "150 m" in refused.value.detail
    assert evidence.gps_evidence(HOME, far, GpsRules(radius_m=2_000, max_accuracy_m=100))


def test_gps_needs_the_homes_location():
    with pytest.raises(HomeLocationMissingError) as refused:
        evidence.gps_evidence(None, GpsFix(*HOME, 5), RULES)
    assert refused.value.code == "home_location_not_set"


# -- manual ----------------------------------------------------------------------------------


def test_manual_needs_a_reason_and_is_flagged():
    accepted = evidence.manual_evidence("  태그 분실  ")
    assert (accepted.reason, accepted.needs_review) == ("태그 분실", True)
    with pytest.raises(evidence.EvidenceRefusedError):
        evidence.manual_evidence(" ")


# -- time ------------------------------------------------------------------------------------


def test_check_in_opens_early_minutes_before_the_start():
    early = timedelta(minutes=15)
    evidence.check_in_allowed(START - early, START, early)
    evidence.check_in_allowed(START + timedelta(hours=3), START, early)  # late is allowed
    with pytest.raises(CheckInTooEarlyError) as refused:
        evidence.check_in_allowed(START - early - timedelta(seconds=1), START, early)
    assert (refused.value.status, refused.value.code) == (409, "check_in_too_early")


def test_check_out_comes_after_check_in_and_within_a_day():
    evidence.check_out_allowed(START + timedelta(hours=24), START)
    with pytest.raises(VisitTooLongError) as refused:
        evidence.check_out_allowed(START + timedelta(hours=24, seconds=1), START)
    assert refused.value.code == "visit_too_long"
    with pytest.raises(VisitTimingError):
        evidence.check_out_allowed(START, START)


# -- request models --------------------------------------------------------------------------


def locs(error: ValidationError) -> set[tuple]:
    return {tuple(e["loc"]) for e in error.errors()}


def test_each_method_takes_its_own_fields():
    assert CheckIn.model_validate({"method": "nfc_tag", "tag_uid": "04:A2:19:7B"}).tag_uid
    with pytest.raises(ValidationError) as refused:
        CheckIn.model_validate({"method": "gps", "latitude": 37.5, "tag_uid": "04:A2:19:7B"})
    assert locs(refused.value) == {("tag_uid",), ("longitude",), ("accuracy_m",)}
    with pytest.raises(ValidationError) as refused:
        CheckIn.model_validate({"method": "manual", "reason": "x"})
    assert locs(refused.value) == {("reason",)}
    with pytest.raises(ValidationError) as refused:
        CheckIn.model_validate({"method": "nfc_tag", "tag_uid": "bad uid!"})
    assert locs(refused.value) == {("tag_uid",)}


def test_times_need_an_offset():
    with pytest.raises(ValidationError) as refused:
        CheckIn.model_validate(
            {"method": "manual", "reason": "기기 고장", "device_time": "2026-12-07T10:00:00"}
        )
    assert locs(refused.value) == {("device_time",)}
    with pytest.raises(ValidationError):
        CheckIn.model_validate(
            {"method": "manual", "reason": "기기 고장", "device_time": 1765000000}
        )


def test_check_out_notes_are_the_four_condition_areas():
    body = CheckOut.model_validate(
        {"method": "manual", "reason": "태그 분실", "condition_notes": {"meal": "잘 드심"}}
    )
    assert body.condition_notes is not None
    assert body.condition_notes.given() == {"meal": "잘 드심"}
    with pytest.raises(ValidationError) as refused:
        CheckOut.model_validate(
            {"method": "manual", "reason": "태그 분실", "condition_notes": {"mood": "좋음"}}
        )
    assert locs(refused.value) == {("condition_notes", "mood")}


def test_a_plan_ends_after_it_starts_and_within_a_day():
    start = "2026-12-07T10:00:00+09:00"
    ok = VisitPlan.model_validate(
        {"schedule_id": 1, "planned_start": start, "planned_end": "2026-12-07T12:00:00+09:00"}
    )
    assert ok.matching_id is None
    for end in ("2026-12-07T10:00:00+09:00", "2026-12-08T10:00:01+09:00"):
        with pytest.raises(ValidationError) as refused:
            VisitPlan.model_validate({"schedule_id": 1, "planned_start": start, "planned_end": end})
        assert locs(refused.value) == {("planned_end",)}


# -- Idempotency-Key (the parts that need no database) ----------------------------------------


def test_idempotency_keys_are_8_to_200_visible_ascii_characters():
    assert idempotency.parse_key(None) is None
    assert idempotency.parse_key("a" * 8) == "a" * 8
    assert idempotency.parse_key("~" * 200) == "~" * 200
    for bad in ("a" * 7, "a" * 201, "has space", "한국어키입니다요", "tab\there!"):
        with pytest.raises(ValidationFailedError) as refused:
            idempotency.parse_key(bad)
        assert refused.value.errors[0].loc == ("header", "Idempotency-Key")


def test_the_request_hash_covers_method_path_and_the_fields_sent():
    body = CheckIn.model_validate({"method": "nfc_tag", "tag_uid": "04:A2:19:7B"})
    same = CheckIn.model_validate({"tag_uid": "04:A2:19:7B", "method": "nfc_tag"})
    base = idempotency.request_hash("POST", "/api/visits/1/check-in", body)
    assert base == idempotency.request_hash("post", "/api/visits/1/check-in", same)
    assert base != idempotency.request_hash("POST", "/api/visits/2/check-in", body)
    assert base != idempotency.request_hash("POST", "/api/visits/1/check-out", body)
    other = CheckIn.model_validate({"method": "nfc_tag", "tag_uid": "04:A2:19:7C"})
    assert base != idempotency.request_hash("POST", "/api/visits/1/check-in", other)
    explicit_null = CheckIn.model_validate(
        {"method": "nfc_tag", "tag_uid": "04:A2:19:7B", "device_time": None}
    )
    assert base != idempotency.request_hash("POST", "/api/visits/1/check-in", explicit_null)
