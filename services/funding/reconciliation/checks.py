"""The cross-service checks: each gathers the facts it needs from the services that own them
(in pages of up to 10,000, so a national registry is streamed in bounded memory, never asked
one object at a time) and says what breaks, with the objects and a readable reason.

A service that does not answer makes its check incomplete (`missing`), never a 500.
"""

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import func
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import Principal
from common.problem_codes import Code
from common.problems import ServiceUnavailable
from common.service_client import ServiceClient
from services.funding.flows.models import Allocation
from services.funding.indicators.schemas import Indicator, IndicatorReport, Section, TargetUnit
from services.funding.plans import execution
from services.funding.plans.models import PlanSeries
from services.funding.reconciliation.schemas import (
    DESCRIPTIONS,
    MAX_LISTED,
    Break,
    CheckName,
    CheckResult,
)
from services.funding.rules import TransferStatus, percent

PAGE = 10_000
ALLOCATION_ENTRIES = "/api/v1/funds/reconciliation/allocation-entries"
LEDGER_CHECK = "/api/v1/funds/reconciliation/ledger"
LOANS_PROVINCES = "/api/v1/funds/reconciliation/provinces"
MATCHED_BANK_LOANS = "/api/v1/bank-loans/reconciliation/matched"
MEMBER_FACTS = "/api/v1/members/reconciliation/facts"
CLUB_PROVINCES = "/api/v1/clubs/reconciliation/provinces"


@dataclass(frozen=True)
class Services:
    """The services the checks ask, with this service's token and a batch job's patience."""

    clubs: ServiceClient
    loans: ServiceClient


class Findings:
    """One check's counts, breaks (the first `MAX_LISTED` listed, all counted) and gaps."""

    def __init__(self, name: CheckName) -> None:
        self.name = name
        self.examined: dict[str, int] = defaultdict(int)
        self.breaks: list[Break] = []
        self.breaks_total = 0
        self.missing: list[str] = []

    def add(self, reason: str, **objects: int | str | None) -> None:
        self.breaks_total += 1
        if len(self.breaks) < MAX_LISTED:
            self.breaks.append(Break(objects=objects, reason=reason))

    def result(self) -> CheckResult:
        return CheckResult(
            name=self.name,
            description=DESCRIPTIONS[self.name],
            examined=dict(self.examined),
            breaks=self.breaks,
            breaks_total=self.breaks_total,
            missing=self.missing,
            ok=self.breaks_total == 0 and not self.missing,
        )


def _rows(page: dict[str, Any]) -> list[dict[str, Any]]:
    columns = page["columns"]
    return [dict(zip(columns, row, strict=True)) for row in page["rows"]]


async def _keyed_pages(
    client: ServiceClient, path: str, key: str
) -> AsyncIterator[tuple[list[dict[str, Any]], bool]]:
    """The pages of a keyed list, each with whether more follow (a first page may be empty)."""
    after = 0
    while True:
        page = await client.get_json(path, params={"after": after, "limit": PAGE})
        rows = _rows(page)
        yield rows, bool(page["more"])
        if not page["more"] or not rows:
            return
        after = rows[-1][key]


# 1. Allocations ------------------------------------------------------------------------------


def _allocations_between(session: Session, after: int, upper: int | None) -> list[Allocation]:
    query = select(Allocation).where(col(Allocation.id) > after)
    if upper is not None:
        query = query.where(col(Allocation.id) <= upper)
    return list(session.exec(query.order_by(col(Allocation.id))).all())


