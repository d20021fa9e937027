"""The Kubernetes manifests (deploy/kubernetes/), checked by reading them: no cluster here.

Every manifest is validated against the API schemas of Kubernetes releases (kubernetes-validate,
strict: an unknown field is an error), and kept in step with the code as
tests/test_docker_compose.py keeps the compose file: the commands start the real factories and
workers, every variable is a real setting, every component has its web Deployment, Service,
autoscaler, probes and worker, only the gateway is reachable from outside, the ConfigMap holds
no secret and the example Secret only marked placeholders, and every pod runs the one platform
image, unprivileged.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from importlib.util import find_spec
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from sqlalchemy.engine import make_url

from common.migrate import COMPONENTS
from common.settings import DEV_SECRET_MARKER, InsecureSettingsError
from gateway.settings import CALLING_SERVICES
from tests.test_docker_compose import (
    NATS_CLIENT_PORT,
    component_of,
    env_prefix,
    environment,
    is_real_setting,
    largest_body_limit,
    module_exists,
    nginx_bytes,
    process_setting,
    settings_class,
    settings_from,
    web,
    worker_module,
)
from tools.stack import FACTORIES, SERVICES

ROOT = Path(__file__).resolve().parent.parent
MANIFESTS_DIR = ROOT / "deploy" / "kubernetes"
KUSTOMIZATION = MANIFESTS_DIR / "kustomization.yaml"
SECRET_EXAMPLE = MANIFESTS_DIR / "secret.example.yaml"
KUBERNETES_VERSIONS = ("1.33", "1.37")
"""The oldest release the manifests are meant for, and the newest the package has schemas of."""
NAMESPACE = "ishc"
CONFIG_MAP = "ishc-config"
SECRET = "ishc-secrets"
PLACEHOLDER = "REPLACE-ME"
NATS = "nats"
WEB, WORKER = "web", "worker"
WEB_REPLICAS = 2
COMPONENT_LABEL = "app.kubernetes.io/component"
STAGE_LABEL = "ishc-platform/stage"
BEFORE_ROLLOUT = "before-rollout"
SYNC_WAVE = "argocd.argoproj.io/sync-wave"
BODY_SIZE_ANNOTATION = "nginx.ingress.kubernetes.io/proxy-body-size"
WORKLOADS = ("Deployment", "StatefulSet", "Job")
BOOTSTRAP_SECRETS = (
    "GATEWAY_SERVICE_CLIENTS",
    "GATEWAY_KEYS_ENCRYPTION_KEY",
    "ISHC_ADMIN_PASSWORD",
)
"""What the migrate Job needs besides the databases: the first admin and our services' clients."""


@dataclass(frozen=True)
class Manifest:
    path: Path
    data: dict[str, Any]

    @property
    def kind(self) -> str:
        return str(self.data["kind"])

    @property
    def name(self) -> str:
        return str(self.data["metadata"]["name"])

    def __str__(self) -> str:
        return f"{self.path.name}: {self.kind}/{self.name}"


# --- reading the manifests --------------------------------------------------------------------


def manifest_files() -> list[Path]:
    return sorted(path for path in MANIFESTS_DIR.glob("*.yaml") if path != KUSTOMIZATION)


@cache
def manifests() -> tuple[Manifest, ...]:
    return tuple(
        Manifest(path, data)
        for path in manifest_files()
        for data in yaml.safe_load_all(path.read_text())
        if data
    )


@cache
def kustomization() -> dict[str, Any]:
    return yaml.safe_load(KUSTOMIZATION.read_text())


def of_kind(kind: str) -> dict[str, dict[str, Any]]:
    return {m.name: m.data for m in manifests() if m.kind == kind}


def find(kind: str, name: str) -> dict[str, Any]:
    found = of_kind(kind)
    assert name in found, f"no {kind} {name}"
    return found[name]


def deployment(component: str, role: str) -> dict[str, Any]:
    return find("Deployment", component if role == WEB else f"{component}-{role}")


