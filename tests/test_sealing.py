"""Citizen IDs and phone numbers unreadable at rest, matched by blind index; keys rotate.

The scan of every database and log after all tests (`tests/personal_data_scan.py`) checks the
whole run; these tests check each mechanism on its own, through the API and in the databases.
"""

import base64
import hmac
import subprocess
import sys
import uuid
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import Engine, text

from common import sealing
from common.db import make_engine
from common.sealing import (
    Keyring,
    PersonalDataKeyError,
    blind_index,
    keyring,
    new_key,
    parse_index_key,
    parse_keys,
)
from common.settings import InsecureSettingsError
from services.clubs.models import NATIONAL_ID, PHONE
from services.clubs.settings import ClubsSettings
from services.loans.bank.models import BORROWER_ID
from services.loans.settings import LoansSettings
from tests.conftest import PERSONAL_DATA_KEYS
from tests.factories import make_club, member_payload, national_id
from tests.personal_data_scan import findings, mentions
from tests.support import Api
from tests.test_bank_loans import post_batch, record
from tools.stack import Stack

FIRST_KEY, SECOND_KEY = (item.partition(":")[0] for item in PERSONAL_DATA_KEYS.split(","))


def ring(*key_ids: str) -> Keyring:
    return Keyring({key_id: bytes(32) for key_id in key_ids}, key_ids[0], bytes(32))


# The keys ---------------------------------------------------------------------------------------


def test_a_sealed_value_opens_only_with_its_key_and_for_its_purpose() -> None:
    keys = keyring()
    sealed = keys.seal("010158000001", NATIONAL_ID)
    assert "010158000001" not in sealed and sealed.startswith(keys.current + ".")
    assert keys.open(sealed, NATIONAL_ID) == "010158000001"
    assert keys.seal("010158000001", NATIONAL_ID) != sealed  # a new nonce each time
    with pytest.raises(PersonalDataKeyError):
        keys.open(sealed, PHONE)  # moved to another column
    key_id, _, body = sealed.partition(".")
    altered = body[:-2] + ("A" if body[-2] != "A" else "B") + body[-1]
    with pytest.raises(PersonalDataKeyError):
        keys.open(f"{key_id}.{altered}", NATIONAL_ID)
    with pytest.raises(PersonalDataKeyError, match="not configured"):
        keys.open("retired." + body, NATIONAL_ID)
    with pytest.raises(PersonalDataKeyError, match="not sealed") as refused:
        keys.open("010158000001", NATIONAL_ID)  # a plain value left in a sealed column
    assert "010158000001" not in str(refused.value)


def test_the_blind_index_is_the_same_for_the_same_id_and_depends_on_its_key() -> None:
    one, other = (
        Keyring({"a": bytes(32)}, "a", b"1" * 32),
        Keyring({"a": bytes(32)}, "a", b"2" * 32),
    )
    assert one.blind_index("010158000001") == one.blind_index("010158000001")
    assert one.blind_index("010158000001") != one.blind_index("010158000002")
    assert one.blind_index("010158000001") != other.blind_index("010158000001")
    assert len(one.blind_index("010158000001")) == sealing.BLIND_INDEX_LENGTH
    # Stored indexes must keep matching: HMAC-SHA256 truncated to 16 bytes, in base64url.
    expected = hmac.digest(b"1" * 32, b"010158000001", "sha256")[: sealing.INDEX_BYTES]
    assert one.blind_index("010158000001") == base64.urlsafe_b64encode(expected).decode()[:22]


def test_keys_are_read_from_settings_and_bad_ones_are_refused_by_name() -> None:
    key = new_key()
    assert list(parse_keys(f"2026-12:{key}, 2027-06:{new_key()}")) == ["2026-12", "2027-06"]
    for bad, reason in (
        ("", "no personal-data key"),
        (f"a b:{key}", "key id"),
        ("k1:c2hvcnQ=", "32 bytes"),
        (f"k1:{key},k1:{key}", "twice"),
    ):
        with pytest.raises(PersonalDataKeyError, match=reason):
            parse_keys(bad)
    with pytest.raises(PersonalDataKeyError, match="32 bytes"):
        parse_index_key("too short")
    with pytest.raises(PersonalDataKeyError, match="not among"):
        Keyring(parse_keys(f"k1:{key}"), "k2", bytes(32))