def _compare_allocation(found: Findings, allocation: Allocation, entry: dict[str, Any]) -> None:
    objects: dict[str, int | str | None] = {
        "allocation_id": allocation.id,
        "entry_id": entry["entry_id"],
        "fund_id": entry["fund_id"],
    }
    said = f"allocation {allocation.id}"
    differences = [
        f"{label} {theirs} in the fund entry, {ours} in funding"
        for label, ours, theirs in (
            ("club", allocation.club_id, entry["club_id"]),
            ("fund", allocation.fund_kind, entry["fund_kind"]),
            ("amount", allocation.amount, entry["amount"]),
        )
        if ours != theirs
    ]
    if differences:
        found.add(f"{said}: " + "; ".join(differences), **objects)
    if allocation.status == TransferStatus.RECORDED.value and (
        (allocation.fund_id, allocation.ledger_entry_id) != (entry["fund_id"], entry["entry_id"])
    ):
        found.add(
            f"{said} is recorded as entry {allocation.ledger_entry_id} of fund "
            f"{allocation.fund_id}, but the loans service holds it as entry {entry['entry_id']} "
            f"of fund {entry['fund_id']}",
            **objects,
        )
    if entry["reversed_by_entry_id"] is not None:
        found.add(
            f"{said}'s capital (entry {entry['entry_id']}) was reversed by entry "
            f"{entry['reversed_by_entry_id']}: the fund no longer holds money funding counts "
            "as allocated",
            **objects,
        )


def _match_allocations(
    found: Findings, allocations: list[Allocation], rows: list[dict[str, Any]]
) -> None:
    entries: dict[int, dict[str, Any]] = {}
    for row in rows:
        twin = entries.setdefault(row["allocation_id"], row)
        if twin is not row:
            found.add(
                f"allocation {row['allocation_id']} is capital in more than one fund entry: "
                f"{twin['entry_id']} (fund {twin['fund_id']}) and {row['entry_id']} (fund "
                f"{row['fund_id']})",
                allocation_id=row["allocation_id"],
                entry_id=row["entry_id"],
                fund_id=row["fund_id"],
            )
    for allocation in allocations:
        assert allocation.id is not None
        found.examined["allocations"] += 1
        entry = entries.pop(allocation.id, None)
        if allocation.status == TransferStatus.RECORDED.value:
            found.examined["recorded"] += 1
            if entry is None:
                found.add(
                    f"allocation {allocation.id} ({allocation.amount} đồng to club "
                    f"{allocation.club_id}) is recorded, but no fund entry carries it",
                    allocation_id=allocation.id,
                    club_id=allocation.club_id,
                )
                continue
        elif entry is None:
            continue
        else:
            # Credited, but the funding service has not heard the answer yet: the relay keeps
            # sending until it does, and the loans service answers with this same entry.
            found.examined["in_transit"] += 1
        _compare_allocation(found, allocation, entry)
    for allocation_id, entry in sorted(entries.items()):
        found.add(
            f"fund entry {entry['entry_id']} (fund {entry['fund_id']}, club {entry['club_id']}, "
            f"{entry['amount']} đồng) names allocation {allocation_id}, which the funding "
            "service does not have",
            allocation_id=allocation_id,
            entry_id=entry["entry_id"],
            fund_id=entry["fund_id"],
        )


async def allocations(session: Session, services: Services) -> CheckResult:
    """Merges the funding service's allocations with the loans service's allocation entries,
    both in allocation id order, one page of entries at a time."""
    found = Findings(CheckName.ALLOCATIONS)
    for name in ("allocations", "recorded", "in_transit", "fund_entries"):
        found.examined[name] = 0
    after = 0
    try:
        async for rows, more in _keyed_pages(services.loans, ALLOCATION_ENTRIES, "allocation_id"):
            found.examined["fund_entries"] += len(rows)
            upper = rows[-1]["allocation_id"] if more and rows else None
            ours = await run_in_threadpool(_allocations_between, session, after, upper)
            _match_allocations(found, ours, rows)
            after = upper or after
    except ServiceUnavailable as exc:
        found.missing.append(f"loans: {exc.detail}")
    return found.result()


# 2. Fund ledgers -----------------------------------------------------------------------------


