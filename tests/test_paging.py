"""Every list pages by cursor: no row skipped or repeated whatever is written between two
pages, pages as large as bulk readers want, and a cursor that is not this list's is refused."""

from typing import Any

import httpx
import pytest

from tests.factories import make_club
from tests.support import Api, assert_problem
from tests.test_funding import allocate, line_of, make_funder, make_plan, receive

pytestmark = pytest.mark.usefixtures("stack")


def _cursor_lists(api: Api) -> list[str]:
    """Every GET of the merged document that takes a cursor and needs no path parameter."""
    document = httpx.get(f"{api.base_url}/openapi.json", timeout=30).json()
    return [
        path
        for path, item in document["paths"].items()
        if "get" in item
        and "{" not in path
        and any(p["name"] == "cursor" for p in item["get"].get("parameters", []))
    ]


PAGES = 20
"""About how many pages each list is walked in."""


def walk(client: httpx.Client, path: str, limit: int, **params: Any) -> list[dict]:
    """Every item of a list, page after page by cursor."""
    items: list[dict] = []
    cursor = None
    while True:
        page_params = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=page_params)
        assert response.status_code == 200, (path, response.text)
        page = response.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items
        assert len(page["items"]) == limit, path
        assert len(items) < 50_000, f"{path} does not end"


def _identity(item: dict) -> Any:
    for name in ("id", "club_id", "code"):
        if name in item:
            return item[name]
    return tuple(sorted(item.items()))


def test_every_list_walked_by_cursor_is_the_list_read_at_once(
    api: Api, admin: httpx.Client
) -> None:
    funder = make_funder(admin)
    plan = make_plan(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 9_000_000)
    for _ in range(3):
        allocate(admin, funder, line, make_club(admin), 1_000_000)
    # Reading members' data writes the access log, so that list grows while this test reads.
    paths = [path for path in _cursor_lists(api) if "access-log" not in path]
    assert len(paths) > 15, paths
    walked_some = 0
    for path in paths:
        whole = admin.get(path, params={"limit": 1000})
        assert whole.status_code == 200, (path, whole.text)
        expected = [_identity(item) for item in whole.json()["items"]]
        # Pages of two for a short list, else about twenty pages whatever the session's tests
        # left in it (a cursor per page: every boundary is one), at most a thousand a page
        size = min(1000, max(2, -(-whole.json()["total"] // PAGES)))
        walked = [_identity(item) for item in walk(admin, path, limit=size)]
        assert walked[: len(expected)] == expected, path
        assert len(walked) == whole.json()["total"], path
        walked_some += len(expected) > 2
    assert walked_some > 5  # lists long enough to take several pages


def test_rows_written_between_two_pages_are_neither_skipped_nor_repeated(
    admin: httpx.Client,
) -> None:
    funder = make_funder(admin)
    plan = make_plan(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 9_000_000)
    clubs = [make_club(admin) for _ in range(5)]
    for club in clubs[1:]:
        assert allocate(admin, funder, line, club, 1_000_000).status_code == 201
    params = {"funder_id": funder["id"], "limit": 2}
    first = admin.get("/api/v1/funded-clubs", params=params).json()
    assert [item["club_id"] for item in first["items"]] == [c["id"] for c in clubs[1:3]]
    # A club that sorts before the first page is funded meanwhile: an offset would now count
    # it and serve the second page's first club again; the cursor goes on after the last one.
    assert allocate(admin, funder, line, clubs[0], 1_000_000).status_code == 201
    second = admin.get("/api/v1/funded-clubs", params={**params, "cursor": first["next_cursor"]})
    assert [item["club_id"] for item in second.json()["items"]] == [c["id"] for c in clubs[3:]]
    assert second.json()["next_cursor"] is None
    by_offset = admin.get("/api/v1/funded-clubs", params={**params, "offset": 2}).json()
    assert by_offset["items"][0]["club_id"] == clubs[2]["id"]  # the repeat the cursor avoids


def test_a_cursor_of_another_list_or_order_or_a_made_up_one_is_refused(
    admin: httpx.Client,
) -> None:
    for _ in range(3):
        make_club(admin)
    by_code = admin.get("/api/v1/clubs", params={"limit": 1}).json()["next_cursor"]
    assert by_code
    assert admin.get("/api/v1/clubs", params={"limit": 1, "cursor": by_code}).status_code == 200
    other_sort = admin.get("/api/v1/clubs", params={"sort": "-code", "cursor": by_code})
    assert_problem(other_sort, 422, "cursor")
    assert_problem(admin.get("/api/v1/loans", params={"cursor": by_code}), 422, "cursor")
    for made_up in ("abc", "eyJvIjoxfQ", "AAAA", "!!"):
        assert_problem(admin.get("/api/v1/clubs", params={"cursor": made_up}), 422, "cursor")
    both = admin.get("/api/v1/clubs", params={"cursor": by_code, "offset": 3})
    assert_problem(both, 422, "offset")


def test_bulk_readers_take_pages_of_a_thousand(admin: httpx.Client) -> None:
    assert admin.get("/api/v1/clubs", params={"limit": 1000}).status_code == 200
    assert_problem(admin.get("/api/v1/clubs", params={"limit": 1001}), 422, "limit")
