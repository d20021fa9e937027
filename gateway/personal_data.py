"""A person's right of access: everything the platform holds about them, from every service.

`GET /api/v1/members/{member_id}/personal-data` asks the clubs service for the person's
memberships (every membership with the same citizen ID that the caller may see), the loans
service for their loans, repayments and matched bank records, and adds the access log of who
read them. Each service answers with the caller's own token, so each applies its own scope.
As JSON, or as an .xlsx workbook with Vietnamese headers to print and hand to the person.
The answer is itself a read of the person's data, logged like any other.
"""

import io
import json
from datetime import datetime
from typing import Annotated, Any, Literal

import orjson
from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import JSONResponse
from openpyxl import Workbook
from openpyxl.styles import Font
from pydantic import Field
from starlette.concurrency import run_in_threadpool

from common import clock
from common.auth import CurrentPrincipal, Role, require_roles
from common.problem_codes import Code
from common.problems import NotFound, ServiceUnavailable
from common.schemas import IdPath, OutputModel
from gateway.access_log import AccessLogEntryPublic, reads_of
from gateway.proxy import Forwarder

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Record = dict[str, Any]


class PersonalDataReport(OutputModel):
    member_id: int = Field(description="The membership asked about.")
    generated_at: datetime
    memberships: list[Record] = Field(
        description="Each membership of the person (same citizen ID) the caller may see: "
        "`member` as `GET /api/v1/members/{id}` shows it, its `club`, `consents`, "
        "`meetings_attended` and `audit` (the changes made to it)."
    )
    loans: list[Record] = Field(
        description="Loans from the clubs' funds, as `GET /api/v1/loans/{id}` shows them, each "
        "with its `instalments` and `repayments`."
    )
    bank_loans: list[Record] = Field(
        description="The Social Policy Bank's loan records matched to the person, as "
        "`GET /api/v1/bank-loans/{id}` shows them."
    )
    bank_loan_unmatches: list[Record] = Field(
        description="Matches to the bank's records undone after a withdrawn consent (admins)."
    )
    access_log: list[AccessLogEntryPublic] = Field(
        description="Who was shown the person's data, the latest first."
    )


async def _part(
    request: Request, service: str, path: str, params: list[tuple[str, Any]] | None = None
) -> Any:
    forwarder: Forwarder = request.app.state.forwarder
    status, body = await forwarder.ask(request, service, path, params)
    if status != 200:
        raise ServiceUnavailable(
            f"The {service} service answered {status} for its part.", code=Code.SERVICE_ERROR
        )
    return orjson.loads(body)


async def gather(request: Request, member_id: int) -> PersonalDataReport:
    forwarder: Forwarder = request.app.state.forwarder
    status, body = await forwarder.ask(
        request, "clubs", f"/internal/members/{member_id}/personal-data"
    )
    if status == 404:
        raise NotFound(f"No member {member_id}.")
    if status != 200:
        raise ServiceUnavailable(
            f"The clubs service answered {status} for its part.", code=Code.SERVICE_ERROR
        )
    memberships = orjson.loads(body)["memberships"]
    ids = [held["member"]["id"] for held in memberships]
    loans = await _part(
        request, "loans", "/internal/personal-data", [("member_id", i) for i in ids]
    )
    reads = await run_in_threadpool(reads_of, request.app.state.engine, ids)
    return PersonalDataReport(
        member_id=member_id,
        generated_at=clock.utcnow(),
        memberships=memberships,
        loans=loans["loans"],
        bank_loans=loans["bank_loans"],
        bank_loan_unmatches=loans["bank_loan_unmatches"],
        access_log=reads,
    )


router = APIRouter(tags=["personal data"])


@router.get(
    "/api/v1/members/{member_id}/personal-data",
    response_model=PersonalDataReport,
    dependencies=[Depends(require_roles(Role.ADMIN, Role.OFFICER))],
    summary="Everything the platform holds about a person (admins; officers in their area)",
    description="The person's right of access (Law 91/2025/QH15): memberships, board roles, "
    "consents, meetings attended, changes made, loans and repayments, matched bank records and "
    "who read them, from every service. `format=xlsx` gives a workbook with Vietnamese "
    "headers, to print. Logged as a read of the person's data.",
    responses={200: {"content": {XLSX: {}}}},
)
async def personal_data(
    member_id: IdPath,
    request: Request,
    principal: CurrentPrincipal,
    format: Annotated[Literal["json", "xlsx"], Query(description="json or xlsx")] = "json",
) -> Response:
    report = await gather(request, member_id)
    shown = [held["member"]["id"] for held in report.memberships]
    forwarder: Forwarder = request.app.state.forwarder
    if forwarder.access_log is not None:
        await forwarder.access_log.record(request, principal, "gateway", shown)
    headers = {"Cache-Control": "no-store"}
    if format == "xlsx":
        headers["Content-Disposition"] = (
            f'attachment; filename="member-{member_id}-personal-data.xlsx"'
        )
        content = await run_in_threadpool(to_xlsx, report)
        return Response(content, media_type=XLSX, headers=headers)
    return JSONResponse(report.model_dump(mode="json"), headers=headers)


# --- the workbook -------------------------------------------------------------------------------

