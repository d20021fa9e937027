"""Liveness (`/healthz`) and readiness (`/readyz`) with per-component detail."""

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from sqlalchemy import text
from sqlalchemy.engine import Engine
from starlette.concurrency import run_in_threadpool

from common.db import reader
from common.problem_codes import Code
from common.problems import PROBLEM_MEDIA_TYPE, ServiceUnavailable, problem_language

ReadinessCheck = Callable[[Request], Awaitable[str | None]]
"""Returns None when the component is up, else why it is not."""


class ComponentStatus(BaseModel):
    status: str
    detail: str | None = None


class Readiness(BaseModel):
    status: str
    components: dict[str, ComponentStatus]


def _ping(engine: Engine) -> None:
    with reader(engine).connect() as connection:
        connection.execute(text("SELECT 1"))


async def database_check(request: Request) -> str | None:
    try:
        await run_in_threadpool(_ping, request.app.state.engine)
    except Exception as exc:
        return f"database unreachable: {type(exc).__name__}"
    return None


def health_router(checks: dict[str, ReadinessCheck]) -> APIRouter:
    router = APIRouter(tags=["health"])

    @router.get("/healthz", summary="The process is alive")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @router.get(
        "/readyz",
        summary="Every dependency is reachable",
        response_model=Readiness,
        responses={
            503: {"description": "A component is down", "content": {PROBLEM_MEDIA_TYPE: {}}}
        },
    )
    async def readyz(request: Request) -> Any:
        return await readiness(request, checks)

    return router


async def readiness(request: Request, checks: dict[str, ReadinessCheck]) -> Any:
    """Every check's answer: 200 when all are up, else 503 naming the ones down."""
    components = {}
    for name, check in checks.items():
        failure = await check(request)
        components[name] = ComponentStatus(status="down" if failure else "up", detail=failure)
    if all(c.status == "up" for c in components.values()):
        return Readiness(status="ready", components=components)
    problem = ServiceUnavailable(
        "A component is not reachable.",
        code=Code.NOT_READY,
        components={k: v.model_dump() for k, v in components.items()},
    )
    language = problem_language(request.headers)
    return JSONResponse(
        problem.body(request.url.path, language),
        status_code=503,
        media_type=PROBLEM_MEDIA_TYPE,
        headers={"Content-Language": language},
    )
