"""The request models of a visit's details and incidents: what each outcome needs, the month
view's default window, a correction's times, a follow-up that says something."""

from __future__ import annotations

from datetime import date

import pytest
from pydantic import ValidationError

from models.dates import korea_today
from models.incidents import IncidentCreate, IncidentUpdate
from models.visit_details import (
    AdministrationRecord,
    AdministrationsQuery,
    CorrectionCreate,
    TaskRecord,
)


def locs(error: ValidationError) -> list[tuple]:
    return [tuple(e["loc"]) for e in error.errors()]


def test_a_task_not_done_needs_a_reason_and_takes_no_vitals():
    assert TaskRecord(outcome="done").reason is None
    with pytest.raises(ValidationError) as missing:
        TaskRecord(outcome="not_done")
    assert locs(missing.value) == [("reason",)]
    with pytest.raises(ValidationError) as vitals:
        TaskRecord(outcome="not_done", reason="거부", vitals={"pulse": 70})
    assert locs(vitals.value) == [("vitals",)]
    done = TaskRecord(outcome="done", vitals={"pulse": 70, "temperature_c": 36.5})
    assert done.vitals is not None
    assert done.vitals.readings() == {"pulse": 70, "temperature_c": 36.5}


def test_a_dose_given_needs_its_time_with_an_offset():
    with pytest.raises(ValidationError) as missing:
        AdministrationRecord(outcome="given")
    assert locs(missing.value) == [("administered_at",)]
    with pytest.raises(ValidationError) as naive:
        AdministrationRecord(outcome="given", administered_at="2026-12-04T10:00:00")
    assert locs(naive.value) == [("administered_at",)]
    refused = AdministrationRecord(outcome="refused")
    assert refused.administered_at is None
    given = AdministrationRecord(outcome="given", administered_at="2026-12-04T10:00:00+09:00")
    assert given.administered_at is not None
    assert given.administered_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("query", "window"),
    [
        ({"from": "2026-02-10"}, (date(2026, 2, 10), date(2026, 2, 28))),
        ({"from": "2028-02-01"}, (date(2028, 2, 1), date(2028, 2, 29))),
        ({"to": "2026-12-15"}, (date(2026, 12, 1), date(2026, 12, 15))),
        ({"from": "2026-11-20", "to": "2026-12-31"}, (date(2026, 11, 20), date(2026, 12, 31))),
    ],
)
def test_the_month_view_runs_to_the_months_end_from_its_first_by_default(query, window):
    parsed = AdministrationsQuery.model_validate(query)
    assert (parsed.from_, parsed.to) == window


def test_the_month_view_without_dates_is_this_month_in_korea():
    parsed = AdministrationsQuery.model_validate({})
    today = korea_today()
    assert parsed.from_ == today.replace(day=1)
    assert parsed.to is not None
    assert parsed.to.month == today.month
    assert parsed.to >= today


@pytest.mark.parametrize(
    "query",
    [{"from": "2026-03-01", "to": "2026-02-01"}, {"from": "2026-01-01", "to": "2026-06-01"}],
)
def test_the_month_view_refuses_a_backwards_or_long_window(query):
    with pytest.raises(ValidationError):
        AdministrationsQuery.model_validate(query)


def test_a_correction_proposes_a_time_and_explains_other():
    with pytest.raises(ValidationError) as nothing:
        CorrectionCreate(reason_code="wrong_time")
    assert locs(nothing.value) == [("check_out_at",)]
    with pytest.raises(ValidationError) as other:
        CorrectionCreate(reason_code="other", check_in_at="2026-12-04T09:00:00+09:00")
    assert locs(other.value) == [("reason_text",)]
    with pytest.raises(ValidationError) as backwards:
        CorrectionCreate(
            reason_code="wrong_time",
            check_in_at="2026-12-04T11:00:00+09:00",
            check_out_at="2026-12-04T10:00:00+09:00",
        )
    assert locs(backwards.value) == [("check_out_at",)]
    fine = CorrectionCreate(reason_code="forgot_check_out", check_out_at="2026-12-04T11:00:00Z")
    assert fine.check_in_at is None


def test_an_incident_names_its_kind_and_a_follow_up_says_something():
    with pytest.raises(ValidationError) as bad:
        IncidentCreate(
            kind="slip", severity="low", occurred_at="2026-12-04T10:00:00+09:00", description=" "
        )
    assert set(locs(bad.value)) == {("kind",), ("description",)}
    with pytest.raises(ValidationError):
        IncidentUpdate()
    with pytest.raises(ValidationError):
        IncidentUpdate(follow_up_status=None)
    assert IncidentUpdate(follow_up_note=None).model_fields_set == {"follow_up_note"}
