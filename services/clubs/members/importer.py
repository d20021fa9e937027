"""Bulk import of a club's member list (CSV or XLSX), over HTTP and from the command line.

Every row is judged by the same schema and rules as `POST /clubs/{club_id}/members`
(`schemas.MemberCreate`, `service.prepare`), then the file as a whole: national IDs repeated
in the file, people already active in a club, a second chair. The report names every bad row
(row number as in the sheet, column, reason). A dry run writes nothing; a commit writes every
row or none, in the caller's one transaction, each new member audited.

    python -m services.clubs.members.importer FILE --club ID [--dry-run] [--json]

runs the same import against the clubs database (`CLUBS_DATABASE_URL`), with `cli:<OS user>`
as the actor in the audit; it exits 0 when imported (or a clean dry run), 1 when the file or a
row is refused (nothing written), 2 on a usage error.
"""

import argparse
import getpass
import json
import sys
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Request
from pydantic import ValidationError
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError
from sqlmodel import Session

from common import clock, db_errors, problem_texts_vi, sealing
from common.auth import Principal, Role
from common.db import id_of, make_engine, normalise_url
from common.problem_codes import Code
from common.problems import FieldError, NotFound, Problem, ValidationFailed, problem_language
from common.spreadsheets import Upload, file_refused
from common.vietnamese import ENGLISH, Language
from services.clubs import audit, events
from services.clubs.audit import Actor
from services.clubs.consents import service as consents
from services.clubs.consents.schemas import ConsentGiven
from services.clubs.domain import BoardRole
from services.clubs.members import service, tabular
from services.clubs.members.schemas import ImportIssue, ImportReport, ImportWarning, MemberCreate
from services.clubs.members.tabular import CellError, Columns
from services.clubs.models import Club, Member, outbox
from services.clubs.settings import ClubsSettings

Progress = Callable[[str, int, int], None]
"""Called with (stage, rows done, rows in all) while validating and writing."""
PROGRESS_EVERY = 500
NOT_ECHOED = frozenset({"full_name", "birth_date", "birth_year", "national_id", "phone"})
"""Cells an issue does not repeat: answers (and whatever logs or stores them) carry no
personal value."""
MAX_ERRORS_IN_PROBLEM = 100
"""The problem's `errors` list stops here; its `report` always holds every issue."""


@dataclass
class Candidate:
    """A row that passed the per-row rules, with the cells it came from (for the report)."""

    row: int
    member: Member
    cells: dict[str, Any]
    consents: list[ConsentGiven]