def test_production_refuses_the_development_keys() -> None:
    for settings in (
        ClubsSettings(environment="production", database_url="postgresql://db/clubs"),
        LoansSettings(
            environment="production",
            database_url="postgresql://db/loans",
            client_secret="a-real-secret",
        ),
    ):
        with pytest.raises(InsecureSettingsError, match="personal_data_index_key"):
            settings.check_production()


# At rest ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def bank(api: Api) -> httpx.Client:
    return api.client(api.client_token(*api.create_client("bank", bank_code="VBSP")))


@pytest.fixture(scope="module")
def engines(stack: Stack) -> Iterator[dict[str, Engine]]:
    found = {name: make_engine(url) for name, url in stack.database_urls.items()}
    yield found
    for engine in found.values():
        engine.dispose()


def test_a_member_s_id_and_phone_are_stored_sealed_and_found_by_blind_index(
    admin: httpx.Client, engines: dict[str, Engine]
) -> None:
    club = make_club(admin)
    payload = member_payload(phone="0987654321")
    created = admin.post(f"/api/v1/clubs/{club['id']}/members", json=payload)
    assert created.status_code == 201, created.text
    member = created.json()
    assert (member["national_id"], member["phone"]) == (payload["national_id"], "0987654321")
    with engines["clubs"].connect() as db:
        stored = db.execute(
            text("SELECT national_id, national_id_blind_index, phone FROM members WHERE id = :id"),
            {"id": member["id"]},
        ).one()
        audit = db.execute(
            text("SELECT after FROM audit_entries WHERE entity = 'member' AND entity_id = :id"),
            {"id": member["id"]},
        ).scalar_one()
    assert keyring().open(stored.national_id, NATIONAL_ID) == payload["national_id"]
    assert keyring().open(stored.phone, PHONE) == "0987654321"
    assert stored.national_id_blind_index == blind_index(payload["national_id"])
    for kept in (stored.national_id, stored.phone, str(audit)):
        assert payload["national_id"] not in kept and "0987654321" not in kept
    # The same person cannot be active twice: the unique index compares blind indexes.
    again = admin.post(
        f"/api/v1/clubs/{make_club(admin)['id']}/members",
        json=member_payload(national_id=payload["national_id"]),
    )
    assert again.status_code == 409, again.text


def test_the_bank_s_borrowers_are_stored_sealed_and_matched_without_the_id(
    admin: httpx.Client, bank: httpx.Client, engines: dict[str, Engine]
) -> None:
    club = make_club(admin)
    member = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()).json()
    retry_key = str(uuid.uuid4())
    posted = bank.post(
        "/api/v1/bank-loans",
        json=record(borrower_national_id=member["national_id"]),
        headers={"Idempotency-Key": retry_key},
    )
    assert posted.status_code == 201, posted.text
    loan = posted.json()["bank_loan"]
    assert loan["matched"] is True and loan["borrower_national_id"] == member["national_id"]
    read = bank.get(f"/api/v1/bank-loans/{loan['id']}")
    assert read.json()["borrower_national_id"] == member["national_id"]
    with engines["loans"].connect() as db:
        row = db.execute(
            text(
                "SELECT borrower_blind_index, borrower_national_id_sealed FROM bank_loans"
                " WHERE id = :id"
            ),
            {"id": loan["id"]},
        ).one()
        events = db.execute(text("SELECT data FROM outbox_events")).scalars().all()
        stored_answer = db.execute(
            text("SELECT response_body FROM idempotency_keys WHERE key = :key"),
            {"key": retry_key},
        ).scalar_one()
    assert member["national_id"] not in stored_answer
    assert keyring().open(stored_answer, "idempotency_keys.response_body") == posted.text
    assert row.borrower_blind_index == blind_index(member["national_id"])
    assert keyring().open(row.borrower_national_id_sealed, BORROWER_ID) == member["national_id"]
    assert not any(member["national_id"] in str(data) for data in events)


