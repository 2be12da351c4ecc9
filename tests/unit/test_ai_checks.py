"""The hard checks AI output (and every template) must pass."""

from __future__ import annotations

import pytest

from models.vocabularies import Allergen
from shared.ai import checks
from shared.ai.checks import MealLimits, allergen_terms, meal_limits, medical_text_problems


def meal(**overrides):
    values = {
        "menu_name": "현미밥과 소고기 무국",
        "ingredients": ["현미", "쌀", "소고기", "무", "소금"],
        "nutrition": {"kcal": 413, "protein_g": 24, "carbs_g": 56, "fat_g": 9, "sodium_mg": 560},
        "cooking_tips": "국은 싱겁게 끓여 부드럽게 드립니다.",
        "texture": "regular",
    }
    values.update(overrides)
    return values


# -- allergens and what is made from them ----------------------------------------------------


@pytest.mark.parametrize(
    ("text", "allergen", "term"),
    [
        ("두부조림", "soy", "두부"),
        ("간장 1큰술", "soy", "간장"),
        ("된장", "soy", "된장"),
        ("콩나물", "soy", "콩나물"),
        ("콩을 불려", "soy", "콩"),
        ("Silken tofu", "soy", "tofu"),
        ("간장", "wheat", "간장"),
        ("잔치국수", "wheat", "국수"),
        ("식빵 한 조각", "wheat", "식빵"),
        ("부침가루", "wheat", "부침가루"),
        ("마요네즈", "egg", "마요네즈"),
        ("메밀묵", "buckwheat", "메밀"),
        ("새우젓", "shrimp", "새우"),
        ("배추김치", "shrimp", "김치"),
        ("게살", "crab", "게살"),
        ("꽃게탕", "crab", "꽃게"),
        ("게를 손질", "crab", "게"),
        ("치즈", "milk", "치즈"),
        ("케첩", "tomato", "케첩"),
        ("땅콩버터", "peanut", "땅콩"),
        ("황도 통조림", "peach", "황도"),
    ],
)
def test_an_allergen_or_a_food_made_from_it_is_found(text, allergen, term):
    assert allergen_terms(text, [allergen]) == [(Allergen(allergen), term)]


@pytest.mark.parametrize(
    ("text", "allergen"),
    [
        ("밀폐 용기에 담아 보관합니다.", "wheat"),  # 밀폐 is not 밀 (wheat)
        ("부드럽게 익힙니다. 게다가 싱겁게 드세요.", "crab"),  # ...게 endings are not 게 (crab)
        ("식사에 대하여 여쭤 보세요.", "shrimp"),  # 대하여 is not 대하 (prawn)
        ("완두콩", "soy"),  # peas are not soybeans
        ("땅콩", "soy"),  # peanuts either
        ("두유", "milk"),  # soy milk is not milk
        ("현미밥과 소고기 무국", "soy"),
    ],
)
def test_everyday_words_are_not_allergens(text, allergen):
    assert allergen_terms(text, [allergen]) == []


def test_only_the_patients_allergens_count():
    assert allergen_terms("두부 계란찜", ["milk", "peach"]) == []
    assert [a for a, _ in allergen_terms("두부 계란찜", ["egg", "soy"])] == [
        Allergen.EGG,
        Allergen.SOY,
    ]


def test_every_allergen_of_the_vocabulary_has_derived_ingredients():
    assert set(checks.DERIVED_INGREDIENTS) == set(Allergen)
    for allergen, terms in checks.DERIVED_INGREDIENTS.items():
        assert allergen.label in terms
        assert len(terms) == len(set(terms))


# -- caps ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("diet", "conditions", "sodium", "carbs"),
    [
        ("regular", [], None, None),
        ("low_sodium", [], 600, None),
        ("regular", ["hypertension"], 600, None),
        ("low_sugar", [], None, 60),
        ("regular", ["diabetes"], None, 60),
        ("low_sodium", ["diabetes", "hypertension"], 600, 60),
    ],
)
def test_sodium_and_carb_caps_follow_diet_and_conditions(diet, conditions, sodium, carbs):
    limits = meal_limits(diet, conditions)
    assert (limits.sodium_mg, limits.carbs_g) == (sodium, carbs)