async def fund_ledgers(services: Services) -> CheckResult:
    """The ledger's own invariants, checked by the loans service in SQL over all funds."""
    found = Findings(CheckName.FUND_LEDGERS)
    try:
        answer = await services.loans.get_json(LEDGER_CHECK)
    except ServiceUnavailable as exc:
        found.missing.append(f"loans: {exc.detail}")
        return found.result()
    found.examined.update(answer["examined"])
    for item in answer["breaks"]:
        found.add(item["reason"], **item["objects"])
    # The loans service lists at most MAX_LISTED of each kind and counts them all.
    found.breaks_total = answer["breaks_total"]
    return found.result()


# 3. Bank matches -----------------------------------------------------------------------------


async def _members(services: Services, ids: list[int]) -> dict[int, dict[str, Any]]:
    response = await services.clubs.request("POST", MEMBER_FACTS, json={"ids": ids})
    if response.status_code != 200:
        raise ServiceUnavailable(
            f"The clubs service answered {response.status_code}.", code=Code.SERVICE_ERROR
        )
    return {row["id"]: row for row in _rows(response.json())}


def _compare_match(found: Findings, record: dict[str, Any], member: dict[str, Any] | None) -> None:
    member_id = record["member_id"]
    objects: dict[str, int | str | None] = {
        "bank_loan_id": record["id"],
        "member_id": member_id,
        "club_id": record["club_id"],
    }
    said = (
        f"bank record {record['id']} ({record['bank_code']} {record['loan_number']}) is matched "
        f"to member {member_id}"
    )
    if member is None:
        found.add(f"{said}, who does not exist in the clubs service", **objects)
        return
    if member["club_id"] != record["club_id"]:
        found.add(
            f"{said} of club {record['club_id']}, but that member is in club {member['club_id']}",
            **objects,
        )
    elif (member["province_code"], member["commune_code"]) != (
        record["province_code"],
        record["commune_code"],
    ):
        found.add(
            f"{said}; the record is placed in {record['province_code']}/"
            f"{record['commune_code']}, the member's club in {member['province_code']}/"
            f"{member['commune_code']}",
            **objects,
        )
    if member["national_id_blind_index"] != record["borrower_blind_index"]:
        # Blind indexes of the two IDs: neither service hands the other a citizen ID.
        found.add(f"{said}, whose national ID is not the borrower's", **objects)


async def bank_matches(services: Services) -> CheckResult:
    """Each page of matched records, its members asked from the clubs service in one call."""
    found = Findings(CheckName.BANK_MATCHES)
    found.examined["matched_records"] = 0
    members_seen: set[int] = set()
    try:
        async for rows, _ in _keyed_pages(services.loans, MATCHED_BANK_LOANS, "id"):
            if not rows:
                break
            ids = sorted({row["member_id"] for row in rows})
            try:
                members = await _members(services, ids)
            except ServiceUnavailable as exc:
                found.missing.append(f"clubs: {exc.detail}")
                break
            members_seen.update(ids)
            found.examined["matched_records"] += len(rows)
            for record in rows:
                _compare_match(found, record, members.get(record["member_id"]))
    except ServiceUnavailable as exc:
        found.missing.append(f"loans: {exc.detail}")
    found.examined["members"] = len(members_seen)
    return found.result()


# 4. Indicators -------------------------------------------------------------------------------

Key = tuple[Section, str]
MEMBERS_TOTAL: Key = (Section.MEMBERS, "total")
ACTIVE_CLUBS: Key = (Section.CLUBS, "active")
OUTSTANDING: Key = (Section.MONEY, "member_loans_outstanding")
# The row each share is taken of; `True`: the part can never exceed it.
WHOLES: dict[Key, tuple[Key, bool]] = {
    (Section.MEMBERS, "older"): (MEMBERS_TOTAL, True),
    (Section.MEMBERS, "women"): (MEMBERS_TOTAL, True),
    (Section.MEMBERS, "poor_near_poor_disadvantaged"): (MEMBERS_TOTAL, True),
    (Section.MEMBERS, "clubs_meeting_profile"): (ACTIVE_CLUBS, True),
    (Section.ACTIVITIES, "clubs_running_all_eight"): (ACTIVE_CLUBS, True),
    # Dissolved clubs keep their funds, and members who left keep their loans.
    (Section.MONEY, "clubs_with_both_funds"): (ACTIVE_CLUBS, False),
    (Section.MONEY, "members_with_loan"): (MEMBERS_TOTAL, False),
    (Section.MONEY, "par30"): (OUTSTANDING, True),
}
# Parts that are no shares but still never exceed another figure.
WITHIN: dict[Key, Key] = {(Section.CLUBS, "maintained"): ACTIVE_CLUBS}

