"""Reconciliation: a clean platform reconciles, and each check finds the break made on purpose.

A platform of its own: the breaks are written straight into a service's database (as a bug or
a hand-edit would) and undone afterwards, so nothing here reaches the session's platform, which
is reconciled after all tests (see conftest.py).
"""

import contextlib
import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import insert, text
from sqlalchemy.engine import Connection

from common.clock import utcnow
from common.db import make_engine
from common.sealing import blind_index
from services.funding.indicators.schemas import Indicator, IndicatorReport, Section, TargetUnit
from services.funding.reconciliation import checks
from services.funding.reconciliation.schemas import CheckName
from services.loans.portfolio.models import SHARDS, PortfolioStale
from services.loans.portfolio.stale import EVERY_DAY
from tests.conftest import ADMIN_PASSWORD, _database_urls, _stack
from tests.factories import LAO_CAI, make_club
from tests.support import Api, assert_problem, finished_job
from tests.test_bank_loans import key, record
from tests.test_funding import (
    allocate,
    line_of,
    make_funder,
    make_plan,
    receive,
    wait_for_status,
)
from tests.test_loans import act, add_member, approved_loan, put_rules, repay
from tools.demo_funding import MILLION
from tools.reconcile import reconcile
from tools.stack import Stack

RECONCILIATION = "/api/v1/reports/reconciliation-runs"


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp: Path = tmp_path_factory.mktemp("reconciliation")
    for urls in _database_urls(tmp, "reconciliation"):
        yield from _stack(tmp, urls)


@pytest.fixture(scope="module")
def api(platform: Stack) -> Api:
    return Api(platform.gateway_url, ADMIN_PASSWORD)


@pytest.fixture(scope="module")
def admin(api: Api) -> httpx.Client:
    return api.client(api.admin_token)


@pytest.fixture(scope="module")
def sql(platform: Stack) -> Iterator[Callable[[str], contextlib.AbstractContextManager]]:
    """`with sql("loans") as db:` a connection to that service's database, committed at the
    end of the block.

    A write by hand leaves no stale marks on the portfolio's running balances, as the loans
    service's writes do: a rebuild while a break stood would keep it in the balances after
    the break is undone (a member counted twice, found by the next test's reconciliation). So
    each block in the loans database marks every shard stale, as a hand-edit's author would."""
    engines = {name: make_engine(url) for name, url in platform.database_urls.items()}

    @contextlib.contextmanager
    def connect(component: str) -> Iterator[Connection]:
        with engines[component].begin() as connection:
            yield connection
            if component == "loans":
                now = utcnow()
                every_shard = [
                    {"shard": s, "from_day": EVERY_DAY, "marked_at": now} for s in range(SHARDS)
                ]
                connection.execute(insert(PortfolioStale), every_shard)

    yield connect
    for engine in engines.values():
        engine.dispose()


@pytest.fixture(scope="module")
def world(admin: httpx.Client, api: Api) -> dict[str, Any]:
    """A plan approved, money received and allocated to a club's fund, a member's loan
    disbursed and repaid from it, and a bank record matched to a member."""
    plan = make_plan(admin)
    funder = make_funder(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 60 * MILLION)
    club = make_club(admin)
    created = allocate(admin, funder, line, club, 20 * MILLION)
    assert created.status_code == 201, created.text
    allocation = wait_for_status(admin, created.json()["id"], "recorded")
    fund_id = allocation["fund_id"]
    assert put_rules(admin, fund_id).status_code == 201
    member = add_member(admin, club["id"])
    lending = {**club, "fund_id": fund_id, "member_id": member["id"]}
    loan = approved_loan(admin, lending)
    # After the allocation's capital came in (1 April): a fund lends only what it held then.
    disbursed = act(admin, loan["id"], "disburse", disbursed_on="2024-04-15")
    assert disbursed.status_code == 200, disbursed.text
    assert repay(admin, loan["id"], 600_000, "2024-05-15").status_code == 201
    bank = api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))
    posted = bank.post(
        "/api/v1/bank-loans",
        json=record(borrower_national_id=member["national_id"]),
        headers=key(),
    )
    assert posted.status_code == 201, posted.text
    stored = posted.json()["bank_loan"]
    assert stored["member_id"] == member["id"], stored
    return {
        "allocation": allocation,
        "club": club,
        "fund_id": fund_id,
        "loan_id": loan["id"],
        "member": member,
        "bank_loan_id": stored["id"],
    }


