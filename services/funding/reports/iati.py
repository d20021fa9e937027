"""`GET /api/v1/funders/{id}/iati-activities`: a funder's money in the programme as IATI XML.

An international donor reports to IATI (the International Aid Transparency Initiative,
standard 2.03). Here each plan its money went to is one activity, a grant: the pledges are
outgoing commitments (transaction type 2), the money received disbursements (3) to the
province's programme, the allocations expenditures (4) with the club as the receiver. Amounts
are whole đồng (currency VND), dated on the day they moved. The activity's identifier starts
with the funder's IATI organisation identifier when it has one (`iati_org_id`).
"""

from collections import defaultdict
from datetime import date, datetime
from typing import Annotated, Any
from xml.etree import ElementTree as ET

from fastapi import APIRouter, Depends, Query, Response
from sqlmodel import Session, col, select
from starlette.concurrency import run_in_threadpool

from common.auth import CurrentPrincipal, Principal, require_roles
from common.clock import utcnow
from common.club_directory import ClubDirectoryDep, ClubFacts
from common.db import SessionDep
from common.problem_codes import Code
from common.problems import invalid
from common.schemas import IdPath, ReportDate
from services.funding.catalogue.models import Funder
from services.funding.flows.models import Allocation, Commitment, Receipt
from services.funding.plans.models import PlanSeries
from services.funding.plans.schemas import ProvinceCode
from services.funding.scope import READERS, asked_funder, flow_filter

router = APIRouter(
    prefix="/api/v1/funders", tags=["funders"], dependencies=[Depends(require_roles(*READERS))]
)
IATI_VERSION = "2.03"
MEDIA_TYPE = "text/xml"
"""RFC 7303's XML type that every client generator reads as text (the XML declares UTF-8)."""
LOCAL_PREFIX = "XI-ISHC"
"""The identifier prefix of a funder without an IATI organisation identifier."""
# IATI codes: transaction types, organisation roles, activity dates.
COMMITMENT, DISBURSEMENT, EXPENDITURE = "2", "3", "4"
FUNDING, IMPLEMENTING = "1", "4"
ACTUAL_START = "2"


@router.get(
    "/{funder_id}/iati-activities",
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPE: {}}, "description": "IATI activities XML 2.03"}},
    summary="A funder's money in the programme as IATI activities (XML 2.03)",
    description="One activity per plan the funder's money went to, with its pledges, the money "
    "received and the allocations to clubs in the period (by the day money moved). Partners "
    "get their own funder's; officers the money of their provinces.",
)
async def iati_activities(
    funder_id: IdPath,
    session: SessionDep,
    principal: CurrentPrincipal,
    directory: ClubDirectoryDep,
    date_from: Annotated[ReportDate | None, Query(alias="from")] = None,
    date_to: Annotated[ReportDate | None, Query(alias="to")] = None,
    province: ProvinceCode | None = None,
) -> Response:
    if date_from and date_to and date_from > date_to:
        raise invalid("from", "is after 'to'", "query", code=Code.DATE_OUT_OF_ORDER)
    window = (date_from, date_to, province)
    found = await run_in_threadpool(_flows, session, principal, funder_id, window)
    club_ids = {row.club_id for row in found.allocations}
    clubs = await directory.facts_if_available(club_ids) or {}
    document = _document(found, clubs)
    return Response(document, media_type=MEDIA_TYPE)


class _Found:
    def __init__(self, funder: Funder, series: dict[int, PlanSeries]) -> None:
        self.funder = funder
        self.series = series
        self.commitments: list[Commitment] = []
        self.receipts: list[Receipt] = []
        self.allocations: list[Allocation] = []


def _flows(
    session: Session,
    principal: Principal,
    funder_id: int,
    window: tuple[date | None, date | None, str | None],
) -> _Found:
    asked_funder(session, principal, funder_id)
    funder = session.get(Funder, funder_id)
    assert funder is not None  # asked_funder answers 404 otherwise
    date_from, date_to, province = window
    kinds: dict[Any, Any] = {
        Commitment: col(Commitment.committed_on),
        Receipt: col(Receipt.received_on),
        Allocation: col(Allocation.allocated_on),
    }
    fetched: dict[Any, list[Any]] = {}
    for model, moved_on in kinds.items():
        commune = getattr(model, "commune_code", None)
        conditions = [
            col(model.funder_id) == funder_id,
            flow_filter(principal, model.funder_id, model.province_code, commune),
        ]
        if model is Commitment:
            conditions.append(col(Commitment.withdrawn_at).is_(None))
        if date_from:
            conditions.append(moved_on >= date_from)
        if date_to:
            conditions.append(moved_on <= date_to)
        if province:
            conditions.append(col(model.province_code) == province)
        query = select(model).where(*conditions).order_by(moved_on, col(model.id))
        fetched[model] = list(session.exec(query).all())
    series_ids = {row.series_id for rows in fetched.values() for row in rows}
    series = session.exec(select(PlanSeries).where(col(PlanSeries.id).in_(series_ids))).all()
    found = _Found(funder, {item.id: item for item in series if item.id is not None})
    found.commitments, found.receipts = fetched[Commitment], fetched[Receipt]
    found.allocations = fetched[Allocation]
    return found


