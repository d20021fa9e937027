"""The Docker Compose deployment, checked by reading it: no Docker engine and no running platform.

`docker/compose.yaml` runs PostgreSQL, the migrations, the three services and the gateway from
the one image of `docker/Dockerfile`. These tests keep it in step with the code: the settings it
sets exist, the factories it starts are the real ones, every component has its own database, and
the secrets the gateway registers for the services are the ones the services present.
"""

import json
import os
import re
import shlex
import shutil
import subprocess
import tomllib
from functools import cache
from importlib import import_module
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from pydantic_settings import BaseSettings
from sqlalchemy.engine import make_url

from common.migrate import COMPONENTS
from common.serving import SERVER_ENVIRONMENT, SERVER_KEEPALIVE_SECONDS
from common.settings import DEV_SECRET_MARKER
from gateway.proxy import UPSTREAM_KEEPALIVE_SECONDS
from gateway.settings import CALLING_SERVICES
from tools.stack import FACTORIES, SERVICES

ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
INIT_SQL = DOCKER_DIR / "postgres-init" / "01-databases.sql"
PLATFORM_DOCKERFILE = "docker/Dockerfile"
MIGRATE = "migrate"
POSTGRES = "postgres"
POSTGRES_INIT_DIR = "/docker-entrypoint-initdb.d"

INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)
SECRET_WITH_DEFAULT = re.compile(r"^\$\{(?P<variable>[A-Za-z_]\w*):-(?P<default>[^}]+)\}$")


# --- reading the files ------------------------------------------------------------------------


@cache
def compose() -> dict[str, Any]:
    return yaml.safe_load(COMPOSE_FILE.read_text())


def service(name: str) -> dict[str, Any]:
    return compose()["services"][name]


def interpolate(value: str) -> str:
    """The value as compose sees it when the operator sets none of the variables it names."""

    def replace(match: re.Match[str]) -> str:
        if match["escaped"]:
            return "$"
        if match["op"] and match["op"].endswith("?"):
            raise AssertionError(f"{value!r} requires a variable; the tests expect defaults")
        return match["default"] or ""

    return INTERPOLATION.sub(replace, value)


def raw_environment(name: str) -> dict[str, str]:
    """A compose service's environment as written, before interpolation."""
    environment = service(name).get("environment") or {}
    if isinstance(environment, list):
        environment = dict(item.split("=", 1) for item in environment)
    return {key: str(value) for key, value in environment.items()}


def environment(name: str) -> dict[str, str]:
    return {key: interpolate(value) for key, value in raw_environment(name).items()}


def command(name: str) -> list[str]:
    value = service(name)["command"]
    return shlex.split(value) if isinstance(value, str) else [str(part) for part in value]


def option(argv: list[str], flag: str) -> str:
    assert flag in argv, f"{flag} missing from {argv}"
    return argv[argv.index(flag) + 1]


def platform_containers() -> list[str]:
    """The compose services that run the platform image."""
    return [
        name
        for name, definition in compose()["services"].items()
        if (definition.get("build") or {}).get("dockerfile") == PLATFORM_DOCKERFILE
    ]


def settings_class(component: str) -> type[BaseSettings]:
    module, name = COMPONENTS[component].split(":")
    return getattr(import_module(module), name)


def env_prefix(component: str) -> str:
    return settings_class(component).model_config["env_prefix"].upper()


def component_of(variable: str) -> str | None:
    return next((c for c in COMPONENTS if variable.upper().startswith(env_prefix(c))), None)


def accepted_variables(component: str) -> set[str]:
    """Every environment variable the component's settings class reads."""
    cls = settings_class(component)
    names = set()
    for field, info in cls.model_fields.items():
        alias = info.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(choice.upper() for choice in alias.choices if isinstance(choice, str))
        elif isinstance(alias, str):
            names.add(alias.upper())
        else:
            names.add(f"{env_prefix(component)}{field}".upper())
    return names


