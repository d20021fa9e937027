"""Vietnamese for the people who use it (issue 24): problems, composition reasons and member
lists as boards really send them, and numbers as UBND and the ministry print them.

English stays the default for machines; `Accept-Language: vi` (or `vi-VN`, or vi ranked above
en) asks for Vietnamese.
"""

import csv
import io
from decimal import Decimal
from typing import Any

import httpx
import pytest
from pydantic_core import _pydantic_core

from common import problem_texts_vi
from common.problem_codes import CATALOGUE, TYPES, Code
from common.problems import ValidationFailed, field_error, invalid
from common.vietnamese import format_millions, format_number, format_percent, preferred_language
from tests.factories import make_club, national_id
from tests.support import assert_problem, followed_job
from tools.stack import Stack

VI = {"Accept-Language": "vi"}
NAME = "Nguyễn Thị Lan"
"""A member's name: never in a problem, in either language."""
CONSENT_HEADERS = ["Số phiếu đồng ý", "Ngày đồng ý"]


# The catalogue


def test_every_problem_code_and_type_has_a_vietnamese_text() -> None:
    untranslated = sorted(code.value for code in CATALOGUE if code not in problem_texts_vi.CODES)
    assert not untranslated, (
        "Translate these codes in common/problem_texts_vi.py (CODES): " + ", ".join(untranslated)
    )
    titles = sorted(slug for slug in TYPES if slug not in problem_texts_vi.TITLES)
    assert not titles, "Translate these problem types' titles (TITLES): " + ", ".join(titles)
    assert all(text.strip() for text in problem_texts_vi.CODES.values())


def test_pydantic_s_messages_are_read_with_pydantic_s_own_templates() -> None:
    """A pydantic upgrade that rewords a message shows here, not as English in a Vietnamese
    answer."""
    examples = {e["type"]: e["example_message_python"] for e in _pydantic_core.list_all_errors()}
    for kind, (_english, vietnamese) in problem_texts_vi.PYDANTIC.items():
        assert kind in examples, kind
        if vietnamese == "{reason}":  # a validator's own reason inside pydantic's words
            continue
        translated = problem_texts_vi.reason(kind, examples[kind])
        assert translated != problem_texts_vi.CODES[Code.INVALID], (kind, examples[kind])


@pytest.mark.parametrize(
    ("code", "english", "vietnamese"),
    [
        ("string_too_long", "String should have at most 200 characters", "tối đa 200 ký tự"),
        ("int_parsing", "Input should be a valid integer, unable to parse string as an integer",
         "phải là số nguyên"),
        ("missing", "Field required", "bắt buộc phải có"),
        ("enum", "Input should be 'male' or 'female'",
         "phải là một trong các giá trị 'male' hoặc 'female'"),
        ("date_in_future", "is in the future", "là một ngày trong tương lai"),
        ("invalid", "row 4, column 'Giới tính': is not one of Nam, Nữ, male, female",
         "dòng 4, cột 'Giới tính': không phải một trong các giá trị: Nam, Nữ, male, female"),
        ("membership_overlap", "is before 2020-01-02, when this person's previous membership "
         "ended; memberships of one person may not overlap", "trước 2020-01-02, ngày kết thúc"),
        # A reason the catalogue has no template for reads as its code's meaning.
        ("invalid_url", "something new and unforeseen", "Không phải địa chỉ http hoặc https"),
    ],
)  # fmt: skip
def test_field_error_reasons_read_in_vietnamese(code: str, english: str, vietnamese: str) -> None:
    assert vietnamese in problem_texts_vi.reason(code, english)