def pod_spec(workload: dict[str, Any]) -> dict[str, Any]:
    spec: dict[str, Any] = workload["spec"]["template"]["spec"]
    return spec


def container(workload: dict[str, Any]) -> dict[str, Any]:
    """The workload's one container (no sidecars: the pod is the process)."""
    (only,) = pod_spec(workload)["containers"]
    return dict(only)


def workloads() -> Iterator[tuple[str, dict[str, Any]]]:
    for m in manifests():
        if m.kind in WORKLOADS:
            yield str(m), m.data


def platform_workloads() -> dict[str, dict[str, Any]]:
    """The workloads that run the platform image: every web and worker Deployment, the Job."""
    return {
        name: data
        for name, data in workloads()
        if container(data)["image"].split(":")[0] == platform_image_name()
    }


def platform_image_name() -> str:
    (image,) = kustomization()["images"]
    return str(image["name"])


def port_number(c: dict[str, Any], port: int | str) -> int:
    """A probe's or Service's port as a number, named or not."""
    if isinstance(port, int):
        return port
    (number,) = [p["containerPort"] for p in c["ports"] if p.get("name") == port]
    return int(number)


def secret_refs(c: dict[str, Any]) -> dict[str, str]:
    """The container's variables that come from the Secret, with the Secret's key for each."""
    refs = {}
    for item in c.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        if ref:
            assert ref["name"] == SECRET, item["name"]
            refs[item["name"]] = ref["key"]
    return refs


def example_secret() -> dict[str, str]:
    return {key: str(value) for key, value in find("Secret", SECRET)["stringData"].items()}


def real_secret() -> dict[str, str]:
    """The example Secret as an operator fills it in: real values where the placeholders are."""
    return {
        key: value.replace(f"{DEV_SECRET_MARKER}{PLACEHOLDER}-", "production-")
        for key, value in example_secret().items()
    }


def container_env(c: dict[str, Any], secret: dict[str, str] | None = None) -> dict[str, str]:
    """The variables the process sees: the ConfigMap's, then its own `env` over them."""
    secret = example_secret() if secret is None else secret
    env: dict[str, str] = {}
    for source in c.get("envFrom", []):
        env.update(find("ConfigMap", source["configMapRef"]["name"])["data"])
    for item in c.get("env", []):
        ref = item.get("valueFrom", {}).get("secretKeyRef")
        env[item["name"]] = secret[ref["key"]] if ref else str(item["value"])
    return env


def env_names(c: dict[str, Any]) -> set[str]:
    names = {item["name"] for item in c.get("env", [])}
    for source in c.get("envFrom", []):
        names.update(find("ConfigMap", source["configMapRef"]["name"])["data"])
    return names


def secret_settings() -> set[str]:
    """Every variable that holds a secret: what `secret_fields()` names, the database URLs (with
    their passwords), the first admin's password and the key of the gateway's signing keys."""
    names = {"ISHC_ADMIN_PASSWORD", "GATEWAY_KEYS_ENCRYPTION_KEY"}
    for component in COMPONENTS:
        prefix = env_prefix(component)
        names.add(f"{prefix}DATABASE_URL")
        for field in settings_class(component)().secret_fields():
            names.add(f"{prefix}{field.split('[')[0]}".upper())
    return names


def sync_wave(data: dict[str, Any]) -> int:
    return int(data["metadata"].get("annotations", {}).get(SYNC_WAVE, "0"))


# --- the manifests as Kubernetes reads them ---------------------------------------------------


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("manifest", manifests(), ids=str)
def test_every_manifest_is_valid_kubernetes(manifest: Manifest, version: str) -> None:
    try:
        kubernetes_validate.validate(manifest.data, version, strict=True)
    except kubernetes_validate.ValidationError as exc:
        pytest.fail(f"{manifest} on Kubernetes {version}: {exc.message} at {list(exc.path)}")


