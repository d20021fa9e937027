"""Demo money for the Lào Cai clubs: funds, seed capital, member loans and bank records.

Everything goes through the public API, like `tools/demo.py`, and is deterministic by club code.
Each club gets its two funds (the seed capital is allocated beforehand by the funding demo,
`tools/demo_funding.py`) with members' contributions, its loan regulation (0.5 % a month,
flat, monthly, up to 12 months and 8 million), five member loans of the last year (most
repaid on time, some late, a few closed), and the bank posts a few hundred loan records for
poor and near-poor members (and some borrowers who are in no club).
"""

import random
from datetime import date, timedelta
from typing import Any

import httpx

from common import clock

MEMBER_CONTRIBUTIONS = 6_000_000
ACTIVITY_CONTRIBUTIONS = 3_000_000
LOAN_RULES = {
    "monthly_interest_rate": 0.5,
    "interest_method": "flat",
    "repayment_frequency": "monthly",
    "max_term_months": 12,
    "max_amount": 8_000_000,
}
LOANS_PER_CLUB = 5
PURPOSES = [
    ("cash", "Nuôi lợn thịt (pig raising)", None),
    ("cash", "Trồng rau an toàn (vegetable growing)", None),
    ("in_kind", "Bò giống (a breeding cow)", "Một bò cái giống lai Sind, 14 tháng tuổi"),
    ("cash", "Buôn bán nhỏ (small trade)", None),
    ("in_kind", "Gà giống (chicks)", "200 gà ri giống 1 tháng tuổi"),
]
BANK_PROGRAMMES = {
    "poor": ("poor_households", 6.6),
    "near_poor": ("near_poor_households", 7.92),
    "disadvantaged": ("job_creation", 7.92),
}
UNMATCHED_BANK_RECORDS = 60
BANK_BATCH_KEY = "demo-vbsp-lao-cai-2026"


def _ok(response: httpx.Response) -> Any:
    response.raise_for_status()
    return response.json()