class RowReader:
    """Turns the rows of a sheet into new members, or into issues naming row and column."""

    def __init__(self, club: Club, columns: Columns, today: date) -> None:
        self.club = club
        self.columns = columns
        self.today = today

    def column(self, name: str, sources: dict[str, str] | None = None) -> str:
        if sources and name in sources:
            return sources[name]
        if name not in self.columns.by_field and name in ("birth_date", "birth_year"):
            # A birth rule is shown on whichever birth column the sheet has.
            other = "birth_year" if name == "birth_date" else "birth_date"
            return self.columns.header(other)
        return self.columns.header(name)

    def issue(
        self,
        row: int,
        name: str,
        cell: Any,
        reason: str,
        sources: dict[str, str] | None = None,
        *,
        code: str = Code.INVALID.value,
    ) -> ImportIssue:
        return ImportIssue(
            row=row,
            column=self.column(name, sources),
            field=name,
            value=None if name in NOT_ECHOED else tabular.shown(cell),
            reason=reason,
            code=code,
        )

    def read(self, row: int, cells: list[Any]) -> tuple[Candidate | None, list[ImportIssue]]:
        raw = {
            name: cells[index] if index < len(cells) else None
            for name, index in self.columns.by_field.items()
        }
        values, sources, issues = self._values(row, raw)
        failed = {issue.field for issue in issues}
        try:
            payload = MemberCreate.model_validate(values)
        except ValidationError as exc:
            for error in exc.errors():
                name = str(error["loc"][0]) if error["loc"] else "row"
                if name not in failed:
                    issues.append(
                        self.issue(
                            row, name, raw.get(name), error["msg"], sources, code=error["type"]
                        )
                    )
            return None, issues
        if issues:
            return None, issues
        member, errors = service.prepare(self.club, payload, self.today)
        issues = [
            self.issue(row, e.field, raw.get(e.field), e.reason, sources, code=e.code)
            for e in errors
        ]
        candidate = Candidate(row, member, raw, payload.consents) if member else None
        return candidate, issues

    def _values(
        self, row: int, raw: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, str], list[ImportIssue]]:
        values: dict[str, Any] = {}
        sources: dict[str, str] = {}
        issues = []
        for name, cell in raw.items():
            try:
                value = tabular.PARSERS[name](cell)
                if name in ("joined_on", "consent_date") and isinstance(value, int):
                    raise CellError("is a year alone; give the date (dd/mm/yyyy)")
            except CellError as exc:
                issues.append(self.issue(row, name, cell, str(exc)))
                continue
            if value is not None:
                values[name] = value
        year_alone = values.get("birth_date")
        if isinstance(year_alone, int):
            # Many members know only their birth year, and boards write it as the birth date.
            del values["birth_date"]
            if values.get("birth_year", year_alone) != year_alone:
                issues.append(
                    self.issue(
                        row,
                        "birth_date",
                        raw["birth_date"],
                        f"says {year_alone} but {self.columns.header('birth_year')!r} "
                        f"says {values['birth_year']}",
                        code=Code.INCONSISTENT.value,
                    )
                )
            values["birth_year"] = year_alone
            sources.setdefault("birth_year", self.columns.header("birth_date"))
            if raw.get("birth_year") is None:
                raw["birth_year"] = raw["birth_date"]
        values["consents"] = self._consents(values)
        sources["consents"] = self.columns.header("consent_form")
        return values, sources, issues

    @staticmethod
    def _consents(values: dict[str, Any]) -> list[dict[str, Any]]:
        """The consents the row's paper form records: membership by its number and date,
        the others by their marks (none without a form: the member is refused for it)."""
        form, given_on = values.pop("consent_form", None), values.pop("consent_date", None)
        marked = [
            purpose
            for column, purpose in tabular.CONSENT_FLAGS.items()
            if values.pop(column, False)
        ]
        if form is None or given_on is None:
            return []
        return [
            {"purpose": purpose, "given_on": given_on, "form_reference": form}
            for purpose in ("membership", *marked)
        ]


def _file_issues(
    session: Session, actor: Actor, club: Club, reader: RowReader, candidates: list[Candidate]
) -> tuple[list[ImportIssue], int, int]:
    """Issues of rows judged together: repeated IDs, people already in a club, chairs.

    Returns the issues, the rows repeating an earlier row's ID and the rows of active members.
    """
    issues: list[ImportIssue] = []
    first_row: dict[str, int] = {}
    duplicates = 0
    for c in candidates:
        national_id = c.member.national_id
        if national_id is None:
            continue
        if national_id in first_row:
            duplicates += 1
            reason = f"the same national ID as row {first_row[national_id]}"
            issues.append(
                reader.issue(
                    c.row,
                    "national_id",
                    c.cells["national_id"],
                    reason,
                    code=Code.DUPLICATE_VALUE.value,
                )
            )
        else:
            first_row[national_id] = c.row
    active = service.active_memberships(session, first_row)
    ended = service.last_ended_memberships(session, first_row)
    for c in candidates:
        national_id = c.member.national_id
        if national_id is None:
            continue
        if national_id in active:
            reason = service.already_active_reason(
                session, actor.principal, club, active[national_id]
            )
            issues.append(
                reader.issue(
                    c.row,
                    "national_id",
                    c.cells["national_id"],
                    "this person " + reason,
                    code=Code.ALREADY_MEMBER.value,
                )
            )
        overlap = service.overlap_reason(c.member.joined_on, ended.get(national_id))
        if national_id and overlap:
            issues.append(
                reader.issue(
                    c.row,
                    "joined_on",
                    c.cells.get("joined_on"),
                    overlap,
                    code=Code.MEMBERSHIP_OVERLAP.value,
                )
            )
    issues += _chair_issues(session, club, reader, candidates)
    return issues, duplicates, sum(1 for c in candidates if c.member.national_id in active)


def _chair_issues(
    session: Session, club: Club, reader: RowReader, candidates: list[Candidate]
) -> list[ImportIssue]:
    chairs = [c for c in candidates if c.member.board_role == BoardRole.CHAIR]
    current = service.current_chair(session, id_of(club))
    if current is not None:
        reason = f"the club already has a chair: member {current}"
        seconds = chairs
    else:
        reason = f"a second chair: row {chairs[0].row} is the chair" if chairs else ""
        seconds = chairs[1:]
    return [
        reader.issue(
            c.row, "board_role", c.cells["board_role"], reason, code=Code.SECOND_CHAIR.value
        )
        for c in seconds
    ]


