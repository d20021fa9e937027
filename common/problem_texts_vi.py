"""The problem details in Vietnamese: one catalogue, applied where problems are rendered.

A problem is raised in English (the platform's default for machines) and carries a stable code;
a request with `Accept-Language: vi` gets the same problem with its title, detail and each field
error's reason in Vietnamese (`common.problems` renders it). The texts are looked up, never
composed from what the client sent:

- `TITLES`: each problem type's title;
- `CODES`: each code's meaning in a sentence: the detail (or reason) when no template below
  matches the English one, so every answer reads in Vietnamese, if less precisely;
- `PYDANTIC`: pydantic's own messages by error type, with their context (`{max_length}`);
- `REASONS` and `DETAILS`: the platform's English wordings with their values as templates
  (`{row:d}` is a number, `{column}` any text) and the Vietnamese that says the same.

A value a template carries over is one the English text already held: members' personal data
is never in either (problems never quote a name, birth date, citizen ID or phone).
"""

import re
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from string import Formatter

from common.problem_codes import Code
from common.vietnamese import format_number

TITLES: dict[str, str] = {
    "internal-error": "Lỗi hệ thống",
    "bad-request": "Yêu cầu không đọc được",
    "unauthorized": "Chưa xác thực",
    "forbidden": "Không có quyền",
    "not-found": "Không tìm thấy",
    "method-not-allowed": "Phương thức không được phép",
    "conflict": "Xung đột với dữ liệu hiện có",
    "precondition-failed": "Điều kiện trước không còn đúng",
    "payload-too-large": "Nội dung quá lớn",
    "unsupported-media-type": "Kiểu nội dung không được hỗ trợ",
    "validation-error": "Dữ liệu không hợp lệ",
    "idempotency-key-reused": "Idempotency-Key đã được dùng",
    "gone": "Không còn lưu giữ",
    "too-many-requests": "Quá nhiều yêu cầu",
    "service-unavailable": "Dịch vụ tạm thời không phục vụ được",
    "database-busy": "Cơ sở dữ liệu đang bận",
    "gateway-timeout": "Dịch vụ không trả lời kịp",
}