def test_kustomization_applies_every_manifest_but_the_example_secret() -> None:
    listed = {MANIFESTS_DIR / name for name in kustomization()["resources"]}
    assert listed == set(manifest_files()) - {SECRET_EXAMPLE}
    # Applying the placeholders again would overwrite the operator's real secrets.
    assert SECRET not in {m.name for m in manifests() if m.path in listed and m.kind == "Secret"}


def test_everything_lives_in_the_platform_namespace() -> None:
    for m in manifests():
        if m.kind == "Namespace":
            assert m.name == NAMESPACE
            labels = m.data["metadata"]["labels"]
            assert labels["pod-security.kubernetes.io/enforce"] == "restricted"
        else:
            assert m.data["metadata"].get("namespace") == NAMESPACE, str(m)


def test_each_component_has_web_replicas_a_service_an_autoscaler_a_budget_and_a_worker() -> None:
    for component in FACTORIES:
        for kind in ("Service", "HorizontalPodAutoscaler", "PodDisruptionBudget"):
            find(kind, component)
        for role in (WEB, WORKER):
            labels = deployment(component, role)["spec"]["template"]["metadata"]["labels"]
            assert labels[COMPONENT_LABEL] == role, component
    # Nothing but the components' web replicas and NATS answers inside the cluster.
    assert set(of_kind("Service")) == {*FACTORIES, NATS, f"{NATS}-headless"}


# --- the processes ----------------------------------------------------------------------------


def test_web_replicas_start_the_app_factories_and_leave_the_loops_to_the_workers() -> None:
    for component, factory in FACTORIES.items():
        workload = deployment(component, WEB)
        assert workload["spec"]["replicas"] == WEB_REPLICAS, component
        c = container(workload)
        argv = c["command"]
        assert argv[0] == "uvicorn", component
        assert argv[argv.index("--factory") + 1] == factory, component
        assert find_spec(factory.split(":")[0]) is not None, factory
        assert argv[argv.index("--host") + 1] == "0.0.0.0", component
        assert int(argv[argv.index("--port") + 1]) == port_number(c, "http"), component
        assert container_env(c)[process_setting(component)] == WEB, component


def test_workers_run_each_component_s_worker() -> None:
    for component in FACTORIES:
        c = container(deployment(component, WORKER))
        argv = c["command"]
        assert argv[:3] == ["python", "-m", worker_module(component)], component
        assert module_exists(argv[2]), f"{component}: no module {argv[2]}"
        assert int(argv[argv.index("--port") + 1]) == port_number(c, "http"), component
        assert process_setting(component) not in container_env(c), f"{component}: not a web"
        # The worker reads the same settings as the web replicas.
        web_env = container_env(container(deployment(component, WEB)))
        for web_only in (process_setting(component), "FORWARDED_ALLOW_IPS"):
            web_env.pop(web_only, None)
        assert container_env(c) == web_env, component


def test_every_process_is_probed_on_its_own_port() -> None:
    for component in FACTORIES:
        for role in (WEB, WORKER):
            c = container(deployment(component, role))
            (port,) = {p["containerPort"] for p in c["ports"]}
            probes = {
                kind: c[f"{kind}Probe"]["httpGet"] for kind in ("startup", "liveness", "readiness")
            }
            assert probes["startup"]["path"] == probes["liveness"]["path"] == "/healthz"
            assert probes["readiness"]["path"] == "/readyz", f"{component} {role}"
            for probe in probes.values():
                assert port_number(c, probe["port"]) == port, f"{component} {role}"


