"""The curated Korean menu the meal-plan template picks from.

Every dish lists all its ingredients and seasonings (so the allergen check can see them), a
per-serving estimate of its macros and sodium, and a texture (liquid 유동식, soft 연식, regular
일반식). kcal is computed from the macros (4/4/9 kcal per g), so it always passes the energy
check. The catalogue is built so that, for every allergen and every diet in the vocabulary (and
all allergens at once, with diabetes and hypertension on top), each meal type still has a dish
that passes every check: rice gruels (미음) and porridges (죽) with no allergen at all carry the
hardest cases. tests/unit/test_ai_templates.py proves it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

B, L, D, S = "breakfast", "lunch", "dinner", "snack"
MAIN = frozenset({B, L, D})
ANY = frozenset({B, L, D, S})


@dataclass(frozen=True)
class Dish:
    name: str
    meal_types: frozenset[str]
    texture: str
    ingredients: tuple[str, ...]
    protein_g: float
    carbs_g: float
    fat_g: float
    sodium_mg: float
    tips: str

    @property
    def kcal(self) -> float:
        return float(round(4 * self.protein_g + 4 * self.carbs_g + 9 * self.fat_g))

    def as_meal(self) -> dict[str, Any]:
        """The dish in the shape meals are checked and stored in."""
        return {
            "menu_name": self.name,
            "ingredients": list(self.ingredients),
            "nutrition": {
                "kcal": self.kcal,
                "protein_g": self.protein_g,
                "carbs_g": self.carbs_g,
                "fat_g": self.fat_g,
                "sodium_mg": self.sodium_mg,
            },
            "cooking_tips": self.tips,
            "texture": self.texture,
        }


def _dish(
    name: str,
    meal_types: frozenset[str] | set[str],
    texture: str,
    ingredients: tuple[str, ...],
    macros: tuple[float, float, float, float],
    tips: str,
) -> Dish:
    protein, carbs, fat, sodium = macros
    return Dish(
        name, frozenset(meal_types), texture, ingredients, protein, carbs, fat, sodium, tips
    )


# (protein g, carbs g, fat g, sodium mg) per serving.
CATALOGUE: tuple[Dish, ...] = (
    # -- liquid (유동식) ---------------------------------------------------------------------
    _dish("쌀미음", ANY, "liquid", ("쌀", "물", "소금"), (3, 30, 0.5, 150),
          "쌀을 충분히 불린 뒤 곱게 갈아 약한 불에서 저어 가며 끓입니다."),
    _dish("단호박 미음", ANY, "liquid", ("단호박", "쌀", "물", "소금"), (3, 32, 0.6, 120),
          "단호박을 쪄서 곱게 으깬 뒤 쌀미음에 풀어 줍니다."),
    _dish("소고기 채소 미음", MAIN, "liquid", ("소고기", "쌀", "당근", "애호박", "물", "소금"),
          (12, 32, 4, 280), "고기와 채소를 푹 익힌 뒤 곱게 갈아 체에 거릅니다."),
    _dish("닭고기 미음", MAIN, "liquid", ("닭가슴살", "쌀", "양파", "물", "소금"),
          (13, 31, 2.5, 260), "닭가슴살을 삶아 곱게 갈고 국물과 함께 끓입니다."),
    _dish("잣미음", {B, S}, "liquid", ("잣", "쌀", "물", "소금"), (4, 28, 9, 140),
          "잣과 불린 쌀을 함께 곱게 갈아 끓이면 고소합니다."),
    _dish("흑임자 미음", {B, S}, "liquid", ("검은깨", "쌀", "물", "소금"), (4, 27, 7, 130),
          "검은깨를 볶아 곱게 갈아 넣습니다."),
    _dish("두유 한 잔", {S}, "liquid", ("두유",), (6, 8, 4, 100), "차갑지 않게 데워 드립니다."),
    _dish("따뜻한 우유 한 잔", {S}, "liquid", ("우유",), (6, 9, 7, 100),
          "미지근하게 데워 천천히 드시게 합니다."),
    _dish("사과 주스", {S}, "liquid", ("사과", "물"), (0.3, 24, 0.2, 5),
          "껍질을 벗긴 사과를 물과 함께 갈아 바로 드립니다."),
    _dish("복숭아 주스", {S}, "liquid", ("복숭아", "물"), (1, 22, 0.2, 5),
          "잘 익은 과육만 갈아 드립니다."),
    _dish("토마토 주스", {S}, "liquid", ("토마토", "물"), (2, 9, 0.3, 20),
          "토마토를 살짝 데쳐 껍질을 벗기고 갈아 드립니다."),
    _dish("배숙", {S}, "liquid", ("배", "생강", "대추", "물"), (0.5, 22, 0.2, 5),
          "배와 대추를 생강과 함께 은근히 달여 따뜻하게 드립니다."),
    _dish("감자 크림 수프", {L, D, S}, "liquid", ("감자", "양파", "우유", "버터", "소금"),
          (6, 25, 8, 350), "재료를 푹 익혀 곱게 갈아 덩어리 없이 만듭니다."),
    # -- soft (연식) -------------------------------------------------------------------------
    _dish("흰죽과 계란찜", MAIN, "soft", ("쌀", "계란", "대파", "소금", "물"), (12, 45, 6, 420),
          "계란찜은 약한 불에서 천천히 익혀 부드럽게 만듭니다."),
    _dish("전복죽", MAIN, "soft", ("전복", "쌀", "참기름", "소금"), (11, 46, 5, 430),
          "전복을 잘게 다져 쌀과 함께 충분히 퍼지게 끓입니다."),
    _dish("소고기 채소죽", MAIN, "soft",
          ("소고기", "쌀", "당근", "애호박", "양파", "참기름", "소금"), (15, 48, 7, 460),
          "고기와 채소는 작게 다져 넣고 쌀알이 퍼질 때까지 끓입니다."),
    _dish("닭죽", MAIN, "soft", ("닭고기", "쌀", "마늘", "대파", "소금"), (18, 48, 5, 480),
          "닭고기는 결대로 잘게 찢어 넣습니다."),
    _dish("호박죽", {B, S}, "soft", ("단호박", "찹쌀", "소금"), (3, 38, 0.8, 150),
          "단호박을 푹 쪄서 으깬 뒤 찹쌀가루 대신 불린 찹쌀을 갈아 넣습니다."),
    _dish("연두부와 흰죽", MAIN, "soft", ("연두부", "간장", "쌀", "참기름"), (10, 42, 6, 500),
          "연두부는 숟가락으로 떠서 따뜻하게 데워 드립니다."),
    _dish("대구살 죽", MAIN, "soft", ("대구살", "쌀", "무", "대파", "소금"), (16, 44, 2, 450),
          "가시를 꼼꼼히 발라낸 살만 넣습니다."),
    _dish("흰살생선찜과 진밥", {L, D}, "soft",
          ("대구", "쌀", "무", "대파", "소금", "참기름"), (22, 50, 5, 520),
          "생선은 가시를 바르고 진밥은 물을 넉넉히 잡아 짓습니다."),
    _dish("순두부 달걀국과 진밥", {L, D}, "soft", ("순두부", "계란", "대파", "소금", "쌀"),
          (16, 48, 8, 580), "국은 미지근하게 식혀 드립니다."),
    _dish("새우살 죽", MAIN, "soft", ("새우", "쌀", "애호박", "참기름", "소금"), (14, 45, 5, 470),
          "새우살은 잘게 다져 넣습니다."),
    _dish("게살 죽", MAIN, "soft", ("게살", "쌀", "당근", "참기름", "소금"), (13, 45, 4, 520),
          "껍데기 조각이 없는지 확인합니다."),
    _dish("바나나", {S}, "soft", ("바나나",), (1.3, 27, 0.4, 1), "잘 익은 것으로 한 개 드립니다."),
    _dish("으깬 감자", {S}, "soft", ("감자", "올리브유", "소금"), (3, 28, 4, 150),
          "감자를 푹 쪄서 곱게 으깹니다."),
    _dish("사과 퓨레", {S}, "soft", ("사과", "물"), (0.3, 25, 0.2, 2),
          "사과를 약한 불에 익혀 곱게 으깹니다."),
    _dish("떠먹는 요구르트", {S}, "soft", ("요구르트",), (4, 12, 3, 50),
          "당이 적은 제품을 고릅니다."),
    _dish("단호박찜", {S}, "soft", ("단호박",), (2, 20, 0.3, 2), "껍질을 벗겨 한입 크기로 찝니다."),
    _dish("고구마 으깬 것", {S}, "soft", ("고구마",), (2, 33, 0.2, 30),
          "쪄서 곱게 으깨고 목이 메지 않게 물을 곁들입니다."),
    # -- regular (일반식) --------------------------------------------------------------------
    _dish("현미밥과 소고기 무국", MAIN, "regular",
          ("현미", "쌀", "소고기", "무", "대파", "마늘", "소금", "참기름"), (24, 56, 9, 560),
          "국은 소금을 조금만 넣고 무의 단맛으로 맛을 냅니다."),
    _dish("소고기 미역국과 잡곡밥", MAIN, "regular",
          ("소고기", "미역", "참기름", "마늘", "소금", "쌀", "보리"), (21, 57, 9, 590),
          "미역은 충분히 불려 잘게 썰어 넣습니다."),
    _dish("누룽지와 북엇국", MAIN, "regular",
          ("누룽지", "북어", "무", "대파", "소금", "참기름"), (20, 45, 5, 580),
          "누룽지는 충분히 끓여 부드럽게 드립니다."),
    _dish("곤드레 나물밥", MAIN, "regular", ("곤드레", "쌀", "들기름", "소금"), (6, 58, 6, 300),
          "양념장 대신 들기름과 소금 약간으로 비벼 드립니다."),
    _dish("잡곡밥과 고등어구이", {L, D}, "regular",
          ("잡곡", "쌀", "고등어", "애호박", "소금", "올리브유"), (27, 55, 15, 580),
          "고등어는 가시를 바르고 애호박은 부드럽게 볶습니다."),
    _dish("닭백숙", {L, D}, "regular", ("닭고기", "찹쌀", "마늘", "대추", "대파", "소금"),
          (33, 45, 10, 520), "껍질과 기름을 걷어 내고 살을 잘게 찢어 드립니다."),
    _dish("연어구이와 현미밥", {L, D}, "regular", ("연어", "현미", "브로콜리", "올리브유", "소금"),
          (28, 50, 14, 380), "브로콜리는 부드럽게 데쳐 곁들입니다."),
    _dish("삼치구이와 시금치나물 정식", {L, D}, "regular",
          ("삼치", "쌀", "시금치", "참기름", "마늘", "소금"), (26, 52, 12, 520),
          "나물은 짧게 데쳐 소금을 조금만 씁니다."),
    _dish("돼지고기 수육과 쌈채소", {L, D}, "regular",
          ("돼지고기", "상추", "깻잎", "마늘", "쌀"), (30, 48, 18, 420),
          "수육은 얇게 썰어 씹기 편하게 드립니다."),
    _dish("닭가슴살 채소 샐러드와 고구마", {L, D}, "regular",
          ("닭가슴살", "양상추", "오이", "고구마", "올리브유", "레몬즙", "소금"),
          (27, 35, 10, 350), "드레싱은 먹기 직전에 조금만 뿌립니다."),
    _dish("된장찌개와 보리밥", {L, D}, "regular",
          ("된장", "두부", "애호박", "감자", "양파", "보리", "쌀"), (18, 62, 8, 1150),
          "찌개 국물은 적게 떠 드립니다."),
    _dish("비빔밥", {L}, "regular",
          ("쌀", "고추장", "계란", "시금치", "콩나물", "당근", "소고기", "참기름"),
          (22, 82, 14, 980), "나물은 부드럽게 데쳐 잘게 썹니다."),
    _dish("잔치국수", {L, D}, "regular", ("소면", "계란", "애호박", "멸치", "간장"),
          (15, 75, 6, 1250), "면은 짧게 잘라 드립니다."),
    _dish("불고기 정식", {L, D}, "regular",
          ("소고기", "간장", "배", "양파", "마늘", "참기름", "쌀"), (28, 70, 14, 850),
          "고기는 얇게 썰어 부드럽게 익힙니다."),
    _dish("두부조림 정식", {L, D}, "regular", ("두부", "간장", "쌀", "대파"), (17, 60, 9, 700),
          "양념이 배도록 약한 불에서 졸입니다."),
    _dish("새우볶음밥", {L}, "regular", ("새우", "쌀", "계란", "당근", "올리브유", "소금"),
          (20, 65, 12, 700), "재료를 잘게 다져 볶습니다."),
    _dish("꽃게탕과 밥", {D}, "regular", ("꽃게", "무", "된장", "쌀"), (22, 55, 4, 1100),
          "살을 발라 드리고 국물은 적게 드립니다."),
    _dish("토마토 달걀볶음과 밥", {B, L}, "regular",
          ("토마토", "계란", "쌀", "올리브유", "소금"), (15, 58, 13, 450),
          "토마토는 껍질을 벗겨 부드럽게 익힙니다."),
    _dish("메밀국수", {L}, "regular", ("메밀국수", "간장", "무", "김"), (14, 70, 3, 1000),
          "면은 짧게 잘라 드립니다."),
    _dish("토스트와 우유", {B}, "regular", ("식빵", "버터", "우유", "계란"), (18, 45, 20, 520),
          "빵은 가장자리를 잘라 부드러운 부분만 드립니다."),
    _dish("고구마와 우유", {B, S}, "regular", ("고구마", "우유"), (9, 42, 7, 110),
          "고구마는 쪄서 껍질을 벗겨 드립니다."),
    _dish("사과와 호두", {S}, "regular", ("사과", "호두"), (3, 22, 9, 2),
          "호두는 잘게 부숴 드립니다."),
    _dish("찐 고구마", {S}, "regular", ("고구마",), (2, 33, 0.2, 30),
          "물이나 보리차를 곁들입니다."),
    _dish("삶은 달걀", {S}, "regular", ("계란", "소금"), (13, 1, 10, 200),
          "완숙으로 삶아 작게 잘라 드립니다."),
    _dish("방울토마토", {S}, "regular", ("방울토마토",), (1, 6, 0.3, 8), "반으로 잘라 드립니다."),
    _dish("복숭아", {S}, "regular", ("복숭아",), (1, 15, 0.3, 1),
          "껍질을 벗겨 한입 크기로 자릅니다."),
    _dish("땅콩 한 줌", {S}, "regular", ("땅콩",), (7, 5, 14, 5),
          "목에 걸리지 않게 잘게 부숩니다."),
    _dish("백설기", {S}, "regular", ("쌀가루", "설탕", "물"), (3, 45, 0.5, 100),
          "작게 잘라 물과 함께 드립니다."),
    _dish("감자 샐러드", {S}, "regular", ("감자", "마요네즈", "오이", "당근"), (3, 25, 10, 250),
          "감자는 충분히 익혀 으깹니다."),
    _dish("귤", {S}, "regular", ("귤",), (0.7, 11, 0.1, 1), "속껍질이 질기면 벗겨 드립니다."),
    _dish("치즈와 크래커", {S}, "regular", ("치즈", "크래커"), (7, 15, 9, 330),
          "크래커는 작게 나누어 드립니다."),
)  # fmt: skip

#: The dish of last resort: rice gruel has none of the allergens and suits every diet's caps.
LAST_RESORT = CATALOGUE[0]


def preferred_texture(textures: frozenset[str]) -> str:
    """The texture a diet is served first: liquid for liquid, soft for soft, else regular."""
    for texture in ("liquid", "soft"):
        if textures == frozenset({texture}) or (texture == "soft" and "regular" not in textures):
            return texture
    return "regular"


def pick(candidates: list[Dish], *, day: str, meal_type: str, preferred: str) -> Dish:
    """One of `candidates`, varying with the day; dishes of the preferred texture first."""
    pool = [d for d in candidates if d.texture == preferred] or candidates
    digest = hashlib.sha256(f"{day}|{meal_type}".encode()).digest()
    return pool[int.from_bytes(digest[:4], "big") % len(pool)]
