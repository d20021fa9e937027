"""Budget estimate tables (Biểu dự toán kinh phí): exporting a plan and reading tables back."""

import io
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from openpyxl import Workbook, load_workbook

from common.problems import UnsupportedMediaType, ValidationFailed
from services.funding.plans.budget_table import (
    SEED_VOCABULARY,
    FileFormat,
    Unit,
    Vocabulary,
    export_table,
    import_table,
)
from services.funding.plans.schemas import LineIn, LinePublic, PlanPublic, Targets
from services.funding.rules import MILLION, Activity, PlanStatus, Source

PROVINCIAL, CARE_FUND, SOCIALISATION = (
    Source.PROVINCIAL_BUDGET,
    Source.ELDERLY_CARE_FUND,
    Source.SOCIALISATION,
)
# Lào Cai's 2018 plan (domain.md, "Funding mobilisation"), in đồng.
LAO_CAI_LINES = [
    (1, Activity.TRAINING, "Tập huấn thành lập CLB", {PROVINCIAL: 50_700_000}),
    (2, Activity.CLUB_ESTABLISHMENT, "Ra mắt 5 CLB", {PROVINCIAL: 18 * MILLION}),
    (
        3,
        Activity.SEED_CAPITAL,
        "Hỗ trợ vốn cho 16 CLB",
        {CARE_FUND: 320 * MILLION, SOCIALISATION: 80 * MILLION},
    ),
    (4, Activity.MONITORING, "Giám sát, hỗ trợ kỹ thuật", {PROVINCIAL: 17_600_000}),
    (5, Activity.REVIEW_CONFERENCE, "Hội nghị tổng kết", {PROVINCIAL: 43 * MILLION}),
]
EXPECTED = [
    LineIn(number=n, activity=a, content=c, amounts=m, total=sum(m.values()))
    for n, a, c, m in LAO_CAI_LINES
]
HEADER = ["STT", "Nội dung", "Tổng cộng", "Ngân sách tỉnh"]
HEADER += ["Quỹ Chăm sóc và phát huy vai trò người cao tuổi", "Xã hội hóa", "Hoạt động"]


def lao_cai_plan() -> PlanPublic:
    now = datetime(2018, 1, 15, tzinfo=UTC)
    lines = [
        LinePublic(id=n, number=n, activity=a, content=c, amounts=m, total=sum(m.values()))
        for n, a, c, m in LAO_CAI_LINES
    ]
    return PlanPublic(
        id=7,
        series_id=7,
        version=2,
        status=PlanStatus.APPROVED,
        is_current=True,
        province_code="10",
        programme_code="QD1533",
        start_year=2018,
        end_year=2018,
        title="Kế hoạch nhân rộng CLB liên thế hệ tự giúp nhau năm 2018",
        notes="",
        targets=Targets(clubs_to_found=16, members=2000, older_members=700),
        lines=lines,
        totals_by_source={
            PROVINCIAL: 129_300_000,
            CARE_FUND: 320 * MILLION,
            SOCIALISATION: 80 * MILLION,
        },
        total=529_300_000,
        created_by="lao-cai",
        created_at=now,
        updated_at=now,
        approved_by="lao-cai",
        approved_at=now,
    )


def csv_text(*rows: str, encoding: str = "utf-8") -> bytes:
    return "\r\n".join(rows).encode(encoding)


def problems(data: bytes, unit: Unit = "million", name: str = "du-toan.csv") -> dict[str, str]:
    with pytest.raises(ValidationFailed) as refused:
        import_table(data, name, "text/csv", unit)
    return {error.field: error.reason for error in refused.value.errors or []}


LAO_CAI_TYPED = [
    "STT;Nội dung;Tổng;NS tỉnh;Quỹ CS NCT;XHH",
    "1;Tập huấn thành lập CLB;50,7;50,7;;",
    "2;Ra mắt 5 CLB;18;18;;",
    "3;Hỗ trợ vốn cho 16 CLB;400;;320;80",
    "4;Giám sát, hỗ trợ kỹ thuật;17,6;17,6;;",
    "5;Hội nghị tổng kết;43;43;;",
    ";Tổng cộng;529,3;129,3;320;80",
]


