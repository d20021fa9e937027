"""What the platform's reconciliation asks the clubs service (service tokens only).

The funding service checks that every bank record the loans service matched to a member names
a member that exists, in that club, with that national ID: it sends the matched member ids here
in batches of up to 10,000 and gets each membership's club, place and national ID back (left
memberships too: leaving keeps the record). It also asks which provinces have clubs, so the
indicator totals are compared with the provinces that have anything to count.
"""

from typing import Annotated

import orjson
from fastapi import APIRouter, Depends, Response
from pydantic import Field
from sqlalchemy import select
from sqlmodel import col

from common.auth import Role, require_roles
from common.db import SessionDep
from common.schemas import Id, InputModel
from services.clubs.models import Club, Member

MAX_IDS = 10_000
MEMBER_COLUMNS = [
    "id",
    "club_id",
    "national_id_blind_index",
    "left_on",
    "province_code",
    "commune_code",
]

router = APIRouter(tags=["reconciliation"], dependencies=[Depends(require_roles(Role.SERVICE))])


class MemberFactsQuery(InputModel):
    ids: Annotated[list[Id], Field(min_length=1, max_length=MAX_IDS)]


@router.post(
    "/api/v1/members/reconciliation/facts",
    summary="Memberships by id, left ones too: club, place, ID's blind index (reconciliation)",
    response_description=f"`{{columns, rows}}`, rows in the order of `{MEMBER_COLUMNS}`; ids of "
    "no membership are not in the answer.",
)
def member_facts(query: MemberFactsQuery, session: SessionDep) -> Response:
    rows = session.execute(
        select(
            col(Member.id),
            col(Member.club_id),
            col(Member.national_id_blind_index),
            col(Member.left_on),
            col(Club.province_code),
            col(Club.commune_code),
        )
        .join(Club, col(Club.id) == col(Member.club_id))
        .where(col(Member.id).in_(sorted(set(query.ids))))
    ).all()
    body = {"columns": MEMBER_COLUMNS, "rows": [list(row) for row in rows]}
    # Encoded directly: up to 10,000 rows of plain values (dates as ISO strings).
    return Response(orjson.dumps(body), media_type="application/json")


@router.get(
    "/api/v1/clubs/reconciliation/provinces",
    response_model=list[str],
    summary="Provinces that have clubs (reconciliation)",
)
def provinces_with_clubs(session: SessionDep) -> list[str]:
    return list(
        session.execute(
            select(col(Club.province_code)).distinct().order_by(col(Club.province_code))
        )
        .scalars()
        .all()
    )