def _report_progress(progress: Progress | None, stage: str, done: int, total: int) -> None:
    if progress is not None and (done % PROGRESS_EVERY == 0 or done == total):
        progress(stage, done, total)


def _write(
    session: Session,
    actor: Actor,
    club: Club,
    candidates: list[Candidate],
    progress: Progress | None,
) -> list[int]:
    for start in range(0, len(candidates), PROGRESS_EVERY):
        chunk = candidates[start : start + PROGRESS_EVERY]
        session.add_all(c.member for c in chunk)
        session.flush()
        for c in chunk:
            given = consents.record_given(session, actor, c.member, c.consents)
            audit.record(
                session,
                actor,
                "member",
                id_of(c.member),
                "imported",
                None,
                {**audit.snapshot(c.member), "consents": [consents.facts(g) for g in given]},
            )
        outbox.emit(
            session,
            *(
                events.member_joined(club, c.member, {given.purpose.value for given in c.consents})
                for c in chunk
            ),
        )
        _report_progress(progress, "writing", start + len(chunk), len(candidates))
    if candidates:
        service.announce_membership(session, club)
    session.flush()
    return [id_of(c.member) for c in candidates]


def refused(report: ImportReport, language: Language = ENGLISH) -> ValidationFailed:
    """The 422 of a commit with bad rows: its field errors in English (the problem's renderer
    words them in the language asked), its full report in `language`."""
    errors = [
        FieldError(
            location="file",
            field=issue.field,
            reason=f"row {issue.row}, column {issue.column!r}: {issue.reason}",
            code=issue.code,
        )
        for issue in report.issues[:MAX_ERRORS_IN_PROBLEM]
    ]
    return ValidationFailed(
        f"{report.invalid_rows} of {report.rows} rows have problems; nothing was imported.",
        errors=errors,
        report=in_language(report, language).model_dump(mode="json"),
    )


def in_language(report: ImportReport, language: Language) -> ImportReport:
    """The report with its reasons and warnings worded in `language`: stored and built in
    English, shown in Vietnamese through the problems' catalogue of texts."""
    if language == ENGLISH:
        return report
    issues = [
        issue.model_copy(update={"reason": problem_texts_vi.reason(issue.code, issue.reason)})
        for issue in report.issues
    ]
    warnings = [
        warning.model_copy(update={"message": problem_texts_vi.reason("", warning.message)})
        for warning in report.warnings
    ]
    return report.model_copy(update={"issues": issues, "warnings": warnings})


def _language(actor: Actor) -> Language:
    """The language of the request that imports (a job's or the command line's: English)."""
    request = actor.request
    if request is None or "headers" not in request.scope:
        return ENGLISH
    return problem_language(request.headers)


def import_members(
    session: Session,
    actor: Actor,
    club: Club,
    upload: Upload,
    *,
    dry_run: bool,
    progress: Progress | None = None,
) -> ImportReport:
    """Checks (and unless `dry_run`, adds to the session) every row of a member list.

    Raises 409 for a dissolved club, 415 for a file that is not CSV/XLSX, 422 for unreadable
    files, bad columns, more than `tabular.MAX_ROWS` rows, and, on a commit, any bad row (with
    the full report). Never commits: the caller's transaction holds all rows or none.
    """
    service.check_club_takes_members(club)
    sheet = tabular.read_sheet(upload)
    columns = tabular.find_columns(sheet)
    rows = [(number, cells) for number, cells in sheet.rows if number > columns.header_row]
    if len(rows) > tabular.MAX_ROWS:
        raise tabular.too_many_rows()
    if not rows:
        raise file_refused(f"has no member rows under the header (row {columns.header_row})")
    reader = RowReader(club, columns, clock.today())
    candidates: list[Candidate] = []
    issues: list[ImportIssue] = []
    for done, (number, cells) in enumerate(rows, start=1):
        candidate, row_issues = reader.read(number, cells)
        issues += row_issues
        if candidate is not None:
            candidates.append(candidate)
        _report_progress(progress, "validating", done, len(rows))
    file_issues, duplicates, already_active = _file_issues(session, actor, club, reader, candidates)
    issues = sorted(issues + file_issues, key=lambda issue: issue.row)
    invalid_rows = len({issue.row for issue in issues})
    report = ImportReport(
        file_name=upload.file_name,
        format=sheet.format,
        dry_run=dry_run,
        header_row=columns.header_row,
        columns={columns.headers[i]: name for name, i in columns.by_field.items()},
        ignored_columns=columns.ignored,
        warnings=[
            ImportWarning(column=w.column, code=w.code, message=w.message) for w in columns.warnings
        ],
        rows=len(rows),
        valid_rows=len(rows) - invalid_rows,
        invalid_rows=invalid_rows,
        duplicates_in_file=duplicates,
        already_active=already_active,
        valid=not issues,
        created=0,
        member_ids=[],
        issues=issues,
    )
    language = _language(actor)
    if dry_run:
        return in_language(report, language)
    if issues:
        raise refused(report, language)
    report.member_ids = _write(session, actor, club, candidates, progress)
    report.created = len(report.member_ids)
    return in_language(report, language)