def reconciliation(admin: httpx.Client, *names: CheckName) -> dict[str, Any]:
    """A run's result (every check unless some are named)."""
    body = {"checks": [name.value for name in names]} if names else None
    job = finished_job(admin, RECONCILIATION, body)
    assert job["status"] == "succeeded", job
    result: dict[str, Any] = job["result"]
    return result


def reconciled(admin: httpx.Client, *names: CheckName) -> dict[str, dict[str, Any]]:
    return {check["name"]: check for check in reconciliation(admin, *names)["checks"]}


def reasons(check: dict[str, Any]) -> str:
    return "\n".join(item["reason"] for item in check["breaks"])


def one(admin: httpx.Client, name: CheckName) -> dict[str, Any]:
    return reconciled(admin, name)[name.value]


# A clean platform ----------------------------------------------------------------------------


def test_a_clean_platform_reconciles(world: dict, admin: httpx.Client) -> None:
    body = reconciliation(admin)
    by_name = {check["name"]: check for check in body["checks"]}
    assert list(by_name) == [name.value for name in CheckName]
    for check in by_name.values():
        assert check["ok"] and not check["breaks"] and not check["missing"], check
    assert body["ok"] is True
    assert by_name["allocations"]["examined"]["recorded"] >= 1
    assert by_name["fund_ledgers"]["examined"]["loans"] >= 1
    assert by_name["bank_matches"]["examined"]["matched_records"] >= 1
    assert by_name["indicators"]["examined"]["provinces"] >= 1


def test_the_command_prints_each_check_and_exits_0(world: dict, platform: Stack) -> None:
    out = io.StringIO()
    assert reconcile(platform.gateway_url, ADMIN_PASSWORD, out=out) == 0, out.getvalue()
    printed = out.getvalue()
    for name in CheckName:
        assert f"{name.value}: ok" in printed, printed
    assert printed.rstrip().endswith("reconciliation: ok")


def test_only_admins_reconcile(admin: httpx.Client, api: Api) -> None:
    funder = make_funder(admin)
    callers = [
        api.client(api.token_for("officer", provinces=[LAO_CAI])),
        api.client(api.token_for("partner", funder_id=funder["id"])),
        api.client(api.token_for("club_manager", clubs=[1])),
        api.client(api.token_for("bank")),
        api.client(api.token_for("service")),
    ]
    for client in callers:
        assert_problem(client.get(RECONCILIATION), 403)
        assert_problem(client.post(RECONCILIATION), 403)
        assert_problem(client.get(f"{RECONCILIATION}/1"), 403)


def test_the_facts_it_gathers_are_for_our_services_only(
    admin: httpx.Client, platform: Stack, api: Api
) -> None:
    # An admin's token, even sent to the services directly, is no service token.
    headers = {"Authorization": f"Bearer {api.admin_token}"}
    for component, method, path, body in (
        ("loans", "GET", checks.ALLOCATION_ENTRIES, None),
        ("loans", "GET", checks.LEDGER_CHECK, None),
        ("loans", "GET", checks.MATCHED_BANK_LOANS, None),
        ("loans", "GET", checks.LOANS_PROVINCES, None),
        ("clubs", "POST", checks.MEMBER_FACTS, {"ids": [1]}),
        ("clubs", "GET", checks.CLUB_PROVINCES, None),
    ):
        answer = httpx.request(
            method, platform.url(component) + path, headers=headers, json=body, timeout=30
        )
        assert_problem(answer, 403)


def test_the_command_cannot_run_without_a_login(platform: Stack) -> None:
    out = io.StringIO()
    assert reconcile(platform.gateway_url, "wrong-password", out=out) == 2
    assert "could not run" in out.getvalue()


# 1. Allocations ------------------------------------------------------------------------------