# Export


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
@pytest.mark.parametrize("unit", ["million", "dong"])
def test_an_exported_table_imports_back_to_the_same_lines(
    file_format: FileFormat, unit: Unit
) -> None:
    exported = export_table(lao_cai_plan(), file_format, unit, "Lào Cai")
    imported = import_table(exported, f"lao-cai.{file_format}", None, unit)
    assert imported.lines == EXPECTED and not imported.inferred


def test_the_xlsx_has_the_provinces_layout_in_million_dong() -> None:
    sheet = load_workbook(
        io.BytesIO(export_table(lao_cai_plan(), "xlsx", "million", "Lào Cai"))
    ).active
    assert sheet is not None
    title = sheet["A1"].value
    assert "năm 2018" in title and "Lào Cai" in title and "Năm 2018" in title
    assert "Phiên bản 2" in title and "đã phê duyệt" in title
    assert sheet["A2"].value == "Đơn vị tính: triệu đồng"
    assert [cell.value for cell in sheet[3]] == HEADER
    assert all(cell.font.bold for cell in sheet[3])
    assert [cell.value for cell in sheet[4]] == [
        1,
        "Tập huấn thành lập CLB",
        50.7,
        50.7,
        None,
        None,
        "Tập huấn",
    ]
    assert [cell.value for cell in sheet[6]][2:6] == [400, None, 320, 80]
    assert [cell.value for cell in sheet[9]] == [None, "Tổng cộng", 529.3, 129.3, 320, 80, None]
    assert sheet["C9"].number_format == "#,##0.0#####"
    assert sheet.column_dimensions["B"].width > sheet.column_dimensions["A"].width


def test_the_xlsx_in_dong_holds_whole_numbers() -> None:
    sheet = load_workbook(io.BytesIO(export_table(lao_cai_plan(), "xlsx", "dong", None))).active
    assert sheet is not None
    assert "Lào Cai" not in sheet["A1"].value
    assert sheet["A2"].value == "Đơn vị tính: đồng"
    assert [cell.value for cell in sheet[9]][2:6] == [
        529_300_000,
        129_300_000,
        320_000_000,
        80_000_000,
    ]
    assert sheet["C9"].number_format == "#,##0"


def test_the_csv_is_utf8_for_excel_with_exact_decimal_commas() -> None:
    exported = export_table(lao_cai_plan(), "csv", "million", "Lào Cai")
    assert exported.startswith(b"\xef\xbb\xbf")
    rows = exported.decode("utf-8-sig").split("\r\n")
    assert rows[1] == "Đơn vị tính: triệu đồng"
    assert rows[2] == ",".join(HEADER)
    assert rows[3] == '1,Tập huấn thành lập CLB,"50,7","50,7",,,Tập huấn'
    assert rows[6] == '4,"Giám sát, hỗ trợ kỹ thuật","17,6","17,6",,,"Giám sát, hỗ trợ kỹ thuật"'
    assert rows[8] == ',Tổng cộng,"529,3","129,3",320,80,'


def test_the_csv_in_dong_groups_thousands_as_the_plans_print_them() -> None:
    rows = export_table(lao_cai_plan(), "csv", "dong", None).decode("utf-8-sig").split("\r\n")
    assert rows[3] == "1,Tập huấn thành lập CLB,50.700.000,50.700.000,,,Tập huấn"
    assert rows[8] == ",Tổng cộng,529.300.000,129.300.000,320.000.000,80.000.000,"


