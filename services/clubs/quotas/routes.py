"""`/api/v1/quota-profiles`: composition rules as data; admins edit them."""

from typing import Any

from fastapi import APIRouter, Depends
from sqlalchemy import func, update
from sqlmodel import col, select

from common.auth import Role, require_roles
from common.clock import utcnow
from common.db import SessionDep
from common.paging import page_of
from common.problem_codes import Code
from common.problems import Conflict, NotFound
from common.schemas import IdPath, Page, PageDep
from services.clubs.models import Club, QuotaProfile
from services.clubs.quotas.schemas import (
    QuotaProfileCreate,
    QuotaProfilePublic,
    QuotaProfileUpdate,
    check_bounds,
)
from services.clubs.scope import CLUB_READERS

router = APIRouter(
    prefix="/api/v1/quota-profiles",
    tags=["quota profiles"],
    dependencies=[Depends(require_roles(*CLUB_READERS))],
)
admin_only = [Depends(require_roles(Role.ADMIN))]


def get_profile(session: SessionDep, profile_id: int) -> QuotaProfile:
    profile = session.get(QuotaProfile, profile_id)
    if profile is None:
        raise NotFound(f"No quota profile {profile_id}.")
    return profile


def default_profile(session: SessionDep) -> QuotaProfile:
    profile = session.exec(select(QuotaProfile).where(QuotaProfile.is_default)).first()
    if profile is None:
        raise Conflict(
            "No default quota profile is set; choose one explicitly.",
            code=Code.NO_DEFAULT_QUOTA_PROFILE,
        )
    return profile


def _make_default(session: SessionDep, profile: QuotaProfile) -> None:
    session.execute(
        update(QuotaProfile).where(col(QuotaProfile.id) != profile.id).values(is_default=False)
    )
    profile.is_default = True


@router.get("", response_model=Page[QuotaProfilePublic], summary="List quota profiles")
def list_profiles(session: SessionDep, page: PageDep) -> Page[QuotaProfile]:
    paged = page_of(session, select(QuotaProfile), page, col(QuotaProfile.id))
    return paged.page(paged.rows)


@router.get("/{profile_id}", response_model=QuotaProfilePublic, summary="One quota profile")
def read_profile(profile_id: IdPath, session: SessionDep) -> QuotaProfile:
    return get_profile(session, profile_id)


@router.post(
    "",
    response_model=QuotaProfilePublic,
    status_code=201,
    dependencies=admin_only,
    summary="Create a quota profile",
)
def create_profile(payload: QuotaProfileCreate, session: SessionDep) -> QuotaProfile:
    if session.exec(select(QuotaProfile).where(QuotaProfile.code == payload.code)).first():
        raise Conflict(
            f"The quota profile code {payload.code!r} is taken.", code=Code.ALREADY_EXISTS
        )
    profile = QuotaProfile(**payload.model_dump())
    session.add(profile)
    session.flush()
    return profile


@router.patch(
    "/{profile_id}",
    response_model=QuotaProfilePublic,
    dependencies=admin_only,
    summary="Change a quota profile; clubs using it are judged by the new rules",
)
def update_profile(
    profile_id: IdPath, payload: QuotaProfileUpdate, session: SessionDep
) -> QuotaProfile:
    profile = get_profile(session, profile_id)
    changes: dict[str, Any] = payload.model_dump(exclude_unset=True)
    make_default = changes.pop("is_default", None)
    if make_default is False and profile.is_default:
        raise Conflict(
            "Make another profile the default instead of unsetting this one.",
            code=Code.DEFAULT_QUOTA_PROFILE_REQUIRED,
        )
    check_bounds({**profile.model_dump(), **changes})
    for name, value in changes.items():
        setattr(profile, name, value)
    if make_default:
        _make_default(session, profile)
    profile.updated_at = utcnow()
    session.add(profile)
    return profile


@router.delete(
    "/{profile_id}",
    status_code=204,
    dependencies=admin_only,
    summary="Delete a quota profile no club uses",
)
def delete_profile(profile_id: IdPath, session: SessionDep) -> None:
    profile = get_profile(session, profile_id)
    in_use = session.exec(
        select(func.count()).select_from(Club).where(Club.quota_profile_id == profile.id)
    ).one()
    if in_use:
        raise Conflict(
            f"The quota profile is used by {in_use} club(s).", code=Code.QUOTA_PROFILE_IN_USE
        )
    if profile.is_default:
        raise Conflict(
            "The default quota profile cannot be deleted.",
            code=Code.DEFAULT_QUOTA_PROFILE_REQUIRED,
        )
    session.delete(profile)