def settings_in_compose(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[BaseSettings, dict[str, str]]:
    """The component's settings as its container reads them, with the example defaults."""

    for variable in list(os.environ):
        if component_of(variable) or variable.upper().startswith("ISHC_"):
            monkeypatch.delenv(variable)
    env = environment(component)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return settings_class(component)(), env


def created_databases() -> list[str]:
    return re.findall(r'(?im)^\s*CREATE\s+DATABASE\s+"?(\w+)"?', INIT_SQL.read_text())


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def healthcheck_command(name: str) -> str:
    test = service(name)["healthcheck"]["test"]
    return test if isinstance(test, str) else " ".join(test)


# --- the compose project ----------------------------------------------------------------------


def test_compose_runs_postgres_the_migrations_and_every_component() -> None:
    services = compose()["services"]
    assert {POSTGRES, MIGRATE, *FACTORIES} <= set(services)
    assert services[POSTGRES]["image"].startswith("postgres:15")
    assert sorted(platform_containers()) == sorted([MIGRATE, *FACTORIES])


def test_each_component_starts_its_own_app_factory() -> None:
    for component, factory in FACTORIES.items():
        argv = command(component)
        assert argv[0] == "uvicorn", component
        assert option(argv, "--factory") == factory, component
        assert option(argv, "--host") == "0.0.0.0", component


def test_each_service_has_its_own_database() -> None:
    postgres = environment(POSTGRES)
    databases = created_databases()
    assert sorted(databases) == sorted(FACTORIES), "one database per component in the init script"
    mounts = [str(volume) for volume in service(POSTGRES)["volumes"]]
    assert any(
        m.split(":")[0] == "./postgres-init" and m.split(":")[1] == POSTGRES_INIT_DIR
        for m in mounts
    ), "the init script is mounted where the postgres image runs it"

    used = {}
    for component in FACTORIES:
        url = make_url(environment(component)[f"{env_prefix(component)}DATABASE_URL"])
        assert url.get_backend_name() == "postgresql", component
        assert url.host == POSTGRES, component
        assert url.port in (None, 5432), component
        assert url.username == postgres["POSTGRES_USER"], component
        assert url.password == postgres["POSTGRES_PASSWORD"], component
        assert url.database in databases, f"{component}: {url.database} is never created"
        used[component] = url.database
    assert len(set(used.values())) == len(used), f"components share a database: {used}"


def test_migrations_upgrade_the_databases_the_components_use() -> None:
    assert command(MIGRATE) == ["python", "-m", "common.migrate"]
    assert service(MIGRATE)["depends_on"][POSTGRES]["condition"] == "service_healthy"
    assert service(MIGRATE).get("restart", "no") == "no", "a one-shot job is not restarted"
    migrate = environment(MIGRATE)
    for component in COMPONENTS:
        variable = f"{env_prefix(component)}DATABASE_URL"
        assert migrate[variable] == environment(component)[variable], component


def test_every_variable_compose_sets_is_a_real_setting() -> None:
    for container in platform_containers():
        for variable in environment(container):
            owner = component_of(variable)
            if owner is not None:
                assert variable.upper() in accepted_variables(owner), (
                    f"{container}: {variable} is not a field of {COMPONENTS[owner]}"
                )
            else:
                assert any(variable.upper() in accepted_variables(c) for c in COMPONENTS), (
                    f"{container}: no component reads {variable}"
                )


def test_each_component_is_configured_with_its_own_prefix_only() -> None:
    for component in FACTORIES:
        for variable in environment(component):
            assert component_of(variable) in (component, None), f"{component}: {variable}"


@pytest.mark.parametrize("component", list(FACTORIES))
def test_compose_starts_every_component_in_production(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, env = settings_in_compose(component, monkeypatch)
    assert env[f"{env_prefix(component)}ENVIRONMENT"] == "production"
    assert settings.environment == "production"
    settings.check_production()  # no development secret, no SQLite


def test_example_secrets_can_be_overridden_and_are_not_development_defaults() -> None:
    secrets = {
        "GATEWAY_SERVICE_CLIENTS": raw_environment("gateway")["GATEWAY_SERVICE_CLIENTS"],
        "ISHC_ADMIN_PASSWORD": raw_environment("gateway")["ISHC_ADMIN_PASSWORD"],
        "POSTGRES_PASSWORD": raw_environment(POSTGRES)["POSTGRES_PASSWORD"],
    }
    for name in CALLING_SERVICES:
        variable = f"{env_prefix(name)}CLIENT_SECRET"
        secrets[variable] = raw_environment(name)[variable]
    for name in ("clubs", "loans"):
        for setting in ("PERSONAL_DATA_KEYS", "PERSONAL_DATA_INDEX_KEY"):
            variable = f"{env_prefix(name)}{setting}"
            secrets[variable] = raw_environment(name)[variable]
    for variable, raw in secrets.items():
        assert "${" in raw, f"{variable} cannot be set by the operator"
        value = interpolate(raw)
        assert value, variable
        assert DEV_SECRET_MARKER not in value, f"{variable} keeps a development secret"


def test_both_services_get_the_same_blind_index_key_and_the_migrations_their_keys() -> None:
    """The loans service matches borrowers by the clubs service's blind index: one key."""
    clubs, loans = raw_environment("clubs"), raw_environment("loans")
    assert clubs["CLUBS_PERSONAL_DATA_INDEX_KEY"] == loans["LOANS_PERSONAL_DATA_INDEX_KEY"]
    migrate = environment(MIGRATE)
    for name in ("clubs", "loans"):
        for setting in ("PERSONAL_DATA_KEYS", "PERSONAL_DATA_INDEX_KEY"):
            variable = f"{env_prefix(name)}{setting}"
            assert migrate[variable] == environment(name)[variable], variable


def test_service_client_secrets_match_the_gateway_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = dict(
        item.split(":", 1)
        for item in raw_environment("gateway")["GATEWAY_SERVICE_CLIENTS"].split(",")
    )
    gateway, _ = settings_in_compose("gateway", monkeypatch)
    credentials = gateway.service_credentials()
    assert len(credentials) == len(CALLING_SERVICES)
    for name in CALLING_SERVICES:
        raw_secret = raw_environment(name)[f"{env_prefix(name)}CLIENT_SECRET"]
        interpolation = SECRET_WITH_DEFAULT.match(raw_secret)
        assert interpolation, f"{name}: client secret should be ${{VARIABLE:-example}}"
        settings, _ = settings_in_compose(name, monkeypatch)
        assert settings.client_id in registry, f"the gateway does not register {name}"
        # The same variable on both sides, so an operator's value reaches both ...
        assert registry[settings.client_id].strip() == raw_secret, name
        # ... and the same example default when the operator sets none.
        assert credentials[settings.client_id] == interpolation["default"], name
        assert settings.client_secret == interpolation["default"], name


def test_components_find_each_other_by_compose_service_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gateway, _ = settings_in_compose("gateway", monkeypatch)
    for name, url in gateway.upstreams().items():
        parts = urlsplit(url)
        assert parts.hostname == name, url
        assert str(parts.port) == option(command(name), "--port"), url
    gateway_port = option(command("gateway"), "--port")
    for name in SERVICES:
        settings, _ = settings_in_compose(name, monkeypatch)
        assert settings.gateway_url == f"http://gateway:{gateway_port}", name


def test_components_wait_for_the_migrations_and_report_their_health() -> None:
    assert "pg_isready" in healthcheck_command(POSTGRES)
    for component in FACTORIES:
        assert (
            service(component)["depends_on"][MIGRATE]["condition"]
            == "service_completed_successfully"
        ), component
        check = healthcheck_command(component)
        port = option(command(component), "--port")
        assert f"http://127.0.0.1:{port}/healthz" in check, component
        assert "urllib" in check, "the slim image has no curl"


def test_only_the_gateway_is_published() -> None:
    published = [
        name for name, definition in compose()["services"].items() if "ports" in definition
    ]
    assert published == ["gateway"]
    (mapping,) = service("gateway")["ports"]
    assert interpolate(str(mapping)) == f"8000:{option(command('gateway'), '--port')}"


def test_gateway_signing_keys_live_on_a_named_volume() -> None:
    keys_dir = environment("gateway")["GATEWAY_KEYS_DIR"]
    mounts = {}
    for volume in service("gateway")["volumes"]:
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    assert keys_dir in mounts, "the keys would be lost with the container"
    assert mounts[keys_dir] in compose()["volumes"], "a named volume, declared at the top"


# --- the image --------------------------------------------------------------------------------


def test_image_holds_every_package_of_the_project() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    packages = pyproject["tool"]["hatch"]["build"]["targets"]["wheel"]["packages"]
    copied = set()
    for keyword, arguments in dockerfile_instructions():
        if keyword == "COPY":
            sources = [arg for arg in arguments.split() if not arg.startswith("--")][:-1]
            copied.update(source.rstrip("/") for source in sources)
    missing = {*packages, "migrations", pyproject["project"]["readme"]} - copied
    assert not missing, f"docker/Dockerfile does not copy {sorted(missing)}"


def test_image_installs_the_locked_dependencies_before_the_source() -> None:
    instructions = dockerfile_instructions()
    assert instructions[0] == ("FROM", "python:3.11-slim")
    runs = [i for i, (keyword, args) in enumerate(instructions) if keyword == "RUN"]
    syncs = [i for i in runs if "uv sync" in instructions[i][1]]
    assert len(syncs) == 2
    dependencies, project = syncs
    assert "--frozen" in instructions[dependencies][1]
    assert "--no-install-project" in instructions[dependencies][1]
    assert "--no-dev" in instructions[project][1]
    copies = [i for i, (keyword, _) in enumerate(instructions) if keyword == "COPY"]
    assert instructions[copies[0]][1].split()[:2] == ["pyproject.toml", "uv.lock"]
    assert all(i > dependencies for i in copies[1:]), "source copied before the dependencies"


def test_image_runs_the_gateway_as_an_unprivileged_user() -> None:
    instructions = dockerfile_instructions()
    users = [args for keyword, args in instructions if keyword == "USER"]
    assert users, "the image runs as root"
    assert users[-1] not in ("root", "0")
    cmd = [args for keyword, args in instructions if keyword == "CMD"][-1]
    argv = json.loads(cmd)
    assert option(argv, "--factory") == FACTORIES["gateway"]


def test_image_servers_keep_idle_connections_longer_than_their_clients() -> None:
    env_lines = [args for keyword, args in dockerfile_instructions() if keyword == "ENV"]
    variables = dict(
        pair.split("=", 1) for line in env_lines for pair in shlex.split(line) if "=" in pair
    )
    for name, value in SERVER_ENVIRONMENT.items():
        assert variables.get(name) == value, name
    assert UPSTREAM_KEEPALIVE_SECONDS < SERVER_KEEPALIVE_SECONDS


def test_docker_compose_accepts_the_file() -> None:
    docker = shutil.which("docker")
    if docker is None:
        pytest.skip("no docker CLI on this machine")
    probe = subprocess.run(
        [docker, "compose", "version"], capture_output=True, text=True, timeout=30
    )
    if probe.returncode != 0:
        pytest.skip("the docker CLI has no compose plugin here, so `docker compose config` is out")
    result = subprocess.run(
        [docker, "compose", "-f", str(COMPOSE_FILE), "config", "--quiet"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=DOCKER_DIR,
    )
    assert result.returncode == 0, result.stderr