CODES: dict[Code, str] = {
    Code.INTERNAL_ERROR: "Đã xảy ra lỗi ngoài dự kiến; hãy báo mã yêu cầu (request id) cho "
    "người quản trị nền tảng.",
    Code.BAD_REQUEST: "Không đọc được yêu cầu.",
    Code.MALFORMED_JSON: "Nội dung yêu cầu không phải là JSON hợp lệ.",
    Code.INVALID_UTF8: "Nội dung yêu cầu không phải văn bản UTF-8; hãy gửi JSON mã hóa UTF-8.",
    Code.MALFORMED_GZIP: "Nội dung gửi với Content-Encoding: gzip không phải gzip hoặc bị cắt "
    "ngang; hãy gửi đủ nội dung nén, hoặc gửi không nén.",
    Code.MALFORMED_BODY: "Không phân tích được nội dung biểu mẫu (form/multipart); hãy kiểm tra "
    "cách mã hóa so với Content-Type.",
    Code.IDEMPOTENCY_KEY_REQUIRED: "Thao tác cần tiêu đề Idempotency-Key: hãy gửi một khóa mới, "
    "duy nhất cho mỗi yêu cầu mới, và gửi lại đúng khóa đó khi thử lại.",
    Code.DOT_SEGMENTS: "Đường dẫn có đoạn '.' hoặc '..' (kể cả viết %2e); hãy gửi đường dẫn đã "
    "rút gọn.",
    Code.UNSUPPORTED_GRANT_TYPE: "POST /auth/token chỉ nhận grant_type authorization_code, "
    "refresh_token, client_credentials hoặc password (cũ).",
    Code.INVALID_GRANT: "Mã ủy quyền hoặc refresh token không hợp lệ, đã hết hạn, đã dùng, bị "
    "thu hồi hoặc cấp cho ứng dụng khác; hãy đăng nhập lại qua /oauth/authorize.",
    Code.REFRESH_TOKEN_REUSED: "Refresh token đã dùng được gửi lại: có thể ai đó giữ bản sao, "
    "nên mọi token của lần đăng nhập này đã bị thu hồi. Hãy đăng nhập lại.",
    Code.PASSWORD_GRANT_DISABLED: "Đăng nhập bằng mật khẩu trực tiếp đã tắt; hãy đăng nhập qua "
    "/oauth/authorize (mã ủy quyền và PKCE).",
    Code.UNKNOWN_APP_CLIENT: "Không có ứng dụng đang hoạt động với client_id này; quản trị viên "
    "đăng ký ứng dụng tại /api/v1/app-clients.",
    Code.UNAUTHORIZED: "Yêu cầu chưa được xác thực.",
    Code.TOKEN_MISSING: "Thiếu tiêu đề Authorization: hãy gửi Authorization: Bearer <token>.",
    Code.TOKEN_SCHEME_UNSUPPORTED: "Tiêu đề Authorization không dùng kiểu Bearer; hãy gửi "
    "Authorization: Bearer <token>.",
    Code.TOKEN_EXPIRED: "Token đã hết hạn; hãy lấy token mới tại POST /auth/token rồi gửi lại.",
    Code.TOKEN_INVALID: "Token không hợp lệ; hãy lấy token mới tại POST /auth/token.",
    Code.TOKEN_REVOKED: "Tài khoản được cấp token này đã bị khóa; quản trị viên phải mở lại.",
    Code.WRONG_CREDENTIALS: "Sai tên đăng nhập hoặc mật khẩu, hoặc tài khoản đã bị khóa; đăng "
    "nhập sai nhiều lần sẽ bị làm chậm.",
    Code.WRONG_CLIENT_CREDENTIALS: "Sai client id hoặc secret, hoặc ứng dụng đã bị khóa; đăng "
    "nhập sai nhiều lần sẽ bị làm chậm.",
    Code.MALFORMED_BASIC_CREDENTIALS: "Thông tin HTTP Basic không phải base64 của "
    "client_id:client_secret.",
    Code.FORBIDDEN: "Bạn không được phép thực hiện thao tác này.",
    Code.ROLE_FORBIDDEN: "Vai trò của tài khoản không được dùng thao tác hoặc đường dẫn này; "
    "hãy đề nghị quản trị viên cấp tài khoản có vai trò phù hợp.",
    Code.SERVICE_TOKEN_READ_ONLY: "Token của các dịch vụ nội bộ chỉ được đọc, không được thay "
    "đổi dữ liệu.",
    Code.PERSONAL_DATA_FORBIDDEN: "Vai trò này không được xem dữ liệu cá nhân của hội viên.",
    Code.BANK_CODE_MISSING: "Ứng dụng của ngân hàng chưa có bank_code; hãy đề nghị quản trị "
    "viên thiết lập.",
    Code.FUNDER_MISSING: "Tài khoản đối tác chưa gắn với nhà tài trợ nào; hãy đề nghị quản trị "
    "viên gắn tài khoản với nhà tài trợ.",
    Code.NOT_FOUND: "Không tìm thấy đối tượng hoặc đường dẫn, hoặc bạn không được xem nó; hãy "
    "kiểm tra mã số và phạm vi của tài khoản.",
    Code.METHOD_NOT_ALLOWED: "Đường dẫn không nhận phương thức này; tiêu đề Allow liệt kê các "
    "phương thức được nhận.",
    Code.CONFLICT: "Dữ liệu hiện có không cho phép yêu cầu này.",
    Code.ALREADY_EXISTS: "Một bản ghi khác đã có giá trị duy nhất này (mã, tên, tên đăng nhập, "
    "kế hoạch cùng tỉnh và kỳ…); hãy đọc bản ghi đó hoặc chọn giá trị khác.",
    Code.LOAN_IDENTITY_CHANGED: "Số khoản vay đã biết lại được gửi với người vay, ngày giải "
    "ngân hoặc chương trình khác; nếu lần gửi trước sai, hãy gửi lại với correction: true.",
    Code.BANK_LOAN_RETRACTED: "Ngân hàng đã rút lại bản ghi khoản vay này: nó không nhận cập "
    "nhật và không rút lại lần hai.",
    Code.BANK_LOAN_NOT_RETRACTED: "Bản ghi khoản vay chưa bị rút lại: không có gì để khôi phục.",
    Code.DEAD_LETTER_REPLAYED: "Sự kiện bị tạm gác đã được áp dụng rồi; không áp dụng hai lần.",
    Code.DEAD_LETTER_STILL_FAILING: "Áp dụng lại sự kiện bị tạm gác vẫn lỗi, chưa ghi gì; hãy "
    "sửa nguyên nhân rồi thử lại.",
    Code.COMMITMENT_WITHDRAWN: "Cam kết đã được rút: không nhận khoản thu và không rút hai lần.",
    Code.COMMITMENT_RECEIVED: "Đã nhận tiền theo cam kết này nên không rút được; hãy ghi nhận "
    "đúng thực tế.",
    Code.CLUB_DISSOLVED: "Câu lạc bộ đã giải thể: giữ nguyên lịch sử nhưng không nhận thêm hội "
    "viên, hoạt động, buổi sinh hoạt, quỹ, khoản vay hay khoản phân bổ.",
    Code.CLUB_STATUS_TRANSITION: "Không thể chuyển trạng thái câu lạc bộ theo cách này.",
    Code.NO_DEFAULT_QUOTA_PROFILE: "Chưa có bộ tiêu chí cơ cấu mặc định; hãy chỉ rõ "
    "quota_profile_id.",
    Code.DEFAULT_QUOTA_PROFILE_REQUIRED: "Luôn phải có một bộ tiêu chí cơ cấu mặc định: hãy đặt "
    "bộ khác làm mặc định trước.",
    Code.QUOTA_PROFILE_IN_USE: "Có câu lạc bộ đang dùng bộ tiêu chí cơ cấu này; hãy chuyển các "
    "câu lạc bộ sang bộ khác trước khi xóa.",
    Code.MEETING_SAME_DAY: "Câu lạc bộ đã có buổi sinh hoạt trong ngày này; mỗi ngày chỉ một buổi.",
    Code.ALREADY_MEMBER: "Người này đang là hội viên (của câu lạc bộ này hoặc câu lạc bộ khác); "
    "hãy ghi nhận việc ra khỏi câu lạc bộ trước khi tham gia lại.",
    Code.SECOND_CHAIR: "Câu lạc bộ đã có chủ nhiệm; hãy đổi chức vụ của người đó trước.",
    Code.MEMBER_LEFT: "Tư cách hội viên đã kết thúc: không sửa, không nhận đồng ý mới; người "
    "quay lại được ghi là hội viên mới.",
    Code.MEMBER_ERASED: "Dữ liệu cá nhân của người này đã bị xóa; bản ghi không thay đổi nữa.",
    Code.LOANS_OUTSTANDING: "Người này còn khoản vay chưa tất toán; chỉ xóa dữ liệu khi các "
    "khoản vay đã trả xong, bị từ chối hoặc xóa nợ.",
    Code.CONSENT_ALREADY_GIVEN: "Hội viên đã có sự đồng ý còn hiệu lực cho mục đích này.",
    Code.CONSENT_ALREADY_WITHDRAWN: "Sự đồng ý này đã được rút lại rồi.",
    Code.MEMBERSHIP_CONSENT_IN_USE: "Sự đồng ý tham gia là căn cứ lưu hồ sơ hội viên đang sinh "
    "hoạt; hãy ghi nhận việc ra khỏi câu lạc bộ trước khi rút.",
    Code.FUND_OVERDRAFT: "Số dư quỹ sẽ xuống dưới 0 vào ngày này hoặc sau đó; hãy ghi khoản thu "
    "trước, hoặc dùng ngày muộn hơn.",
    Code.WRONG_FUND_KIND: "Sai loại quỹ: cho vay từ quỹ tăng thu nhập, chi hoạt động từ quỹ "
    "hoạt động.",
    Code.ALLOCATION_MISMATCH: "Khoản phân bổ của nhà tài trợ đã được ghi với quỹ, câu lạc bộ "
    "hoặc số tiền khác; mỗi khoản phân bổ chỉ ghi một lần, đúng như đã phân bổ.",
    Code.ENTRY_IS_REVERSAL: "Không đảo bút toán đảo; hãy ghi bút toán mới.",
    Code.ENTRY_OF_LOAN: "Bút toán thuộc một khoản vay nên không đảo được.",
    Code.ENTRY_ALREADY_REVERSED: "Bút toán đã được đảo; mỗi bút toán chỉ đảo một lần.",
    Code.NO_LENDING_FUND: "Câu lạc bộ chưa có quỹ tăng thu nhập để cho vay; hãy mở quỹ trước.",
    Code.NO_LOAN_RULES: "Quỹ tăng thu nhập của câu lạc bộ chưa có quy chế cho vay; hãy đặt "
    "quy chế trước.",
    Code.LOAN_STATUS_FORBIDS: "Trạng thái của khoản vay không cho phép bước này.",
    Code.BEFORE_LAST_REPAYMENT: "Ngày này trước lần trả nợ gần nhất của khoản vay; hãy dùng "
    "ngày đó hoặc muộn hơn.",
    Code.PLAN_APPROVED_IS_FIXED: "Kế hoạch đã phê duyệt không sửa được; hãy tạo bản điều chỉnh.",
    Code.PLAN_WITHOUT_LINES: "Kế hoạch chưa có dòng dự toán nào thì không phê duyệt được.",
    Code.DRAFT_REVISION_EXISTS: "Kế hoạch đã có một bản điều chỉnh đang soạn; hãy sửa bản đó.",
    Code.PLAN_NOT_APPROVED: "Kế hoạch còn là bản nháp; chỉ ghi nhận tiền theo kế hoạch đã phê "
    "duyệt.",
    Code.PLAN_SUPERSEDED: "Kế hoạch đã có bản phê duyệt mới hơn; hãy ghi nhận theo các dòng "
    "của bản đó.",
    Code.ALLOCATION_EXCEEDS_RECEIPTS: "Số tiền nhà tài trợ đã chuyển cho kế hoạch không đủ cho "
    "khoản phân bổ này.",
    Code.ALLOCATION_ALREADY_RECORDED: "Khoản phân bổ đã được ghi vào quỹ của câu lạc bộ; không "
    "cần gửi lại.",
    Code.SPENDING_WITHDRAWN: "Khoản chi đã được rút lại (withdrawn_at cho biết lúc nào) và "
    "không còn được tính; nếu rút nhầm, hãy ghi lại khoản chi.",
    Code.REPORT_ALREADY_SENT: "Báo cáo của kỳ này đã được gửi và giữ nguyên như khi gửi "
    "(report_id); hãy đọc báo cáo đó.",
    Code.LINE_FOR_ALLOCATIONS: "Dòng kế hoạch này là vốn cho quỹ của các câu lạc bộ: tiền được "
    "phân bổ cho câu lạc bộ (POST /api/v1/allocations), không ghi là khoản chi.",
    Code.LAST_ADMIN: "Đây là quản trị viên cuối cùng còn hoạt động; hãy tạo quản trị viên khác "
    "trước.",
    Code.SECRET_SHOWN_ONCE: "Yêu cầu cấp secret này đã được thực hiện và secret chỉ hiển thị "
    "một lần; nếu mất, hãy cấp lại bằng POST /api/v1/clients/{client_id}/secret.",
    Code.SERVICE_CLIENT_SECRET: "Secret của các dịch vụ nội bộ lấy từ cấu hình của gateway, "
    "không qua API.",
    Code.PRECONDITION_FAILED: "Một điều kiện trước của yêu cầu không còn đúng.",
    Code.ETAG_STALE: "Đối tượng đã thay đổi từ khi đọc ETag này; hãy đọc lại rồi gửi thay đổi "
    "với ETag mới.",
    Code.CONCURRENT_CHANGE: "Một yêu cầu khác vừa thay đổi đối tượng cùng lúc; hãy đọc lại rồi "
    "gửi thay đổi với ETag mới.",
    Code.PAYLOAD_TOO_LARGE: "Nội dung vượt giới hạn; hãy gửi ít hơn (chia nhỏ lô).",
    Code.UNPACKED_BODY_TOO_LARGE: "Nội dung gzip giải nén ra vượt giới hạn; hãy gửi ít hơn.",
    Code.UNSUPPORTED_MEDIA_TYPE: "Không đọc được kiểu nội dung này; hãy gửi JSON, biểu mẫu, "
    "tệp tải lên, CSV hoặc XLSX.",
    Code.UNSUPPORTED_CONTENT_ENCODING: "Không đọc được Content-Encoding này; hãy gửi không nén "
    "hoặc nén gzip.",
    Code.UNSUPPORTED_FILE_TYPE: "Không đọc được loại tệp này (tệp .xls cũ hoặc định dạng "
    "khác); hãy gửi tệp .csv hoặc .xlsx.",
    Code.VALIDATION_ERROR: "Dữ liệu vi phạm quy tắc; từng mục trong errors nói rõ trường nào "
    "và vì sao.",
    Code.INVALID: "Giá trị không được chấp nhận.",
    Code.MISSING: "Thiếu giá trị bắt buộc.",
    Code.UNKNOWN_PARAMETER: "Thao tác này không nhận tham số truy vấn có tên này (gõ nhầm?).",
    Code.NULL_NOT_ALLOWED: "Trường này không được đặt thành null; hãy bỏ trường ra để giữ nguyên.",
    Code.DUPLICATE_KEY: "Một khóa xuất hiện hai lần trong cùng một đối tượng JSON.",
    Code.NOT_FINITE_NUMBER: "NaN, Infinity hoặc số quá lớn không được nhận là số.",
    Code.FORBIDDEN_CHARACTER: "Văn bản chứa ký tự điều khiển hoặc ký tự vô hình; hãy xóa nó.",
    Code.OUT_OF_RANGE: "Giá trị nằm ngoài phạm vi cơ sở dữ liệu lưu được.",
    Code.CONSTRAINT_VIOLATED: "Thay đổi vi phạm một quy tắc của dữ liệu đã lưu.",
    Code.UNKNOWN_REFERENCE: "Trường này trỏ tới đối tượng không tồn tại hoặc bạn không được xem.",
    Code.OUTSIDE_SCOPE: "Giá trị nằm ngoài phạm vi tài khoản của bạn (tỉnh, xã, nhà tài trợ "
    "hoặc câu lạc bộ).",
    Code.MUTUALLY_EXCLUSIVE: "Hai giá trị này không được gửi cùng nhau; hãy gửi một trong hai.",
    Code.REQUIRED_WITH: "Giá trị của trường khác làm trường này trở thành bắt buộc.",
    Code.NOT_ALLOWED_WITH: "Giá trị của trường khác không cho phép trường này.",
    Code.INCONSISTENT: "Giá trị mâu thuẫn với trường khác hoặc với dữ liệu đã lưu.",
    Code.SUM_MISMATCH: "Các phần cộng lại không bằng tổng đã cho.",
    Code.DUPLICATE_VALUE: "Danh sách nêu cùng một mục nhiều lần.",
    Code.SOURCE_NOT_IN_LINE: "Đối tác chỉ cam kết cho dòng kế hoạch có dự kiến nguồn của nhà "
    "tài trợ mình; hãy chọn dòng như vậy.",
    Code.RETIRED_REFERENCE: "Trường này nêu một mục mà quản trị viên đã ngừng dùng trong danh "
    "mục (/api/v1/reference/{kind}): bản ghi cũ giữ nguyên, bản ghi mới hãy chọn mục khác.",
    Code.INVALID_CURSOR: "Con trỏ không phải của danh sách này theo thứ tự này: hãy dùng "
    "next_cursor của trang trước với cùng bộ lọc và thứ tự.",
    Code.CURSOR_ROW_GONE: "Dòng mà con trỏ đi sau đã rời khỏi danh sách: hãy đọc lại từ đầu.",
    Code.INVALID_SYNC_TOKEN: "changed_since không phải sync token: hãy dùng sync_token của lần "
    "đọc trước.",
    Code.DATE_FORMAT: "Ngày được viết theo dạng YYYY-MM-DD (2026-12-07): không phải số giây, "
    "không kèm giờ.",
    Code.DATE_IN_FUTURE: "Ngày này sau ngày hôm nay (giờ Việt Nam).",
    Code.DATE_TOO_EARLY: "Ngày này sớm hơn ngày sớm nhất nền tảng ghi nhận.",
    Code.DATE_OUT_OF_ORDER: "Ngày này trước một ngày mà nó phải đi sau (ngày bắt đầu sau ngày "
    "kết thúc, trả nợ trước giải ngân, ra trước khi vào…).",
    Code.PERIOD_TOO_LONG: "Khoảng thời gian dài hơn mức cho phép.",
    Code.INVALID_NATIONAL_ID: "Không phải số căn cước công dân (CCCD) 12 chữ số hợp lệ.",
    Code.NATIONAL_ID_DISAGREES: "Các chữ số về giới tính và năm sinh của số CCCD không khớp với "
    "giới tính hoặc năm sinh của hội viên.",
    Code.INVALID_NAME: "Không phải họ tên người: chỉ gồm chữ cái, dấu cách, dấu chấm, gạch nối, "
    "dấu nháy.",
    Code.INVALID_PHONE: "Không phải số điện thoại Việt Nam.",
    Code.UNRECOGNISED_ADDRESS: "Không nhận ra tỉnh, thành phố nào trong địa chỉ.",
    Code.MEMBERSHIP_CONSENT_REQUIRED: "Các sự đồng ý của hội viên mới phải gồm sự đồng ý tham "
    "gia câu lạc bộ, căn cứ để lưu hồ sơ.",
    Code.MEMBERSHIP_OVERLAP: "Thời gian tham gia này chồng lên lần tham gia trước của người này.",
    Code.NOT_ACTIVE_MEMBER: "Người này không phải hội viên đang sinh hoạt của câu lạc bộ (vào "
    "ngày đó).",
    Code.ATTENDANCE_OUTSIDE_MEMBERSHIP: "Hội viên dự một buổi sinh hoạt nằm ngoài thời gian "
    "tham gia.",
    Code.HEALTH_CHECKS_ABOVE_ATTENDANCE: "Số lượt khám sức khỏe nhiều hơn số hội viên dự.",
    Code.ABOVE_LOAN_RULES: "Vượt mức quy chế cho vay của câu lạc bộ cho phép (số tiền, thời "
    "hạn hoặc lãi suất).",
    Code.TERM_NOT_WHOLE_QUARTERS: "Trả theo quý cần thời hạn tròn quý (bội số của 3 tháng).",
    Code.ABOVE_AMOUNT_OWED: "Số tiền trả nhiều hơn số khoản vay còn nợ vào ngày đó.",
    Code.ABOVE_PROGRAMME_LIMIT: "Vượt mức chương trình cho vay của ngân hàng cho phép.",
    Code.TOO_MANY_DECIMALS: "Số có nhiều chữ số thập phân hơn mức cho phép.",
    Code.TOO_MANY_RECORDS: "Lô có nhiều bản ghi hơn một yêu cầu nhận; hãy chia nhỏ.",
    Code.ROLE_NOT_FOR_PEOPLE: "Vai trò service chỉ dành cho ứng dụng, không dành cho người.",
    Code.EVENT_TYPE_NOT_ALLOWED: "Vai trò của bạn không được nhận các loại sự kiện này.",
    Code.INVALID_URL: "Không phải địa chỉ http hoặc https có tên máy chủ, hoặc địa chỉ chứa "
    "thông tin đăng nhập.",
    Code.HTTPS_REQUIRED: "Địa chỉ phải là https.",
    Code.PRIVATE_ADDRESS: "Địa chỉ trỏ tới mạng nội bộ, loopback hoặc mạng không công khai.",
    Code.UNREADABLE_FILE: "Tệp tải lên rỗng hoặc không đọc được.",
    Code.TOO_MANY_ROWS: "Tệp tải lên có nhiều dòng hơn một lần tải nhận.",
    Code.UNKNOWN_COLUMN: "Một cột của tệp tải lên không được đọc.",
    Code.DUPLICATE_COLUMN: "Hai cột của tệp tải lên cho cùng một thông tin.",
    Code.MISSING_COLUMN: "Tệp tải lên thiếu một cột bắt buộc.",
    Code.UNIT_MISMATCH: "Tệp ghi đơn vị khác với đơn vị dùng để đọc số tiền.",
    Code.IDEMPOTENCY_KEY_REUSED: "Idempotency-Key này đã dùng cho một yêu cầu khác; hãy dùng "
    "khóa mới cho yêu cầu mới.",
    Code.GONE: "Thứ mà yêu cầu nhắc tới không còn được lưu giữ.",
    Code.SYNC_TOKEN_EXPIRED: "Sync token cũ hơn phần lịch sử xóa được lưu: hãy đọc toàn bộ danh "
    "sách rồi đồng bộ từ sync_token mới.",
    Code.TOO_MANY_REQUESTS: "Hãy đợi số giây trong Retry-After.",
    Code.RATE_LIMITED: "Số lần gọi mỗi phút vượt mức cho phép của vai trò; hãy đợi số giây trong "
    "Retry-After.",
    Code.TOO_MANY_FAILED_LOGINS: "Đăng nhập sai quá nhiều lần; hãy đợi số giây trong Retry-After.",
    Code.SERVICE_UNAVAILABLE: "Dịch vụ hiện không trả lời được; hãy thử lại sau.",
    Code.SERVICE_UNREACHABLE: "Không kết nối được tới dịch vụ mà yêu cầu cần; hãy thử lại sau.",
    Code.SERVICE_ERROR: "Dịch vụ mà yêu cầu cần đã trả lỗi; hãy thử lại sau, và báo kèm mã yêu "
    "cầu nếu lỗi còn tiếp diễn.",
    Code.SERVICE_TOKEN_UNAVAILABLE: "Dịch vụ không lấy được token của chính nó từ gateway; hãy "
    "thử lại sau.",
    Code.SIGNING_KEYS_UNAVAILABLE: "Dịch vụ không lấy được khóa ký token của gateway; hãy thử "
    "lại sau.",
    Code.DATABASE_UNREACHABLE: "Không kết nối được tới cơ sở dữ liệu của dịch vụ; hãy thử lại sau.",
    Code.STATEMENT_TIMEOUT: "Việc tính số liệu mất lâu hơn mức cho phép; hãy hỏi cho địa bàn "
    "hoặc khoảng thời gian nhỏ hơn.",
    Code.NOT_READY: "Một thành phần mà dịch vụ cần đang ngừng (components cho biết thành phần "
    "nào).",
    Code.DATABASE_BUSY: "Cơ sở dữ liệu đang bận với các thay đổi khác trên cùng bản ghi; chưa "
    "thay đổi gì. Hãy thử lại sau số giây trong Retry-After.",
    Code.GATEWAY_TIMEOUT: "Dịch vụ không trả lời kịp. Thay đổi có thể đã hoặc chưa được thực "
    "hiện: hãy thử lại với cùng Idempotency-Key, hoặc đọc lại trước khi ghi.",
}