def _text(parent: ET.Element, tag: str, text: str, **attributes: str) -> ET.Element:
    element = ET.SubElement(parent, tag, attributes)
    ET.SubElement(element, "narrative").text = text
    return element


def _transaction(
    activity: ET.Element, kind: str, amount: int, on: date, description: str, receiver: str
) -> None:
    transaction = ET.SubElement(activity, "transaction")
    ET.SubElement(transaction, "transaction-type", code=kind)
    ET.SubElement(transaction, "transaction-date", {"iso-date": on.isoformat()})
    value = ET.SubElement(transaction, "value", {"currency": "VND", "value-date": on.isoformat()})
    value.text = str(amount)
    _text(transaction, "description", description)
    _text(transaction, "receiver-org", receiver)


def _document(found: _Found, clubs: dict[int, ClubFacts]) -> bytes:
    now = utcnow().replace(microsecond=0)
    root = ET.Element(
        "iati-activities", {"version": IATI_VERSION, "generated-datetime": now.isoformat()}
    )
    by_series: dict[int, list[tuple[str, Any]]] = defaultdict(list)
    for kind, rows in (
        (COMMITMENT, found.commitments),
        (DISBURSEMENT, found.receipts),
        (EXPENDITURE, found.allocations),
    ):
        for row in rows:
            by_series[row.series_id].append((kind, row))
    for series_id in sorted(by_series):
        _activity(root, found, found.series[series_id], by_series[series_id], clubs, now)
    ET.indent(root)
    document: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return document


def _activity(
    root: ET.Element,
    found: _Found,
    series: PlanSeries,
    flows: list[tuple[str, Any]],
    clubs: dict[int, ClubFacts],
    now: datetime,
) -> None:
    funder = found.funder
    prefix = funder.iati_org_id or f"{LOCAL_PREFIX}-{funder.id}"
    activity = ET.SubElement(
        root,
        "iati-activity",
        {"default-currency": "VND", "last-updated-datetime": now.isoformat(), "xml:lang": "vi"},
    )
    ET.SubElement(activity, "iati-identifier").text = f"{prefix}-PLAN-{series.id}"
    reporting = {"ref": prefix, "type": "21" if funder.funder_type == "ngo" else "90"}
    _text(activity, "reporting-org", funder.name, **reporting)
    title = (
        f"Câu lạc bộ liên thế hệ tự giúp nhau, tỉnh {series.province_code}, "
        f"{series.start_year}–{series.end_year}"
    )
    _text(activity, "title", title)
    _text(activity, "participating-org", funder.name, role=FUNDING, ref=prefix)
    _text(activity, "participating-org", f"Province {series.province_code}", role=IMPLEMENTING)
    ET.SubElement(activity, "activity-status", code="2")
    days = sorted(row_date(row) for _, row in flows)
    first = {"type": ACTUAL_START, "iso-date": days[0].isoformat()}
    ET.SubElement(activity, "activity-date", first)
    ET.SubElement(activity, "recipient-country", code="VN", percentage="100")
    for kind, row in flows:
        if kind == EXPENDITURE:
            club = clubs.get(row.club_id)
            receiver = f"{club.code} {club.name}" if club else f"club {row.club_id}"
            what = f"Allocation {row.id} to the club's {row.fund_kind} fund"
        elif kind == DISBURSEMENT:
            receiver, what = f"Province {series.province_code}", f"Money received {row.id}"
        else:
            receiver, what = f"Province {series.province_code}", f"Pledge {row.id}"
        _transaction(activity, kind, row.amount, row_date(row), what, receiver)


def row_date(row: Any) -> date:
    """The day a flow moved."""
    for name in ("allocated_on", "received_on", "committed_on"):
        if hasattr(row, name):
            day: date = getattr(row, name)
            return day
    raise TypeError(type(row).__name__)