def test_a_problem_renders_in_either_language_with_the_same_codes() -> None:
    problem = ValidationFailed(
        "Invalid input: full_name: is empty",
        errors=[field_error("full_name", "is empty", code=Code.INVALID_NAME)],
    )
    english, vietnamese = problem.body("/x"), problem.body("/x", "vi")
    assert english["title"] == "Unprocessable Content" and english["errors"][0]["reason"] == (
        "is empty"
    )
    assert vietnamese["title"] == "Dữ liệu không hợp lệ"
    assert vietnamese["detail"] == "Dữ liệu không hợp lệ: full_name: đang để trống"
    assert vietnamese["errors"][0] == {**english["errors"][0], "reason": "đang để trống"}
    assert vietnamese["code"] == english["code"] and vietnamese["type"] == english["type"]
    one = invalid("quota_profile_id", "no quota profile 7", code=Code.UNKNOWN_REFERENCE)
    assert one.body(language="vi")["detail"] == "Dữ liệu không hợp lệ: quota_profile_id: " + (
        "không có bộ tiêu chí cơ cấu 7"
    )


# Numbers as printed


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (1_234_567, 0, "1.234.567"),
        (529, 0, "529"),
        (-20_000_000, 0, "-20.000.000"),
        (48.9, 1, "48,9"),
        (Decimal("529.3"), 1, "529,3"),
        (50.75, 1, "50,8"),
        (1234.5, 2, "1.234,50"),
    ],
)
def test_numbers_are_formatted_as_vietnamese_documents_print_them(
    value: Any, decimals: int, shown: str
) -> None:
    assert format_number(value, decimals) == shown


def test_percentages_and_millions_as_the_plans_print_them() -> None:
    assert format_percent(48.9) == "48,9 %"
    assert format_percent(60) == "60 %" and format_percent(60.0) == "60 %"
    # Lào Cai 184/KH-UBND (2018): training 50.7, total 529.3 million đồng.
    assert format_millions(50_700_000) == "50,7" and format_millions(529_300_000) == "529,3"
    assert format_millions(400_000_000) == "400" and format_millions(1_529_300_000) == "1.529,3"


@pytest.mark.parametrize(
    ("header", "language"),
    [
        (None, "en"),
        ("", "en"),
        ("vi", "vi"),
        ("vi-VN", "vi"),
        ("VI-vn,vi;q=0.9", "vi"),
        ("en-US,en;q=0.9,vi;q=0.8", "en"),
        ("vi;q=0.9, en;q=0.8", "vi"),
        ("en;q=0.5, vi-VN", "vi"),
        ("fr-FR, vi;q=0.5", "vi"),
        ("vi, en", "vi"),
        ("en, vi", "en"),
        ("vi;q=0", "en"),
        ("*", "en"),
        ("vi;q=abc", "en"),
        (";;;,,,=", "en"),
    ],
)
def test_vietnamese_is_answered_when_preferred_over_english(
    header: str | None, language: str
) -> None:
    assert preferred_language(header) == language


# Problems through the gateway and the services


def test_a_refused_member_is_explained_in_vietnamese(admin: httpx.Client) -> None:
    club = make_club(admin)
    payload = {
        "full_name": "x" * 300,
        "gender": "other",
        "birth_year": "abc",
        "household_status": "poor",
        "joined_on": "2019-01-15",
        "consents": [],
    }
    address = f"/api/v1/clubs/{club['id']}/members"
    english = admin.post(address, json=payload)
    body = assert_problem(english, 422)
    assert english.headers["content-language"] == "en"
    assert body["title"] == "Unprocessable Content"
    vietnamese = admin.post(address, json=payload, headers={"Accept-Language": "vi-VN"})
    body = assert_problem(vietnamese, 422)
    assert vietnamese.headers["content-language"] == "vi"
    assert body["title"] == "Dữ liệu không hợp lệ"
    reasons = {e["field"]: e["reason"] for e in body["errors"]}
    assert reasons["full_name"] == "chỉ được có tối đa 200 ký tự"
    assert reasons["gender"].startswith("phải là một trong các giá trị")
    assert " hoặc " in reasons["gender"] and " or " not in reasons["gender"]
    assert reasons["birth_year"] == "phải là số nguyên"
    assert body["detail"].startswith("Dữ liệu không hợp lệ: ")
    # The codes are the same in both languages: programs read them, not the prose.
    codes = {e["field"]: e["code"] for e in assert_problem(english, 422)["errors"]}
    assert {e["field"]: e["code"] for e in body["errors"]} == codes