PYDANTIC: dict[str, tuple[str, str]] = {
    "missing": ("Field required", "bắt buộc phải có"),
    "extra_forbidden": ("Extra inputs are not permitted", "không nhận trường này"),
    "greater_than": ("Input should be greater than {gt}", "phải lớn hơn {gt}"),
    "greater_than_equal": (
        "Input should be greater than or equal to {ge}",
        "phải lớn hơn hoặc bằng {ge}",
    ),
    "less_than": ("Input should be less than {lt}", "phải nhỏ hơn {lt}"),
    "less_than_equal": (
        "Input should be less than or equal to {le}",
        "phải nhỏ hơn hoặc bằng {le}",
    ),
    "multiple_of": (
        "Input should be a multiple of {multiple_of}",
        "phải là bội số của {multiple_of}",
    ),
    "finite_number": ("Input should be a finite number", "phải là một số hữu hạn"),
    "too_short": (
        "{field_type} should have at least {min_length} item{expected_plural} after validation, "
        "not {actual_length}",
        "phải có ít nhất {min_length} mục, không phải {actual_length}",
    ),
    "too_long": (
        "{field_type} should have at most {max_length} item{expected_plural} after validation, "
        "not {actual_length}",
        "chỉ được có tối đa {max_length} mục, không phải {actual_length}",
    ),
    "string_type": ("Input should be a valid string", "phải là chuỗi văn bản"),
    "string_too_short": (
        "String should have at least {min_length} character{expected_plural}",
        "phải có ít nhất {min_length} ký tự",
    ),
    "string_too_long": (
        "String should have at most {max_length} character{expected_plural}",
        "chỉ được có tối đa {max_length} ký tự",
    ),
    "string_pattern_mismatch": (
        "String should match pattern '{pattern}'",
        "không đúng dạng quy định (mẫu '{pattern}')",
    ),
    "enum": ("Input should be {expected}", "phải là một trong các giá trị {expected}"),
    "literal_error": ("Input should be {expected}", "phải là một trong các giá trị {expected}"),
    "dict_type": ("Input should be a valid dictionary", "phải là một đối tượng JSON"),
    "model_type": (
        "Input should be a valid dictionary or instance of {class_name}",
        "phải là một đối tượng JSON",
    ),
    "model_attributes_type": (
        "Input should be a valid dictionary or object to extract fields from",
        "phải là một đối tượng JSON",
    ),
    "list_type": ("Input should be a valid list", "phải là một danh sách"),
    "bool_type": ("Input should be a valid boolean", "phải là true hoặc false"),
    "bool_parsing": (
        "Input should be a valid boolean, unable to interpret input",
        "phải là true hoặc false",
    ),
    "int_type": ("Input should be a valid integer", "phải là số nguyên"),
    "int_parsing": (
        "Input should be a valid integer, unable to parse string as an integer",
        "phải là số nguyên",
    ),
    "int_parsing_size": (
        "Unable to parse input string as an integer, exceeded maximum size",
        "là số nguyên quá lớn",
    ),
    "int_from_float": (
        "Input should be a valid integer, got a number with a fractional part",
        "phải là số nguyên, không có phần thập phân",
    ),
    "float_type": ("Input should be a valid number", "phải là một số"),
    "float_parsing": (
        "Input should be a valid number, unable to parse string as a number",
        "phải là một số",
    ),
    "decimal_type": (
        "Decimal input should be an integer, float, string or Decimal object",
        "phải là một số",
    ),
    "decimal_parsing": ("Input should be a valid decimal", "phải là một số thập phân"),
    "decimal_max_digits": (
        "Decimal input should have no more than {max_digits} digit{expected_plural} in total",
        "chỉ được có tối đa {max_digits} chữ số",
    ),
    "decimal_max_places": (
        "Decimal input should have no more than {decimal_places} decimal place{expected_plural}",
        "chỉ được có tối đa {decimal_places} chữ số thập phân",
    ),
    "decimal_whole_digits": (
        "Decimal input should have no more than {whole_digits} digit{expected_plural} before "
        "the decimal point",
        "chỉ được có tối đa {whole_digits} chữ số phần nguyên",
    ),
    "date_type": ("Input should be a valid date", "phải là một ngày"),
    "date_parsing": (
        "Input should be a valid date in the format YYYY-MM-DD, {error}",
        "phải là một ngày theo dạng YYYY-MM-DD",
    ),
    "date_from_datetime_parsing": (
        "Input should be a valid date or datetime, {error}",
        "phải là một ngày theo dạng YYYY-MM-DD",
    ),
    "date_from_datetime_inexact": (
        "Datetimes provided to dates should have zero time - e.g. be exact dates",
        "phải là một ngày, không kèm giờ",
    ),
    "datetime_type": ("Input should be a valid datetime", "phải là ngày giờ"),
    "datetime_parsing": (
        "Input should be a valid datetime, {error}",
        "phải là ngày giờ theo dạng ISO 8601",
    ),
    "datetime_from_date_parsing": (
        "Input should be a valid datetime or date, {error}",
        "phải là ngày hoặc ngày giờ theo dạng ISO 8601",
    ),
    "timezone_aware": ("Input should have timezone info", "phải ghi múi giờ"),
    "timezone_naive": ("Input should not have timezone info", "không được ghi múi giờ"),
    "time_type": ("Input should be a valid time", "phải là giờ hợp lệ"),
    "time_parsing": ("Input should be in a valid time format, {error}", "phải là giờ hợp lệ"),
    "uuid_parsing": ("Input should be a valid UUID, {error}", "phải là UUID hợp lệ"),
    "uuid_type": (
        "UUID input should be a string, bytes or UUID object",
        "phải là UUID hợp lệ",
    ),
    "url_parsing": ("Input should be a valid URL, {error}", "phải là địa chỉ URL hợp lệ"),
    "url_scheme": (
        "URL scheme should be {expected_schemes}",
        "địa chỉ phải bắt đầu bằng {expected_schemes}",
    ),
    "url_too_long": (
        "URL should have at most {max_length} character{expected_plural}",
        "địa chỉ chỉ được có tối đa {max_length} ký tự",
    ),
    "value_error": ("Value error, {reason}", "{reason}"),
    "assertion_error": ("Assertion failed, {reason}", "{reason}"),
    "union_tag_invalid": (
        "Input tag '{tag}' found using {discriminator} does not match any of the expected "
        "tags: {expected_tags}",
        "{discriminator} phải là một trong các giá trị {expected_tags}",
    ),
    "union_tag_not_found": (
        "Unable to extract tag using discriminator {discriminator}",
        "thiếu {discriminator}",
    ),
    "json_invalid": ("Invalid JSON: {error}", "không phải JSON hợp lệ"),
}
"""Pydantic's error type → (its English message template, the Vietnamese one)."""