def test_only_the_sources_a_plan_uses_get_a_column_and_a_period_is_shown() -> None:
    plan = lao_cai_plan()
    central = plan.lines[0].model_copy(update={"amounts": {Source.CENTRAL_BUDGET: 50_700_000}})
    lines = [central, *plan.lines[1:]]
    plan = plan.model_copy(update={"start_year": 2016, "end_year": 2020, "lines": lines})
    rows = export_table(plan, "csv", "million", None).decode("utf-8-sig").split("\r\n")
    assert "Giai đoạn 2016–2020" in rows[0]
    assert rows[2].split(",")[3:7] == [
        "Ngân sách trung ương",
        "Ngân sách tỉnh",
        "Quỹ Chăm sóc và phát huy vai trò người cao tuổi",
        "Xã hội hóa",
    ]


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_contents_that_look_like_formulas_stay_text(file_format: FileFormat) -> None:
    plan = lao_cai_plan()
    contents = ['=HYPERLINK("http://x")', "- Tập huấn", "+ Ra mắt", "@Vốn", "Giám sát"]
    lines = [
        line.model_copy(update={"content": c}) for line, c in zip(plan.lines, contents, strict=True)
    ]
    exported = export_table(plan.model_copy(update={"lines": lines}), file_format, "dong", None)
    imported = import_table(exported, f"lao-cai.{file_format}", None, "dong").lines
    assert [line.content for line in imported] == contents
    if file_format == "xlsx":
        sheet = load_workbook(io.BytesIO(exported)).active
        assert sheet is not None and sheet["B4"].data_type == "s"


# Import: what officers type


@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16"])
def test_a_hand_typed_csv_with_semicolons_and_decimal_commas_is_read(encoding: str) -> None:
    typed = csv_text(
        "UBND TỈNH LÀO CAI",
        "BIỂU DỰ TOÁN KINH PHÍ NHÂN RỘNG CLB, NĂM 2018",
        "(Đơn vị tính: triệu đồng)",
        "",
        LAO_CAI_TYPED[0] + ";Ghi chú",
        "A;B;1=2+3;2;3;4;5",
        *LAO_CAI_TYPED[1:],
        "",
        ";;;;Lào Cai, ngày 15 tháng 1 năm 2018;",
        ";;;;Người lập biểu;",
        encoding=encoding,
    )
    imported = import_table(typed, "du-toan.csv", "text/csv", "million")
    assert imported.lines == EXPECTED and imported.inferred == {1, 2, 3, 4, 5}


def test_amounts_in_dong_may_group_thousands_with_dots_commas_or_spaces() -> None:
    typed = csv_text(
        "STT;Nội dung;Ngân sách tỉnh;Quỹ Chăm sóc NCT;Xã hội hóa;Tổng số",
        "1;Tập huấn;50.700.000;;;50.700.000",
        '2;Vốn cho CLB;;"320,000,000";80 000 000;400000000',
    )
    lines = import_table(typed, "du-toan.csv", None, "dong").lines
    assert [(line.amounts, line.total) for line in lines] == [
        ({PROVINCIAL: 50_700_000}, 50_700_000),
        ({CARE_FUND: 320 * MILLION, SOCIALISATION: 80 * MILLION}, 400 * MILLION),
    ]


def test_headers_may_be_english_or_the_source_values_and_stt_may_be_blank() -> None:
    typed = csv_text(
        "No,content,provincial_budget,Ngân sách xã,total,activity",
        ",Leaflets,1.5,0.25,1.75,communication",
        ",Village meeting,2,,,",
    )
    lines = import_table(typed, "du-toan.csv", None, "million").lines
    assert [(line.number, line.activity, line.total) for line in lines] == [
        (1, Activity.COMMUNICATION, 1_750_000),
        (2, Activity.OTHER, None),
    ]
    assert lines[0].amounts == {PROVINCIAL: 1_500_000, Source.COMMUNE_BUDGET: 250_000}