AskReport = Callable[[str | None], Awaitable[IndicatorReport]]
"""The programme report of the country (None) or one province, as the admin gets it."""


def _whole_of(key: Key) -> tuple[Key, bool] | None:
    section, name = key
    if section is Section.FUNDING:
        figure, _, source = name.partition(".")
        if figure in ("received", "allocated"):
            return (Section.FUNDING, f"planned.{source}"), False
        return None
    return WHOLES.get(key)


def _within(key: Key) -> Key | None:
    section, name = key
    if section is Section.FUNDING and name.startswith("allocated."):
        # An allocation never exceeds what its funder paid for that plan.
        return Section.FUNDING, "received." + name.partition(".")[2]
    return WITHIN.get(key)


def _consistent(found: Findings, label: str, report: IndicatorReport) -> None:
    """Within one report: each share is its count over its whole, parts stay within their
    wholes, and each verdict follows from its figure and target."""
    rows = {(row.section, row.name): row for row in report.indicators}
    for key, row in rows.items():
        found.examined["figures"] += 1
        objects: dict[str, int | str | None] = {"report": label, "indicator": ".".join(key)}
        said = f"{label}: {key[0].value}.{key[1]}"
        whole_of = _whole_of(key)
        whole_row = rows.get(whole_of[0]) if whole_of else None
        whole = whole_row.value if whole_row else None
        if whole_of and row.value is not None and whole is not None:
            expected = percent(row.value, whole) if whole else None
            if row.share_pct != expected:
                found.add(
                    f"{said} is {row.value} of {whole}, shown as {row.share_pct} %, not "
                    f"{expected} %",
                    **objects,
                )
            if whole_of[1] and row.value > whole:
                found.add(
                    f"{said} is {row.value}, more than its whole {whole_of[0][1]} ({whole})",
                    **objects,
                )
        bound_key = _within(key)
        bound = rows.get(bound_key) if bound_key else None
        if (
            bound_key
            and bound
            and row.value is not None
            and bound.value is not None
            and row.value > bound.value
        ):
            found.add(
                f"{said} is {row.value}, more than {bound_key[0].value}.{bound_key[1]} "
                f"({bound.value})",
                **objects,
            )
        verdict = _verdict(row, whole)
        if verdict != row.met:
            found.add(f"{said}: met is {row.met}, the figures say {verdict}", **objects)


def _verdict(row: Indicator, whole: int | None) -> bool | None:
    if row.value is None or row.target is None:
        return None
    if row.target_unit is TargetUnit.COUNT:
        return row.value >= row.target
    if not whole:
        return None
    return row.value * 100 >= row.target * whole


def _sums(found: Findings, national: IndicatorReport, parts: dict[str, IndicatorReport]) -> None:
    """The country's figures, plan targets and plans are the sums of its provinces'."""
    if national.plans != sum(report.plans for report in parts.values()):
        found.add(
            f"the national report counts {national.plans} plans, the provinces "
            f"{sum(report.plans for report in parts.values())}",
            report="national",
        )
    by_province = {
        province: {(row.section, row.name): row for row in report.indicators}
        for province, report in parts.items()
    }
    for row in national.indicators:
        key = (row.section, row.name)
        objects: dict[str, int | str | None] = {"report": "national", "indicator": ".".join(key)}
        said = f"national {row.section.value}.{row.name}"
        values = [rows[key].value if key in rows else 0 for rows in by_province.values()]
        known = [value for value in values if value is not None]
        if row.value is not None and len(known) == len(values) and row.value != sum(known):
            found.add(
                f"{said} is {row.value}, the provinces' add up to {sum(known)} ("
                + ", ".join(
                    f"{province}: {value}"
                    for province, value in zip(by_province, values, strict=True)
                    if value
                )
                + ")",
                **objects,
            )
        if row.target_source == "plan" or any(
            key in rows and rows[key].target_source == "plan" for rows in by_province.values()
        ):
            targets = [
                (rows[key].target or 0) if key in rows else 0 for rows in by_province.values()
            ]
            if (row.target or 0) != sum(targets):
                found.add(
                    f"{said}'s plan target is {row.target}, the provinces' add up to "
                    f"{sum(targets)}",
                    **objects,
                )


