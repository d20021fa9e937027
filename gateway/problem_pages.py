"""`/problems` and `/problems/{slug}`: the pages every problem's `type` URI points at.

Each problem type has a page saying what it means and listing its codes with what a client
should do; `/problems` lists the types. A browser gets plain HTML (no script, no style
sheet, no asset from elsewhere); a client whose `Accept` prefers `application/json` gets the
same as JSON. The pages need no token: they are documentation.
"""

from html import escape
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from common.problem_codes import (
    PYDANTIC_ERRORS_PAGE,
    TYPES,
    VALIDATION_ERROR,
    ProblemType,
    codes_of,
)
from common.problems import PROBLEM_BASE_URI, NotFound

router = APIRouter(prefix="/problems", include_in_schema=False)
HTML = "text/html"
JSON = "application/json"
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;"
    "line-height:1.5;color:#1a1a1a}table{border-collapse:collapse;width:100%}"
    "th,td{border:1px solid #999;padding:.4rem .6rem;text-align:left;vertical-align:top}"
    "code{font-size:1rem}"
)
"""Inline, so the page loads nothing else."""


def _quality(accept: str, media_type: str) -> float:
    """How much `accept` wants `media_type`: the q of its most specific match (0 for none)."""
    kind = media_type.split("/", 1)[0]
    best, specificity = 0.0, -1
    for item in accept.split(","):
        name, *params = (part.strip() for part in item.split(";"))
        name = name.lower()
        rank = {media_type: 2, f"{kind}/*": 1, "*/*": 0}.get(name)
        if rank is None or rank < specificity:
            continue
        q = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if rank > specificity:
            best, specificity = q, rank
    return best


def wants_json(request: Request) -> bool:
    """Whether the client prefers JSON to HTML (HTML when it prefers neither)."""
    accept = request.headers.get("accept")
    if not accept:
        return False
    return _quality(accept, JSON) > _quality(accept, HTML)


def _type_json(kind: ProblemType) -> dict[str, Any]:
    return {
        "type": PROBLEM_BASE_URI + kind.slug,
        "title": kind.title,
        "status": kind.status,
        "description": kind.meaning,
        "codes": [
            {"code": code.value, "status": info.status, "description": info.description}
            for code, info in codes_of(kind).items()
        ],
    }


def _page(title: str, body: str) -> str:
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{escape(title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n<main>\n{body}</main>\n</body>\n</html>\n"
    )


def _type_html(kind: ProblemType) -> str:
    rows = "".join(
        f'<tr id="{escape(code.value)}"><th scope="row"><code>{escape(code.value)}</code></th>'
        f"<td>{escape(info.description)}</td></tr>\n"
        for code, info in codes_of(kind).items()
    )
    pydantic = (
        f'<p>Field errors of the input\'s shape carry <a href="{PYDANTIC_ERRORS_PAGE}">'
        "pydantic's error type</a> as their code (<code>missing</code>, "
        "<code>string_too_long</code>, <code>greater_than_equal</code>, …).</p>\n"
        if kind == VALIDATION_ERROR
        else ""
    )
    body = (
        f"<h1>{escape(kind.title)}</h1>\n"
        f"<p>HTTP status <strong>{kind.status}</strong>. Problem type "
        f"<code>{escape(PROBLEM_BASE_URI + kind.slug)}</code>.</p>\n"
        f"<p>{escape(kind.meaning)}</p>\n{pydantic}"
        "<table>\n<caption>The codes of this problem type: the answer's <code>code</code> "
        "(and its field errors' codes) says which reason applies.</caption>\n"
        '<thead><tr><th scope="col">Code</th><th scope="col">What it means and what to do'
        "</th></tr></thead>\n"
        f"<tbody>\n{rows}</tbody>\n</table>\n"
        '<p><a href="/problems">Every problem type</a></p>\n'
    )
    return _page(f"{kind.title} ({kind.status}): ISHC Platform API problems", body)


def _index_html() -> str:
    items = "".join(
        f'<li><a href="{PROBLEM_BASE_URI}{escape(kind.slug)}">{escape(kind.title)}</a> '
        f"({kind.status}, <code>{escape(kind.slug)}</code>): {escape(kind.meaning)}</li>\n"
        for kind in TYPES.values()
    )
    body = (
        "<h1>Problem types of the ISHC Platform API</h1>\n"
        "<p>Every error answer is <code>application/problem+json</code> (RFC 9457). Its "
        "<code>type</code> is one of these pages; its <code>code</code>, and the "
        "<code>code</code> of each field error, is a stable word a program can test, listed "
        "on the type's page. Codes are never renamed or reused; new ones may appear.</p>\n"
        f"<ul>\n{items}</ul>\n"
    )
    return _page("Problem types: ISHC Platform API", body)


def _vary(response: Response) -> Response:
    response.headers["Vary"] = "Accept"
    return response


@router.get("")
def problem_types(request: Request) -> Response:
    """Every problem type, with its codes."""
    if wants_json(request):
        return _vary(JSONResponse({"types": [_type_json(kind) for kind in TYPES.values()]}))
    return _vary(HTMLResponse(_index_html()))


@router.get("/{slug}")
def problem_type(slug: str, request: Request) -> Response:
    """One problem type: what it means and its codes (404 for a type that does not exist)."""
    kind = TYPES.get(slug)
    if kind is None:
        raise NotFound(f"No problem type {slug!r}; /problems lists them.")
    if wants_json(request):
        return _vary(JSONResponse(_type_json(kind)))
    return _vary(HTMLResponse(_type_html(kind)))
