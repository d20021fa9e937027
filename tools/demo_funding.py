"""Demo funding: the funders and the Lào Cai 2018 plan of domain.md, its money received, and
each demo club's seed capital allocated to its income-generation fund.

Through the public API like the rest of the demo data; idempotent (what exists is reused).
"""

import time
from datetime import date
from typing import Any

import httpx

MILLION = 1_000_000
LAO_CAI = "15"
PROVINCIAL_BUDGET = "Ngân sách tỉnh Lào Cai"
ELDERLY_CARE_FUND = "Quỹ Chăm sóc và phát huy vai trò người cao tuổi tỉnh Lào Cai"
ENTERPRISE = "Công ty Cổ phần Apatit Việt Nam (xã hội hóa)"
FUNDERS: list[dict[str, Any]] = [
    {"name": PROVINCIAL_BUDGET, "funder_type": "provincial_budget", "province_code": LAO_CAI},
    {"name": ELDERLY_CARE_FUND, "funder_type": "elderly_care_fund", "province_code": LAO_CAI},
    {"name": ENTERPRISE, "funder_type": "enterprise", "province_code": LAO_CAI},
    {"name": "HelpAge International in Vietnam", "funder_type": "ngo", "country": "Vietnam"},
]
SEED_FROM_ELDERLY_CARE_FUND = 20 * MILLION
SEED_FROM_SOCIALISATION = 5 * MILLION


def lao_cai_2018_plan(programme_code: str = "1533") -> dict[str, Any]:
    """Lào Cai's 2018 plan as domain.md gives it (million đồng): 529.3 in all, = 129.3
    provincial budget + 320 Elderly Care Fund + 80 socialisation."""

    def line(activity: str, content: str, **amounts: float) -> dict[str, Any]:
        return {
            "activity": activity,
            "content": content,
            "amounts": {source: round(value * MILLION) for source, value in amounts.items()},
        }

    return {
        "province_code": LAO_CAI,
        "programme_code": programme_code,
        "start_year": 2018,
        "title": "Kế hoạch nhân rộng mô hình CLB liên thế hệ tự giúp nhau tỉnh Lào Cai năm 2018",
        "targets": {
            "clubs_to_found": 16,
            "members": 2000,
            "older_members": 700,
        },
        "lines": [
            line("training", "Tập huấn thành lập và quản lý CLB", provincial_budget=50.7),
            line("club_establishment", "Ra mắt 5 CLB", provincial_budget=18),
            line(
                "seed_capital",
                "Hỗ trợ vốn ban đầu cho 16 CLB",
                elderly_care_fund=320,
                socialisation=80,
            ),
            line("monitoring", "Giám sát, hỗ trợ kỹ thuật", provincial_budget=17.6),
            line("review_conference", "Hội nghị sơ kết, tổng kết", provincial_budget=43),
        ],
        "total": round(529.3 * MILLION),
    }


OLD_LAO_CAI = "10"
"""Lào Cai as it was before the 2025 merger (its code of then): the territory the 2018 plan
covers."""


def lao_cai_2018_targets() -> list[dict[str, Any]]:
    """The plan's targets as it states them: 16 clubs, ≥ 2,000 members, ≥ 700 of them older
    (aged 55 and over), by the end of 2018, on old Lào Cai."""
    area = {"level": "former_province", "code": OLD_LAO_CAI}

    def target(indicator: str, minimum: int, wording: str, **period: str) -> dict[str, Any]:
        return {
            "indicator": indicator,
            "area": area,
            "period_to": "2018-12-31",
            "minimum": minimum,
            "wording": wording,
            **period,
        }

    return [
        target("clubs.founded", 16, "Thành lập mới 16 CLB", period_from="2018-01-01"),
        target("members.total", 2000, "Ít nhất 2.000 thành viên"),
        target("members.older", 700, "Ít nhất 700 thành viên là người cao tuổi"),
    ]