def _money_flows(session: Session, principal: Principal, found: Findings) -> None:
    """Plan against actual over every current plan adds up by source, activity and province
    to its total, and its actual money to the flows recorded up to today."""
    area = execution.for_area(session, principal, None, None, None)
    today = clock.today()
    recorded = {
        name: int(
            session.exec(
                select(func.coalesce(func.sum(model.amount), 0)).where(
                    moved_on <= today, *execution.counted(model)
                )
            ).one()
        )
        for name, model, moved_on in execution.FLOWS
    }
    for name in ("planned", "committed", "received", "allocated"):
        total = getattr(area.total, name)
        groups = (
            ("source", area.by_source),
            ("activity", area.by_activity),
            ("province", area.by_province),
        )
        for group, figures in groups:
            summed = sum(getattr(f, name) for f in figures.values())
            if summed != total:
                found.add(
                    f"plan against actual: {name} by {group} adds up to {summed}, the total "
                    f"is {total}",
                    report="plans/execution",
                    figure=name,
                )
        if name in recorded and recorded[name] != total:
            found.add(
                f"plan against actual: {name} is {total} over all current plans, the "
                f"{name} money flows recorded add up to {recorded[name]}",
                report="plans/execution",
                figure=name,
            )
    found.examined["plans"] = area.plans


def funding_provinces(session: Session) -> set[str]:
    plans = session.exec(select(PlanSeries.province_code).distinct()).all()
    flows = session.exec(select(Allocation.province_code).distinct()).all()
    return set(plans) | set(flows)


async def _provinces(session: Session, services: Services, found: Findings) -> list[str]:
    """Every province where any service has something to count."""
    codes = await run_in_threadpool(funding_provinces, session)
    for client, path in ((services.clubs, CLUB_PROVINCES), (services.loans, LOANS_PROVINCES)):
        try:
            codes.update(await client.get_json(path))
        except ServiceUnavailable as exc:
            found.missing.append(f"{client.name}: {exc.detail}")
    return sorted(codes)


async def _indicators_once(
    session: Session, principal: Principal, services: Services, ask: AskReport
) -> Findings:
    found = Findings(CheckName.INDICATORS)
    provinces = await _provinces(session, services, found)
    national, *reports = await asyncio.gather(ask(None), *(ask(code) for code in provinces))
    parts = dict(zip(provinces, reports, strict=True))
    found.examined["reports"] = 1 + len(parts)
    found.examined["provinces"] = len(parts)
    for label, report in (("national", national), *parts.items()):
        if report.missing:
            found.missing.append(
                f"{label} report: {', '.join(report.missing)} missing (a service did not answer)"
            )
        _consistent(found, label if label == "national" else f"province {label}", report)
    _sums(found, national, parts)
    await run_in_threadpool(_money_flows, session, principal, found)
    return found


async def indicators(
    session: Session, principal: Principal, services: Services, ask: AskReport
) -> CheckResult:
    """The reports are taken one after another while the platform may be moving money (the
    relay records allocations by itself), so a disagreement is looked at a second time: what
    was a moment's difference is gone then, a real break is still there."""
    found = await _indicators_once(session, principal, services, ask)
    if found.breaks_total or found.missing:
        found = await _indicators_once(session, principal, services, ask)
    return found.result()
