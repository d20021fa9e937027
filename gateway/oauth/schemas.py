"""What the app-client endpoints take and give."""

from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field

from common.problem_codes import Code
from common.problems import rule_error
from common.schemas import InputModel, OutputModel, PatchModel
from gateway.schemas import ClientId

LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "[::1]", "::1"})


def _redirect_uri(uri: str) -> str:
    """RFC 8252 and the Security BCP: an absolute URI without a fragment; https, or http to
    this machine (a developer's app, a desktop app), or an app's private scheme (a reversed
    domain name, `vn.example.app:/callback`)."""
    parts = urlsplit(uri)
    if parts.fragment or "#" in uri:
        raise rule_error(Code.INVALID_URL, "no fragment (#…) in a redirect URI")
    if parts.scheme == "https" and parts.hostname:
        return uri
    if parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS:
        return uri
    if "." in parts.scheme and parts.scheme not in ("http", "https"):
        return uri
    raise rule_error(
        Code.INVALID_URL,
        "https, http to localhost or 127.0.0.1, or an app's own scheme (a reversed domain "
        "name such as vn.example.app:/callback)",
    )


RedirectUri = Annotated[
    str,
    Field(min_length=8, max_length=2000, json_schema_extra={"format": "uri"}),
    AfterValidator(_redirect_uri),
]
RedirectUris = Annotated[list[RedirectUri], Field(min_length=1, max_length=20)]


class AppClientCreate(InputModel):
    name: str = Field(min_length=1, max_length=200, description="Shown on the login page.")
    client_id: ClientId | None = Field(
        default=None, description="Chosen by the platform when left out."
    )
    redirect_uris: RedirectUris = Field(
        description="Where the login page may send people back with a code: matched exactly."
    )


class AppClientUpdate(PatchModel):
    name: str | None = Field(default=None, min_length=1, max_length=200)
    redirect_uris: RedirectUris | None = None
    active: bool | None = Field(default=None, description="A disabled app can log nobody in.")


class AppClientPublic(OutputModel):
    id: int
    client_id: str
    name: str
    redirect_uris: list[str]
    active: bool
    created_at: datetime
    updated_at: datetime


AUTHORIZE_FIELDS = (
    "response_type",
    "client_id",
    "redirect_uri",
    "code_challenge",
    "code_challenge_method",
    "state",
)


class AppRequest(BaseModel):
    """What an app sends the login page (RFC 6749 §4.1.1, RFC 7636 §4.3); parameters the page
    does not know are ignored, as OAuth asks."""

    model_config = ConfigDict(extra="ignore")

    response_type: str | None = Field(default=None, max_length=40)
    client_id: str | None = Field(default=None, max_length=64)
    redirect_uri: str | None = Field(default=None, max_length=2000)
    code_challenge: str | None = Field(default=None, max_length=128)
    code_challenge_method: str | None = Field(default=None, max_length=10)
    state: str | None = Field(default=None, max_length=500)
    ui_locales: str | None = Field(default=None, max_length=100)

    def fields(self) -> dict[str, str | None]:
        return self.model_dump(include=set(AUTHORIZE_FIELDS))


class Authorize(AppRequest):
    prompt: str | None = Field(default=None, max_length=40)


class LoginForm(AppRequest):
    csrf: str | None = Field(default=None, max_length=100)
    action: str | None = Field(default=None, max_length=20)
    username: str | None = Field(default=None, max_length=64)
    password: str | None = Field(default=None, max_length=128)
