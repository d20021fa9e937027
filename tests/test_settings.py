"""Every component starts with safe local defaults and refuses them in production."""

import pytest

from common.sealing import new_key
from common.settings import InsecureSettingsError
from gateway.settings import GatewaySettings
from services.clubs.settings import ClubsSettings
from services.funding.settings import FundingSettings
from services.loans.settings import LoansSettings

POSTGRES = "postgresql://ishc:secret@db:5432/ishc"
KEYS = {
    "personal_data_keys": f"k1:{new_key()}",
    "personal_data_index_key": new_key(),
}
"""Real personal-data keys, for the services that keep citizen IDs (tests/test_sealing.py)."""


@pytest.mark.parametrize("settings_class", [ClubsSettings, LoansSettings, FundingSettings])
def test_a_calling_service_refuses_its_development_secret_in_production(settings_class) -> None:
    keys = {} if settings_class is FundingSettings else KEYS
    with pytest.raises(InsecureSettingsError, match="client_secret"):
        settings_class(environment="production", database_url=POSTGRES, **keys).check_production()
    settings_class(
        environment="production", database_url=POSTGRES, client_secret="a-real-secret", **keys
    ).check_production()


def test_the_gateway_refuses_development_secrets_in_production() -> None:
    with pytest.raises(InsecureSettingsError, match="keys_encryption_key, service_clients"):
        GatewaySettings(environment="production", database_url=POSTGRES).check_production()
    with pytest.raises(InsecureSettingsError, match="keys_encryption_key"):
        GatewaySettings(
            environment="production",
            database_url=POSTGRES,
            service_clients="svc-clubs:s1,svc-loans:s2,svc-funding:s3",
        ).check_production()
    GatewaySettings(
        environment="production",
        database_url=POSTGRES,
        service_clients="svc-clubs:s1,svc-loans:s2,svc-funding:s3",
        keys_encryption_key=f"k1:{new_key()}",
    ).check_production()


def test_production_refuses_sqlite() -> None:
    with pytest.raises(InsecureSettingsError, match="PostgreSQL"):
        ClubsSettings(environment="production", client_secret="s1", **KEYS).check_production()


def test_settings_come_from_prefixed_environment_variables(monkeypatch) -> None:
    monkeypatch.setenv("LOANS_DATABASE_URL", POSTGRES)
    monkeypatch.setenv("GATEWAY_LOANS_URL", "http://loans:8000")
    monkeypatch.setenv("ISHC_ADMIN_USERNAME", "root-admin")
    assert LoansSettings().database_url == POSTGRES
    assert ClubsSettings().database_url != POSTGRES
    assert GatewaySettings().loans_url == "http://loans:8000"
    assert GatewaySettings().admin_username == "root-admin"