def _ok(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


class DemoFunding:
    """The funders, the approved Lào Cai plan, its pledges and receipts; seed capital club
    by club."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        self.funders = {funder["name"]: self._funder(funder) for funder in FUNDERS}
        self.plan = self._plan()
        self.seed_line = next(
            line["id"] for line in self.plan["lines"] if line["activity"] == "seed_capital"
        )
        self._receipts()

    def _funder(self, funder: dict[str, Any]) -> int:
        found = _ok(self.client.get("/api/v1/funders", params={"q": funder["name"]}))["items"]
        same = [item["id"] for item in found if item["name"] == funder["name"]]
        funder_id: int = (
            same[0] if same else _ok(self.client.post("/api/v1/funders", json=funder))["id"]
        )
        return funder_id

    def _plan(self) -> dict[str, Any]:
        found = _ok(self.client.get("/api/v1/plans", params={"province": LAO_CAI, "year": 2018}))
        if found["items"]:
            existing: dict[str, Any] = _ok(
                self.client.get(f"/api/v1/plans/{found['items'][0]['id']}")
            )
            return existing
        plan = _ok(self.client.post("/api/v1/plans", json=lao_cai_2018_plan()))
        for target in lao_cai_2018_targets():
            _ok(self.client.post(f"/api/v1/plans/{plan['id']}/targets", json=target))
        for task in TASKS:
            _ok(self.client.post(f"/api/v1/plans/{plan['id']}/tasks", json=task))
        approved: dict[str, Any] = _ok(self.client.post(f"/api/v1/plans/{plan['id']}/approve"))
        return approved

    def _receipts(self) -> None:
        if _ok(self.client.get("/api/v1/receipts", params={"plan_id": self.plan["id"]}))["total"]:
            return
        by_number = {line["number"]: line for line in self.plan["lines"]}
        for line in by_number.values():
            for source, amount in line["amounts"].items():
                funder = {
                    "provincial_budget": PROVINCIAL_BUDGET,
                    "elderly_care_fund": ELDERLY_CARE_FUND,
                    "socialisation": ENTERPRISE,
                }[source]
                money = {
                    "funder_id": self.funders[funder],
                    "plan_line_id": line["id"],
                    "amount": amount,
                }
                pledge = {**money, "committed_on": "2018-01-15", "reference": "Cam kết KH 2018"}
                commitment = _ok(self.client.post("/api/v1/commitments", json=pledge))
                receipt = {
                    **money,
                    "commitment_id": commitment["id"],
                    "received_on": "2018-03-15",
                    "reference": f"Giấy báo có KH 2018, dòng {line['number']}",
                }
                _ok(self.client.post("/api/v1/receipts", json=receipt))

    def seed_capital(self, club_id: int, founded: date) -> None:
        """The club's seed capital, allocated once and waited for until its fund holds it."""
        existing = _ok(self.client.get("/api/v1/allocations", params={"club_id": club_id}))
        if not existing["total"]:
            for funder, amount in (
                (ELDERLY_CARE_FUND, SEED_FROM_ELDERLY_CARE_FUND),
                (ENTERPRISE, SEED_FROM_SOCIALISATION),
            ):
                body = {
                    "funder_id": self.funders[funder],
                    "plan_line_id": self.seed_line,
                    "club_id": club_id,
                    "fund_kind": "income_generation",
                    "amount": amount,
                    "allocated_on": max(founded, date(2018, 4, 1)).isoformat(),
                    "reference": "Vốn ban đầu KH 2018",
                }
                _ok(self.client.post("/api/v1/allocations", json=body))
        self._wait_recorded(club_id)

    def _wait_recorded(self, club_id: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            items = _ok(self.client.get("/api/v1/allocations", params={"club_id": club_id}))[
                "items"
            ]
            if all(item["status"] == "recorded" for item in items):
                return
            time.sleep(0.1)
        raise RuntimeError(f"the seed capital of club {club_id} did not reach its fund")

    def plan_work(self) -> int | None:
        """The plan's spending on its other lines, its events with the demo clubs, and its
        annual report to the ministry, sent and frozen (once): the report's duty."""
        plan_path = f"/api/v1/plans/{self.plan['id']}"
        if _ok(self.client.get(f"{plan_path}/spending"))["total"]:
            return None
        for line_number, amount, spent_on, document in SPENDING:
            body = {
                "line_number": line_number,
                "source": "provincial_budget",
                "spent_on": spent_on,
                "amount": amount,
                "document": document,
            }
            _ok(self.client.post(f"{plan_path}/spending", json=body))
        clubs = _ok(self.client.get("/api/v1/clubs", params={"province": LAO_CAI, "limit": 200}))
        ids = [club["id"] for club in clubs["items"]][:16]
        for event in events(ids):
            _ok(self.client.post(f"{plan_path}/events", json=event))
        duty = _ok(self.client.post("/api/v1/reporting-duties", json=duty_of(self.plan["id"])))
        reports = f"/api/v1/reporting-duties/{duty['id']}/reports"
        _ok(self.client.post(reports, json={"period": "2018"}))
        duty_id: int = duty["id"]
        return duty_id


SOLD = "Sở Lao động - Thương binh và Xã hội"
ASSOCIATION = "Hội Người cao tuổi tỉnh"
TASKS: list[dict[str, Any]] = [
    {
        "number": "1",
        "content": "Tập huấn thành lập và quản lý CLB cho Ban chủ nhiệm các CLB mới",
        "lead_agency": SOLD,
        "partner_agencies": [ASSOCIATION, "UBND cấp xã"],
        "timing": "Quý II/2018",
        "starts": {"year": 2018, "quarter": 2},
        "ends": {"year": 2018, "quarter": 2},
        "line_numbers": [1],
        "sources": ["provincial_budget"],
    },
    {
        "number": "2",
        "content": "Ra mắt 5 CLB và hỗ trợ vốn ban đầu cho 16 CLB",
        "lead_agency": ASSOCIATION,
        "partner_agencies": ["UBND cấp xã"],
        "timing": "Quý II-III/2018",
        "starts": {"year": 2018, "quarter": 2},
        "ends": {"year": 2018, "quarter": 3},
        "line_numbers": [2, 3],
        "sources": ["provincial_budget", "elderly_care_fund", "socialisation"],
    },
    {
        "number": "3",
        "content": "Giám sát, hỗ trợ kỹ thuật các CLB",
        "lead_agency": ASSOCIATION,
        "partner_agencies": [SOLD],
        "timing": "Tháng 6-12/2018",
        "starts": {"year": 2018, "month": 6},
        "ends": {"year": 2018, "month": 12},
        "line_numbers": [4],
        "sources": ["provincial_budget"],
    },
    {
        "number": "4",
        "content": "Hội nghị tổng kết mô hình CLB liên thế hệ tự giúp nhau",
        "lead_agency": SOLD,
        "partner_agencies": [ASSOCIATION],
        "timing": "Tháng 12/2018",
        "starts": {"year": 2018, "month": 12},
        "ends": {"year": 2018, "month": 12},
        "line_numbers": [5],
        "sources": ["provincial_budget"],
    },
]
"""The plan's tasks, illustrative: who leads, who takes part, when, from which lines."""
SPENDING = [
    (1, 50_700_000, "2018-05-20", "Chứng từ số 21/CT"),
    (2, 18 * MILLION, "2018-06-30", "Chứng từ số 35/CT"),
    (4, 10 * MILLION, "2018-10-15", "Chứng từ số 58/CT"),
    (5, 43 * MILLION, "2018-12-20", "Chứng từ số 77/CT"),
]
"""Spent on the plan's lines other than seed capital (line, đồng, day, voucher)."""


def events(club_ids: list[int]) -> list[dict[str, Any]]:
    """A training class for the boards of the clubs, their launch, a monitoring visit and
    the review conference."""
    event = {"level": "province", "days": 1, "participants": None, "club_ids": []}
    return [
        {
            **event,
            "line_number": 1,
            "kind": "training_class",
            "title": "Tập huấn thành lập và quản lý CLB cho Ban chủ nhiệm",
            "started_on": "2018-05-15",
            "days": 2,
            "participants": 3 * len(club_ids),
            "club_ids": club_ids,
        },
        {
            **event,
            "line_number": 2,
            "kind": "club_launch",
            "title": "Ra mắt CLB liên thế hệ tự giúp nhau",
            "started_on": "2018-06-28",
            "club_ids": club_ids[:5],
        },
        {
            **event,
            "line_number": 4,
            "kind": "monitoring_visit",
            "title": "Giám sát, hỗ trợ kỹ thuật các CLB",
            "started_on": "2018-10-10",
            "club_ids": club_ids[:8],
        },
        {
            **event,
            "line_number": 5,
            "kind": "review_conference",
            "title": "Hội nghị tổng kết mô hình CLB liên thế hệ tự giúp nhau năm 2018",
            "started_on": "2018-12-20",
            "participants": 120,
        },
    ]


def duty_of(plan_id: int) -> dict[str, Any]:
    """The province's annual report on the plan to the ministry, due 15 days after the year."""
    return {
        "title": "Báo cáo kết quả thực hiện Kế hoạch nhân rộng mô hình CLB năm 2018",
        "reporter_level": "province",
        "area_code": LAO_CAI,
        "recipient": "Bộ Lao động - Thương binh và Xã hội",
        "recipient_level": "national",
        "frequency": "annual",
        "plan_id": plan_id,
        "first_period": "2018",
        "last_period": "2018",
        "due_days": 15,
    }
