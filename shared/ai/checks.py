"""Hard checks on AI output (and on the templates, which must pass the same ones).

Each check returns a list of problems in plain words (empty: accepted). The words go back to
the model on the retry and into the stored generation, so they name the field and the rule but
never the patient's own medicines (only that one was mentioned).

- Allergens: an ingredient, menu name or free text that is, or is made from, one of the
  patient's allergens (`DERIVED_INGREDIENTS`: soy -> tofu, soy sauce, doenjang, ...; wheat ->
  noodles, bread, ...). Terms match anywhere in a text, except the `WORD_ONLY` ones (콩, 밀,
  게, 대하, ...) that match only as a whole word or a word plus a particle, so 밀폐, 부드럽게 or
  대하여 do not count as wheat, crab or shrimp.
- Meal caps (API.md): low_sodium diet or hypertension -> sodium_mg <= 600 a meal; low_sugar
  diet or diabetes -> carbs_g <= 60 a meal. Ours besides: low_fat -> fat_g <= 20; high_protein
  -> protein_g >= 20 for breakfast, lunch and dinner; a liquid diet takes liquid dishes only, a
  soft diet soft or liquid ones.
- Energy: kcal within 10 % of 4/4/9 kcal per g of protein/carbohydrate/fat.
- Medical text: drug names (a list of common ones plus the patient's own), dose patterns (mg,
  정, 회/일, ...) and prescribing words. `mg/dL` of a blood-sugar reading is not a dose.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from models.vocabularies import Allergen, Condition, DietType

#: Allergen -> the words of the allergen and of the foods made from it (Korean and English).
DERIVED_INGREDIENTS: dict[Allergen, tuple[str, ...]] = {
    Allergen.SOY: (
        "대두", "콩", "검은콩", "검정콩", "서리태", "백태", "메주", "두부", "연두부", "순두부",
        "유부", "두유", "콩물", "콩국", "콩가루", "콩기름", "콩나물", "콩자반", "비지", "간장",
        "된장", "고추장", "쌈장", "청국장", "춘장", "낫토", "풋콩", "두반장",
        "미소된장", "soy", "tofu", "edamame", "miso", "natto", "tempeh",
    ),
    Allergen.EGG: (
        "계란", "달걀", "메추리알", "알찜", "난백", "난황", "노른자", "흰자", "지단", "마요네즈",
        "에그", "카스텔라", "egg", "mayonnaise",
    ),
    Allergen.BUCKWHEAT: ("메밀", "막국수", "냉면", "buckwheat", "soba"),
    Allergen.WHEAT: (
        "밀", "밀가루", "통밀", "소맥", "밀떡", "국수", "소면", "중면", "칼국수", "수제비",
        "라면", "우동", "짜장면", "짬뽕", "파스타", "스파게티", "마카로니", "빵", "식빵",
        "빵가루", "부침가루", "튀김가루", "만두", "전병", "크래커", "비스킷", "쿠키", "케이크",
        "카스텔라", "시리얼", "간장", "고추장", "된장", "쌈장", "춘장", "wheat", "flour",
        "bread", "noodle", "pasta", "udon", "cracker", "biscuit", "cookie",
    ),
    Allergen.PEANUT: ("땅콩", "피넛", "peanut"),
    Allergen.MILK: (
        "우유", "유제품", "치즈", "버터", "크림", "생크림", "요구르트", "요거트", "분유", "연유",
        "유청", "카제인", "아이스크림", "라떼", "밀크", "milk", "cheese", "butter", "cream",
        "yogurt", "yoghurt", "whey", "casein", "latte",
    ),
    Allergen.TOMATO: ("토마토", "케첩", "케찹", "tomato", "ketchup"),
    Allergen.SHRIMP: (
        "새우", "대하", "크릴", "젓갈", "김치", "깍두기", "shrimp", "prawn", "krill",
    ),
    Allergen.CRAB: ("게", "꽃게", "대게", "홍게", "킹크랩", "게살", "게장", "맛살", "크랩", "crab"),
    Allergen.PEACH: ("복숭아", "황도", "백도", "천도", "넥타린", "peach", "nectarine"),
}  # fmt: skip

#: Words that are also everyday words inside longer ones (대하여, 밀폐, 부드럽게): these match
#: only as a whole word, optionally with a particle. Every other term matches anywhere.
WORD_ONLY = frozenset({"콩", "밀", "게", "빵", "대하", "천도", "백도", "황도", "비지", "백태"})
#: Korean particles a one-syllable food word may carry and still be that word ("콩을", "게와").
_PARTICLES = ("", "을", "를", "이", "가", "은", "는", "과", "와", "도", "로", "으로", "만", "의")
_WORD = re.compile(r"[0-9A-Za-z가-힣]+")

SODIUM_CAP_MG = 600.0
CARB_CAP_G = 60.0
LOW_FAT_CAP_G = 20.0
HIGH_PROTEIN_MIN_G = 20.0
MAIN_MEALS = frozenset({"breakfast", "lunch", "dinner"})
ENERGY_TOLERANCE = 0.10
#: Plausible ranges of one serving, beyond which a figure is a mistake, not a meal.
MAX_KCAL = 1500.0
MAX_SODIUM_MG = 4000.0

#: Texture each diet accepts.
DIET_TEXTURES: dict[str, frozenset[str]] = {
    str(DietType.LIQUID): frozenset({"liquid"}),
    str(DietType.SOFT): frozenset({"soft", "liquid"}),
}
ALL_TEXTURES = frozenset({"liquid", "soft", "regular"})


# -- allergens -------------------------------------------------------------------------------


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def allergen_terms(text: str, allergens: Iterable[str]) -> list[tuple[Allergen, str]]:
    """(allergen, matched word) for each of `allergens` that `text` names or is made from."""
    lowered = text.lower()
    words = _words(text)
    found: list[tuple[Allergen, str]] = []
    for code in allergens:
        allergen = Allergen(code)
        for term in DERIVED_INGREDIENTS[allergen]:
            if term in WORD_ONLY:
                hit = any(term + particle in words for particle in _PARTICLES)
            else:
                hit = term in lowered
            if hit:
                found.append((allergen, term))
                break
    return found


def allergen_problems(field: str, texts: Iterable[str], allergens: Sequence[str]) -> list[str]:
    problems = []
    for text in texts:
        for allergen, term in allergen_terms(text, allergens):
            problems.append(
                f"{field} '{text[:60]}' contains {allergen.value} ({allergen.label}) as '{term}'"
            )
    return problems


# -- meals -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MealLimits:
    sodium_mg: float | None = None
    carbs_g: float | None = None
    fat_g: float | None = None
    min_protein_g: float | None = None
    textures: frozenset[str] = ALL_TEXTURES

    def describe(self) -> str:
        """The limits in Korean, for the prompt."""
        parts = []
        if self.sodium_mg is not None:
            parts.append(f"나트륨 한 끼 {self.sodium_mg:g}mg 이하")
        if self.carbs_g is not None:
            parts.append(f"탄수화물 한 끼 {self.carbs_g:g}g 이하")
        if self.fat_g is not None:
            parts.append(f"지방 한 끼 {self.fat_g:g}g 이하")
        if self.min_protein_g is not None:
            parts.append(f"아침·점심·저녁 단백질 {self.min_protein_g:g}g 이상")
        if self.textures != ALL_TEXTURES:
            parts.append("질감: " + ", ".join(sorted(self.textures)) + "만")
        return ", ".join(parts) or "일반 성인 기준의 균형 잡힌 식단"


def meal_limits(diet_type: str, conditions: Iterable[str]) -> MealLimits:
    """The caps a patient's meals must keep (API.md's, and ours for the other diets)."""
    codes = set(conditions)
    sodium = diet_type == DietType.LOW_SODIUM or str(Condition.HYPERTENSION) in codes
    carbs = diet_type == DietType.LOW_SUGAR or str(Condition.DIABETES) in codes
    return MealLimits(
        sodium_mg=SODIUM_CAP_MG if sodium else None,
        carbs_g=CARB_CAP_G if carbs else None,
        fat_g=LOW_FAT_CAP_G if diet_type == DietType.LOW_FAT else None,
        min_protein_g=HIGH_PROTEIN_MIN_G if diet_type == DietType.HIGH_PROTEIN else None,
        textures=DIET_TEXTURES.get(diet_type, ALL_TEXTURES),
    )


def energy_problem(nutrition: Mapping[str, float]) -> str | None:
    """kcal against 4/4/9 kcal per g of protein/carbs/fat, within 10 %."""
    expected = 4 * nutrition["protein_g"] + 4 * nutrition["carbs_g"] + 9 * nutrition["fat_g"]
    kcal = nutrition["kcal"]
    if abs(kcal - expected) > ENERGY_TOLERANCE * max(expected, 1.0):
        return f"kcal {kcal:g} does not match the macros (4/4/9 kcal per g gives {expected:.0f})"
    return None


def meal_problems(
    meal: Mapping[str, object],
    *,
    meal_type: str,
    allergens: Sequence[str],
    limits: MealLimits,
    medication_names: Sequence[str] = (),
) -> list[str]:
    """Every rule one meal breaks. `meal` has menu_name, ingredients, nutrition, cooking_tips
    and texture (the AI answer's shape, and the template catalogue's)."""
    label = f"{meal_type} '{meal['menu_name']}'"
    nutrition: Mapping[str, float] = meal["nutrition"]  # type: ignore[assignment]
    ingredients: list[str] = list(meal["ingredients"])  # type: ignore[call-overload]
    problems: list[str] = []
    if not ingredients:
        problems.append(f"{label}: lists no ingredients")
    problems += allergen_problems(f"{label}: ingredient", ingredients, allergens)
    problems += allergen_problems(f"{label}: menu name", [str(meal["menu_name"])], allergens)
    tips = str(meal.get("cooking_tips") or "")
    problems += allergen_problems(f"{label}: cooking tips", [tips], allergens)
    for name, value in nutrition.items():
        if value < 0:
            problems.append(f"{label}: {name} is negative")
    if nutrition["kcal"] > MAX_KCAL or nutrition["sodium_mg"] > MAX_SODIUM_MG:
        problems.append(f"{label}: kcal or sodium is implausibly high for one serving")
    if limits.sodium_mg is not None and nutrition["sodium_mg"] > limits.sodium_mg:
        problems.append(
            f"{label}: sodium {nutrition['sodium_mg']:g} mg is over {limits.sodium_mg:g} mg"
        )
    if limits.carbs_g is not None and nutrition["carbs_g"] > limits.carbs_g:
        problems.append(f"{label}: carbs {nutrition['carbs_g']:g} g is over {limits.carbs_g:g} g")
    if limits.fat_g is not None and nutrition["fat_g"] > limits.fat_g:
        problems.append(f"{label}: fat {nutrition['fat_g']:g} g is over {limits.fat_g:g} g")
    if (
        limits.min_protein_g is not None
        and meal_type in MAIN_MEALS
        and nutrition["protein_g"] < limits.min_protein_g
    ):
        problems.append(
            f"{label}: protein {nutrition['protein_g']:g} g is under {limits.min_protein_g:g} g"
        )
    if meal.get("texture") not in limits.textures:
        problems.append(
            f"{label}: texture {meal.get('texture')} does not suit the diet"
            f" ({', '.join(sorted(limits.textures))})"
        )
    energy = energy_problem(nutrition)
    if energy:
        problems.append(f"{label}: {energy}")
    for text in (str(meal["menu_name"]), tips, *ingredients):
        problems += [f"{label}: {p}" for p in medical_text_problems(text, medication_names)]
    return problems


# -- medical text ----------------------------------------------------------------------------

#: Common drugs and drug classes (Korean and English): AI text must never name one.
MEDICATION_NAMES = (
    "아스피린", "타이레놀", "아세트아미노펜", "이부프로펜", "부루펜", "메트포르민", "인슐린",
    "와파린", "암로디핀", "아토르바스타틴", "로수바스타틴", "스타틴", "도네페질", "아리셉트",
    "리바스티그민", "메만틴", "레보도파", "글리메피리드", "디곡신", "항생제", "스테로이드",
    "수면제", "진통제", "해열제", "소염제", "항우울제", "신경안정제", "혈압약", "당뇨약",
    "aspirin", "tylenol", "acetaminophen", "paracetamol", "ibuprofen", "metformin", "insulin",
    "warfarin", "amlodipine", "atorvastatin", "statin", "donepezil", "levodopa", "memantine",
)  # fmt: skip
_DOSE_PATTERNS = (
    # 500mg, 0.5 ㎎, 10 mcg ... but not a reading in mg/dL.
    re.compile(
        r"\d+(?:\.\d+)?\s*(?:mg|㎎|mcg|㎍|μg|µg|밀리그램|마이크로그램|iu)(?!\s*/\s*d\s*l)",
        re.IGNORECASE,
    ),
    # 1정, 2정씩, 반 정 ... (not 1정도 "about one").
    re.compile(r"(?:\d+|반|한|두|세)\s*정(?:씩|을|를|만|$|[^가-힣])"),
    re.compile(r"\d+\s*(?:캡슐|앰플|알씩)"),
    re.compile(r"\d+\s*회\s*/\s*일"),
    re.compile(r"(?:1일|하루)\s*\d+\s*(?:회|번)\s*(?:복용|투여|투약|먹)"),
    re.compile(r"복용량|투여량|투약량|용량을|증량|처방전|처방약|처방을|처방대로|진단명|진단을"),
)


def medical_text_problems(text: str, medication_names: Sequence[str] = ()) -> list[str]:
    """Drug names, doses and prescribing words in free text."""
    if not text:
        return []
    lowered = text.lower()
    problems = []
    own = [name.strip().lower() for name in medication_names if len(name.strip()) >= 2]
    if any(name in lowered for name in own):
        problems.append("mentions one of the patient's medicines")
    named = [name for name in MEDICATION_NAMES if name in lowered]
    if named:
        problems.append(f"names a medicine ('{named[0]}')")
    for pattern in _DOSE_PATTERNS:
        match = pattern.search(text)
        if match:
            problems.append(f"contains dose or prescription text ('{match.group(0).strip()}')")
            break
    return problems


# -- text ------------------------------------------------------------------------------------

_HANGUL = re.compile(r"[가-힣]")
_LATIN = re.compile(r"[A-Za-z]")
_UNITS = re.compile(r"(?i)(?<![a-z])(?:mg/dl|mmhg|kcal|bpm|mg|ml|kg|cm|g)(?![a-z])")


def korean_problem(field: str, text: str, *, min_ratio: float = 0.7) -> str | None:
    """Text meant for Korean families must be mostly Hangul (units like mg/dL aside)."""
    hangul = len(_HANGUL.findall(text))
    latin = len(_LATIN.findall(_UNITS.sub("", text)))
    if hangul == 0 or hangul / (hangul + latin) < min_ratio:
        return f"{field} is not written in Korean"
    return None


def length_problem(field: str, text: str, low: int, high: int) -> str | None:
    if not low <= len(text.strip()) <= high:
        return f"{field} must be {low}..{high} characters (it has {len(text.strip())})"
    return None