REASONS: dict[str, str] = {
    # the member list's cells and columns (services/clubs/members/tabular.py, importer.py)
    "row {row:d}, column {column}: {reason}": "dòng {row}, cột {column}: {reason}",
    "unknown column": "cột không được đọc",
    "not imported: a membership does not hold it": (
        "không nhập: hồ sơ hội viên không có thông tin này"
    ),
    "not imported: no member field has this header": (
        "không nhập: không có thông tin hội viên nào mang tiêu đề này (viết sai?)"
    ),
    "gives {field} like column {column}": "cho cùng thông tin ({field}) với cột {column}",
    "missing column ({options})": "thiếu cột ({options})",
    "is not one of {expected}": "không phải một trong các giá trị: {expected}",
    "is not a date": "không phải là ngày",
    "is not a date (dd/mm/yyyy or yyyy-mm-dd)": "không phải là ngày (dd/mm/yyyy hoặc yyyy-mm-dd)",
    "is not a date of the calendar": "không phải là ngày có thật trên lịch",
    "is not a year (yyyy)": "không phải là năm (yyyy)",
    "is not yes or no (x / có / yes / 1 / true, or empty / không / no / 0)": (
        "không phải có hay không (x / có / yes / 1 / true, hoặc để trống / không / no / 0)"
    ),
    "is a year alone; give the date (dd/mm/yyyy)": "chỉ có năm; hãy ghi đủ ngày (dd/mm/yyyy)",
    "says {year:d} but {column} says {other:d}": "ghi {year} nhưng cột {column} ghi {other}",
    "the same national ID as row {row:d}": "trùng số CCCD với dòng {row}",
    "this person {reason}": "người này {reason}",
    "the club already has a chair: member {member:d}": (
        "câu lạc bộ đã có chủ nhiệm: hội viên {member}"
    ),
    "a second chair: row {row:d} is the chair": "chủ nhiệm thứ hai: dòng {row} đã là chủ nhiệm",
    "has no rows": "không có dòng nào",
    "has no member rows under the header (row {row:d})": (
        "không có dòng hội viên nào dưới dòng tiêu đề (dòng {row})"
    ),
    "has more than {rows:d} member rows; split it into several files": (
        "có hơn {rows} dòng hội viên; hãy chia thành nhiều tệp"
    ),
    # a member's own rules (services/clubs/members/rules.py, service.py, common/national_id.py)
    "is empty": "đang để trống",
    "must be a person's name: letters, spaces, dots, hyphens, apostrophes": (
        "phải là họ tên người: chữ cái, dấu cách, dấu chấm, gạch nối, dấu nháy"
    ),
    "is not a Vietnamese phone number: a mobile has 10 digits starting 03, 05, 07, 08 or 09, "
    "a landline 11 digits starting 02 (+84 or 84 in front is accepted)": (
        "không phải số điện thoại Việt Nam: số di động có 10 chữ số bắt đầu bằng 03, 05, 07, "
        "08 hoặc 09, số cố định 11 chữ số bắt đầu bằng 02 (được phép có +84 hoặc 84 ở đầu)"
    ),
    "must be the 12 digits of the citizen ID (CCCD)": "phải là 12 chữ số của số CCCD",
    "digits 1–3 ({digits}) are not a province code (001–096)": (
        "chữ số 1–3 ({digits}) không phải mã tỉnh (001–096)"
    ),
    "digit 4 ({digit}) must be 0–3 (century and gender of a birth in 1900–2099)": (
        "chữ số thứ 4 ({digit}) phải từ 0 đến 3 (thế kỷ và giới tính, sinh năm 1900–2099)"
    ),
    "digit 4 is for a male person, but gender is female": (
        "chữ số thứ 4 là của nam giới, nhưng giới tính là nữ"
    ),
    "digit 4 is for a female person, but gender is male": (
        "chữ số thứ 4 là của nữ giới, nhưng giới tính là nam"
    ),
    "digit 4 is for a birth in {first:d}–{last:d}, but the birth year is not": (
        "chữ số thứ 4 ứng với năm sinh {first}–{last}, nhưng năm sinh không thuộc khoảng đó"
    ),
    "digits 5–6 are not the last two digits of the birth year": (
        "chữ số 5–6 không phải hai số cuối của năm sinh"
    ),
    "give the date of birth or at least birth_year": "hãy ghi ngày sinh, hoặc ít nhất năm sinh",
    "is in the future": "là một ngày trong tương lai",
    "is before {date}": "trước {date}",
    "is before the member was born": "trước ngày sinh của hội viên",
    "is before the member joined ({date})": "trước ngày hội viên tham gia ({date})",
    "is {year:d} but birth_date is in {other:d}": "là {year} nhưng ngày sinh thuộc năm {other}",
    "is already an active member of this club (member {member:d})": (
        "đang là hội viên của câu lạc bộ này (hội viên {member})"
    ),
    "is already an active member of another club (club {club:d}, member {member:d})": (
        "đang là hội viên của câu lạc bộ khác (câu lạc bộ {club}, hội viên {member})"
    ),
    "is already an active member of another club": "đang là hội viên của câu lạc bộ khác",
    "is before {date}, when this person's previous membership ended; memberships of one person "
    "may not overlap": (
        "trước {date}, ngày kết thúc lần tham gia trước của người này; các lần tham gia của "
        "một người không được chồng lên nhau"
    ),
    "must include the consent to membership (purpose membership): the basis for keeping the "
    "record": ("phải có sự đồng ý tham gia câu lạc bộ (purpose membership): căn cứ để lưu hồ sơ"),
    "a purpose is given twice": "một mục đích được ghi hai lần",
    # the budget table as the plans print it (services/funding/plans/budget_table.py)
    "total row: {column} is {stated:n}, the lines add up to {added:n}": (
        "dòng tổng cộng: {column} ghi {stated}, các dòng cộng lại được {added}"
    ),
    "the sources add up to {added:n}, not the total {stated:n}": (
        "các nguồn cộng lại được {added}, không bằng tổng {stated}"
    ),
    'repeats column "{column}"': 'trùng với cột "{column}"',
    'says "{stated}", but the amounts were to be read in {unit}': (
        'ghi "{stated}", nhưng số tiền được đọc theo đơn vị {unit}'
    ),
    '"{text}" names no activity; the valid codes are listed at GET /api/v1/reference/activities': (
        '"{text}" không ứng với hoạt động nào; các mã hợp lệ có tại GET '
        "/api/v1/reference/activities"
    ),
    # common rules (common/schemas.py, common/problems.py)
    "cannot be null": "không được là null",
    "is not a finite number": "không phải một số hữu hạn",
    "required": "bắt buộc phải có",
    "is after 'to'": "sau ngày 'to'",
    "no province {code}": "không có tỉnh {code}",
    "no quota profile {profile:d}": "không có bộ tiêu chí cơ cấu {profile}",
    "must not exceed max_members": "không được vượt max_members",
    "must not exceed {field}": "không được vượt {field}",
}
"""The platform's English field-error reasons (as templates) → their Vietnamese."""