def test_the_gateway_s_own_problems_answer_in_vietnamese(stack: Stack, admin: httpx.Client) -> None:
    with httpx.Client(base_url=stack.gateway_url, timeout=30) as anonymous:
        unauthorised = anonymous.get("/api/v1/clubs", headers=VI)
    body = assert_problem(unauthorised, 401)
    assert body["title"] == "Chưa xác thực" and body["code"] == "token_missing"
    assert body["detail"].startswith("Thiếu tiêu đề Authorization")
    assert unauthorised.headers["content-language"] == "vi"
    nowhere = admin.get("/api/v1/no-such-thing", headers=VI)
    body = assert_problem(nowhere, 404)
    assert body["title"] == "Không tìm thấy"
    wrong_type = admin.post(
        "/api/v1/clubs", content=b"<club/>", headers={**VI, "Content-Type": "application/xml"}
    )
    body = assert_problem(wrong_type, 415)
    assert body["title"] == "Kiểu nội dung không được hỗ trợ"
    assert wrong_type.headers["content-language"] == "vi"


def test_a_service_s_not_found_names_the_object_in_vietnamese(admin: httpx.Client) -> None:
    answer = admin.get("/api/v1/clubs/999999999", headers=VI)
    body = assert_problem(answer, 404)
    assert body["detail"] == "Không có câu lạc bộ 999999999."


# Composition reasons


def _member_rows(women: int, men: int, older: int) -> list[dict[str, str]]:
    rows = []
    for index in range(women + men):
        gender = "Nữ" if index < women else "Nam"
        year = 1950 if index < older else 1990
        rows.append(
            {
                "Họ và tên": f"Hội viên {chr(65 + index // 26)}{chr(97 + index % 26)}",
                "Giới tính": gender,
                "Năm sinh": str(year),
                "Số CCCD": national_id(year, "female" if gender == "Nữ" else "male"),
                # 40 of 60 poor (the priority rule passes); a blank cell is an ordinary household
                "Hộ nghèo/cận nghèo": "Hộ nghèo" if index % 3 != 2 else "",
                "Ngày vào": "01/01/2020",
                "Số phiếu đồng ý": f"{index + 1}/2020",
                "Ngày đồng ý": "01/01/2020",
            }
        )
    return rows


def _csv(rows: list[dict[str, str]]) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue().encode()