# The command line.


def cli_actor() -> Actor:
    """The OS user as the audit's actor; one request id ties together the entries of a run."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    principal = Principal(subject=f"cli:{user}", role=Role.ADMIN)
    request = Request({"type": "http", "state": {"request_id": f"cli-{uuid.uuid4().hex}"}})
    return Actor(principal, request)


def _print_progress(stage: str, done: int, total: int) -> None:
    print(f"{stage}: {done}/{total} rows ({done * 100 // total} %)", file=sys.stderr, flush=True)


def _print_report(report: ImportReport, as_json: bool) -> None:
    if as_json:
        print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
        return
    print(f"{report.file_name} ({report.format}), header on row {report.header_row}")
    print(
        f"rows {report.rows}, valid {report.valid_rows}, invalid {report.invalid_rows}, "
        f"repeated IDs {report.duplicates_in_file}, already active {report.already_active}"
    )
    for issue in report.issues:
        print(f"row {issue.row}, column {issue.column!r}: {issue.reason}")
    if report.created:
        print(
            f"created {report.created} members: ids {report.member_ids[0]}–{report.member_ids[-1]}"
        )
    elif report.dry_run:
        print("dry run: nothing written" + ("" if report.valid else "; fix the rows above"))


def _arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m services.clubs.members.importer",
        description="Import a club's member list (CSV or XLSX) into the clubs database.",
    )
    parser.add_argument("file", type=Path, help="the member list, .csv or .xlsx")
    parser.add_argument("--club", type=int, required=True, help="the club's id")
    parser.add_argument("--dry-run", action="store_true", help="check every row, write nothing")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    return parser.parse_args(argv)


def _run(session: Session, args: argparse.Namespace, upload: Upload) -> ImportReport:
    club = session.get(Club, args.club)
    if club is None:
        raise NotFound(f"No club {args.club}.")
    report = import_members(
        session, cli_actor(), club, upload, dry_run=args.dry_run, progress=_print_progress
    )
    if not args.dry_run:
        session.commit()
    return report


def main(argv: Sequence[str] | None = None) -> int:
    args = _arguments(argv)
    try:
        upload = Upload(args.file.read_bytes(), args.file.name)
    except OSError as exc:
        print(f"error: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    settings = ClubsSettings()
    sealing.configure(settings)  # members' IDs and phones are stored sealed
    engine = make_engine(normalise_url(settings.database_url))
    try:
        with Session(engine, expire_on_commit=False) as session:
            report = _run(session, args, upload)
    except Problem as problem:
        body = problem.body()
        if "report" in body:
            _print_report(ImportReport.model_validate(body["report"]), args.json)
        else:
            print(f"error: {problem.detail}", file=sys.stderr)
        return 1
    except IntegrityError:
        print(
            "error: the members changed while importing; nothing was written, run it again",
            file=sys.stderr,
        )
        return 1
    except SQLAlchemyError as exc:
        # The error's kind and message, not the driver's detail: that quotes the values.
        cause = db_errors.describe(exc) if isinstance(exc, DBAPIError) else type(exc).__name__
        print(f"error: the clubs database refused the import: {cause}", file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    _print_report(report, args.json)
    return 0 if report.valid else 1


if __name__ == "__main__":
    sys.exit(main())