DETAILS: dict[str, str] = {
    "Invalid input: {summary}": "Dữ liệu không hợp lệ: {summary}",
    "Columns of row {row:d}: {summary}": "Các cột của dòng {row}: {summary}",
    "{invalid:d} of {rows:d} rows have problems; nothing was imported.": (
        "{invalid}/{rows} dòng có lỗi; chưa nhập dòng nào."
    ),
    "file: {reason}": "Tệp: {reason}",
    "Not Found": "Không tìm thấy đường dẫn này.",
    "Method Not Allowed": "Đường dẫn không nhận phương thức này.",
    "No club {club:d}.": "Không có câu lạc bộ {club}.",
    "No member {member:d}.": "Không có hội viên {member}.",
    "No meeting {meeting:d} in club {club:d}.": (
        "Không có buổi sinh hoạt {meeting} của câu lạc bộ {club}."
    ),
    "No activity {activity:d} in club {club:d}.": (
        "Không có hoạt động {activity} của câu lạc bộ {club}."
    ),
    "No import {job:d} of club {club:d}.": "Không có lần nhập {job} của câu lạc bộ {club}.",
    "No province {code} in your area.": "Không có tỉnh {code} trong địa bàn của bạn.",
    "No commune {code} in your area.": "Không có xã {code} trong địa bàn của bạn.",
    "No quota profile {profile:d}.": "Không có bộ tiêu chí cơ cấu {profile}.",
    "No plan {plan:d}.": "Không có kế hoạch {plan}.",
    "No fund {fund:d}.": "Không có quỹ {fund}.",
    "No loan {loan:d}.": "Không có khoản vay {loan}.",
    "No funder {funder:d}.": "Không có nhà tài trợ {funder}.",
    "No API at {path}.": "Không có API tại {path}.",
    "The request body is not valid JSON.": "Nội dung yêu cầu không phải JSON hợp lệ.",
    "The {service} service did not answer in time.": "Dịch vụ {service} không trả lời kịp.",
    "The {service} service is not reachable.": "Không kết nối được tới dịch vụ {service}.",
    "An unexpected error occurred ({what}); request id {request}.": (
        "Đã xảy ra lỗi ngoài dự kiến ({what}); mã yêu cầu {request}."
    ),
    "The database is not reachable.": "Không kết nối được tới cơ sở dữ liệu.",
    "The database is busy with other changes to the same records; retry shortly.": (
        "Cơ sở dữ liệu đang bận với các thay đổi khác trên cùng bản ghi; hãy thử lại sau ít phút."
    ),
    "The club already has a chair: member {member:d}. {rest}": (
        "Câu lạc bộ đã có chủ nhiệm: hội viên {member}. Hãy đổi chức vụ của hội viên đó trước."
    ),
}
"""The platform's English details (as templates) → their Vietnamese."""