def test_a_member_joined_event_carries_the_blind_index_never_the_id(
    admin: httpx.Client, engines: dict[str, Engine]
) -> None:
    member = admin.post(
        f"/api/v1/clubs/{make_club(admin)['id']}/members", json=member_payload()
    ).json()
    with engines["clubs"].connect() as db:
        data = db.execute(
            text("SELECT data FROM outbox_events WHERE subject = :subject"),
            {"subject": f"member:{member['id']}"},
        ).scalar_one()
    assert member["national_id"] not in str(data)
    assert blind_index(member["national_id"]) in str(data)


# Rotation ---------------------------------------------------------------------------------------


def _reseal(stack: Stack, component: str, key_id: str) -> subprocess.CompletedProcess[str]:
    env = {**stack.env(), f"{component.upper()}_PERSONAL_DATA_KEY_ID": key_id}
    return subprocess.run(
        [sys.executable, "-m", "common.reseal", component, "--chunk", "50"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )


def _key_ids(engine: Engine, table: str, column: str) -> set[str]:
    with engine.connect() as db:
        values = db.execute(text(f"SELECT {column} FROM {table} WHERE {column} IS NOT NULL"))
        return {value.partition(".")[0] for (value,) in values}


def test_keys_rotate_while_the_services_run(
    admin: httpx.Client, bank: httpx.Client, stack: Stack, engines: dict[str, Engine]
) -> None:
    """The services seal with the first key and open with both; the command moves every value
    to the second and back, and every read answers the same throughout."""
    club = make_club(admin)
    member = admin.post(f"/api/v1/clubs/{club['id']}/members", json=member_payload()).json()
    loan = post_batch(bank, [record()]).json()["results"][0]
    try:
        for component in ("clubs", "loans"):
            moved = _reseal(stack, component, SECOND_KEY)
            assert moved.returncode == 0, moved.stderr
            assert "0 under an old key" in moved.stdout and "resealed" in moved.stdout
        assert _key_ids(engines["clubs"], "members", "national_id") == {SECOND_KEY}
        assert _key_ids(engines["clubs"], "audit_entries", "after") == {SECOND_KEY}
        assert _key_ids(engines["loans"], "bank_loans", "borrower_national_id_sealed") == {
            SECOND_KEY
        }
        assert admin.get(f"/api/v1/members/{member['id']}").json() == member
        assert bank.get(f"/api/v1/bank-loans/{loan['id']}").status_code == 200
    finally:
        for component in ("clubs", "loans"):
            back = _reseal(stack, component, FIRST_KEY)
            assert back.returncode == 0, back.stderr
    assert _key_ids(engines["clubs"], "members", "phone") == {FIRST_KEY}
    assert admin.get(f"/api/v1/members/{member['id']}").json() == member


def test_a_key_that_is_not_listed_stops_the_command_with_its_name(stack: Stack) -> None:
    refused = _reseal(stack, "clubs", "nowhere")
    assert refused.returncode != 0 and "nowhere" in refused.stderr


# The scan ---------------------------------------------------------------------------------------


def test_the_scan_finds_a_planted_id_or_phone_and_nothing_else() -> None:
    planted = national_id(1950, "female")
    texts = [
        ("members.note", f"called about {planted}."),
        ("logs line 3", "phone 0912345678 given"),
        ("amounts", "principal 100000000000 and 0912345678901"),
        ("sealed", keyring().seal(planted, NATIONAL_ID)),
    ]
    found = findings(texts, {planted, "0912345678"})
    assert found == [f"members.note: …{planted[-3:]}", "logs line 3: …678"]
    events = [("clubs event 1", "{'member_id': 3}"), ("loans.log line 9", "Lò Thị Mai 1958-04-02")]
    assert sorted(mentions(events, {"Lò Thị Mai", "1958-04-02"})) == [
        "loans.log line 9: a date (10 characters)",
        "loans.log line 9: a name (10 characters)",
    ]


def test_a_service_with_keys_it_cannot_read_refuses_to_start(stack: Stack) -> None:
    env = {**stack.env(), "CLUBS_PERSONAL_DATA_KEYS": "k1:not-a-key"}
    started = subprocess.run(
        [sys.executable, "-c", "from services.clubs.app import create_app; create_app()"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert started.returncode != 0 and "32 bytes" in started.stderr