@pytest.mark.parametrize(
    ("content", "activity"),
    [
        ("Tập huấn cho Ban chủ nhiệm CLB", Activity.TRAINING),
        ("Lễ ra mắt 5 CLB", Activity.CLUB_ESTABLISHMENT),
        ("Hội nghị thành lập CLB", Activity.CLUB_ESTABLISHMENT),
        ("Hỗ trợ vốn ban đầu cho 16 CLB mới thành lập", Activity.SEED_CAPITAL),
        ("Kiểm tra, giám sát việc sử dụng vốn", Activity.MONITORING),
        ("Hội nghị sơ kết 6 tháng", Activity.REVIEW_CONFERENCE),
        ("Truyền thông trên đài phát thanh", Activity.COMMUNICATION),
        ("Văn phòng phẩm", Activity.OTHER),
    ],
)
def test_the_activity_is_inferred_from_the_content(content: str, activity: Activity) -> None:
    typed = csv_text("STT;Nội dung;NS tỉnh", f"1;{content};10")
    imported = import_table(typed, "du-toan.csv", None, "million")
    assert imported.lines[0].activity == activity and imported.inferred == {1}


def test_a_header_over_two_rows_with_the_sources_below_is_read() -> None:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    sheet.append(["BIỂU DỰ TOÁN KINH PHÍ NĂM 2018"])
    sheet.append(["STT", "Nội dung", "Tổng cộng", "Nguồn kinh phí"])
    sheet.append([None, None, None, "NS tỉnh", "Quỹ chăm sóc NCT", "Xã hội hóa"])
    sheet.merge_cells("D2:F2")
    sheet.append(["", "Tổng cộng", 529.3, 129.29999999999998, 320, 80])
    for number, _, content, amounts in LAO_CAI_LINES:
        row = [amounts.get(s, 0) / MILLION or None for s in (PROVINCIAL, CARE_FUND, SOCIALISATION)]
        sheet.append([number, content, sum(amounts.values()) / MILLION, *row])
    buffer = io.BytesIO()
    workbook.save(buffer)
    assert import_table(buffer.getvalue(), "du-toan.xlsx", None, "million").lines == EXPECTED


# Import: the tables as the plans print them

# Lào Cai's plan 184/KH-UBND (2018), its budget table as printed: two header rows, a "Kinh phí"
# cell merged over the total and the sources, the sources' full names below it.
PRINTED_TITLE = [
    ["UỶ BAN NHÂN DÂN TỈNH LÀO CAI"],
    ["DỰ TOÁN KINH PHÍ THỰC HIỆN KẾ HOẠCH NHÂN RỘNG MÔ HÌNH CÂU LẠC BỘ LIÊN THẾ HỆ TỰ GIÚP NHAU"],
    ["(Kèm theo Kế hoạch số 184/KH-UBND năm 2018 của UBND tỉnh Lào Cai)"],
    [None, None, None, None, None, "Đơn vị tính: triệu đồng"],
]
PRINTED_HEADER = [
    ["STT", "Nội dung", "Kinh phí", None, None, None, "Ghi chú"],
    [
        None,
        None,
        "Tổng cộng",
        "Nguồn ngân sách tỉnh",
        "Nguồn Quỹ Chăm sóc và phát huy vai trò người cao tuổi",
        "Nguồn xã hội hóa",
        None,
    ],
]
PRINTED_LINES = [
    ["1", "Tập huấn cho Ban chủ nhiệm và tình nguyện viên các CLB", "50,7", "50,7", "", "", ""],
    ["2", "Ra mắt 5 CLB", "18", "18", "", "", ""],
    [
        "3",
        "Hỗ trợ nguồn quỹ ban đầu cho 16 CLB (20 triệu đồng/CLB)",
        "400",
        "",
        "320",
        "80",
        "",
    ],
    ["4", "Giám sát, hỗ trợ kỹ thuật", "17,6", "17,6", "", "", ""],
    ["5", "Hội nghị tổng kết", "43", "43", "", "", ""],
    ["", "Tổng cộng", "529,3", "129,3", "320", "80", ""],
]
PRINTED_ACTIVITIES = [
    Activity.TRAINING,
    Activity.CLUB_ESTABLISHMENT,
    Activity.SEED_CAPITAL,
    Activity.MONITORING,
    Activity.REVIEW_CONFERENCE,
]