class DemoMoney:
    """Loads the money of one demo club at a time; a club that has loans is left alone."""

    def __init__(self, client: httpx.Client, today: date | None = None) -> None:
        self.client = client
        self.today = today or clock.today()

    def club(self, club_id: int, code: str, founded: date) -> bool:
        existing = _ok(self.client.get("/api/v1/loans", params={"club_id": club_id, "limit": 1}))
        if existing["total"]:
            return False
        rng = random.Random(code)
        revolving = self._fund(club_id, "income_generation")
        activity = self._fund(club_id, "activity")
        self._capital(
            revolving,
            MEMBER_CONTRIBUTIONS,
            founded + timedelta(days=60),
            "member_contribution",
            "Hội viên góp vốn",
        )
        self._capital(
            activity,
            ACTIVITY_CONTRIBUTIONS,
            founded + timedelta(days=30),
            "member_contribution",
            "Hội phí",
        )
        _ok(self.client.put(f"/api/v1/funds/{revolving}/loan-rules", json=LOAN_RULES))
        members = _ok(self.client.get(f"/api/v1/clubs/{club_id}/members", params={"limit": 200}))[
            "items"
        ]
        borrowers = rng.sample([m for m in members if m["active"]], LOANS_PER_CLUB)
        for number, member in enumerate(borrowers):
            self._loan(rng, club_id, member, number)
        return True

    def _fund(self, club_id: int, kind: str) -> int:
        """The club's fund of that kind: opening one answers the fund also when the club's
        activation or an allocation opened it already."""
        fund = _ok(self.client.post("/api/v1/funds", json={"club_id": club_id, "kind": kind}))
        fund_id: int = fund["id"]
        return fund_id

    def _capital(self, fund_id: int, amount: int, on: date, origin: str, reference: str) -> None:
        body = {
            "amount": amount,
            "occurred_on": min(on, self.today).isoformat(),
            "origin": origin,
            "reference": reference,
        }
        _ok(self.client.post(f"/api/v1/funds/{fund_id}/capital", json=body))

    def _loan(self, rng: random.Random, club_id: int, member: dict[str, Any], number: int) -> None:
        form, purpose, description = PURPOSES[number % len(PURPOSES)]
        disbursed_on = self.today - timedelta(days=rng.randint(40, 400))
        applied_on = max(disbursed_on - timedelta(days=7), date.fromisoformat(member["joined_on"]))
        disbursed_on = max(disbursed_on, applied_on)
        loan = _ok(
            self.client.post(
                "/api/v1/loans",
                json={
                    "club_id": club_id,
                    "member_id": member["id"],
                    "amount": rng.choice([3, 4, 5]) * 1_000_000,
                    "term_months": rng.choice([6, 12]),
                    "applied_on": applied_on.isoformat(),
                    "purpose": purpose,
                    "form": form,
                    "in_kind_description": description,
                },
            )
        )
        _ok(self.client.post(f"/api/v1/loans/{loan['id']}/approve"))
        _ok(
            self.client.post(
                f"/api/v1/loans/{loan['id']}/disburse",
                json={"disbursed_on": disbursed_on.isoformat()},
            )
        )
        schedule = _ok(self.client.get(f"/api/v1/loans/{loan['id']}/schedule"))
        # About one borrower in seven stops paying after a few instalments: the late loans.
        stops_after = rng.randint(1, 3) if rng.random() < 0.15 else None
        for instalment in schedule["instalments"]:
            due_on = date.fromisoformat(instalment["due_on"])
            if due_on > self.today or (stops_after and instalment["number"] > stops_after):
                break
            paid_on = min(due_on + timedelta(days=rng.randint(0, 5)), self.today)
            body = {
                "amount": instalment["principal"] + instalment["interest"],
                "paid_on": paid_on.isoformat(),
                "reference": f"Họp CLB {paid_on:%m/%Y}",
            }
            _ok(self.client.post(f"/api/v1/loans/{loan['id']}/repayments", json=body))

    def bank_records(self, bank: httpx.Client, members: list[dict[str, Any]]) -> dict[str, Any]:
        """The bank's records for the clubs' poor and near-poor members, plus non-members.

        Posted once: a bank that already has records here is left alone.
        """
        if _ok(bank.get("/api/v1/bank-loans", params={"limit": 1}))["total"]:
            return {}
        rng = random.Random("vbsp-lao-cai")
        borrowers = [
            (member["national_id"], member["full_name"], member["household_status"])
            for member in members
            if member.get("national_id")
            and member["household_status"] in BANK_PROGRAMMES
            and rng.random() < 0.6
        ]
        for _ in range(UNMATCHED_BANK_RECORDS):
            serial = f"{rng.randint(50, 99):02d}{rng.randrange(10**6):06d}"
            borrowers.append((f"010{rng.choice([0, 1])}{serial}", "Hộ vay ngoài CLB", "poor"))
        records = [
            self._bank_record(rng, number, *borrower) for number, borrower in enumerate(borrowers)
        ]
        answer = bank.post(
            "/api/v1/bank-loans/batches",
            params={"mode": "partial"},
            json={"records": records},
            headers={"Idempotency-Key": f"{BANK_BATCH_KEY}-{self.today}"},
        )
        counts: dict[str, Any] = _ok(answer)["counts"]
        return counts

    def _bank_record(
        self, rng: random.Random, number: int, national_id: str, name: str, household: str
    ) -> dict[str, Any]:
        programme, rate = BANK_PROGRAMMES[household]
        principal = rng.choice([20, 30, 40, 50, 60, 80]) * 1_000_000
        disbursed_on = self.today - timedelta(days=rng.randint(120, 1500))
        as_of = self.today.replace(day=1) - timedelta(days=1)
        repaid_share = min((as_of - disbursed_on).days / 1825, 1.0)
        outstanding = int(principal * (1 - repaid_share)) // 100_000 * 100_000
        overdue = outstanding // 10 if outstanding and rng.random() < 0.1 else 0
        status = "closed" if outstanding == 0 else "overdue" if overdue else "active"
        return {
            "loan_number": f"LC-DEMO-{number:05d}",
            "borrower_national_id": national_id,
            "borrower_name": name,
            "programme": programme,
            "principal": principal,
            "disbursed_on": disbursed_on.isoformat(),
            "maturity_on": (disbursed_on + timedelta(days=1826)).isoformat(),
            "annual_interest_rate": rate,
            "outstanding_principal": outstanding,
            "overdue_amount": overdue,
            "status": status,
            "as_of": as_of.isoformat(),
        }
