"""What every process tells about itself (docs/observability.md): `/metrics` on the session's
platform; JSON access lines and traces on a platform of this module's own, whose components
log in JSON and send their spans to a small OTLP/HTTP receiver run here."""

import gzip
import json
import re
import secrets
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus

import httpx
import pytest
from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import (
    ADMIN_PASSWORD,
    _database_urls,
    _stack,
    find_no_personal_data_in_plain_text,
)
from tests.factories import make_club, member_payload
from tests.support import Api, settle_events, wait_until
from tools.stack import ENV_PREFIX, FACTORIES, Stack

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]
RAW_ID = re.compile(r"/[0-9]+(/|$)")
MEMBER_NAME = "Hoàng Thị Quan Trắc"
MEMBER_PHONE = "0987650123"
NAME_FORMS = (MEMBER_NAME, quote(MEMBER_NAME), quote_plus(MEMBER_NAME))
"""The name as written, and as a query string carries it."""


def scrape(url: str) -> Samples:
    """The process's metrics, asked without a token."""
    response = httpx.get(url + "/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def answered(samples: Samples, route: str, status: int, method: str = "GET") -> float:
    counted = value(
        samples, "ishc_http_requests_total", method=method, route=route, status=str(status)
    )
    return counted or 0.0


def routes(samples: Samples) -> set[str]:
    return {dict(labels)["route"] for name, labels in samples if name == "ishc_http_requests_total"}


def test_every_process_counts_its_requests_by_route_template(stack: Stack, admin) -> None:
    club = make_club(admin)
    asked = {
        "clubs": (f"/api/v1/clubs/{club['id']}", "/api/v1/clubs/{club_id}", 200),
        "loans": ("/api/v1/funds/987654321", "/api/v1/funds/{fund_id}", 404),
        "funding": ("/api/v1/funders/987654321", "/api/v1/funders/{funder_id}", 404),
    }
    before = {component: scrape(stack.url(component)) for component in FACTORIES}
    for path, _template, status in asked.values():
        assert admin.get(path).status_code == status
    after = {component: scrape(stack.url(component)) for component in FACTORIES}
    for service, (path, template, status) in asked.items():
        # The service counts its own template; the gateway, the template the service named.
        for component in (service, "gateway"):
            counted = answered(after[component], template, status)
            assert counted >= answered(before[component], template, status) + 1, component
            assert path not in routes(after[component])
    for component, samples in after.items():
        assert not [route for route in routes(samples) if RAW_ID.search(route)], component
        assert value(
            samples, "ishc_http_request_duration_seconds_count", method="GET", route="/metrics"
        )


def test_metrics_ask_no_token_and_no_service_s_metrics_are_routed_by_the_gateway(
    stack: Stack, admin
) -> None:
    gateway = scrape(stack.gateway_url)
    clubs = scrape(stack.url("clubs"))
    assert value(gateway, "ishc_webhook_deliveries", status="failed") is not None
    assert value(clubs, "ishc_webhook_deliveries", status="failed") is None
    assert value(clubs, "ishc_outbox_last_position") is not None
    assert value(gateway, "ishc_outbox_last_position") is None  # the gateway's own
    assert admin.get("/api/v1/metrics").status_code == 404
    assert "/metrics" not in admin.get("/openapi.json").json()["paths"]


def test_metrics_show_the_pool_the_outbox_and_how_far_each_feed_is_applied(
    stack: Stack, api: Api, admin
) -> None:
    make_club(admin)  # an event in the clubs service's outbox
    service_token = api.client_token("svc-loans", "dev-only-loans-secret")
    settle_events({c: stack.url(c) for c in FACTORIES}, service_token)
    clubs = scrape(stack.url("clubs"))
    last = value(clubs, "ishc_outbox_last_position")
    assert last is not None and last >= 1
    assert value(clubs, "ishc_outbox_unread_events") is not None
    assert value(clubs, "ishc_outbox_oldest_unread_age_seconds") is not None
    for component in FACTORIES:
        samples = scrape(stack.url(component))
        assert value(samples, "ishc_db_pool_checked_out", engine=component) is not None
        assert value(samples, "ishc_db_pool_overflow", engine=component) is not None
    for follower in ("gateway", "loans"):
        applied = value(scrape(stack.url(follower)), "ishc_event_consumer_position", source="clubs")
        assert applied is not None and applied >= last, follower
        wait_until(
            lambda follower=follower: (
                value(scrape(stack.url(follower)), "ishc_event_consumer_lag_events", source="clubs")
                == 0
            ),
            f"the {follower}'s lag behind the clubs feed back to 0",
        )
    gateway = scrape(stack.gateway_url)
    assert value(gateway, "ishc_webhook_deliveries", status="pending") is not None
    assert value(gateway, "ishc_webhook_oldest_pending_age_seconds") is not None


@dataclass
class Receiver:
    """An OTLP/HTTP trace receiver: every span posted to it, as plain dicts."""

    url: str
    spans: list[dict[str, Any]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self, body: bytes) -> None:
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        found = []
        for resource_spans in request.resource_spans:
            resource = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    found.append(
                        {
                            "service": resource.get("service.name"),
                            "trace_id": span.trace_id.hex(),
                            "name": span.name,
                            "kind": span.kind,
                            "attributes": {a.key: MessageToDict(a.value) for a in span.attributes},
                        }
                    )
        with self.lock:
            self.spans += found

    def of_trace(self, trace_id: str) -> list[dict[str, Any]]:
        with self.lock:
            return [span for span in self.spans if span["trace_id"] == trace_id]


@pytest.fixture(scope="module")
def receiver() -> Iterator[Receiver]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    found = Receiver(f"http://127.0.0.1:{server.server_address[1]}")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("content-length", 0)))
            if self.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            if self.path == "/v1/traces":
                found.take(body)
            answer = ExportTraceServiceResponse().SerializeToString()
            self.send_response(200)
            self.send_header("content-type", "application/x-protobuf")
            self.send_header("content-length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *_args: Any) -> None:
            pass

    server.RequestHandlerClass = Handler
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield found
    server.shutdown()


@pytest.fixture(scope="module")
def observed(tmp_path_factory: pytest.TempPathFactory, receiver: Receiver) -> Iterator[Stack]:
    """A platform that logs in JSON at `info` and sends its traces to the receiver."""
    tmp = tmp_path_factory.mktemp("observed")
    settings = {
        "ISHC_LOG_FORMAT": "json",
        **{f"{prefix}_LOG_LEVEL": "info" for prefix in ENV_PREFIX.values()},
        "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
        "OTEL_BSP_SCHEDULE_DELAY": "200",
    }
    for urls in _database_urls(tmp, "observed"):
        for platform in _stack(tmp, urls, extra_env=settings):
            yield platform
            find_no_personal_data_in_plain_text(platform, tmp / "logs")


def log_lines(stack: Stack, component: str) -> list[str]:
    path = Path(stack.var_dir) / "logs" / f"{component}.log"
    return path.read_text(encoding="utf-8").splitlines()


def access_line(stack: Stack, component: str, request_id: str, method: str) -> dict | None:
    for line in log_lines(stack, component):
        record = json.loads(line)
        if (
            record.get("logger") == "ishc.access"
            and record.get("request_id") == request_id
            and record.get("method") == method
        ):
            return record
    return None


def test_a_request_through_the_gateway_is_a_json_access_line_without_personal_data(
    observed: Stack,
) -> None:
    api = Api(observed.gateway_url, ADMIN_PASSWORD)
    request_id = f"obs-{secrets.token_hex(8)}"
    with api.client(api.admin_token) as admin:
        club = make_club(admin)
        member = member_payload(full_name=MEMBER_NAME, phone=MEMBER_PHONE)
        created = admin.post(
            f"/api/v1/clubs/{club['id']}/members",
            json=member,
            headers={"X-Request-ID": request_id},
        )
        assert created.status_code == 201, created.text
        assert created.headers["x-request-id"] == request_id
        # A search by name: its query reaches no log line either.
        found = admin.get(f"/api/v1/clubs/{club['id']}/members", params={"q": MEMBER_NAME})
        assert found.status_code == 200 and found.json()["total"] == 1
    line = wait_until(
        lambda: access_line(observed, "gateway", request_id, "POST"), "the gateway's line"
    )
    assert line["route"] == "/api/v1/clubs/{club_id}/members"
    assert line["status"] == 201 and line["duration_ms"] > 0
    assert line["principal"] == "user:admin" and line["role"] == "admin"
    assert line["component"] == "gateway" and line["level"] == "info"
    # The request id went on with the request: the service's own line has it.
    service_line = wait_until(
        lambda: access_line(observed, "clubs", request_id, "POST"), "the clubs service's line"
    )
    assert service_line["route"] == line["route"] and service_line["status"] == 201
    private = [*NAME_FORMS, MEMBER_PHONE, member["national_id"], member["birth_date"]]
    for component in FACTORIES:
        # a service this test did not call has logged at least the gateway's reading of its
        # events (every few seconds): the scan is of something
        lines = wait_until(lambda c=component: log_lines(observed, c), f"{component}'s lines")
        for text in lines:
            assert isinstance(json.loads(text), dict), text  # every line is a JSON object
            assert not [value for value in private if value in text], (component, text)


def test_a_request_through_the_gateway_is_one_trace_across_the_gateway_and_the_service(
    observed: Stack, receiver: Receiver
) -> None:
    api = Api(observed.gateway_url, ADMIN_PASSWORD)
    request_id = f"trace-{secrets.token_hex(8)}"
    with api.client(api.admin_token) as admin:
        club = make_club(admin)
        path = f"/api/v1/clubs/{club['id']}/members"
        asked = admin.get(path, params={"q": MEMBER_NAME}, headers={"X-Request-ID": request_id})
        assert asked.status_code == 200
    line = wait_until(
        lambda: access_line(observed, "gateway", request_id, "GET"), "the gateway's line"
    )
    trace_id = line["trace_id"]
    service_line = wait_until(
        lambda: access_line(observed, "clubs", request_id, "GET"), "the clubs service's line"
    )
    assert service_line["trace_id"] == trace_id

    route = "GET /api/v1/clubs/{club_id}/members"
    served = {("ishc-gateway", route), ("ishc-clubs", route)}

    def both() -> list[dict[str, Any]]:
        # each process exports its spans when they end, in batches: the gateway's own span of
        # the request ends last, after the answer has gone
        spans = receiver.of_trace(trace_id)
        return spans if served <= {(span["service"], span["name"]) for span in spans} else []

    spans = wait_until(both, "spans of the gateway and the clubs service in one trace")
    client_kind = 3  # SPAN_KIND_CLIENT: the gateway's call to the service
    assert any(s["service"] == "ishc-gateway" and s["kind"] == client_kind for s in spans)
    statements = ("db.statement", "db.query.text")
    assert any(
        s["service"] == "ishc-clubs" and set(statements) & set(s["attributes"]) for s in spans
    )
    # No span keeps the search's query: it named a member.
    with receiver.lock:
        every = [json.dumps(span, ensure_ascii=False) for span in receiver.spans]
    assert not [span for span in every for name in NAME_FORMS if name in span]


def test_a_service_passes_the_request_id_on_to_the_services_it_asks(observed: Stack) -> None:
    api = Api(observed.gateway_url, ADMIN_PASSWORD)
    request_id = f"report-{secrets.token_hex(8)}"
    with api.client(api.admin_token) as admin:
        report = admin.get(
            "/api/v1/reports/indicators",
            params={"province": "15"},
            headers={"X-Request-ID": request_id},
        )
        assert report.status_code == 200, report.text
    # The funding service asked the clubs and loans services for their figures.
    for service, route in (
        ("funding", "/api/v1/reports/indicators"),
        ("clubs", "/api/v1/clubs/indicators"),
        ("loans", "/api/v1/loans/indicators"),
    ):
        method = "GET" if service == "funding" else "POST"
        line = wait_until(
            lambda service=service, method=method: access_line(
                observed, service, request_id, method
            ),
            f"the {service} service's line",
        )
        assert line["route"] == route, line