def test_web_replicas_stop_without_dropping_requests() -> None:
    for component in FACTORIES:
        workload = deployment(component, WEB)
        assert workload["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0, component
        pause = container(workload)["lifecycle"]["preStop"]["sleep"]["seconds"]
        assert pause < pod_spec(workload)["terminationGracePeriodSeconds"], component
        spread = pod_spec(workload)["topologySpreadConstraints"]
        assert [s["topologyKey"] for s in spread] == ["kubernetes.io/hostname"], component
        budget = find("PodDisruptionBudget", component)["spec"]
        assert budget["selector"]["matchLabels"] == workload["spec"]["selector"]["matchLabels"]
        assert 1 <= budget["minAvailable"] < WEB_REPLICAS, component


def test_autoscalers_scale_each_web_deployment_on_cpu() -> None:
    for component in FACTORIES:
        spec = find("HorizontalPodAutoscaler", component)["spec"]
        target = spec["scaleTargetRef"]
        assert (target["kind"], target["name"]) == ("Deployment", component)
        assert spec["minReplicas"] == deployment(component, WEB)["spec"]["replicas"]
        assert spec["maxReplicas"] > spec["minReplicas"], component
        (metric,) = spec["metrics"]
        assert metric["resource"]["name"] == "cpu", component
        assert metric["resource"]["target"]["type"] == "Utilization", component
        # Utilization is measured against the request, which must exist.
        assert container(deployment(component, WEB))["resources"]["requests"]["cpu"]


def test_every_container_has_requests_and_limits() -> None:
    for name, workload in workloads():
        resources = container(workload)["resources"]
        for bound in ("requests", "limits"):
            assert {"cpu", "memory"} <= set(resources[bound]), f"{name}: {bound}"


def test_every_pod_runs_unprivileged_on_a_read_only_filesystem() -> None:
    for name, workload in workloads():
        spec = pod_spec(workload)
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault", name
        assert spec["automountServiceAccountToken"] is False, f"{name} never calls the API"
        context = container(workload)["securityContext"]
        assert context["allowPrivilegeEscalation"] is False, name
        assert context["readOnlyRootFilesystem"] is True, name
        assert context["capabilities"]["drop"] == ["ALL"], name


def test_every_platform_pod_runs_the_one_platform_image() -> None:
    images = {container(data)["image"] for data in platform_workloads().values()}
    (image,) = images
    (entry,) = kustomization()["images"]
    assert image == f"{entry['name']}:{entry['newTag']}"
    expected = {str(find("Job", "migrate")["metadata"]["name"])} | {
        name for component in FACTORIES for name in (component, f"{component}-worker")
    }
    named = {name.split("/")[-1] for name in platform_workloads()}
    assert named == expected


def test_prometheus_scrapes_each_process_on_its_own_port() -> None:
    for component in FACTORIES:
        for role in (WEB, WORKER):
            workload = deployment(component, role)
            annotations = workload["spec"]["template"]["metadata"]["annotations"]
            assert annotations["prometheus.io/scrape"] == "true"
            assert annotations["prometheus.io/path"] == "/metrics"
            port = port_number(container(workload), "http")
            assert int(annotations["prometheus.io/port"]) == port, f"{component} {role}"


# --- the settings -----------------------------------------------------------------------------


def test_every_variable_the_manifests_set_is_a_real_setting() -> None:
    for name, workload in platform_workloads().items():
        for variable in env_names(container(workload)):
            assert is_real_setting(variable), f"{name}: no component reads {variable}"


def test_the_config_map_holds_no_secret_and_every_secret_comes_from_the_secret() -> None:
    secrets = secret_settings()
    config = find("ConfigMap", CONFIG_MAP)["data"]
    assert not secrets & set(config), sorted(secrets & set(config))
    for key, value in config.items():
        assert DEV_SECRET_MARKER not in value, key
        assert not urlsplit(value).password, f"{key} holds a password"
    for name, workload in platform_workloads().items():
        c = container(workload)
        plain = {item["name"] for item in c.get("env", []) if "value" in item}
        assert not secrets & plain, f"{name}: {sorted(secrets & plain)} written out"


def test_each_component_is_given_only_its_own_secrets() -> None:
    for component in FACTORIES:
        for role in (WEB, WORKER):
            for variable in secret_refs(container(deployment(component, role))):
                assert component_of(variable) == component, f"{component} {role}: {variable}"


def test_the_example_secret_holds_marked_placeholders_for_every_key_used() -> None:
    secret = example_secret()
    for key, value in secret.items():
        assert PLACEHOLDER in value, f"{key} is not marked as a placeholder"
    used = {
        key
        for workload in platform_workloads().values()
        for key in secret_refs(container(workload)).values()
    }
    assert used == set(secret), f"missing: {used - set(secret)}, unused: {set(secret) - used}"
    # The loans service matches borrowers by the clubs service's blind index: one key.
    index_keys = {
        secret_refs(container(deployment(name, WEB)))[f"{env_prefix(name)}PERSONAL_DATA_INDEX_KEY"]
        for name in ("clubs", "loans")
    }
    assert len(index_keys) == 1, index_keys
    registry = dict(item.split(":", 1) for item in secret["gateway-service-clients"].split(","))
    config = find("ConfigMap", CONFIG_MAP)["data"]
    for name in CALLING_SERVICES:
        client_id = config[f"{env_prefix(name)}CLIENT_ID"]
        refs = secret_refs(container(deployment(name, WEB)))
        assert registry[client_id] == secret[refs[f"{env_prefix(name)}CLIENT_SECRET"]], name


@pytest.mark.parametrize("component", list(FACTORIES))
def test_a_forgotten_placeholder_stops_a_production_start(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = container_env(container(deployment(component, WEB)))
    settings = settings_from(component, env, monkeypatch)
    assert settings.environment == "production"
    with pytest.raises(InsecureSettingsError):
        settings.check_production()


@pytest.mark.parametrize("component", list(FACTORIES))
def test_with_real_secrets_every_component_starts_in_production(
    component: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for role in (WEB, WORKER):
        env = container_env(container(deployment(component, role)), real_secret())
        settings = settings_from(component, env, monkeypatch)
        settings.check_production()
        url = make_url(settings.database_url)
        assert url.get_backend_name() == "postgresql", component
        assert url.database == component, "one database per component"


def test_components_find_each_other_by_service_name(monkeypatch: pytest.MonkeyPatch) -> None:
    def service_port(name: str) -> int:
        (port,) = find("Service", name)["spec"]["ports"]
        return int(port["port"])

    env = container_env(container(deployment("gateway", WEB)))
    gateway = settings_from("gateway", env, monkeypatch)
    for name, url in gateway.upstreams().items():
        parts = urlsplit(url)
        assert (parts.hostname, parts.port) == (name, service_port(name)), url
    for name in SERVICES:
        env = container_env(container(deployment(name, WEB)))
        settings = settings_from(name, env, monkeypatch)
        assert settings.gateway_url == f"http://gateway:{service_port('gateway')}", name


def test_the_components_are_set_up_as_in_compose() -> None:
    """The same settings as compose's web replicas, with the same values where not secret."""
    for component in FACTORIES:
        c = container(deployment(component, WEB))
        in_compose = environment(web(component))
        kubernetes = container_env(c)
        assert set(in_compose) <= set(kubernetes), sorted(set(in_compose) - set(kubernetes))
        for variable, value in in_compose.items():
            if variable not in secret_refs(c):
                assert kubernetes[variable] == value, f"{component}: {variable}"


# --- what the platform runs on ----------------------------------------------------------------


def test_services_send_requests_to_the_web_replicas_only() -> None:
    for component in FACTORIES:
        spec = find("Service", component)["spec"]
        assert spec["type"] == "ClusterIP", component
        web_workload = deployment(component, WEB)
        pod_labels = web_workload["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"].items() <= pod_labels.items(), component
        worker_labels = deployment(component, WORKER)["spec"]["template"]["metadata"]["labels"]
        assert not spec["selector"].items() <= worker_labels.items(), component
        (port,) = spec["ports"]
        assert port_number(container(web_workload), port["targetPort"]) == port["port"]


def test_only_the_gateway_is_reachable_from_outside() -> None:
    (ingress,) = of_kind("Ingress").values()
    gateway_service = find("Service", "gateway")["spec"]["ports"][0]
    backends = [
        path["backend"]["service"]
        for rule in ingress["spec"]["rules"]
        for path in rule["http"]["paths"]
    ]
    assert backends, "the Ingress sends nothing anywhere"
    assert "defaultBackend" not in ingress["spec"]
    for backend in backends:
        assert backend["name"] == "gateway", backend
        assert backend["port"].get("name", gateway_service["name"]) == gateway_service["name"]
    assert ingress["spec"]["tls"], "TLS ends at the Ingress"
    routed = [path["path"] for rule in ingress["spec"]["rules"] for path in rule["http"]["paths"]]
    for private in ("/metrics", "/healthz", "/readyz", "/statusz"):
        assert not any(private.startswith(prefix) for prefix in routed), private
    assert "/api/" in routed and "/auth/" in routed and "/.well-known/" in routed
    for name, service in of_kind("Service").items():
        assert service["spec"].get("type", "ClusterIP") == "ClusterIP", name
    body_size = ingress["metadata"]["annotations"][BODY_SIZE_ANNOTATION]
    assert nginx_bytes(body_size) >= largest_body_limit(), "a bank's batch would be refused"


def test_events_travel_through_nats_jetstream_on_a_persistent_volume() -> None:
    config = find("ConfigMap", CONFIG_MAP)["data"]
    assert config["ISHC_EVENT_TRANSPORT"] == "jetstream"
    url = urlsplit(config["ISHC_NATS_URL"])
    (client_port,) = find("Service", NATS)["spec"]["ports"]
    assert (url.scheme, url.hostname, url.port) == ("nats", NATS, client_port["port"])
    nats = find("StatefulSet", NATS)
    c = container(nats)
    assert port_number(c, client_port["targetPort"]) == NATS_CLIENT_PORT
    argv = c["args"]
    assert "-js" in argv or "--jetstream" in argv, "JetStream is off"
    store = argv[argv.index("-sd") + 1]
    (claim,) = nats["spec"]["volumeClaimTemplates"]
    mounts = {mount["mountPath"]: mount["name"] for mount in c["volumeMounts"]}
    assert mounts[store] == claim["metadata"]["name"], "the streams would be lost with the pod"
    assert nats["spec"]["serviceName"] in of_kind("Service")


def test_the_migrate_job_runs_first_with_every_database_and_the_bootstrap_secrets() -> None:
    job = find("Job", "migrate")
    c = container(job)
    assert c["command"] == ["python", "-m", "common.migrate"]
    assert pod_spec(job)["restartPolicy"] == "Never"
    refs = secret_refs(c)
    for component in FACTORIES:
        web_refs = secret_refs(container(deployment(component, WEB)))
        for variable, key in web_refs.items():
            if variable.endswith(("DATABASE_URL", "PERSONAL_DATA_KEYS", "PERSONAL_DATA_INDEX_KEY")):
                assert refs[variable] == key, f"the Job's {variable} is not the {component}'s"
    for variable in BOOTSTRAP_SECRETS:
        assert variable in refs, variable
    # kubectl: what must exist before the Deployments roll out carries the stage label ...
    staged = {str(m) for m in manifests() if m.data["metadata"].get("labels", {}).get(STAGE_LABEL)}
    expected = {
        str(m)
        for m in manifests()
        if m.kind in ("ConfigMap", "Job") or m.data["metadata"]["name"].startswith(NATS)
    }
    assert staged == expected
    assert job["metadata"]["labels"][STAGE_LABEL] == BEFORE_ROLLOUT
    # ... Argo CD: the Job's wave comes after the ConfigMap's and NATS's, before the rest.
    namespace = sync_wave(find("Namespace", NAMESPACE))
    for name in expected:
        m = next(m for m in manifests() if str(m) == name)
        if m.kind != "Job":
            assert namespace < sync_wave(m.data) < sync_wave(job), name
    for name, workload in workloads():
        if workload is not job and not name.endswith(f"StatefulSet/{NATS}"):
            assert sync_wave(job) < sync_wave(workload), name
