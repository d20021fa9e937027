"""The Docker Compose deployment, checked by reading it: no Docker engine and no running platform.

`docker/compose.yaml` runs the production layout (docs/deployment.md) on one host from the one
image of `docker/Dockerfile`: PostgreSQL, NATS with JetStream, the migrations, two web replicas
of each component behind a balancer that answers to the component's name, and each component's
worker. These tests keep it in step with the code: the settings it sets exist, the factories and
workers it starts are the real ones, every component has its own database, the balancers send
each request to the next replica, and the secrets the gateway registers for the services are the
ones the services present.
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
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
import yaml
from pydantic import AliasChoices
from sqlalchemy.engine import make_url

from common.migrate import COMPONENTS
from common.serving import SERVER_ENVIRONMENT, SERVER_KEEPALIVE_SECONDS
from common.settings import DEV_SECRET_MARKER, ComponentSettings
from gateway.proxy import UPSTREAM_KEEPALIVE_SECONDS
from gateway.settings import CALLING_SERVICES
from tools.stack import FACTORIES, SERVICES

UVICORN_VARIABLES = frozenset({*SERVER_ENVIRONMENT, "FORWARDED_ALLOW_IPS"})
"""What uvicorn itself reads: how long it keeps idle connections, and whose forwarded client
addresses it trusts (the gateway's web replicas, behind a balancer or an Ingress)."""

ROOT = Path(__file__).resolve().parent.parent
DOCKER_DIR = ROOT / "docker"
COMPOSE_FILE = DOCKER_DIR / "compose.yaml"
DOCKERFILE = DOCKER_DIR / "Dockerfile"
INIT_SQL = DOCKER_DIR / "postgres-init" / "01-databases.sql"
BALANCER_TEMPLATE = DOCKER_DIR / "balancer" / "default.conf.template"
PLATFORM_DOCKERFILE = "docker/Dockerfile"
MIGRATE = "migrate"
POSTGRES = "postgres"
NATS = "nats"
NATS_CLIENT_PORT = 4222
POSTGRES_INIT_DIR = "/docker-entrypoint-initdb.d"
NGINX_TEMPLATES_DIR = "/etc/nginx/templates"
DOCKER_DNS = "127.0.0.11"
NGINX_RESOLVE_SINCE = (1, 27)
"""nginx re-resolves an upstream's name (`server … resolve`) since 1.27.3."""
WEB_REPLICAS = 2
EVENT_TRANSPORT = "jetstream"
PROCESS_WEB = "web"

INTERPOLATION = re.compile(
    r"\$(?:(?P<escaped>\$)|\{(?P<braced>[A-Za-z_]\w*)(?:(?P<op>:?[-?])(?P<default>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_]\w*))"
)
SECRET_WITH_DEFAULT = re.compile(r"^\$\{(?P<variable>[A-Za-z_]\w*):-(?P<default>[^}]+)\}$")
UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


# --- the process names ------------------------------------------------------------------------


def web(component: str) -> str:
    """The compose service of a component's web replicas."""
    return f"{component}-web"


def worker(component: str) -> str:
    """The compose service of a component's worker."""
    return f"{component}-worker"


def balancer(component: str) -> str:
    """The compose service in front of a component's web replicas: the component's own name."""
    return component


def worker_module(component: str) -> str:
    """The module of a component's worker: `worker` beside the module of its app factory."""
    package = FACTORIES[component].split(":")[0].rsplit(".", 1)[0]
    return f"{package}.worker"


def module_exists(module: str) -> bool:
    return find_spec(module) is not None


def process_setting(component: str) -> str:
    return f"{env_prefix(component)}PROCESS"


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


def processes() -> list[str]:
    """The long-running platform containers: every component's web replicas and worker."""
    return [name for component in FACTORIES for name in (web(component), worker(component))]


def settings_class(component: str) -> type[ComponentSettings]:
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


def is_real_setting(variable: str) -> bool:
    """A component reads the variable: its owner by prefix, or any component (`ISHC_*`)."""
    if variable.upper() in UVICORN_VARIABLES:
        return True
    owner = component_of(variable)
    if owner is not None:
        return variable.upper() in accepted_variables(owner)
    return any(variable.upper() in accepted_variables(c) for c in COMPONENTS)


def settings_from(
    component: str, env: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> ComponentSettings:
    """The component's settings as a process with exactly `env` reads them."""
    for variable in list(os.environ):
        if component_of(variable) or variable.upper().startswith("ISHC_"):
            monkeypatch.delenv(variable)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return settings_class(component)()


def settings_in_compose(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> tuple[ComponentSettings, dict[str, str]]:
    """The component's settings as its web replicas read them, with the example defaults."""
    env = environment(web(component))
    return settings_from(component, env, monkeypatch), env


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


def depends_on(name: str) -> dict[str, str]:
    """The services a compose service waits for, with the condition it waits for."""
    return {
        other: condition["condition"] for other, condition in service(name)["depends_on"].items()
    }


# --- the balancers' nginx configuration -------------------------------------------------------


@cache
def balancer_config() -> str:
    return re.sub(r"(?m)#.*$", "", BALANCER_TEMPLATE.read_text())


def nginx_block(kind: str) -> str:
    """The text inside the first `kind … { … }` block of the balancer's configuration."""
    text = balancer_config()
    match = re.search(rf"(?m)^\s*{kind}(?:\s+[\w.-]+)?\s*\{{", text)
    assert match, f"no {kind} block in {BALANCER_TEMPLATE.name}"
    depth, start = 1, match.end()
    for index in range(start, len(text)):
        depth += {"{": 1, "}": -1}.get(text[index], 0)
        if depth == 0:
            return text[start:index]
    raise AssertionError(f"the {kind} block is not closed")


def nginx_directives(name: str, text: str) -> list[str]:
    """The arguments of every `name …;` directive in `text`, nested blocks included."""
    # An argument may hold `${VARIABLE}`, which the nginx image fills in; a `{` opens a block.
    found = re.findall(rf"(?m)^\s*{name}\s+((?:[^;{{$]|\$\{{?)*);", text)
    return [args.strip() for args in found]


def nginx_seconds(value: str) -> float:
    match = re.fullmatch(r"(\d+)(ms|s|m)?", value)
    assert match, value
    return int(match[1]) * {"ms": 0.001, "s": 1, None: 1, "m": 60}[match[2]]


def nginx_bytes(value: str) -> int:
    match = re.fullmatch(r"(\d+)([kmg]?)", value.lower())
    assert match, value
    return int(match[1]) * UNITS[match[2]]


def balancer_port() -> int:
    (listen,) = nginx_directives("listen", nginx_block("server"))
    return int(listen.split()[0])


def balancer_upstream(component: str) -> tuple[str, int]:
    """The host and port a component's balancer sends its requests to."""
    (server,) = nginx_directives("server", nginx_block("upstream"))
    address = server.split()[0].replace(
        "${ISHC_UPSTREAM}", environment(balancer(component))["ISHC_UPSTREAM"]
    )
    host, port = address.rsplit(":", 1)
    return host, int(port)


def largest_body_limit() -> int:
    return max(settings_class(c).model_fields["max_body_bytes"].default for c in COMPONENTS)


# --- the compose project ----------------------------------------------------------------------


def test_compose_runs_postgres_nats_the_migrations_and_every_process() -> None:
    services = compose()["services"]
    expected = {POSTGRES, NATS, MIGRATE, *processes(), *map(balancer, FACTORIES)}
    assert expected <= set(services), sorted(expected - set(services))
    assert services[POSTGRES]["image"].startswith("postgres:15")
    assert sorted(platform_containers()) == sorted([MIGRATE, *processes()])


def test_each_component_runs_two_web_replicas_of_its_app_factory() -> None:
    for component, factory in FACTORIES.items():
        argv = command(web(component))
        assert argv[0] == "uvicorn", component
        assert option(argv, "--factory") == factory, component
        assert option(argv, "--host") == "0.0.0.0", component
        assert service(web(component))["deploy"]["replicas"] == WEB_REPLICAS, component
        # The web replicas leave the background loops to the worker.
        assert environment(web(component))[process_setting(component)] == PROCESS_WEB


def test_each_component_runs_its_worker_with_the_same_settings() -> None:
    for component in FACTORIES:
        argv = command(worker(component))
        assert argv[:3] == ["python", "-m", worker_module(component)], component
        assert module_exists(argv[2]), f"{component}: no module {argv[2]}"
        assert int(option(argv, "--port")) != int(option(command(web(component)), "--port"))
        settings = environment(worker(component))
        assert process_setting(component) not in settings, f"{component}: the worker is no web"
        web_settings = environment(web(component))
        for web_only in (process_setting(component), "FORWARDED_ALLOW_IPS"):
            web_settings.pop(web_only, None)
        assert settings == web_settings, component


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
        url = make_url(environment(web(component))[f"{env_prefix(component)}DATABASE_URL"])
        assert url.get_backend_name() == "postgresql", component
        assert url.host == POSTGRES, component
        assert url.port in (None, 5432), component
        assert url.username == postgres["POSTGRES_USER"], component
        assert url.password == postgres["POSTGRES_PASSWORD"], component
        assert url.database in databases, f"{component}: {url.database} is never created"
        used[component] = url.database
    assert len(set(used.values())) == len(used), f"components share a database: {used}"


def test_migrations_upgrade_the_databases_and_make_the_first_admin_and_clients() -> None:
    assert command(MIGRATE) == ["python", "-m", "common.migrate"]
    assert depends_on(MIGRATE)[POSTGRES] == "service_healthy"
    assert service(MIGRATE).get("restart", "no") == "no", "a one-shot job is not restarted"
    migrate = environment(MIGRATE)
    for component in COMPONENTS:
        variable = f"{env_prefix(component)}DATABASE_URL"
        assert migrate[variable] == environment(web(component))[variable], component
    gateway = environment(web("gateway"))
    for variable in ("GATEWAY_SERVICE_CLIENTS", "GATEWAY_KEYS_ENCRYPTION_KEY"):
        assert migrate[variable] == gateway[variable], variable
    assert migrate["ISHC_ADMIN_USERNAME"]
    assert migrate["ISHC_ADMIN_PASSWORD"]


def test_every_variable_compose_sets_is_a_real_setting() -> None:
    for container in platform_containers():
        for variable in environment(container):
            owner = component_of(variable)
            where = COMPONENTS[owner] if owner else "any component"
            assert is_real_setting(variable), f"{container}: {variable} is not read by {where}"


def test_each_component_is_configured_with_its_own_prefix_only() -> None:
    for component in FACTORIES:
        for container in (web(component), worker(component)):
            for variable in environment(container):
                assert component_of(variable) in (component, None), f"{container}: {variable}"


@pytest.mark.parametrize("component", list(FACTORIES))
def test_compose_starts_every_component_in_production(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings, env = settings_in_compose(component, monkeypatch)
    assert env[f"{env_prefix(component)}ENVIRONMENT"] == "production"
    assert settings.environment == "production"
    settings.check_production()  # no development secret, no SQLite


def test_example_secrets_can_be_overridden_and_are_not_development_defaults() -> None:
    gateway = raw_environment(web("gateway"))
    secrets = {
        "GATEWAY_SERVICE_CLIENTS": gateway["GATEWAY_SERVICE_CLIENTS"],
        "GATEWAY_KEYS_ENCRYPTION_KEY": gateway["GATEWAY_KEYS_ENCRYPTION_KEY"],
        "ISHC_ADMIN_PASSWORD": raw_environment(MIGRATE)["ISHC_ADMIN_PASSWORD"],
        "POSTGRES_PASSWORD": raw_environment(POSTGRES)["POSTGRES_PASSWORD"],
    }
    for name in CALLING_SERVICES:
        variable = f"{env_prefix(name)}CLIENT_SECRET"
        secrets[variable] = raw_environment(web(name))[variable]
    for name in ("clubs", "loans"):
        for setting in ("PERSONAL_DATA_KEYS", "PERSONAL_DATA_INDEX_KEY"):
            variable = f"{env_prefix(name)}{setting}"
            secrets[variable] = raw_environment(web(name))[variable]
    for variable, raw in secrets.items():
        assert "${" in raw, f"{variable} cannot be set by the operator"
        value = interpolate(raw)
        assert value, variable
        assert DEV_SECRET_MARKER not in value, f"{variable} keeps a development secret"


def test_both_services_get_the_same_blind_index_key_and_the_migrations_their_keys() -> None:
    """The loans service matches borrowers by the clubs service's blind index: one key."""
    clubs, loans = raw_environment(web("clubs")), raw_environment(web("loans"))
    assert clubs["CLUBS_PERSONAL_DATA_INDEX_KEY"] == loans["LOANS_PERSONAL_DATA_INDEX_KEY"]
    migrate = environment(MIGRATE)
    for name in ("clubs", "loans"):
        for setting in ("PERSONAL_DATA_KEYS", "PERSONAL_DATA_INDEX_KEY"):
            variable = f"{env_prefix(name)}{setting}"
            assert migrate[variable] == environment(web(name))[variable], variable


def test_service_client_secrets_match_the_gateway_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    registry = dict(
        item.split(":", 1)
        for item in raw_environment(web("gateway"))["GATEWAY_SERVICE_CLIENTS"].split(",")
    )
    gateway, _ = settings_in_compose("gateway", monkeypatch)
    credentials = gateway.service_credentials()
    assert len(credentials) == len(CALLING_SERVICES)
    for name in CALLING_SERVICES:
        raw_secret = raw_environment(web(name))[f"{env_prefix(name)}CLIENT_SECRET"]
        interpolation = SECRET_WITH_DEFAULT.match(raw_secret)
        assert interpolation, f"{name}: client secret should be ${{VARIABLE:-example}}"
        settings, _ = settings_in_compose(name, monkeypatch)
        assert settings.client_id in registry, f"the gateway does not register {name}"
        # The same variable on both sides, so an operator's value reaches both ...
        assert registry[settings.client_id].strip() == raw_secret, name
        # ... and the same example default when the operator sets none.
        assert credentials[settings.client_id] == interpolation["default"], name
        assert settings.client_secret == interpolation["default"], name


def test_components_reach_each_other_through_their_balancers(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for component in FACTORIES:
        host, port = balancer_upstream(component)
        assert host == web(component), f"the {component} balancer sends requests elsewhere"
        assert str(port) == option(command(web(component)), "--port"), component
    gateway, _ = settings_in_compose("gateway", monkeypatch)
    for name, url in gateway.upstreams().items():
        parts = urlsplit(url)
        assert parts.hostname == balancer(name), url
        assert parts.port == balancer_port(), url
    for name in SERVICES:
        settings, _ = settings_in_compose(name, monkeypatch)
        assert settings.gateway_url == f"http://{balancer('gateway')}:{balancer_port()}", name


def test_processes_wait_for_the_migrations_and_nats_and_report_their_health() -> None:
    assert "pg_isready" in healthcheck_command(POSTGRES)
    for name in processes():
        waits = depends_on(name)
        assert waits[MIGRATE] == "service_completed_successfully", name
        assert waits[NATS] == "service_healthy", name
        check = healthcheck_command(name)
        port = option(command(name), "--port")
        assert f"http://127.0.0.1:{port}/healthz" in check, name
        assert "urllib" in check, "the slim image has no curl"
    for service_name in SERVICES:
        assert depends_on(web("gateway"))[balancer(service_name)] == "service_healthy"


def test_each_balancer_waits_for_its_replicas_and_reports_their_health() -> None:
    for component in FACTORIES:
        name = balancer(component)
        assert depends_on(name) == {web(component): "service_healthy"}, name
        assert f"http://127.0.0.1:{balancer_port()}/healthz" in healthcheck_command(name)


def test_balancers_send_each_request_to_the_next_replica() -> None:
    upstream = nginx_block("upstream")
    for other in ("ip_hash", "hash", "least_conn", "random", "sticky"):
        assert not nginx_directives(other, upstream), f"{other}: not round robin"
    (server,) = nginx_directives("server", upstream)
    # Every replica's address, asked again of Docker's DNS as replicas come and go.
    assert "resolve" in server.split()[1:]
    assert nginx_directives("zone", upstream), "`resolve` needs a shared zone"
    (resolver,) = nginx_directives("resolver", balancer_config())
    assert resolver.split()[0] == DOCKER_DNS
    assert nginx_directives("proxy_pass", nginx_block("server")) == ["http://component"]
    for component in FACTORIES:
        definition = service(balancer(component))
        image, _, tag = definition["image"].partition(":")
        assert image == "nginx", component
        major, minor = (int(part) for part in re.findall(r"\d+", tag)[:2])
        assert (major, minor) >= NGINX_RESOLVE_SINCE, definition["image"]
        mounts = [str(volume).split(":") for volume in definition["volumes"]]
        assert any(
            Path(DOCKER_DIR, source).resolve() == BALANCER_TEMPLATE
            and target.startswith(f"{NGINX_TEMPLATES_DIR}/")
            and target.endswith(".template")
            for source, target, *_ in mounts
        ), f"{component}: the template is not where the nginx image fills it in"


def test_balancers_pass_what_the_components_accept_and_close_no_connection_in_use() -> None:
    server = nginx_block("server")
    (body_limit,) = nginx_directives("client_max_body_size", server)
    assert nginx_bytes(body_limit) >= largest_body_limit(), "a bank's batch would be refused"
    (client_idle,) = nginx_directives("keepalive_timeout", server)
    assert nginx_seconds(client_idle) > UPSTREAM_KEEPALIVE_SECONDS, "the gateway closes first"
    (upstream_idle,) = nginx_directives("keepalive_timeout", nginx_block("upstream"))
    assert nginx_seconds(upstream_idle) < SERVER_KEEPALIVE_SECONDS, "the balancer closes first"
    assert "non_idempotent" not in " ".join(nginx_directives("proxy_next_upstream", server))


def test_metrics_are_scraped_from_each_replica_not_through_a_balancer() -> None:
    assert re.search(r"location\s*=\s*/metrics\s*\{\s*return\s+404\s*;", balancer_config())


def test_only_the_gateway_balancer_is_published() -> None:
    published = [
        name for name, definition in compose()["services"].items() if "ports" in definition
    ]
    assert published == [balancer("gateway")]
    (mapping,) = service(balancer("gateway"))["ports"]
    assert interpolate(str(mapping)) == f"8000:{balancer_port()}"


def test_events_travel_through_nats_jetstream_kept_on_a_volume() -> None:
    argv = command(NATS)
    assert "-js" in argv or "--jetstream" in argv, "JetStream is off"
    store = option(argv, "-sd")
    mounts = {}
    for volume in service(NATS)["volumes"]:
        source, target = str(volume).split(":")[:2]
        mounts[target] = source
    assert mounts.get(store) in compose()["volumes"], "the streams would be lost with the container"
    assert "js-enabled-only" in healthcheck_command(NATS)
    for name in processes():
        env = environment(name)
        assert env["ISHC_EVENT_TRANSPORT"] == EVENT_TRANSPORT, name
        url = urlsplit(env["ISHC_NATS_URL"])
        assert (url.scheme, url.hostname, url.port) == ("nats", NATS, NATS_CLIENT_PORT), name


def test_gateway_signing_keys_are_kept_encrypted_in_its_database() -> None:
    """No volume of keys: every gateway replica reads the same keys from the database."""
    assert "gateway-keys" not in (compose().get("volumes") or {})
    for name in platform_containers():
        assert "GATEWAY_KEYS_DIR" not in environment(name), name
        assert not service(name).get("volumes"), f"{name}: a platform process keeps no files"
    keys = {
        name: raw_environment(name)["GATEWAY_KEYS_ENCRYPTION_KEY"]
        for name in (web("gateway"), worker("gateway"), MIGRATE)
    }
    assert len(set(keys.values())) == 1, keys
    assert SECRET_WITH_DEFAULT.match(keys[MIGRATE]), "the operator sets the key"


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
