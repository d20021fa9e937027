"""`/api/v1/locations`: the administrative units clubs are registered in."""

from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel

from common import places
from common.auth import Role, require_roles
from common.paging import page_of_rows
from common.problem_codes import Code
from common.problems import NotFound, invalid
from common.schemas import Page, PageDep
from services.clubs.locations import legacy
from services.clubs.locations.schemas import Commune, Province, ResolvedAddress

READERS = (Role.ADMIN, Role.OFFICER, Role.CLUB_MANAGER, Role.PARTNER, Role.SERVICE)
router = APIRouter(
    prefix="/api/v1/locations", tags=["locations"], dependencies=[Depends(require_roles(*READERS))]
)
SearchQuery = Annotated[
    str | None,
    Query(max_length=100, description="Part of the name; case and diacritics are ignored."),
]
UnitModel = TypeVar("UnitModel", bound=BaseModel)


def _page(rows: list[places.Unit], page: PageDep, model: type[UnitModel]) -> Page[UnitModel]:
    paged = page_of_rows(
        rows, page, "unit code", lambda unit: unit.code, lambda unit: int(unit.code)
    )
    return paged.page([model(**unit.__dict__) for unit in paged.rows])


@router.get(
    "/provinces", response_model=Page[Province], summary="Provinces in force since 1 July 2025"
)
async def list_provinces(page: PageDep, q: SearchQuery = None) -> Page[Province]:
    # Async: 34 provinces in memory are not worth a trip to the thread pool.
    return _page(places.search(list(places.provinces().values()), q), page, Province)


@router.get("/provinces/{code}", response_model=Province, summary="One province")
async def get_province(code: str) -> Province:
    unit = places.provinces().get(code)
    if unit is None:
        raise NotFound(f"No province with code {code!r}.")
    return Province(**unit.__dict__)


@router.get(
    "/provinces/{code}/communes",
    response_model=Page[Commune],
    summary="Communes, wards and special zones of a province",
)
def list_communes(code: str, page: PageDep, q: SearchQuery = None) -> Page[Commune]:
    if code not in places.provinces():
        raise NotFound(f"No province with code {code!r}.")
    return _page(places.search(places.communes_by_province()[code], q), page, Commune)


@router.get(
    "/resolve",
    response_model=ResolvedAddress,
    summary="Today's province and commune of a pre-2025 address",
)
def resolve_address(
    address: Annotated[
        str,
        Query(
            min_length=3,
            max_length=500,
            description=(
                "An address as written before July 2025, e.g. "
                "'Xã Phong Niên, Huyện Bảo Thắng, Tỉnh Lào Cai'."
            ),
        ),
    ],
) -> ResolvedAddress:
    found = legacy.resolve(address)
    if found.province_code is None:
        raise invalid(
            "address",
            "no province can be recognised in it",
            location="query",
            code=Code.UNRECOGNISED_ADDRESS,
        )
    province = places.provinces()[found.province_code]
    commune = places.communes().get(found.commune_code or "")
    return ResolvedAddress(
        address=address,
        province=Province(**province.__dict__),
        commune=Commune(**commune.__dict__) if commune else None,
        legacy_province=found.legacy_province,
        legacy_district=found.legacy_district,
        legacy_commune=found.legacy_commune,
        note=None if commune else "The commune could not be recognised; only the province.",
    )