def test_an_allocation_recorded_without_its_fund_entry_breaks(
    world: dict, admin: httpx.Client, sql: Callable, platform: Stack
) -> None:
    allocation = world["allocation"]
    with sql("funding") as db:
        copied = db.execute(
            text(
                "INSERT INTO allocations (funder_id, plan_id, plan_line_id, series_id, "
                "line_number, source, programme_code, province_code, commune_code, club_id, "
                "fund_kind, amount, allocated_on, reference, status, attempts, fund_id, "
                "ledger_entry_id, recorded_at, created_by, created_at) "
                "SELECT funder_id, plan_id, plan_line_id, series_id, line_number, source, "
                "programme_code, province_code, commune_code, club_id, fund_kind, amount, "
                "allocated_on, reference, status, attempts, fund_id, ledger_entry_id, "
                "recorded_at, created_by, created_at FROM allocations WHERE id = :id "
                "RETURNING id"
            ),
            {"id": allocation["id"]},
        ).scalar_one()
    try:
        check = one(admin, CheckName.ALLOCATIONS)
        assert not check["ok"] and check["breaks_total"] >= 1, check
        assert f"allocation {copied} (20000000 đồng to club {world['club']['id']}) is " in (
            reasons(check)
        )
        assert "no fund entry carries it" in reasons(check)
        out = io.StringIO()
        status = reconcile(platform.gateway_url, ADMIN_PASSWORD, checks=("allocations",), out=out)
        assert status == 1 and "BREAK" in out.getvalue(), out.getvalue()
    finally:
        with sql("funding") as db:
            db.execute(text("DELETE FROM allocations WHERE id = :id"), {"id": copied})
    assert one(admin, CheckName.ALLOCATIONS)["ok"]


