"""What the gateway's own endpoints take and give."""

from collections.abc import Mapping
from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, StringConstraints, model_validator

from common.auth import Role
from common.problem_codes import Code
from common.problems import FieldError, ValidationFailed, field_error
from common.schemas import InputModel, OutputModel, PatchModel
from common.scope import needed_scope

ProvinceCode = Annotated[str, StringConstraints(pattern=r"^\d{2}$")]
CommuneCode = Annotated[str, StringConstraints(pattern=r"^\d{5}$")]
BankCode = Annotated[str, StringConstraints(pattern=r"^[A-Z0-9_]{2,20}$")]
Username = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._@-]{2,63}$")]
ClientId = Annotated[str, StringConstraints(pattern=r"^[a-z0-9][a-z0-9._-]{2,63}$")]
Password = Annotated[str, StringConstraints(min_length=10, max_length=128)]
MAX_SCOPE_ITEMS = 500
SCOPE_FIELDS = ("provinces", "communes", "clubs", "funder_id", "bank_code")


def allowed_scope(role: Role) -> frozenset[str]:
    """The scope fields a role may carry: what it needs, and communes to narrow an area."""
    needed = needed_scope(role)
    return needed | {"communes"} if "provinces" in needed else needed


def scope_errors(role: Role, present: Mapping[str, bool]) -> list[FieldError]:
    """Each role carries exactly the scope it needs and no other; `present` says, for each
    scope field, whether it is set (a list not empty, a code not null)."""
    needed, allowed = needed_scope(role), allowed_scope(role)
    errors = [
        field_error(name, f"required for the role {role.value}", code=Code.REQUIRED_WITH)
        for name in sorted(needed)
        if not present[name]
    ]
    errors += [
        field_error(name, f"not used by the role {role.value}", code=Code.NOT_ALLOWED_WITH)
        for name, is_set in sorted(present.items())
        if is_set and name not in allowed
    ]
    return errors


def check_scope(
    role: Role,
    provinces: list[str],
    communes: list[str],
    clubs: list[int],
    funder_id: int | None,
    bank_code: str | None,
) -> None:
    """422 unless the role carries exactly the scope it needs and no other."""
    present = {
        "provinces": bool(provinces),
        "communes": bool(communes),
        "clubs": bool(clubs),
        "funder_id": funder_id is not None,
        "bank_code": bank_code is not None,
    }
    errors = scope_errors(role, present)
    if errors:
        raise ValidationFailed(
            "The scope does not fit the role: "
            + "; ".join(f"{e.field} {e.reason}" for e in errors),
            errors=errors,
        )


class ScopeFields(InputModel):
    provinces: list[ProvinceCode] = Field(default_factory=list, max_length=MAX_SCOPE_ITEMS)
    communes: list[CommuneCode] = Field(default_factory=list, max_length=MAX_SCOPE_ITEMS)
    clubs: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] = Field(
        default_factory=list, max_length=MAX_SCOPE_ITEMS
    )
    funder_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    bank_code: BankCode | None = None


def _scope_by_role(schema: dict[str, Any]) -> None:
    """States in the document what `scope_errors` checks: per role, the scope fields it needs
    (present, not empty) and the ones it may not carry (empty or null)."""
    conditions = []
    for role in Role:
        needed, allowed = needed_scope(role), allowed_scope(role)
        rules = {
            name: _present(name) if name in needed else _absent(name)
            for name in SCOPE_FIELDS
            if name in needed or name not in allowed
        }
        then: dict[str, Any] = {"properties": rules}
        if needed:
            then["required"] = sorted(needed)
        conditions.append({"if": {"properties": {"role": {"const": role.value}}}, "then": then})
    schema["allOf"] = conditions


def _present(name: str) -> dict[str, Any]:
    return {"type": "array", "minItems": 1} if name in LIST_SCOPES else {"not": {"type": "null"}}


def _absent(name: str) -> dict[str, Any]:
    return {"type": "array", "maxItems": 0} if name in LIST_SCOPES else {"type": "null"}


LIST_SCOPES = frozenset({"provinces", "communes", "clubs"})


class ScopedCreate(ScopeFields):
    model_config = ConfigDict(json_schema_extra=_scope_by_role)

    role: Role

    @model_validator(mode="after")
    def _scope_fits_role(self) -> Self:
        check_scope(
            self.role, self.provinces, self.communes, self.clubs, self.funder_id, self.bank_code
        )
        return self


class UserCreate(ScopedCreate):
    username: Username
    full_name: str = Field(default="", max_length=200)
    password: Password

    @model_validator(mode="after")
    def _people_are_not_services(self) -> Self:
        if self.role is Role.SERVICE:
            raise ValidationFailed(
                "role: service is for API clients only",
                errors=[
                    field_error(
                        "role", "service is for API clients only", code=Code.ROLE_NOT_FOR_PEOPLE
                    )
                ],
            )
        return self


class UserUpdate(PatchModel):
    """Fields left out stay as they are; a new role must come with the scope it needs."""

    nullable = frozenset({"funder_id", "bank_code"})

    full_name: str | None = Field(default=None, max_length=200)
    password: Password | None = None
    role: Role | None = None
    provinces: list[ProvinceCode] | None = Field(default=None, max_length=MAX_SCOPE_ITEMS)
    communes: list[CommuneCode] | None = Field(default=None, max_length=MAX_SCOPE_ITEMS)
    clubs: list[Annotated[int, Field(ge=1, le=2**31 - 1)]] | None = Field(
        default=None, max_length=MAX_SCOPE_ITEMS
    )
    funder_id: int | None = Field(default=None, ge=1, le=2**31 - 1)
    bank_code: BankCode | None = None
    active: bool | None = None


class ClientCreate(ScopedCreate):
    name: str = Field(min_length=1, max_length=200)
    client_id: ClientId | None = Field(
        default=None, description="Chosen by the platform when left out."
    )


class ClientUpdate(PatchModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    active: bool | None = None


class RoleScope(OutputModel):
    """What a person or a client may reach: its role and the scope that goes with it."""

    role: Role
    provinces: list[str]
    communes: list[str]
    clubs: list[int]
    funder_id: int | None
    bank_code: str | None


class ScopePublic(RoleScope):
    active: bool


class UserPublic(ScopePublic):
    id: int
    username: str
    full_name: str
    created_at: datetime
    updated_at: datetime


class ClientPublic(ScopePublic):
    id: int
    client_id: str
    name: str
    created_at: datetime
    updated_at: datetime
    previous_secret_expires_at: datetime | None = Field(
        default=None,
        description="When the secret replaced last stops working (the overlap that lets the "
        "client's operators deploy the new one); null when there is none.",
    )


class ClientWithSecret(ClientPublic):
    client_secret: str = Field(description="Shown once; only its hash is kept.")


class TokenResponse(OutputModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int
    refresh_token: str | None = Field(
        default=None,
        description="For apps (the authorization_code and refresh_token grants): exchange it "
        "for new tokens before its login ends; it works once.",
    )


class Me(RoleScope):
    subject: str
    expires_at: int