def test_a_meal_over_a_cap_is_refused_and_one_at_the_cap_is_not():
    limits = meal_limits("low_sodium", ["diabetes"])
    at_cap = meal(nutrition={"kcal": 416, "protein_g": 24, "carbs_g": 60, "fat_g": 8,
                             "sodium_mg": 600})  # fmt: skip
    assert checks.meal_problems(at_cap, meal_type="lunch", allergens=[], limits=limits) == []
    over = meal(nutrition={"kcal": 420, "protein_g": 24, "carbs_g": 61, "fat_g": 8,
                           "sodium_mg": 601})  # fmt: skip
    problems = checks.meal_problems(over, meal_type="lunch", allergens=[], limits=limits)
    assert any("sodium 601 mg is over 600 mg" in p for p in problems)
    assert any("carbs 61 g is over 60 g" in p for p in problems)


def test_energy_must_match_the_macros_within_ten_percent():
    base = {"protein_g": 20, "carbs_g": 50, "fat_g": 10}  # 4*20 + 4*50 + 9*10 = 370
    assert checks.energy_problem({**base, "kcal": 370}) is None
    assert checks.energy_problem({**base, "kcal": 407}) is None  # +10 %
    assert checks.energy_problem({**base, "kcal": 408}) is not None
    assert checks.energy_problem({**base, "kcal": 332}) is not None


def test_texture_high_protein_and_low_fat_rules():
    soft = meal_limits("soft", [])
    assert any("texture" in p for p in checks.meal_problems(meal(), meal_type="lunch",
                                                            allergens=[], limits=soft))  # fmt: skip
    assert checks.meal_problems(meal(texture="liquid"), meal_type="lunch", allergens=[],
                                limits=soft) == []  # fmt: skip
    lean = meal(nutrition={"kcal": 338, "protein_g": 12, "carbs_g": 60, "fat_g": 4,
                           "sodium_mg": 300})  # fmt: skip
    protein = meal_limits("high_protein", [])
    assert checks.meal_problems(lean, meal_type="snack", allergens=[], limits=protein) == []
    assert checks.meal_problems(lean, meal_type="dinner", allergens=[], limits=protein)
    fatty = meal(nutrition={"kcal": 461, "protein_g": 20, "carbs_g": 50, "fat_g": 21,
                            "sodium_mg": 300})  # fmt: skip
    assert checks.meal_problems(fatty, meal_type="lunch", allergens=[], limits=meal_limits(
        "low_fat", []))  # fmt: skip


def test_allergens_are_looked_for_in_ingredients_menu_name_and_tips():
    limits = MealLimits()
    hidden = meal(ingredients=["쌀", "소고기"], cooking_tips="국간장으로 간을 합니다.")
    problems = checks.meal_problems(hidden, meal_type="lunch", allergens=["soy"], limits=limits)
    assert problems == [
        "lunch '현미밥과 소고기 무국': cooking tips '국간장으로 간을 합니다.' contains soy (대두)"
        " as '간장'"
    ]
    named = meal(menu_name="두부조림 정식")
    assert checks.meal_problems(named, meal_type="lunch", allergens=["soy"], limits=limits)


# -- medical text ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "아스피린을 드시게 하세요",
        "metformin after meals",
        "500mg 복용",
        "0.5 ㎎씩",
        "1정씩 드립니다",
        "반 정을 쪼개",
        "3회/일",
        "하루 2회 복용",
        "복용량을 늘리세요",
        "처방대로 드세요",
        "혈압약 확인",
    ],
)
def test_drug_names_doses_and_prescribing_words_are_refused(text):
    assert medical_text_problems(text)


@pytest.mark.parametrize(
    "text",
    [
        "혈당 평균 120mg/dL",
        "아침 복약 확인",
        "하루 2회 산책",
        "1정도 걸어 보세요",
        "물 200ml와 함께",
        "단백질 20g",
        "담당 의료진과 상담해 보세요",
    ],
)
def test_care_words_readings_and_quantities_are_not_medical_text(text):
    assert medical_text_problems(text) == []


def test_the_patients_own_medicines_are_refused_without_naming_them():
    problems = medical_text_problems("점심 후 노바스크 확인", ["노바스크"])
    assert problems == ["mentions one of the patient's medicines"]


def test_korean_and_length():
    assert checks.korean_problem("summary", "완료율이 높습니다 (mg/dL)") is None
    assert checks.korean_problem("summary", "The completion rate is high.") is not None
    assert checks.length_problem("title", "", 1, 10) is not None
    assert checks.length_problem("title", "산책", 1, 10) is None