NESTED = frozenset({"reason", "summary"})
"""Placeholders that hold another reason (or a list of `field: reason`): translated too."""
_PATTERNS = {"d": r"-?[0-9]+", "n": r"-?[0-9][0-9,]*(?:\.[0-9]+)?", "": r".*?"}
"""`{x:d}` a whole number, `{x:n}` an amount as English prints it (`400,000,000`, `50.7`:
shown the Vietnamese way, `400.000.000`, `50,7`), `{x}` any text."""


@dataclass(frozen=True)
class Template:
    english: re.Pattern[str]
    vietnamese: str
    amounts: frozenset[str] = frozenset()


def _amounts(english: str) -> frozenset[str]:
    parts = Formatter().parse(english)
    return frozenset(name for _, name, spec, _ in parts if name and spec == "n")


def _vietnamese_number(english: str) -> str:
    whole, _, fraction = english.replace(",", "").partition(".")
    value = Decimal(f"{whole}.{fraction}") if fraction else Decimal(whole)
    return format_number(value, len(fraction))


def _compile(english: str) -> re.Pattern[str]:
    parts = []
    for literal, name, spec, _conversion in Formatter().parse(english):
        parts.append(re.escape(literal))
        if name is not None:
            parts.append(f"(?P<{name}>{_PATTERNS[spec or '']})")
    return re.compile("".join(parts), re.DOTALL)