def _number(text: str) -> str | float | None:
    """A cell as Excel holds it: amounts as numbers, blanks as nothing."""
    if not text:
        return None
    return float(text.replace(",", ".")) if text[0].isdigit() else text


def printed_xlsx() -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    assert sheet is not None
    for row in PRINTED_TITLE + PRINTED_HEADER:
        sheet.append(row)
    for row in PRINTED_LINES:
        sheet.append([row[0] or None, row[1], *(_number(cell) for cell in row[2:])])
    for cells in ("A5:A6", "B5:B6", "C5:F5", "G5:G6"):
        sheet.merge_cells(cells)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def printed_csv() -> bytes:
    rows = [*PRINTED_TITLE, *PRINTED_HEADER, *PRINTED_LINES]
    return csv_text(*(";".join(cell or "" for cell in row) for row in rows))


@pytest.mark.parametrize(
    ("name", "table"), [("184-KH-UBND.xlsx", printed_xlsx), ("184-KH-UBND.csv", printed_csv)]
)
def test_lao_cais_table_imports_as_the_plan_prints_it(
    name: str, table: Callable[[], bytes]
) -> None:
    imported = import_table(table(), name, None, "million")
    assert [(line.number, line.amounts, line.total) for line in imported.lines] == [
        (1, {PROVINCIAL: 50_700_000}, 50_700_000),
        (2, {PROVINCIAL: 18 * MILLION}, 18 * MILLION),
        (3, {CARE_FUND: 320 * MILLION, SOCIALISATION: 80 * MILLION}, 400 * MILLION),
        (4, {PROVINCIAL: 17_600_000}, 17_600_000),
        (5, {PROVINCIAL: 43 * MILLION}, 43 * MILLION),
    ]
    assert sum(sum(line.amounts.values()) for line in imported.lines) == 529_300_000
    # Every activity was read from the wording: the officer confirms it.
    assert [line.activity for line in imported.lines] == PRINTED_ACTIVITIES
    assert imported.inferred == {1, 2, 3, 4, 5}


def test_a_printed_total_row_that_does_not_add_up_is_named_by_its_full_header() -> None:
    lines = [list(row) for row in PRINTED_LINES]
    lines[-1][3] = "129"
    rows = [*PRINTED_TITLE, *PRINTED_HEADER, *lines]
    data = csv_text(*(";".join(cell or "" for cell in row) for row in rows))
    assert problems(data) == {
        "row 12, Nguồn ngân sách tỉnh": "total row: Nguồn ngân sách tỉnh is 129.0, "
        "the lines add up to 129.3"
    }


def test_a_source_in_the_annual_estimate_is_named_without_an_amount() -> None:
    typed = csv_text(
        "STT;Nội dung;Tổng số;Ngân sách Trung ương;Nguồn ngân sách tỉnh",
        "1;Xây dựng kế hoạch triển khai;Trong dự toán;Trong dự toán hằng năm;",
        "2;Tập huấn;50,7;;50,7",
        ";Tổng cộng;50,7;;50,7",
    )
    imported = import_table(typed, "du-toan.csv", None, "million")
    assert [(line.activity, line.amounts, line.total) for line in imported.lines] == [
        (Activity.PLANNING, {Source.CENTRAL_BUDGET: None}, None),
        (Activity.TRAINING, {PROVINCIAL: 50_700_000}, 50_700_000),
    ]


