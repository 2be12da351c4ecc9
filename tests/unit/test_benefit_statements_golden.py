"""Golden statements of long-term-care benefits (노인장기요양보험), computed by hand.

The tariffs are the versioned data files the migration loads (shared/benefits/data), read by
`TariffBook.from_data_files()`. Figures used below (won):

- 방문요양 2026: 60분 25,320; 90분 34,120; 120분 43,430; 180분 55,350; 240분 70,080.
  2025: 90분 33,120; 120분 42,160.
- Caps 2026: 1등급 2,512,900; 2등급 2,331,200; 3등급 1,528,200; 4등급 1,409,700; 5등급 1,208,900;
  인지지원등급 676,320. 2025: 3등급 1,485,700.
- Surcharges: 18-22시 +20 %, 22-06시 +30 %, Sunday/holiday +30 %, the highest only.
- Rounding: a visit's amount 원 미만 절사; the co-payment 10원 미만 절사 on the month's
  within-cap total; insurer = within cap - co-payment.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from models.benefits import LtcProfile, MonthStatement
from models.dates import KOREA
from shared.benefits.pricing import VerifiedVisit, round_won, statement
from shared.benefits.tariffs import TariffBook

BOOK = TariffBook.from_data_files()


def profile(grade: str, copay: int, **extra: object) -> LtcProfile:
    values: dict[str, object] = {
        "profile_id": 1,
        "patient_id": 7,
        "grade": grade,
        "grade_label": grade,
        "recognition_number": None if grade == "none" else "L1234567890",
        "recognition_valid_from": None,
        "recognition_valid_to": None,
        "copay_percent": copay,
        "copay_label": f"{copay}%",
        "effective_from": date(2025, 1, 1),
        "source": "profile",
    }
    values.update(extra)
    return LtcProfile.model_validate(values)


_ids = iter(range(1, 10_000))


def visit(day: str, start: str, minutes: int) -> VerifiedVisit:
    begin = datetime.fromisoformat(f"{day}T{start}:00").replace(tzinfo=KOREA)
    return VerifiedVisit(next(_ids), 3, begin, begin + timedelta(minutes=minutes))


def totals(result: MonthStatement) -> dict[str, int]:
    return result.totals.model_dump()


def test_grade_1_standard_copay_weekday_mornings() -> None:
    # 10 visits of 180 min, 09:00 on weekdays 5-9 and 12-16 Jan 2026 (no holiday):
    #   10 x 55,350 = 553,500 (cap 2,512,900: within)
    #   co-payment 553,500 x 15 % = 83,025 -> 83,020 (10원 미만 절사); insurer 553,500 - 83,020
    #   = 470,480.
    days = [f"2026-01-{d:02d}" for d in (5, 6, 7, 8, 9, 12, 13, 14, 15, 16)]
    result = statement(BOOK, profile("grade_1", 15), date(2026, 1, 1),
                       [visit(d, "09:00", 180) for d in days])  # fmt: skip
    assert totals(result) == {
        "benefit_total_won": 553_500, "cap_won": 2_512_900, "within_cap_won": 553_500,
        "over_cap_won": 0, "insurer_won": 470_480, "copay_won": 83_020,
        "private_pay_won": 0, "family_total_won": 83_020, "total_won": 553_500,
    }  # fmt: skip
    assert {item.surcharge for item in result.items} == {None}


def test_grade_2_reduced_9_percent() -> None:
    # 8 visits of 240 min at 09:00, weekdays 5-8 and 12-15 Jan 2026: 8 x 70,080 = 560,640.
    #   co-payment 560,640 x 9 % = 50,457.6 -> 50,450; insurer 560,640 - 50,450 = 510,190.
    days = [f"2026-01-{d:02d}" for d in (5, 6, 7, 8, 12, 13, 14, 15)]
    result = statement(BOOK, profile("grade_2", 9), date(2026, 1, 1),
                       [visit(d, "09:00", 240) for d in days])  # fmt: skip
    assert totals(result) == {
        "benefit_total_won": 560_640, "cap_won": 2_331_200, "within_cap_won": 560_640,
        "over_cap_won": 0, "insurer_won": 510_190, "copay_won": 50_450,
        "private_pay_won": 0, "family_total_won": 50_450, "total_won": 560_640,
    }  # fmt: skip


def test_grade_3_reduced_6_percent_with_evening_and_night_visits() -> None:
    # 5 x 120 min at 10:00 (Jan 5-9 2026): 5 x 43,430 = 217,150
    # Jan 12 22:30, 60 min, night +30 %: 25,320 x 1.3 = 32,916
    # Jan 13 18:00, 90 min, evening +20 %: 34,120 x 1.2 = 40,944
    #   total 217,150 + 32,916 + 40,944 = 291,010
    #   co-payment 291,010 x 6 % = 17,460.6 -> 17,460; insurer 291,010 - 17,460 = 273,550.
    visits = [visit(f"2026-01-{d:02d}", "10:00", 120) for d in (5, 6, 7, 8, 9)]
    visits += [visit("2026-01-12", "22:30", 60), visit("2026-01-13", "18:00", 90)]
    result = statement(BOOK, profile("grade_3", 6), date(2026, 1, 1), visits)
    assert totals(result) == {
        "benefit_total_won": 291_010, "cap_won": 1_528_200, "within_cap_won": 291_010,
        "over_cap_won": 0, "insurer_won": 273_550, "copay_won": 17_460,
        "private_pay_won": 0, "family_total_won": 17_460, "total_won": 291_010,
    }  # fmt: skip
    night, evening = result.items[-2:]
    assert (night.surcharge, night.surcharge_percent, night.amount_won) == ("night", 30, 32_916)
    assert (evening.surcharge, evening.surcharge_percent, evening.amount_won) == (
        "evening",
        20,
        40_944,
    )


def test_grade_4_exempt_with_holiday_visits_not_stacked() -> None:
    # February 2026 (설날 연휴 16-18 Feb):
    # Feb 16 (설날 연휴, Mon) 10:00, 90 min, holiday +30 %: 34,120 x 1.3 = 44,356
    # Feb 17 (설날) 19:00, 60 min: evening 20 % and holiday 30 % -> the higher only, 30 %:
    #   25,320 x 1.3 = 32,916 (not 25,320 x 1.5)
    # Feb 19 (Thu) 10:00, 60 min: 25,320
    #   total 44,356 + 32,916 + 25,320 = 102,592; exempt: co-payment 0, insurer 102,592.
    visits = [visit("2026-02-16", "10:00", 90), visit("2026-02-17", "19:00", 60),
              visit("2026-02-19", "10:00", 60)]  # fmt: skip
    result = statement(BOOK, profile("grade_4", 0), date(2026, 2, 1), visits)
    assert totals(result) == {
        "benefit_total_won": 102_592, "cap_won": 1_409_700, "within_cap_won": 102_592,
        "over_cap_won": 0, "insurer_won": 102_592, "copay_won": 0,
        "private_pay_won": 0, "family_total_won": 0, "total_won": 102_592,
    }  # fmt: skip
    assert [item.surcharge for item in result.items] == ["holiday", "holiday", None]


def test_grade_5_month_over_the_cap_with_a_substitute_holiday() -> None:
    # March 2026, 240 min at 09:00 every weekday: 2-6, 9-13, 16-20, 23-27, 30-31 = 22 visits.
    # 2 March is 대체공휴일 (삼일절 fell on a Sunday): 70,080 x 1.3 = 91,104; 21 x 70,080 =
    #   1,471,680; total 1,562,784.
    # cap (5등급) 1,208,900: within 1,208,900, over 1,562,784 - 1,208,900 = 353,884 (family pays)
    # co-payment 1,208,900 x 15 % = 181,335 -> 181,330; insurer 1,208,900 - 181,330 = 1,027,570
    # family 181,330 + 353,884 = 535,214; total 1,027,570 + 535,214 = 1,562,784.
    days = [2, 3, 4, 5, 6, 9, 10, 11, 12, 13, 16, 17, 18, 19, 20, 23, 24, 25, 26, 27, 30, 31]
    result = statement(BOOK, profile("grade_5", 15), date(2026, 3, 1),
                       [visit(f"2026-03-{d:02d}", "09:00", 240) for d in days])  # fmt: skip
    assert totals(result) == {
        "benefit_total_won": 1_562_784, "cap_won": 1_208_900, "within_cap_won": 1_208_900,
        "over_cap_won": 353_884, "insurer_won": 1_027_570, "copay_won": 181_330,
        "private_pay_won": 0, "family_total_won": 535_214, "total_won": 1_562_784,
    }  # fmt: skip
    assert result.items[0].surcharge == "holiday"
    # In time order the 17th visit crosses the cap (91,104 + 16 x 70,080 = 1,212,384 > cap;
    # after 16: 1,142,304): the over-cap parts add up to the month's, the last one whole.
    assert sum(item.over_cap_won for item in result.items) == 353_884
    assert result.items[0].over_cap_won == 0
    assert result.items[-1].over_cap_won == 70_080


def test_cognitive_support_grade_is_private_pay_for_home_visit_care() -> None:
    # 인지지원등급 is not entitled to 방문요양: both visits are private pay at the tariff price.
    # Jan 5 and 6 2026, 60 min at 10:00: 2 x 25,320 = 50,640 private pay; nothing covered.
    result = statement(
        BOOK,
        profile("cognitive_support", 15),
        date(2026, 1, 1),
        [visit("2026-01-05", "10:00", 60), visit("2026-01-06", "10:00", 60)],
    )
    assert totals(result) == {
        "benefit_total_won": 0, "cap_won": 676_320, "within_cap_won": 0,
        "over_cap_won": 0, "insurer_won": 0, "copay_won": 0,
        "private_pay_won": 50_640, "family_total_won": 50_640, "total_won": 50_640,
    }  # fmt: skip
    assert {(i.coverage, i.reason) for i in result.items} == {("private_pay", "not_entitled")}
    assert result.items[0].reason_label.startswith("이 등급은 방문요양 급여 대상 아님")  # type: ignore[union-attr]


def test_year_boundary_prices_each_visit_by_the_tariff_of_its_day() -> None:
    # December 2025 (3등급, 15 %), 2025 tariff:
    #   Dec 30 10:00, 120 min: 42,160
    #   Dec 31 23:00 -> Jan 1 00:30, 90 min, night +30 %: 33,120 x 1.3 = 43,056 (a December
    #   visit: it counts where it starts, at December's price)
    #   total 85,216; co-payment 12,782.4 -> 12,780; insurer 72,436; cap 2025 1,485,700.
    december = statement(
        BOOK,
        profile("grade_3", 15),
        date(2025, 12, 1),
        [visit("2025-12-30", "10:00", 120), visit("2025-12-31", "23:00", 90)],
    )
    assert totals(december) == {
        "benefit_total_won": 85_216, "cap_won": 1_485_700, "within_cap_won": 85_216,
        "over_cap_won": 0, "insurer_won": 72_436, "copay_won": 12_780,
        "private_pay_won": 0, "family_total_won": 12_780, "total_won": 85_216,
    }  # fmt: skip
    # January 2026, 2026 tariff:
    #   Jan 1 (신정) 10:00, 60 min, holiday +30 %: 25,320 x 1.3 = 32,916
    #   Jan 2 10:00, 120 min: 43,430
    #   total 76,346; co-payment 11,451.9 -> 11,450; insurer 64,896; cap 2026 1,528,200.
    january = statement(
        BOOK,
        profile("grade_3", 15),
        date(2026, 1, 1),
        [visit("2026-01-01", "10:00", 60), visit("2026-01-02", "10:00", 120)],
    )
    assert totals(january) == {
        "benefit_total_won": 76_346, "cap_won": 1_528_200, "within_cap_won": 76_346,
        "over_cap_won": 0, "insurer_won": 64_896, "copay_won": 11_450,
        "private_pay_won": 0, "family_total_won": 11_450, "total_won": 76_346,
    }  # fmt: skip
    assert [i.base_won for i in december.items] == [42_160, 33_120]
    assert [i.base_won for i in january.items] == [25_320, 43_430]


def test_no_grade_is_private_pay_and_short_visits_are_not_billable() -> None:
    # 등급외: Jan 5 2026 10:00, 120 min -> private pay 43,430.
    # Jan 6 10:00, 25 min: shorter than the shortest band (30 min) -> 0, not billable.
    result = statement(
        BOOK,
        profile("none", 15),
        date(2026, 1, 1),
        [visit("2026-01-05", "10:00", 120), visit("2026-01-06", "10:00", 25)],
    )
    assert [(i.coverage, i.reason, i.amount_won) for i in result.items] == [
        ("private_pay", "no_grade", 43_430),
        ("not_billable", "below_minimum", 0),
    ]
    assert result.totals.cap_won == 0
    assert result.totals.family_total_won == result.totals.total_won == 43_430


def test_a_visit_outside_the_recognition_validity_is_private_pay() -> None:
    # Recognition valid from 10 Jan 2026: the 9 Jan visit (60 min, 25,320) is private pay; the
    # 12 Jan one is covered: co-payment 25,320 x 15 % = 3,798 -> 3,790; insurer 21,530.
    result = statement(
        BOOK,
        profile("grade_2", 15, recognition_valid_from=date(2026, 1, 10)),
        date(2026, 1, 1),
        [visit("2026-01-09", "10:00", 60), visit("2026-01-12", "10:00", 60)],
    )
    assert [i.reason for i in result.items] == ["outside_recognition", None]
    assert (result.totals.private_pay_won, result.totals.copay_won, result.totals.insurer_won) == (
        25_320,
        3_790,
        21_530,
    )


def test_bands_are_lower_bounds_and_minutes_drop_seconds() -> None:
    # 59 minutes is the 30-minute band (17,450); 60 the 60-minute band; 250 the 240 band.
    result = statement(BOOK, profile("grade_1", 15), date(2026, 1, 1),
                       [visit("2026-01-05", "10:00", 59), visit("2026-01-06", "10:00", 60),
                        visit("2026-01-07", "10:00", 250)])  # fmt: skip
    assert [(i.band_minutes, i.base_won) for i in result.items] == [
        (30, 17_450),
        (60, 25_320),
        (240, 70_080),
    ]
    begin = datetime(2026, 1, 8, 10, 0, tzinfo=KOREA)
    almost = VerifiedVisit(99, 3, begin, begin + timedelta(minutes=59, seconds=59))
    assert (
        statement(BOOK, profile("grade_1", 15), date(2026, 1, 1), [almost]).items[0].minutes == 59
    )


def test_the_night_window_wraps_midnight_and_ends_at_six() -> None:
    # 05:59 is night (+30 %); 06:00 is not; 17:59 none; 21:59 evening; 22:00 night.
    starts = ["05:59", "06:00", "17:59", "21:59", "22:00"]
    result = statement(
        BOOK,
        profile("grade_1", 15),
        date(2026, 1, 1),
        [visit(f"2026-01-{5 + i:02d}", s, 60) for i, s in enumerate(starts)],
    )
    assert [i.surcharge for i in result.items] == ["night", None, None, "evening", "night"]


@pytest.mark.parametrize(
    ("numerator", "denominator", "unit", "mode", "expected"),
    [
        (83_025 * 100, 100, 10, "floor", 83_020),
        (1_745_000 * 13, 1000, 1, "floor", 22_685),
        (1_234_567, 100, 1, "floor", 12_345),
        (1_234_550, 100, 10, "half_up", 12_350),
        (1_234_499, 100, 10, "half_up", 12_340),
        (0, 100, 10, "floor", 0),
    ],
)
def test_round_won(numerator: int, denominator: int, unit: int, mode: str, expected: int) -> None:
    assert round_won(numerator, denominator, unit, mode) == expected


def test_round_won_refuses_unknown_modes_and_negative_amounts() -> None:
    with pytest.raises(ValueError, match="mode"):
        round_won(100, 1, 1, "banker")
    with pytest.raises(ValueError, match="not negative"):
        round_won(-1, 1, 1, "floor")


def test_every_statement_names_its_sources_and_rounding_rules() -> None:
    result = statement(BOOK, profile("grade_1", 15), date(2026, 1, 1),
                       [visit("2026-01-05", "10:00", 60)])  # fmt: skip
    assert result.rounding == [
        "방문 1회 급여비용(가산 포함)의 원 단위 미만은 버린다",
        "본인부담금의 10원 미만은 버린다 (공단부담금 = 급여비용 - 본인부담금)",
    ]
    assert any("2026" in source for source in result.sources)
    assert result.unverified_figures is True  # figures marked "to verify against the notice"
