"""Log lines: text for a person at a terminal (`make run`), one JSON object a line for a log
collector in production (`ISHC_LOG_FORMAT=json`).

Every line written while a request is served carries its request id. Nothing here decides
what is logged; what must never be (names, citizen IDs, phones, birth dates) stays out because
the access line is built from the route template and the token's subject only, and the
database's errors are made without their values (`common.db.make_engine`).
"""

import logging
from datetime import UTC, datetime
from typing import Any

import orjson

from common.middleware import current_request_id

TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"
_RECORD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {
    "message",
    "asctime",
    "color_message",  # uvicorn's message again, with terminal colours
}
"""What every log record has: the rest of a record's attributes are its `extra` fields."""
_OURS = "_ishc_handler"
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error")


class RequestIdFilter(logging.Filter):
    """Gives each record the id of the request being served (`-` outside one)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "request_id", None) is None:
            record.request_id = current_request_id() or "-"
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: `time` (UTC), `level`, `logger`, `component`, `message`,
    `request_id`, the record's `extra` fields, and `exception` with its traceback."""

    def __init__(self, component: str) -> None:
        super().__init__()
        self.component = component

    def format(self, record: logging.LogRecord) -> str:
        line: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "component": self.component,
            "message": record.getMessage(),
        }
        for name, value in vars(record).items():
            if name not in _RECORD_ATTRIBUTES and value is not None:
                line[name] = value
        if record.exc_info:
            line["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            line["stack"] = self.formatStack(record.stack_info)
        return orjson.dumps(line, default=str).decode()


def configure_logging(level: str, log_format: str, component: str) -> None:
    """Sets up the process's logging: the root logger at `level` writes to stderr in
    `log_format` (`text` or `json`). In JSON, uvicorn's own lines (start, stop, errors) go
    through the same handler. uvicorn's access log is off in both formats: it shows the raw
    path and query, where a search may carry a member's name; the platform's own access line
    (`ishc.access`) replaces it. httpx's line per request it sends is kept to warnings for
    the same reason (the raw URL; the component called writes its access line), and because
    every poll of an event feed wrote one. Calling it again (a second app in one process)
    reconfigures the same handler."""
    root = logging.getLogger()
    handler = next((h for h in root.handlers if getattr(h, _OURS, False)), None)
    if handler is None:
        handler = logging.StreamHandler()
        setattr(handler, _OURS, True)
        root.addHandler(handler)
    handler.filters = [RequestIdFilter()]
    handler.setFormatter(
        JsonFormatter(component) if log_format == "json" else logging.Formatter(TEXT_FORMAT)
    )
    root.setLevel(level.upper())
    if log_format == "json":
        for name in UVICORN_LOGGERS:
            uvicorn_logger = logging.getLogger(name)
            uvicorn_logger.handlers.clear()
            uvicorn_logger.propagate = True
    logging.getLogger("uvicorn.access").disabled = True
    logging.getLogger("httpx").setLevel(logging.WARNING)