def _specificity(english: str) -> int:
    return sum(len(literal) for literal, *_ in Formatter().parse(english))


@cache
def _templates(table: str) -> tuple[Template, ...]:
    """The templates, most specific first: `is before {date}, when …` is tried before
    `is before {date}`, which would take the rest of the sentence for its date."""
    texts = REASONS if table == "reasons" else DETAILS
    ordered = sorted(texts.items(), key=lambda item: -_specificity(item[0]))
    return tuple(Template(_compile(en), vi, _amounts(en)) for en, vi in ordered)


@cache
def _pydantic_templates() -> dict[str, Template]:
    return {kind: Template(_compile(en), vi) for kind, (en, vi) in PYDANTIC.items()}


def _fill(template: Template, found: re.Match[str], summary: str | None = None) -> str:
    values = {
        name: _nested(value) if name in NESTED else value
        for name, value in found.groupdict().items()
    }
    for name in template.amounts:
        values[name] = _vietnamese_number(values[name])
    for choices in ("expected", "options"):  # `'a', 'b' or 'c'`
        if choices in values:
            values[choices] = values[choices].replace(" or ", " hoặc ")
    if summary is not None and "summary" in values:
        values["summary"] = summary
    return template.vietnamese.format(**values)


def _match(templates: tuple[Template, ...], text: str, summary: str | None = None) -> str | None:
    for template in templates:
        found = template.english.fullmatch(text)
        if found is not None:
            return _fill(template, found, summary)
    return None