MEMBER = {
    "id": "Mã thành viên",
    "club": "Câu lạc bộ",
    "full_name": "Họ và tên",
    "gender": "Giới tính",
    "birth_date": "Ngày sinh",
    "birth_year": "Năm sinh",
    "national_id": "Số CCCD",
    "phone": "Số điện thoại",
    "household_status": "Hoàn cảnh hộ gia đình",
    "joined_on": "Ngày tham gia",
    "left_on": "Ngày rời câu lạc bộ",
    "board_role": "Chức danh trong Ban chủ nhiệm",
    "home_care_volunteer": "Tình nguyện viên chăm sóc tại nhà",
    "income_generation_volunteer": "Tình nguyện viên hỗ trợ tạo thu nhập",
    "erased_on": "Ngày xóa dữ liệu",
}
CONSENT = {
    "member_id": "Mã thành viên",
    "purpose": "Mục đích",
    "given_on": "Ngày đồng ý",
    "form_reference": "Số phiếu đồng ý",
    "recorded_by": "Người ghi nhận",
    "withdrawn_on": "Ngày rút lại",
    "withdrawal_reference": "Số văn bản rút lại",
}
MEETING = {"member_id": "Mã thành viên", "meeting_id": "Mã buổi sinh hoạt", "held_on": "Ngày"}
AUDIT = {
    "member_id": "Mã thành viên",
    "at": "Thời điểm",
    "actor": "Người thực hiện",
    "action": "Thao tác",
    "before": "Trước khi sửa",
    "after": "Sau khi sửa",
}
LOAN = {
    "id": "Mã khoản vay",
    "member_id": "Mã thành viên",
    "club_id": "Mã câu lạc bộ",
    "status": "Trạng thái",
    "form": "Hình thức vay",
    "purpose": "Mục đích vay",
    "amount": "Số tiền vay (đồng)",
    "term_months": "Thời hạn (tháng)",
    "applied_on": "Ngày đề nghị",
    "disbursed_on": "Ngày giải ngân",
    "matures_on": "Ngày đáo hạn",
    "closed_on": "Ngày tất toán",
    "written_off_on": "Ngày xóa nợ",
    "principal_repaid": "Gốc đã trả (đồng)",
    "interest_paid": "Lãi đã trả (đồng)",
    "outstanding_principal": "Dư nợ gốc (đồng)",
}
REPAYMENT = {
    "loan_id": "Mã khoản vay",
    "paid_on": "Ngày trả",
    "amount": "Số tiền (đồng)",
    "principal": "Trả gốc (đồng)",
    "interest": "Trả lãi (đồng)",
    "reference": "Chứng từ",
}
BANK_LOAN = {
    "bank_code": "Ngân hàng",
    "loan_number": "Số khế ước",
    "borrower_name": "Tên người vay",
    "borrower_national_id": "Số CCCD người vay",
    "programme": "Chương trình cho vay",
    "principal": "Số tiền vay (đồng)",
    "disbursed_on": "Ngày giải ngân",
    "maturity_on": "Ngày đến hạn",
    "outstanding_principal": "Dư nợ (đồng)",
    "overdue_amount": "Nợ quá hạn (đồng)",
    "status": "Trạng thái",
    "as_of": "Số liệu đến ngày",
    "member_id": "Mã thành viên",
}
ACCESS = {
    "at": "Thời điểm",
    "principal": "Người xem",
    "role": "Vai trò",
    "method": "Thao tác",
    "path": "Đường dẫn",
    "service": "Dịch vụ",
}


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "Có" if value else "Không"
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False, default=str)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def _sheet(workbook: Workbook, title: str, headers: dict[str, str], rows: list[Record]) -> None:
    sheet = workbook.create_sheet(title)
    sheet.append(list(headers.values()))
    for cell in sheet[1]:
        cell.font = Font(bold=True)
    for row in rows:
        sheet.append([_cell(row.get(key)) for key in headers])
    for index in range(len(headers)):
        sheet.column_dimensions[sheet.cell(1, index + 1).column_letter].width = 22
    sheet.freeze_panes = "A2"


def _with_member(member_id: int, items: list[Record]) -> list[Record]:
    return [{**item, "member_id": member_id} for item in items]


def to_xlsx(report: PersonalDataReport) -> bytes:
    workbook = Workbook()
    first = workbook.active
    assert first is not None  # a new workbook always has its first sheet
    workbook.remove(first)
    members, consents, meetings, audit = [], [], [], []
    for held in report.memberships:
        member = held["member"]
        members.append({**member, "club": f"{held['club']['name']} ({held['club']['code']})"})
        consents += _with_member(member["id"], held["consents"])
        meetings += _with_member(member["id"], held["meetings_attended"])
        audit += _with_member(member["id"], held["audit"])
    repayments = [r for loan in report.loans for r in loan["repayments"]]
    _sheet(workbook, "Thành viên", MEMBER, members)
    _sheet(workbook, "Đồng ý", CONSENT, consents)
    _sheet(workbook, "Sinh hoạt", MEETING, meetings)
    _sheet(workbook, "Khoản vay", LOAN, report.loans)
    _sheet(workbook, "Trả nợ", REPAYMENT, repayments)
    _sheet(workbook, "Vay NHCSXH", BANK_LOAN, report.bank_loans)
    _sheet(workbook, "Lịch sử thay đổi", AUDIT, audit)
    _sheet(workbook, "Nhật ký truy cập", ACCESS, [r.model_dump() for r in report.access_log])
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()
