"""The API pages work where the users are: in a real browser with no internet.

Headless Chromium (Debian's `chromium`, driven by Playwright) opens `/docs` with every request
off this machine cut, logs in through the Authorize dialog with the OAuth2 password flow,
executes a call and sees 200; `/redoc` renders the same document. `.ci/run` installs Chromium
and sets ISHC_REQUIRE_TOOLS, so CI never skips this.
"""

import os
import shutil
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from tests.conftest import ADMIN_PASSWORD
from tools.stack import Stack

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")

if CHROMIUM is None:
    if os.environ.get("ISHC_REQUIRE_TOOLS"):
        raise RuntimeError("ISHC_REQUIRE_TOOLS is set but no chromium is installed")
    pytest.skip("no chromium on this machine (apt-get install chromium)", allow_module_level=True)

from playwright.sync_api import Page, Route, sync_playwright  # noqa: E402


@pytest.fixture(scope="module")
def page(stack: Stack) -> Iterator[Page]:
    gateway = urlsplit(stack.gateway_url).netloc
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        context = browser.new_context()
        outside: list[str] = []

        def offline(route: Route) -> None:
            if urlsplit(route.request.url).netloc == gateway:
                route.continue_()
            else:
                # ReDoc's "by Redocly" badge is a picture from its site; nothing else may be.
                if route.request.resource_type != "image":
                    outside.append(route.request.url)
                route.abort("internetdisconnected")

        context.route("**/*", offline)
        yield context.new_page()
        browser.close()
        assert not outside, f"the pages asked outside the gateway for: {outside}"


def test_swagger_ui_logs_in_and_calls_the_api_offline(page: Page, stack: Stack) -> None:
    page.goto(stack.gateway_url + "/docs")
    page.locator(".info .title").filter(has_text="ISHC Platform API").wait_for(timeout=30_000)
    page.locator("button.authorize").first.click()
    dialog = page.locator(".modal-ux")
    dialog.locator("#oauth_username").fill("admin")
    dialog.locator("#oauth_password").fill(ADMIN_PASSWORD)
    dialog.locator("button.modal-btn.authorize").first.click()
    dialog.locator("button.modal-btn", has_text="Logout").first.wait_for(timeout=15_000)
    dialog.locator("button.btn-done").first.click()

    operation = page.locator("#operations-identity-list_users_api_v1_users_get")
    operation.locator(".opblock-summary").click()
    operation.locator("button.try-out__btn").click()
    operation.locator("button.execute").click()
    status = operation.locator(".live-responses-table tbody .response-col_status").first
    status.wait_for(timeout=15_000)
    assert status.inner_text().strip().startswith("200")


def test_redoc_renders_the_document_offline(page: Page, stack: Stack) -> None:
    page.goto(stack.gateway_url + "/redoc")
    page.get_by_text("ISHC Platform API").first.wait_for(timeout=30_000)
    page.get_by_text("Get a token at").first.wait_for(timeout=30_000)


def test_a_problem_type_s_page_lists_its_codes_offline(page: Page, stack: Stack) -> None:
    page.goto(stack.gateway_url + "/problems/conflict")
    page.get_by_role("heading", name="Conflict", level=1).wait_for(timeout=15_000)
    assert page.locator("html").get_attribute("lang") == "en"
    table = page.get_by_role("table")
    codes = table.locator("tbody th").all_inner_texts()
    assert "fund_overdraft" in codes and "already_exists" in codes
    assert table.get_by_role("row", name="club_dissolved").count() == 1
    page.get_by_role("link", name="Every problem type").click()
    page.get_by_role("link", name="Database Busy").wait_for(timeout=15_000)
