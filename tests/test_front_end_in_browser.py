"""A front end on another origin, in a real browser: it logs a person in through the login page
with the authorization code and PKCE, lists and renames clubs (ETag, If-Match, the 412
problem), refreshes when its short-lived access token expires, and logs out; the same page on an
origin the gateway does not list is blocked by the browser.

The page (tests/front_end/app.html) is served by a little server of its own on
`http://localhost:<port>`; the gateway (a second one on the test databases, with six-second
access tokens and only that origin allowed) is on `http://127.0.0.1:<port>`.
"""

import functools
import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from tests.factories import make_club
from tests.oauth_flow import register_app
from tests.support import Api
from tests.test_docs_in_browser import CHROMIUM
from tools.stack import Stack, free_port

PAGE = Path(__file__).parent / "front_end" / "app.html"


class AppServer(http.server.ThreadingHTTPServer):
    """Serves the app's one page at every path (`/` and `/callback`)."""

    def __init__(self, port: int, html: str) -> None:
        handler = functools.partial(_Handler, html.encode())
        super().__init__(("127.0.0.1", port), handler)


class _Handler(http.server.BaseHTTPRequestHandler):
    def __init__(self, html: bytes, *args: object) -> None:
        self.html = html
        super().__init__(*args)  # type: ignore[arg-type]

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.html)))
        self.end_headers()
        self.wfile.write(self.html)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def setting(stack: Stack, api: Api, admin: httpx.Client) -> Iterator[dict[str, str]]:
    app_port = free_port()
    origin = f"http://localhost:{app_port}"
    gateway = Stack(
        database_urls=stack.database_urls,
        ports={**stack.ports, "gateway": free_port()},
        var_dir=stack.var_dir,
        admin_password=api.admin_password,
        extra_env={
            **stack.extra_env,
            "GATEWAY_PERSON_TOKEN_MINUTES": "0.1",
            "GATEWAY_CORS_LOCAL_ORIGINS": "false",
            "GATEWAY_CORS_ORIGINS": origin,
        },
    )
    gateway.start(["gateway"])
    client_id = register_app(admin, f"{origin}/callback")
    html = PAGE.read_text().replace("__GATEWAY__", gateway.gateway_url)
    server = AppServer(app_port, html.replace("__CLIENT_ID__", client_id))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield {"origin": origin, "unlisted": f"http://127.0.0.1:{app_port}", "client_id": client_id}
    finally:
        server.shutdown()
        gateway.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield launched
        launched.close()


def status(page: Page, text: str) -> None:
    try:
        page.locator("#status", has_text=text).wait_for(timeout=30_000)
    except PlaywrightTimeout:
        shown = (
            page.locator("#status").text_content()
            if page.locator("#status").count()
            else page.locator("body").inner_text()
        )
        raise AssertionError(f"waited for {text!r} at {page.url}: {shown!r}") from None


def test_an_app_logs_in_with_pkce_edits_refreshes_and_logs_out(
    setting: dict[str, str], browser: Browser, api: Api, admin: httpx.Client
) -> None:
    username, password = api.create_user("officer", provinces=["15"])
    club = make_club(admin)
    page = browser.new_context().new_page()
    page.goto(setting["origin"] + "/")
    status(page, "ready")
    page.evaluate("logIn()")
    page.locator("#username").wait_for(timeout=30_000)  # the gateway's login page
    assert "Đăng nhập" in page.content()
    page.fill("#username", username)
    page.fill("#password", password)
    page.click("button[value=login]")
    status(page, "logged in")
    assert page.url.startswith(setting["origin"] + "/callback?code=")

    listed = page.evaluate("listClubs()")
    assert listed["status"] == 200 and listed["total"] >= 1
    renamed = page.evaluate(f"renameClub({club['id']}, 'CLB Hoa Mai (đổi tên)')")
    assert renamed["etag"] and renamed["first"] == 200
    assert (renamed["stale"], renamed["code"]) == (412, "etag_stale")
    assert renamed["type"].startswith("application/problem+json")

    page.wait_for_timeout(7_000)  # the six-second access token expires
    assert page.evaluate("listClubs()")["status"] == 200
    assert page.evaluate("window.refreshes") >= 1  # more on a machine slower than the token

    assert page.evaluate("logOut()") == 200
    status(page, "logged out")
    assert page.url == setting["origin"] + "/callback?state=bye"
    revoked = page.evaluate("sessionStorage.getItem('revoked')")
    again = httpx.post(
        api.base_url + "/auth/token",
        data={"grant_type": "refresh_token", "refresh_token": revoked,
              "client_id": setting["client_id"]},
    )  # fmt: skip
    assert again.status_code == 400
    page.goto(setting["origin"] + "/")
    page.evaluate("logIn()")
    page.locator("#username").wait_for(timeout=30_000)  # logged out: the form again


def test_the_same_app_on_an_unlisted_origin_is_blocked(
    setting: dict[str, str], browser: Browser
) -> None:
    page = browser.new_context().new_page()
    page.goto(setting["unlisted"] + "/")
    status(page, "ready")
    outcome = page.evaluate(
        "fetch(GATEWAY + '/api/v1/locations/provinces').then(() => 'read', () => 'blocked')"
    )
    assert outcome == "blocked"