def _import(
    client: httpx.Client,
    club_id: int,
    content: bytes,
    dry_run: bool = False,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    return client.post(
        f"/api/v1/clubs/{club_id}/members/import",
        params={"dry_run": str(dry_run).lower()},
        files={"file": ("members.csv", content, "text/csv")},
        headers=headers or {},
    )


def test_a_club_s_failing_rules_read_in_vietnamese_with_a_decimal_comma(
    admin: httpx.Client,
) -> None:
    """Decision 1336/QĐ-TTg: women 60–70 %. 29 women of 60 members is 48,3 %."""
    club = make_club(admin)
    imported = _import(admin, club["id"], _csv(_member_rows(women=29, men=31, older=39)))
    assert imported.status_code == 201, imported.text
    address = f"/api/v1/clubs/{club['id']}/composition"
    assert admin.get(address).json()["failures"] == ["women 48.3 % < 60 %"]
    vietnamese = admin.get(address, headers=VI).json()
    assert vietnamese["failures"] == ["phụ nữ 48,3 % < 60 %"]
    rules = {rule["rule"]: rule["reason"] for rule in vietnamese["rules"]}
    assert rules["members"] == "số hội viên 60 trong khoảng 50-70"
    assert rules["older"] == "người cao tuổi (từ 60 tuổi) 65 % trong khoảng 60-70 %"
    ours = _non_compliant(admin, club, {"Accept-Language": "en-GB;q=0.5, vi;q=0.9"})
    assert ours["failures"] == ["phụ nữ 48,3 % < 60 %"]


def _non_compliant(
    client: httpx.Client, club: dict[str, Any], headers: dict[str, str]
) -> dict[str, Any]:
    """The club's row of its province's non-compliant clubs, however many the session made."""
    params: dict[str, Any] = {"province": club["province_code"], "limit": 1000}
    while True:
        page = client.get("/api/v1/clubs/non-compliant", params=params, headers=headers).json()
        found = [item for item in page["items"] if item["club_id"] == club["id"]]
        if found or not page["next_cursor"]:
            assert found, f"club {club['id']} is not listed"
            return dict(found[0])
        params["cursor"] = page["next_cursor"]


# Member lists as boards send them


def test_a_board_s_sheet_imports_with_its_own_headers_extra_columns_and_blank_households(
    admin: httpx.Client,
) -> None:
    club = make_club(admin)
    rows = [
        {
            "STT": "1",
            "Họ và tên": NAME,
            "Giới tính": "Nữ",
            "Năm sinh": "1952",
            "Dân tộc": "Tày",
            "Thôn/xóm": "Cốc Lếu",
            "Hộ nghèo, cận nghèo": "",
            "Ghi chú": "Chuyển đến từ xã bên",
            "Cột lạ": "abc",
            "Số phiếu đồng ý": "1/2024",
            "Ngày đồng ý": "02/01/2024",
        },
        {
            "STT": "2",
            "Họ và tên": "Hoàng Văn Minh",
            "Giới tính": "Nam",
            "Năm sinh": "1990",
            "Dân tộc": "Kinh",
            "Thôn/xóm": "Cốc Lếu",
            "Hộ nghèo, cận nghèo": "Hộ cận nghèo",
            "Ghi chú": "",
            "Cột lạ": "",
            "Số phiếu đồng ý": "2/2024",
            "Ngày đồng ý": "02/01/2024",
        },
    ]
    answer = _import(admin, club["id"], _csv(rows))
    assert answer.status_code == 201, answer.text
    report = answer.json()
    assert report["created"] == 2 and report["columns"]["Hộ nghèo, cận nghèo"] == (
        "household_status"
    )
    assert report["ignored_columns"] == ["STT", "Dân tộc", "Thôn/xóm", "Ghi chú", "Cột lạ"]
    warned = {w["column"]: w["code"] for w in report["warnings"]}
    assert warned == {
        "Dân tộc": "column_not_imported",
        "Thôn/xóm": "column_not_imported",
        "Ghi chú": "column_not_imported",
        "Cột lạ": "unknown_column",
    }
    for cell in ("Tày", "Kinh", "Chuyển đến", "abc"):  # the column, never what is in it
        assert cell not in answer.text
    members = admin.get(f"/api/v1/clubs/{club['id']}/members", params={"limit": 10}).json()
    households = {m["full_name"]: m["household_status"] for m in members["items"]}
    assert households == {NAME: "none", "Hoàng Văn Minh": "near_poor"}


@pytest.mark.parametrize(
    "header",
    ["Hộ nghèo/cận nghèo", "Hộ nghèo, cận nghèo", "Hoàn cảnh gia đình", "Hộ nghèo / hộ cận nghèo"],
)
def test_household_status_headers_boards_write(admin: httpx.Client, header: str) -> None:
    club = make_club(admin)
    content = f'Họ và tên,Giới tính,Năm sinh,"{header}",{",".join(CONSENT_HEADERS)}\n'
    content += f"{NAME},Nữ,1950,Hộ nghèo,1/2024,02/01/2024\n"
    answer = _import(admin, club["id"], content.encode(), dry_run=True)
    assert answer.status_code == 200, answer.text
    assert answer.json()["valid"] and answer.json()["columns"][header] == "household_status"


def test_every_refusal_of_a_member_list_is_explained_in_vietnamese(admin: httpx.Client) -> None:
    club = make_club(admin)
    content = (
        "Họ và tên,Giới tính,Năm sinh,Hộ,Dân tộc,Số phiếu đồng ý,Ngày đồng ý\n"
        f"{NAME},Khác,1950,Hộ nghèo,Tày,1/2024,02/01/2024\n"
        f"Lò Văn Páo,Nam,abcd,giàu,Thái,2/2024,31/02/2024\n"
    ).encode()
    refused = _import(admin, club["id"], content, headers=VI)
    body = assert_problem(refused, 422)
    assert refused.headers["content-language"] == "vi"
    assert body["detail"] == "2/2 dòng có lỗi; chưa nhập dòng nào."
    reasons = [e["reason"] for e in body["errors"]]
    assert "dòng 2, cột 'Giới tính': không phải một trong các giá trị: Nam, Nữ" in reasons[0]
    assert all(reason.startswith("dòng ") for reason in reasons), reasons
    issues = {(i["row"], i["column"]): i for i in body["report"]["issues"]}
    assert issues[(3, "Năm sinh")]["reason"] == "không phải là năm (yyyy)"
    assert issues[(3, "Ngày đồng ý")]["reason"] == "không phải là ngày có thật trên lịch"
    assert issues[(3, "Hộ")]["reason"].startswith("không phải một trong các giá trị: Hộ nghèo")
    assert body["report"]["warnings"] == [
        {
            "column": "Dân tộc",
            "code": "column_not_imported",
            "message": "không nhập: hồ sơ hội viên không có thông tin này",
        }
    ]
    for personal in (NAME, "Lò Văn Páo", "Tày", "Thái"):
        assert personal not in refused.text
    # The same file without the header: the same refusal, in English.
    english = assert_problem(_import(admin, club["id"], content), 422)
    assert english["detail"] == "2 of 2 rows have problems; nothing was imported."
    assert [e["code"] for e in english["errors"]] == [e["code"] for e in body["errors"]]


def test_a_sheet_s_missing_columns_are_named_in_vietnamese(admin: httpx.Client) -> None:
    club = make_club(admin)
    content = "Họ và tên,Năm sinh,Thôn/xóm\nx,1950,y\n".encode()
    body = assert_problem(_import(admin, club["id"], content, headers=VI), 422)
    assert body["detail"].startswith("Các cột của dòng 1: ")
    reasons = {e["field"]: e["reason"] for e in body["errors"]}
    assert reasons["gender"] == "thiếu cột ('Giới tính' hoặc 'gender')"
    assert "Thôn/xóm" not in reasons  # an extra column is no refusal


def test_an_import_job_reports_its_warnings_and_reads_in_vietnamese(admin: httpx.Client) -> None:
    club = make_club(admin)
    content = (
        "Họ và tên,Giới tính,Năm sinh,Hộ,Thôn/xóm,Số phiếu đồng ý,Ngày đồng ý\n"
        f"{NAME},Nữ,1950,,Cốc Lếu,1/2024,02/01/2024\n"
    ).encode()
    started = admin.post(
        f"/api/v1/clubs/{club['id']}/members/import",
        params={"dry_run": "true"},
        files={"file": ("members.csv", content, "text/csv")},
        headers={"Prefer": "respond-async"},
    )
    job = followed_job(admin, started)
    assert job["status"] == "succeeded", job
    assert job["result"]["warnings"] == [
        {
            "column": "Thôn/xóm",
            "code": "column_not_imported",
            "message": "not imported: a membership does not hold it",
        }
    ]
    assert job["result"]["valid"]
    read = admin.get(started.headers["location"], headers=VI).json()
    assert read["result"]["warnings"][0]["message"] == (
        "không nhập: hồ sơ hội viên không có thông tin này"
    )
