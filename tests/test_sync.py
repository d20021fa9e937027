"""Offline sync: a list answers a sync_token, and `changed_since=<token>` answers what changed
after it — new, updated and ended rows, and the ids deleted — exactly: a change committed while
a sync runs comes in that sync or the next, never lost, on SQLite and on PostgreSQL."""

import base64
import json
import threading
from datetime import date, timedelta
from typing import Any

import httpx
import pytest

from tests.factories import make_club, member_payload
from tests.support import Api, assert_problem
from tests.test_activities import add_activity, add_meeting
from tests.test_funding import allocate, line_of, make_funder, make_plan, receive
from tests.test_members import add_member

pytestmark = pytest.mark.usefixtures("stack")


def read_all(client: httpx.Client, path: str, limit: int = 50, **params: Any) -> dict[str, Any]:
    """Every page of a (sync of a) list: the items, the removed ids and the token to keep."""
    items: list[dict] = []
    removed: list[int] = []
    tokens = set()
    cursor = None
    while True:
        query = {**params, "limit": limit, **({"cursor": cursor} if cursor else {})}
        response = client.get(path, params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        items += page["items"]
        removed += page["removed"] or []
        tokens.add(page["sync_token"])
        cursor = page["next_cursor"]
        if cursor is None:
            assert len(tokens) == 1, "every page of one read answers the same token"
            return {"items": items, "removed": removed, "token": tokens.pop()}


def ids(read: dict[str, Any]) -> set[int]:
    return {item["id"] for item in read["items"]}


def test_a_board_syncs_its_members_meetings_and_activities(
    as_role: Any, admin: httpx.Client
) -> None:
    club = make_club(admin)
    board = as_role("club_manager", clubs=[club["id"]])
    members = f"/api/v1/clubs/{club['id']}/members"
    staying, leaving = (add_member(board, club["id"]) for _ in range(2))
    first = read_all(board, members)
    assert ids(first) == {staying["id"], leaving["id"]}
    assert ids(read_all(board, members, changed_since=first["token"])) == set()

    joined = add_member(board, club["id"])
    changed = board.patch(f"/api/v1/members/{staying['id']}", json={"phone": "0912345678"})
    assert changed.status_code == 200, changed.text
    left = board.post(f"/api/v1/members/{leaving['id']}/leave", json={"left_on": "2024-05-31"})
    assert left.status_code == 200, left.text
    sync = read_all(board, members, changed_since=first["token"])
    assert ids(sync) == {joined["id"], staying["id"], leaving["id"]}
    ended = next(item for item in sync["items"] if item["id"] == leaving["id"])
    assert ended["left_on"] == "2024-05-31"  # a member who left comes back marked so
    assert ids(read_all(board, members, changed_since=sync["token"])) == set()

    activities = f"/api/v1/clubs/{club['id']}/activities"
    kept, mistaken = add_activity(board, club), add_activity(board, club)
    start = read_all(board, activities)
    assert board.delete(f"{activities}/{mistaken['id']}").status_code == 204
    patched = board.patch(f"{activities}/{kept['id']}", json={"participants": 50})
    assert patched.status_code == 200, patched.text
    sync = read_all(board, activities, changed_since=start["token"])
    assert ids(sync) == {kept["id"]} and sync["removed"] == [mistaken["id"]]

    meetings = f"/api/v1/clubs/{club['id']}/meetings"
    start = read_all(board, meetings)
    meeting = add_meeting(board, club, attending_member_ids=[joined["id"]])
    assert ids(read_all(board, meetings, changed_since=start["token"])) == {meeting["id"]}


def test_money_lists_and_the_bank_list_sync(admin: httpx.Client) -> None:
    funder = make_funder(admin)
    plan = make_plan(admin)
    line = line_of(plan, "seed_capital")
    receive(admin, funder, line, 5_000_000)
    start = {
        path: read_all(admin, path, funder_id=funder["id"])["token"]
        for path in ("/api/v1/allocations", "/api/v1/receipts", "/api/v1/funded-clubs")
    }
    club = make_club(admin)
    allocation = allocate(admin, funder, line, club, 1_000_000).json()
    synced = read_all(admin, "/api/v1/allocations", funder_id=funder["id"],
                      changed_since=start["/api/v1/allocations"])  # fmt: skip
    assert ids(synced) == {allocation["id"]}
    receipts = read_all(admin, "/api/v1/receipts", funder_id=funder["id"],
                        changed_since=start["/api/v1/receipts"])  # fmt: skip
    assert ids(receipts) == set()
    funded = read_all(admin, "/api/v1/funded-clubs", funder_id=funder["id"],
                      changed_since=start["/api/v1/funded-clubs"])  # fmt: skip
    assert [item["club_id"] for item in funded["items"]] == [club["id"]]
    bank = read_all(admin, "/api/v1/bank-loans")
    assert ids(read_all(admin, "/api/v1/bank-loans", changed_since=bank["token"])) == set()


def _token(value: int, dialect: str, issued: float) -> str:
    raw = json.dumps({"x": value, "d": dialect, "t": int(issued)}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_a_token_that_is_not_one_is_422_and_one_too_old_is_410(admin: httpx.Client) -> None:
    club = make_club(admin)
    members = f"/api/v1/clubs/{club['id']}/members"
    for made_up in ("abc", "eyJ4IjoxfQ", "bm90IGpzb24"):
        problem = assert_problem(admin.get(members, params={"changed_since": made_up}), 422)
        assert problem["errors"][0]["code"] == "invalid_sync_token"
    token = admin.get(members).json()["sync_token"]
    dialect = json.loads(base64.urlsafe_b64decode(token + "==="))["d"]
    old = _token(0, dialect, 0)
    problem = assert_problem(admin.get(members, params={"changed_since": old}), 410)
    assert problem["code"] == "sync_token_expired"
    # Lists that do not sync do not take the parameter.
    assert_problem(admin.get("/api/v1/funders", params={"changed_since": token}), 422)


def test_no_change_is_lost_while_writers_run_during_syncs(api: Api, admin: httpx.Client) -> None:
    """Writers add and change members while a reader syncs in small pages over and over; the
    reader's copy ends equal to the list, and saw every member written."""
    club = make_club(admin)
    members = f"/api/v1/clubs/{club['id']}/members"
    written: set[int] = set()
    lock = threading.Lock()
    stop = threading.Event()

    def writer(seed: int) -> None:
        with api.client(api.admin_token) as client:
            for round_ in range(6):
                joined = date(2020, 1, 1) + timedelta(days=seed * 10 + round_)
                body = member_payload(joined_on=joined.isoformat())
                response = client.post(members, json=body)
                assert response.status_code == 201, response.text
                with lock:
                    written.add(response.json()["id"])
                member_id = response.json()["id"]
                assert client.patch(f"/api/v1/members/{member_id}",
                                    json={"phone": "0912345678"}).status_code == 200  # fmt: skip

    copy: dict[int, dict] = {}
    first = read_all(admin, members, limit=3, include_left=True)
    copy.update({item["id"]: item for item in first["items"]})
    token = first["token"]
    threads = [threading.Thread(target=writer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()

    def sync_once() -> None:
        nonlocal token
        read = read_all(admin, members, limit=3, changed_since=token)
        copy.update({item["id"]: item for item in read["items"]})
        token = read["token"]

    while any(thread.is_alive() for thread in threads):
        sync_once()
    for thread in threads:
        thread.join()
    stop.set()
    sync_once()
    full = read_all(admin, members, limit=200, include_left=True)
    assert written <= set(copy)
    assert {i: copy[i] for i in ids(full)} == {item["id"]: item for item in full["items"]}