@pytest.mark.parametrize("file_format", ["xlsx", "csv"])
def test_a_source_without_its_amount_goes_out_as_in_the_estimate_and_comes_back(
    file_format: FileFormat,
) -> None:
    plan = lao_cai_plan()
    named = plan.lines[0].model_copy(
        update={"amounts": {Source.CENTRAL_BUDGET: None, PROVINCIAL: 50_700_000}}
    )
    plan = plan.model_copy(update={"lines": [named, *plan.lines[1:]]})
    exported = export_table(plan, file_format, "million", "Lào Cai")
    if file_format == "csv":
        rows = exported.decode("utf-8-sig").split("\r\n")
        assert rows[2].split(",")[3] == "Ngân sách trung ương"
        assert rows[3] == '1,Tập huấn thành lập CLB,"50,7",Trong dự toán,"50,7",,,Tập huấn'
    imported = import_table(exported, f"plan.{file_format}", None, "million")
    assert imported.lines[0].amounts == {Source.CENTRAL_BUDGET: None, PROVINCIAL: 50_700_000}
    assert imported.lines[1:] == EXPECTED[1:]


@pytest.mark.parametrize(
    ("content", "activity"),
    [
        ("Hội nghị tổng kết 5 năm thực hiện Kế hoạch", Activity.REVIEW_CONFERENCE),
        ("Hỗ trợ nguồn quỹ cho CLB", Activity.SEED_CAPITAL),
        ("Vốn hỗ trợ ban đầu cho CLB", Activity.SEED_CAPITAL),
        ("Vận động nguồn lực, xã hội hóa cho CLB", Activity.RESOURCE_MOBILISATION),
        ("Xây dựng kế hoạch nhân rộng", Activity.PLANNING),
        ("Hợp tác quốc tế với HelpAge", Activity.INTERNATIONAL_COOPERATION),
        ("Tuyên truyền trên báo Hải Phòng", Activity.COMMUNICATION),
    ],
)
def test_the_plans_wording_tells_the_activity(content: str, activity: Activity) -> None:
    typed = csv_text("STT;Nội dung;Nguồn ngân sách tỉnh", f"1;{content};10")
    imported = import_table(typed, "du-toan.csv", None, "million")
    assert imported.lines[0].activity == activity and imported.inferred == {1}


def test_items_an_administrator_added_are_read_by_their_names() -> None:
    vocabulary = Vocabulary(
        sources={**SEED_VOCABULARY.sources, "child_fund": ("Quỹ Bảo trợ trẻ em", "Child fund")},
        activities={
            **SEED_VOCABULARY.activities,
            "exchange_visit": ("Tham quan học tập", "Exchange visit"),
        },
    )
    typed = csv_text(
        "STT;Nội dung;Nguồn Quỹ Bảo trợ trẻ em;Hoạt động",
        "1;Tham quan học tập mô hình CLB tại Hà Nội;12;",
        "2;Đi thực tế;3;Exchange visit",
    )
    imported = import_table(typed, "du-toan.csv", None, "million", vocabulary)
    assert [(line.activity, line.amounts) for line in imported.lines] == [
        ("exchange_visit", {"child_fund": 12 * MILLION}),
        ("exchange_visit", {"child_fund": 3 * MILLION}),
    ]
    assert imported.inferred == {1}
    # Without the item in the list, its column is unknown.
    found = problems(typed)
    assert found["row 1, Nguồn Quỹ Bảo trợ trẻ em"] == "unknown column"
    assert "GET /api/v1/reference/sources" in found["row 1"]


# Import: what is refused, every problem at once


def test_a_line_whose_sources_do_not_add_up_to_its_total_is_refused() -> None:
    typed = list(LAO_CAI_TYPED)
    typed[3] = "3;Hỗ trợ vốn cho 16 CLB;401;;320;80"
    typed[6] = ";Tổng cộng;530,3;129,3;320;80"
    assert problems(csv_text(*typed)) == {
        "row 4, Tổng": "the sources add up to 400.0, not the total 401.0"
    }


def test_a_total_row_that_does_not_match_the_lines_is_refused() -> None:
    typed = list(LAO_CAI_TYPED)
    typed[6] = ";Tổng cộng;529,3;129;320;80"
    assert problems(csv_text(*typed)) == {
        "row 7, NS tỉnh": "total row: NS tỉnh is 129.0, the lines add up to 129.3"
    }


