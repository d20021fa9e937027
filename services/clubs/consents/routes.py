"""`/api/v1/members/{member_id}/consents`: what a member consented to, given and withdrawn."""

from fastapi import APIRouter, Request, Response

from common.auth import CurrentPrincipal
from common.db import SessionDep
from common.personal_data import shown
from common.schemas import IdPath
from services.clubs.audit import Actor
from services.clubs.consents import service
from services.clubs.consents.schemas import ConsentGiven, ConsentPublic, ConsentWithdrawal
from services.clubs.members.routes import ManagedMember, VisibleMember, readers

router = APIRouter(prefix="/api/v1/members", tags=["consents"], dependencies=readers)


@router.get(
    "/{member_id}/consents",
    response_model=list[ConsentPublic],
    summary="A member's consents, current and withdrawn",
)
def list_consents(
    member: VisibleMember, session: SessionDep, response: Response
) -> list[ConsentPublic]:
    shown(response, [member.id])
    return [service.public(c) for c in service.consents_of(session, member.id or 0)]


@router.post(
    "/{member_id}/consents",
    response_model=ConsentPublic,
    status_code=201,
    summary="Record a consent the member gave",
    description="409 when the member already consents to that purpose, or has left.",
)
def give_consent(
    member: ManagedMember,
    payload: ConsentGiven,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
    response: Response,
) -> ConsentPublic:
    consent = service.give(session, Actor(principal, request), member, payload)
    response.headers["Location"] = f"/api/v1/members/{member.id}/consents"
    return service.public(consent)


@router.post(
    "/{member_id}/consents/{consent_id}/withdrawal",
    response_model=ConsentPublic,
    summary="Record that the member withdrew a consent",
    description="Withdrawing the consent to bank matching unlinks the bank's loan records from "
    "the member. The consent to membership is withdrawn only after the member left.",
)
def withdraw_consent(
    member: ManagedMember,
    consent_id: IdPath,
    payload: ConsentWithdrawal,
    session: SessionDep,
    principal: CurrentPrincipal,
    request: Request,
) -> ConsentPublic:
    consent = service.consent_of(session, member, consent_id)
    withdrawn = service.withdraw(session, Actor(principal, request), member, consent, payload)
    return service.public(withdrawn)
