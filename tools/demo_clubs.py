"""The demo province: the clubs of Lào Cai's 2018 plan, with generated members.

11 clubs founded in 2017 (Bảo Thắng, Bát Xát, Mường Khương, Sa Pa, Lào Cai city) and 5 in 2018
(Văn Bàn, Bảo Yên ×2, Bắc Hà, Si Ma Cai), their pre-2025 addresses kept as history and resolved
to today's units by the API. Members are generated deterministically so that most clubs meet
the Lào Cai 2018 profile and three visibly do not (too few women, too few members, too few
older people).
"""

import math
import random
from dataclasses import dataclass
from datetime import date

PROFILE = "lao-cai-2018"


@dataclass(frozen=True)
class DemoClub:
    code: str
    village: str
    legacy_address: str
    founded: date
    flaw: str | None = None


def _club(
    code: str, village: str, commune: str, district: str, founded: date, flaw: str | None = None
) -> DemoClub:
    return DemoClub(code, village, f"{commune}, {district}, Tỉnh Lào Cai", founded, flaw)


Y2017, Y2018 = date(2017, 6, 15), date(2018, 5, 20)
CLUBS = [
    _club("LC-BT-01", "Thôn Phong Niên", "Xã Phong Niên", "Huyện Bảo Thắng", Y2017),
    _club("LC-BT-02", "Tổ dân phố 3", "Thị trấn Phố Lu", "Huyện Bảo Thắng", Y2017),
    _club("LC-BT-03", "Thôn Bản Phiệt", "Xã Bản Phiệt", "Huyện Bảo Thắng", Y2017, "women"),
    _club("LC-BX-01", "Tổ dân phố 2", "Thị trấn Bát Xát", "Huyện Bát Xát", Y2017),
    _club("LC-BX-02", "Thôn Quang Kim", "Xã Quang Kim", "Huyện Bát Xát", Y2017),
    _club("LC-MK-01", "Tổ dân phố Na Pên", "Thị trấn Mường Khương", "Huyện Mường Khương", Y2017),
    _club("LC-MK-02", "Thôn Pha Long", "Xã Pha Long", "Huyện Mường Khương", Y2017, "size"),
    _club("LC-SP-01", "Tổ dân phố 5", "Thị trấn Sa Pa", "Huyện Sa Pa", Y2017),
    _club("LC-SP-02", "Thôn Lao Chải", "Xã Lao Chải", "Huyện Sa Pa", Y2017),
    _club("LC-TP-01", "Tổ dân phố 12", "Phường Cốc Lếu", "Thành phố Lào Cai", Y2017),
    _club("LC-TP-02", "Tổ dân phố 7", "Phường Kim Tân", "Thành phố Lào Cai", Y2017),
    _club("LC-VB-01", "Tổ dân phố 4", "Thị trấn Khánh Yên", "Huyện Văn Bàn", Y2018),
    _club("LC-BY-01", "Tổ dân phố 1", "Thị trấn Phố Ràng", "Huyện Bảo Yên", Y2018),
    _club("LC-BY-02", "Thôn Nà Đình", "Xã Nghĩa Đô", "Huyện Bảo Yên", Y2018, "older"),
    _club("LC-BH-01", "Tổ dân phố Bắc Hà", "Thị trấn Bắc Hà", "Huyện Bắc Hà", Y2018),
    _club("LC-SMC-01", "Thôn Sín Chải", "Thị trấn Si Ma Cai", "Huyện Si Ma Cai", Y2018),
]

FAMILY_NAMES = [
    "Nguyễn",
    "Trần",
    "Lê",
    "Phạm",
    "Hoàng",
    "Vũ",
    "Đặng",
    "Bùi",
    "Đỗ",
    "Lý",
    "Giàng",
    "Sùng",
    "Vàng",
    "Thào",
    "Lò",
    "Nông",
    "La",
    "Ma",
]
WOMEN_NAMES = [
    "Hoa",
    "Lan",
    "Mai",
    "Hương",
    "Thu",
    "Hằng",
    "Nga",
    "Dung",
    "Tâm",
    "Xuân",
    "Chi",
    "Sinh",
    "Mỷ",
    "Pà",
    "Dợ",
    "Vân",
    "Yến",
    "Thảo",
    "Liên",
    "Phượng",
]
MEN_NAMES = [
    "Hùng",
    "Minh",
    "Sơn",
    "Tuấn",
    "Dũng",
    "Chiến",
    "Páo",
    "Seo",
    "Chứ",
    "Lử",
    "Thắng",
    "Bình",
    "Quang",
    "Hải",
    "Long",
    "Phong",
    "Trung",
    "Cường",
]
BOARD = ["chair", "vice_chair", "accountant", "treasurer", "group_leader"]


def _exact(rng: random.Random, count: int, share: float) -> set[int]:
    """Which of `count` rows get a trait, so that exactly round-up(share × count) do."""
    return set(rng.sample(range(count), math.ceil(share * count)))


def members(club: DemoClub) -> list[dict[str, str]]:
    """The club's member list, as its board would keep it (one dict per row).

    Shares are exact rather than drawn, so a club complies or fails by design, not by chance.
    """
    rng = random.Random(club.code)
    count = 44 if club.flaw == "size" else rng.randint(52, 66)
    women = _exact(rng, count, 0.52 if club.flaw == "women" else 0.65)
    older = _exact(rng, count, 0.58 if club.flaw == "older" else 0.75)
    priority = _exact(rng, count, 0.68)
    rows = []
    for index in range(count):
        gender = "female" if index in women else "male"
        born = date(
            rng.randint(1938, 1966) if index in older else rng.randint(1972, 1998),
            rng.randint(1, 12),
            rng.randint(1, 28),
        )
        household = (
            rng.choice(["poor", "near_poor", "disadvantaged"]) if index in priority else "none"
        )
        given = rng.choice(WOMEN_NAMES if gender == "female" else MEN_NAMES)
        middle = "Thị" if gender == "female" else "Văn"
        century = (born.year // 100 - 19) * 2 + (1 if gender == "female" else 0)
        rows.append(
            {
                "full_name": f"{rng.choice(FAMILY_NAMES)} {middle} {given}",
                "gender": gender,
                "date_of_birth": born.isoformat(),
                "household_status": household,
                "national_id": f"010{century}{born.year % 100:02d}{rng.randrange(10**6):06d}",
                "phone": f"09{rng.randrange(10**8):08d}" if rng.random() < 0.7 else "",
                "joined_on": club.founded.isoformat(),
                "board_role": BOARD[index] if index < len(BOARD) else "",
                "home_care_volunteer": "x" if 5 <= index < 12 else "",
                "income_generation_volunteer": "x" if 12 <= index < 16 else "",
                # The paper consent form signed on joining; a few do not tick bank matching.
                "consent_form": f"{index + 1:02d}/{club.founded.year}",
                "consent_date": club.founded.isoformat(),
                "consent_bank_matching": "x" if rng.random() < 0.9 else "",
                "consent_funder_figures": "x",
            }
        )
    return rows