def test_a_fund_entry_naming_an_unknown_allocation_or_another_amount_breaks(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    allocation = world["allocation"]
    entry_id = allocation["ledger_entry_id"]
    unknown = allocation["id"] + 1_000_000
    with sql("loans") as db:
        db.execute(
            text("UPDATE ledger_entries SET allocation_id = :unknown WHERE id = :id"),
            {"unknown": unknown, "id": entry_id},
        )
    with sql("funding") as db:
        db.execute(
            text("UPDATE allocations SET amount = amount + 1 WHERE id = :id"),
            {"id": allocation["id"]},
        )
    try:
        check = one(admin, CheckName.ALLOCATIONS)
        found = reasons(check)
        assert f"names allocation {unknown}, which the funding service does not have" in found
        assert f"allocation {allocation['id']} (20000001 đồng" in found  # and no entry now
    finally:
        with sql("loans") as db:
            db.execute(
                text("UPDATE ledger_entries SET allocation_id = :a WHERE id = :id"),
                {"a": allocation["id"], "id": entry_id},
            )
    try:
        check = one(admin, CheckName.ALLOCATIONS)
        assert "amount 20000000 in the fund entry, 20000001 in funding" in reasons(check)
    finally:
        with sql("funding") as db:
            db.execute(
                text("UPDATE allocations SET amount = amount - 1 WHERE id = :id"),
                {"id": allocation["id"]},
            )
    assert one(admin, CheckName.ALLOCATIONS)["ok"]


def test_an_allocation_in_two_fund_entries_breaks(
    world: dict, admin: httpx.Client, sql: Callable, platform: Stack, api: Api
) -> None:
    """Only a unique index keeps an allocation to one entry; without it, the check still
    sees both, also across a page boundary."""
    allocation = world["allocation"]
    with sql("loans") as db:
        db.execute(text("DROP INDEX uq_ledger_entries_allocation_id"))
        twin = db.execute(
            text(
                "INSERT INTO ledger_entries (fund_id, entry_type, occurred_on, amount, "
                "reference, origin, allocation_id, recorded_by, created_at) SELECT fund_id, "
                "entry_type, occurred_on, amount, reference, origin, allocation_id, "
                "recorded_by, created_at FROM ledger_entries WHERE id = :id RETURNING id"
            ),
            {"id": allocation["ledger_entry_id"]},
        ).scalar_one()
        db.execute(
            text(
                "INSERT INTO postings (entry_id, fund_id, account, amount) SELECT :twin, "
                "fund_id, account, amount FROM postings WHERE entry_id = :id"
            ),
            {"twin": twin, "id": allocation["ledger_entry_id"]},
        )
    try:
        found = reasons(one(admin, CheckName.ALLOCATIONS))
        assert (
            f"allocation {allocation['id']} is capital in more than one fund entry: "
            f"{allocation['ledger_entry_id']} (fund {world['fund_id']}) and {twin}" in found
        ), found
        page = httpx.get(
            platform.url("loans") + checks.ALLOCATION_ENTRIES,
            params={"after": allocation["id"] - 1, "limit": 1},
            headers={"Authorization": f"Bearer {api.token_for('service')}"},
        ).json()
        assert [row[:2] for row in page["rows"]] == [
            [allocation["id"], allocation["ledger_entry_id"]],
            [allocation["id"], twin],
        ]
    finally:
        with sql("loans") as db:
            db.execute(text("DELETE FROM postings WHERE entry_id = :id"), {"id": twin})
            db.execute(text("DELETE FROM ledger_entries WHERE id = :id"), {"id": twin})
            db.execute(
                text(
                    "CREATE UNIQUE INDEX uq_ledger_entries_allocation_id "
                    "ON ledger_entries (allocation_id)"
                )
            )
    assert one(admin, CheckName.ALLOCATIONS)["ok"]


# 2. Fund ledgers -----------------------------------------------------------------------------


def test_a_posting_changed_by_hand_breaks_its_entry_and_its_fund(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    entry_id = world["allocation"]["ledger_entry_id"]
    with sql("loans") as db:
        db.execute(
            text(
                "UPDATE postings SET amount = amount + 5 WHERE entry_id = :id AND account = 'cash'"
            ),
            {"id": entry_id},
        )
    try:
        check = one(admin, CheckName.FUND_LEDGERS)
        found = reasons(check)
        assert f"entry {entry_id}'s postings sum to 5, not 0 (unbalanced)" in found
        assert f"fund {world['fund_id']}'s accounts sum to 5, not 0" in found
        assert not check["ok"] and check["examined"]["postings"] >= 2
    finally:
        with sql("loans") as db:
            db.execute(
                text(
                    "UPDATE postings SET amount = amount - 5 "
                    "WHERE entry_id = :id AND account = 'cash'"
                ),
                {"id": entry_id},
            )
    assert one(admin, CheckName.FUND_LEDGERS)["ok"]


def test_an_overdrawn_fund_breaks(world: dict, admin: httpx.Client, sql: Callable) -> None:
    fund_id = world["fund_id"]
    with sql("loans") as db:
        entry_id = db.execute(
            text(
                "INSERT INTO ledger_entries (fund_id, entry_type, occurred_on, amount, "
                "reference, recorded_by, created_at) VALUES (:fund, 'expense', '2024-06-01', "
                ":amount, 'by hand', 'test', CURRENT_TIMESTAMP) RETURNING id"
            ),
            {"fund": fund_id, "amount": 100 * MILLION},
        ).scalar_one()
        db.execute(
            text(
                "INSERT INTO postings (entry_id, fund_id, account, amount) VALUES "
                "(:entry, :fund, 'expenses', :amount), (:entry, :fund, 'cash', -:amount)"
            ),
            {"entry": entry_id, "fund": fund_id, "amount": 100 * MILLION},
        )
    try:
        found = reasons(one(admin, CheckName.FUND_LEDGERS))
        assert f"fund {fund_id}'s balance is -" in found and "below zero" in found
        assert f"fund {fund_id}'s cash went below zero after entry {entry_id}" in found
    finally:
        with sql("loans") as db:
            db.execute(text("DELETE FROM postings WHERE entry_id = :id"), {"id": entry_id})
            db.execute(text("DELETE FROM ledger_entries WHERE id = :id"), {"id": entry_id})
    assert one(admin, CheckName.FUND_LEDGERS)["ok"]


def test_a_loans_stored_total_that_disagrees_with_its_entries_breaks(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    loan_id = world["loan_id"]
    with sql("loans") as db:
        db.execute(
            text("UPDATE loans SET principal_repaid = principal_repaid + 1 WHERE id = :id"),
            {"id": loan_id},
        )
    try:
        found = reasons(one(admin, CheckName.FUND_LEDGERS))
        assert f"loan {loan_id}: principal repaid: the loan says" in found, found
    finally:
        with sql("loans") as db:
            db.execute(
                text("UPDATE loans SET principal_repaid = principal_repaid - 1 WHERE id = :id"),
                {"id": loan_id},
            )
    assert one(admin, CheckName.FUND_LEDGERS)["ok"]


def test_a_loans_kept_standing_that_disagrees_with_its_repayments_breaks(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    loan_id = world["loan_id"]
    with sql("loans") as db:
        kept = db.execute(
            text("SELECT last_paid_on, late_from FROM loans WHERE id = :id"), {"id": loan_id}
        ).one()
        assert kept[0] is not None and kept[1] is not None  # repaid once, late since
        db.execute(
            text("UPDATE loans SET last_paid_on = '2024-06-01', late_from = NULL WHERE id = :id"),
            {"id": loan_id},
        )
    try:
        found = reasons(one(admin, CheckName.FUND_LEDGERS))
        assert (
            f"loan {loan_id}: last repayment: the loan keeps 2024-06-01, its repayments and "
            "schedule say 2024-05-15; late from: the loan keeps None" in found
        ), found
    finally:
        with sql("loans") as db:
            db.execute(
                text("UPDATE loans SET last_paid_on = :p, late_from = :l WHERE id = :id"),
                {"p": kept[0], "l": kept[1], "id": loan_id},
            )
    assert one(admin, CheckName.FUND_LEDGERS)["ok"]


# 3. Bank matches -----------------------------------------------------------------------------


def test_a_bank_record_matched_to_a_member_who_does_not_exist_breaks(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    record_id, member_id = world["bank_loan_id"], world["member"]["id"]
    with sql("loans") as db:
        db.execute(
            text("UPDATE bank_loans SET member_id = :nobody WHERE id = :id"),
            {"nobody": 2_000_000_000, "id": record_id},
        )
    try:
        check = one(admin, CheckName.BANK_MATCHES)
        assert "matched to member 2000000000, who does not exist" in reasons(check), check
        assert check["breaks"][0]["objects"]["bank_loan_id"] == record_id
    finally:
        with sql("loans") as db:
            db.execute(
                text("UPDATE bank_loans SET member_id = :m WHERE id = :id"),
                {"m": member_id, "id": record_id},
            )
    assert one(admin, CheckName.BANK_MATCHES)["ok"]


def test_a_bank_record_of_another_borrower_or_club_breaks(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    record_id = world["bank_loan_id"]
    other = blind_index("001199000001")
    with sql("loans") as db:
        original = db.execute(
            text("SELECT borrower_blind_index, club_id FROM bank_loans WHERE id = :id"),
            {"id": record_id},
        ).one()
        db.execute(
            text(
                "UPDATE bank_loans SET borrower_blind_index = :other, "
                "club_id = club_id + 100000 WHERE id = :id"
            ),
            {"other": other, "id": record_id},
        )
    try:
        found = reasons(one(admin, CheckName.BANK_MATCHES))
        assert "whose national ID is not the borrower's" in found
        assert f"but that member is in club {world['club']['id']}" in found
        assert "001199000001" not in found and other not in found  # nothing of the person
    finally:
        with sql("loans") as db:
            db.execute(
                text(
                    "UPDATE bank_loans SET borrower_blind_index = :n, club_id = :c WHERE id = :id"
                ),
                {"n": original[0], "c": original[1], "id": record_id},
            )
    assert one(admin, CheckName.BANK_MATCHES)["ok"]


# 4. Indicators -------------------------------------------------------------------------------


def test_money_of_no_province_breaks_the_national_sum(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    with sql("loans") as db:
        db.execute(
            text("UPDATE funds SET province_code = '' WHERE id = :id"), {"id": world["fund_id"]}
        )
    try:
        found = reasons(one(admin, CheckName.INDICATORS))
        assert "national money.fund_capital is " in found, found
        assert "the provinces' add up to" in found
    finally:
        with sql("loans") as db:
            db.execute(
                text("UPDATE funds SET province_code = :p WHERE id = :id"),
                {"p": LAO_CAI, "id": world["fund_id"]},
            )
    assert one(admin, CheckName.INDICATORS)["ok"]


def test_money_recorded_against_no_approved_plan_breaks_plan_against_actual(
    world: dict, admin: httpx.Client, sql: Callable
) -> None:
    draft = make_plan(admin, approve=False)
    with sql("funding") as db:
        receipt_id = db.execute(
            text(
                "INSERT INTO receipts (funder_id, plan_id, plan_line_id, series_id, line_number, "
                "source, province_code, amount, received_on, reference, created_by, created_at) "
                "SELECT funder_id, :plan, plan_line_id, :series, line_number, source, "
                "province_code, amount, received_on, 'by hand', created_by, created_at "
                "FROM receipts ORDER BY id LIMIT 1 RETURNING id"
            ),
            {"plan": draft["id"], "series": draft["series_id"]},
        ).scalar_one()
    try:
        found = reasons(one(admin, CheckName.INDICATORS))
        assert "plan against actual: received is " in found
        assert "the received money flows recorded add up to" in found, found
    finally:
        with sql("funding") as db:
            db.execute(text("DELETE FROM receipts WHERE id = :id"), {"id": receipt_id})
    assert one(admin, CheckName.INDICATORS)["ok"]


def _row(section: Section, name: str, value: int, **extra: Any) -> Indicator:
    fields: dict[str, Any] = {
        "share_pct": None,
        "target": None,
        "target_unit": None,
        "target_source": None,
        "met": None,
        **extra,
    }
    return Indicator(section=section, name=name, value=value, **fields)


def _report(province: str | None, rows: list[Indicator], plans: int = 0) -> IndicatorReport:
    return IndicatorReport(
        period_from="2026-01-01",
        period_to="2026-06-30",
        province_code=province,
        funder_id=None,
        programme_code="1336",
        plans=plans,
        indicators=rows,
        missing=[],
    )


def test_shares_wholes_verdicts_and_sums_that_disagree_are_breaks() -> None:
    """The report's own rules, on reports written by hand (a service cannot be made to
    compute a wrong share through its database)."""
    members = _row(Section.MEMBERS, "total", 100, target=90, target_unit=TargetUnit.COUNT)
    national = _report(
        None,
        [
            _row(Section.CLUBS, "active", 4),
            members.model_copy(update={"met": False, "target_source": "plan"}),
            _row(Section.MEMBERS, "women", 61, share_pct=60.0),
            _row(Section.MEMBERS, "older", 120, share_pct=120.0),
            _row(Section.CLUBS, "maintained", 5),
        ],
        plans=2,
    )
    province = _report(
        LAO_CAI,
        [
            _row(Section.CLUBS, "active", 3),
            members.model_copy(
                update={"value": 100, "met": True, "target": 80, "target_source": "plan"}
            ),
        ],
        plans=1,
    )
    found = checks.Findings(CheckName.INDICATORS)
    checks._consistent(found, "national", national)
    checks._sums(found, national, {LAO_CAI: province})
    text_ = "\n".join(item.reason for item in found.breaks)
    assert "national: members.women is 61 of 100, shown as 60.0 %, not 61.0 %" in text_
    assert "national: members.older is 120, more than its whole total (100)" in text_
    assert "national: clubs.maintained is 5, more than clubs.active (4)" in text_
    assert "national: members.total: met is False, the figures say True" in text_
    assert "national clubs.active is 4, the provinces' add up to 3 (15: 3)" in text_
    assert "national members.total's plan target is 90, the provinces' add up to 80" in text_
    assert "the national report counts 2 plans, the provinces 1" in text_
    assert found.result().ok is False


def test_a_service_that_is_down_is_missing_not_a_failure(
    world: dict, admin: httpx.Client, platform: Stack
) -> None:
    platform.stop_one("loans")
    try:
        body = reconciliation(admin)
        assert body["ok"] is False
        by_name = {check["name"]: check for check in body["checks"]}
        for name in ("allocations", "fund_ledgers", "bank_matches"):
            assert any("loans" in gap for gap in by_name[name]["missing"]), by_name[name]
            assert not by_name[name]["ok"]
        out = io.StringIO()
        assert reconcile(platform.gateway_url, ADMIN_PASSWORD, out=out) == 2
        assert "INCOMPLETE" in out.getvalue()
    finally:
        platform.start(["loans"])
    assert reconciliation(admin)["ok"] is True