def test_every_problem_of_a_table_is_listed_by_row_and_column() -> None:
    typed = list(LAO_CAI_TYPED)
    typed[0] += ";Địa điểm"
    typed[1] = "1;Tập huấn thành lập CLB;50,7;50,7x;;"
    typed[2] = "x;;18;18;;"
    typed[3] = "3;Hỗ trợ vốn cho 16 CLB;400;;320;80;Sa Pa"
    found = problems(csv_text(*typed))
    assert found == {"row 1, Địa điểm": "unknown column"}
    typed[0] = LAO_CAI_TYPED[0]
    found = problems(csv_text(*typed))
    assert found == {
        "row 2, NS tỉnh": '"50,7x" is not an amount',
        "row 3, STT": '"x" is not a line number (1 to 999)',
        "row 3, Nội dung": "is empty",
        "row 4, column G": '"Sa Pa" is under no header',
    }


def test_amounts_that_are_not_whole_dong_are_refused() -> None:
    typed = csv_text("STT;Nội dung;Ngân sách tỉnh", "1;Tập huấn;0,0000005")
    assert problems(typed) == {"row 2, Ngân sách tỉnh": '"0,0000005" is not a whole number of đồng'}
    typed = csv_text("STT;Nội dung;Ngân sách tỉnh", "1;Tập huấn;1500,5")
    assert problems(typed, "dong") == {
        "row 2, Ngân sách tỉnh": '"1500,5" is not a whole number of đồng'
    }


def test_repeated_line_numbers_and_repeated_columns_are_refused() -> None:
    repeated = csv_text("STT;Nội dung;NS tỉnh", "1;Tập huấn;1", "1;Ra mắt;2")
    assert problems(repeated) == {"row 3, STT": "line number 1 is taken by row 2"}
    twice = csv_text("STT;Nội dung;NS tỉnh;Ngân sách tỉnh", "1;Tập huấn;1;1")
    assert problems(twice) == {"row 1, Ngân sách tỉnh": 'repeats column "NS tỉnh"'}


def test_a_table_in_dong_is_not_read_as_million() -> None:
    typed = csv_text("Đơn vị tính: đồng", "STT;Nội dung;NS tỉnh", "1;Tập huấn;50.700.000")
    assert problems(typed) == {
        "row 1": 'says "Đơn vị tính: đồng", but the amounts were to be read in triệu đồng'
    }


@pytest.mark.parametrize(
    ("name", "content_type", "data"),
    [
        (
            "du-toan.xls",
            "application/vnd.ms-excel",
            b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"0" * 64,
        ),
        ("du-toan.pdf", "application/pdf", b"%PDF-1.4 a scanned table"),
        ("du-toan", "application/octet-stream", b"\x00\x01"),
    ],
)
def test_files_other_than_csv_and_xlsx_are_refused_with_415(
    name: str, content_type: str, data: bytes
) -> None:
    with pytest.raises(UnsupportedMediaType):
        import_table(data, name, content_type, "million")


def zip_bomb() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("xl/worksheets/sheet1.xml", b"\0" * (21 * 2**20))
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("du-toan.csv", b"", "is empty"),
        ("du-toan.xlsx", b"PK\x03\x04 broken", "is not a readable .xlsx workbook"),
        ("du-toan.xlsx", zip_bomb(), "unpacks to more than 20 MB"),
        ("du-toan.csv", "Kế hoạch năm 2018\r\n".encode(), "has no header row"),
        ("du-toan.csv", "STT;Nội dung;NS tỉnh\r\n;Tổng cộng;0".encode(), "has no budget lines"),
    ],
)
def test_empty_unreadable_and_oversized_files_are_refused_with_422(
    name: str, data: bytes, reason: str
) -> None:
    assert problems(data, name=name)["file"].startswith(reason)


def test_more_than_200_lines_are_refused() -> None:
    lines = [f"{n};Tập huấn lớp {n};1" for n in range(1, 202)]
    typed = csv_text("STT;Nội dung;NS tỉnh", *lines)
    assert problems(typed) == {"file": "has more than 200 budget lines"}
