"""The login page's HTML: a form that works without JavaScript and loads nothing from
elsewhere, in Vietnamese or English (`ui_locales`, else `Accept-Language`; Vietnamese first)."""

from html import escape
from typing import Any
from urllib.parse import urlsplit

from starlette.responses import HTMLResponse

TEXT: dict[str, dict[str, str]] = {
    "vi": {
        "title": "Đăng nhập — Nền tảng CLB liên thế hệ tự giúp nhau",
        "heading": "Đăng nhập",
        "asks": "Ứng dụng «{app}» muốn dùng tài khoản của bạn.",
        "username": "Tên đăng nhập",
        "password": "Mật khẩu",
        "submit": "Đăng nhập",
        "wrong": "Sai tên đăng nhập hoặc mật khẩu.",
        "throttled": "Đăng nhập sai quá nhiều lần; hãy thử lại sau {wait} giây.",
        "stale": "Phiên đăng nhập đã hết hạn; hãy nhập lại.",
        "error": "Không thể đăng nhập",
        "logged_out": "Bạn đã đăng xuất.",
        "other": "English",
    },
    "en": {
        "title": "Log in — Intergenerational Self-Help Clubs platform",
        "heading": "Log in",
        "asks": "The app “{app}” asks to use your account.",
        "username": "Username",
        "password": "Password",
        "submit": "Log in",
        "wrong": "Wrong username or password.",
        "throttled": "Too many failed logins; try again in {wait} seconds.",
        "stale": "The login form expired; please enter your details again.",
        "error": "Cannot log in",
        "logged_out": "You are logged out.",
        "other": "Tiếng Việt",
    },
}
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem;"
    "color:#1d2a33}label{display:block;margin:.8rem 0 .2rem}input{width:100%;padding:.5rem;"
    "font-size:1rem;box-sizing:border-box}button{margin-top:1.2rem;padding:.6rem 1.4rem;"
    "font-size:1rem}.error{color:#a40000}.lang{float:right;font-size:.9rem}"
)


def language(ui_locales: str | None, accept_language: str | None) -> str:
    """`vi` or `en`: the first of the app's `ui_locales`, else of the browser's languages,
    that the page speaks."""
    for wanted in (ui_locales or "").split() + (accept_language or "").split(","):
        tag = wanted.split(";")[0].strip().lower()[:2]
        if tag in TEXT:
            return tag
    return "vi"


def _page(lang: str, body: str, status: int, sends_to: str = "") -> HTMLResponse:
    """`sends_to`: where the form's answer may redirect (browsers hold a redirect after a
    form's post to `form-action` too)."""
    text = TEXT[lang]
    html = (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{escape(text['title'])}</title><style>{STYLE}</style></head>"
        f"<body>{body}</body></html>"
    )
    headers = {
        "Cache-Control": "no-store",
        # The page runs no script and loads nothing; it may not be framed (clickjacking).
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; "
        f"form-action 'self' {sends_to}".rstrip()
        + "; frame-ancestors 'none'; base-uri 'none'",
        "X-Frame-Options": "DENY",
        "Referrer-Policy": "no-referrer",
    }
    return HTMLResponse(html, status_code=status, headers=headers)


def login_form(
    lang: str, app: str, fields: dict[str, Any], message: str | None = None, status: int = 200
) -> HTMLResponse:
    """The form; `fields` travel back hidden (the app's request, the form's CSRF token). Its
    answer redirects to the app's redirect URI, which the page's policy names."""
    text = TEXT[lang]
    other = "en" if lang == "vi" else "vi"
    hidden = "".join(
        f'<input type="hidden" name="{escape(name)}" value="{escape(str(value))}">'
        for name, value in fields.items()
        if value is not None and name != "ui_locales"
    )
    error = f'<p class="error" role="alert">{escape(message)}</p>' if message else ""
    body = (
        f'<form method="post" action="/oauth/authorize">'
        f'<button class="lang" type="submit" name="ui_locales" value="{other}" '
        f"formnovalidate>{escape(text['other'])}</button>"
        f"<h1>{escape(text['heading'])}</h1>"
        f"<p>{escape(text['asks'].format(app=app))}</p>{error}{hidden}"
        f'<input type="hidden" name="ui_locales" value="{lang}">'
        f'<label for="username">{escape(text["username"])}</label>'
        '<input id="username" name="username" autocomplete="username" maxlength="64">'
        f'<label for="password">{escape(text["password"])}</label>'
        '<input id="password" name="password" type="password" '
        'autocomplete="current-password" maxlength="128">'
        f'<button type="submit" name="action" value="login">{escape(text["submit"])}</button>'
        "</form>"
    )
    return _page(lang, body, status, _source(str(fields.get("redirect_uri") or "")))


def _source(uri: str) -> str:
    """The redirect URI as a CSP source: its origin, or its scheme for an app's own scheme."""
    parts = urlsplit(uri)
    if parts.scheme in ("http", "https") and parts.netloc:
        return f"{parts.scheme}://{parts.netloc}"
    return f"{parts.scheme}:" if parts.scheme else ""


def error_page(lang: str, detail: str, status: int = 400) -> HTMLResponse:
    """A request the page cannot send back to the app (an unknown app or redirect URI)."""
    body = f"<h1>{escape(TEXT[lang]['error'])}</h1><p>{escape(detail)}</p>"
    return _page(lang, body, status)


def logged_out(lang: str) -> HTMLResponse:
    return _page(lang, f"<h1>{escape(TEXT[lang]['logged_out'])}</h1>", 200)