def _nested(text: str) -> str:
    """A reason inside another text: one of ours or pydantic's, else the meaning of `invalid`;
    a summary (`field: reason; …`) is translated part by part."""
    found = _match(_templates("reasons"), text)
    if found is not None:
        return found
    for template in _pydantic_templates().values():
        match = template.english.fullmatch(text)
        if match is not None:
            return _fill(template, match)
    if "; " in text:
        return "; ".join(_nested(part) for part in text.split("; "))
    field, colon, rest = text.partition(": ")
    if colon and field:
        return f"{field}: {_nested(rest)}"
    return CODES[Code.INVALID]


def title(slug: str, english: str) -> str:
    return TITLES.get(slug, english)


def reason(code: str, english: str) -> str:
    """A field error's reason in Vietnamese: pydantic's by its type, the template's, or the
    code's meaning."""
    pydantic = _pydantic_templates().get(code)
    if pydantic is not None:
        found = pydantic.english.fullmatch(english)
        if found is not None:
            return _fill(pydantic, found)
    translated = _match(_templates("reasons"), english)
    if translated is not None:
        return translated
    try:
        return CODES[Code(code)]
    except (ValueError, KeyError):
        return CODES[Code.INVALID]


def detail(code: Code, english: str, reasons: list[tuple[str, str]]) -> str:
    """The detail in Vietnamese: its template's (a `{summary}` of field errors made of their
    Vietnamese reasons); with field errors, their list; else the code's meaning. `reasons` are
    the field errors' (field, Vietnamese reason)."""
    summary = "; ".join(f"{field}: {why}" for field, why in reasons[:5]) if reasons else None
    translated = _match(_templates("details"), english, summary)
    if translated is not None:
        return translated
    if summary is not None:
        return f"Dữ liệu không hợp lệ: {summary}"
    return CODES.get(code, CODES[Code.INTERNAL_ERROR])
