"""Fails when a function, method or class of the platform is used nowhere (tests included).

`vulture` on its own reports every route, validator and model field, which the framework
calls by registration; here those are excused by their decorators, and only functions,
methods and classes are judged (a model's field or an enum member is data, not dead code).

    python -m tools.dead_code
"""

import sys
from pathlib import Path

from vulture import Vulture

ROOT = Path(__file__).resolve().parent.parent
JUDGED = ("common", "gateway", "services", "tools", "migrations")
SCANNED = (*JUDGED, "tests", "bench")
KINDS = frozenset({"function", "method", "class"})
CALLED_BY_FRAMEWORKS = [
    "@router.*",
    "@app.*",
    "@*.get",
    "@*.post",
    "@*.put",
    "@*.patch",
    "@*.delete",
    "@model_validator",
    "@field_validator",
    "@field_serializer",
    "@event.listens_for",
    "@*.exception_handler",
]
CALLED_BY_NAME = [
    "create_app",  # uvicorn's factory
    "run_env",  # every migration history's env.py
    "bootstrap",  # common.migrate's BOOTSTRAPS, after a component's migrations
    "upgrade",
    "downgrade",
    "do_POST",  # http.server
    "log_message",
    "process_bind_param",  # SQLAlchemy's TypeDecorator
    "process_result_value",
    "collect",  # prometheus_client's collectors, at every scrape
]


def unused() -> list[str]:
    vulture = Vulture(ignore_names=CALLED_BY_NAME, ignore_decorators=CALLED_BY_FRAMEWORKS)
    vulture.scavenge([str(ROOT / folder) for folder in SCANNED])
    found = []
    for item in vulture.get_unused_code(min_confidence=60):
        place = Path(item.filename).resolve().relative_to(ROOT)
        if item.typ in KINDS and place.parts[0] in JUDGED:
            found.append(f"{place}:{item.first_lineno}: unused {item.typ} {item.name!r}")
    return found


def main() -> int:
    found = unused()
    for line in found:
        print(line)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
