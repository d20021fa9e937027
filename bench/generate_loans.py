"""A national loan book in the loans database, generated inside PostgreSQL from the registry.

The registry's members (id, club, place, citizen ID: its blind index, and the ID sealed again
as the loans service seals a borrower's) are streamed from the clubs database into a scratch
table of the loans database; everything else is `INSERT … SELECT` over
`generate_series`, so tens of millions of rows take minutes, not hours. Pseudo-random choices
come from a hash of the row number, so a seed gives the same book every time.

- one income-generation fund per club;
- `club_loans` member loans of 3–10 million đồng over 6 or 12 months at 0.5–1 % a month, flat,
  disbursed over the last three years; about 12 % stop paying after a while, 1 % of those are
  written off; the others repay every instalment on its due date and are closed when done;
  each loan's standing (last repayment, late from) as the loans service keeps it;
- their instalments (cumulative totals included) and repayments;
- `bank_loans` Social Policy Bank records, 30 % of them matched to registry members, each with
  one posted version in the history.

Secondary indexes are dropped during the load and built again afterwards (much faster).
"""

import time
from collections.abc import Callable

import psycopg

from bench._common import GenerationStats, ProgressBar, libpq_url, one_row
from common import sealing
from common.sealing import keyring
from services.clubs.models import NATIONAL_ID
from services.loans.bank.models import BORROWER_ID
from services.loans.settings import LoansSettings

TODAY_SQL = "current_date"
BANK_CODE = "VBSP"
STRANGERS = 1_000
"""Borrowers who are no members draw their sealed ID from this many sealed made-up IDs (their
blind indexes are made up per record): sealing each of millions in Python would take longer
than the rest of the book, and only the size of a sealed value matters to the figures."""
LOADED_TABLES = (
    "funds",
    "loans",
    "loan_instalments",
    "loan_repayments",
    "bank_loans",
    "bank_loan_versions",
)


def _hash(expression: str, salt: int, modulo: int) -> str:
    """SQL for a deterministic pseudo-random integer in [0, modulo) from an integer expression."""
    return f"(abs(hashtextextended(({expression})::text, {salt})) % {modulo})"


def _copy_members(clubs_url: str, loans: psycopg.Connection, log: Callable[[str], None]) -> int:
    loans.execute(
        "CREATE UNLOGGED TABLE bench_members (rn bigint PRIMARY KEY, member_id integer,"
        " club_id integer, province_code varchar(2), commune_code varchar(5),"
        " blind_index varchar(22), sealed varchar(80))"
    )
    keys = keyring()
    loans.execute("CREATE UNLOGGED TABLE bench_strangers (n integer PRIMARY KEY, sealed text)")
    with loans.cursor().copy("COPY bench_strangers FROM STDIN") as target:
        for n in range(STRANGERS):
            target.write_row((n, keys.seal(f"0011990{n:05d}", BORROWER_ID)))
    with psycopg.connect(libpq_url(clubs_url)) as clubs:
        total = one_row(
            clubs.execute(
                "SELECT count(*) FROM members WHERE left_on IS NULL AND national_id IS NOT NULL"
            )
        )[0]
        bar = ProgressBar("members from the registry", total, "members")
        done = 0
        query = (
            "COPY (SELECT row_number() OVER (ORDER BY m.id) - 1, m.id, m.club_id,"
            " c.province_code, c.commune_code, m.national_id_blind_index, m.national_id"
            " FROM members m"
            " JOIN clubs c ON c.id = m.club_id"
            " WHERE m.left_on IS NULL AND m.national_id IS NOT NULL) TO STDOUT"
        )
        with (
            clubs.cursor().copy(query) as source,
            loans.cursor().copy("COPY bench_members FROM STDIN") as target,
        ):
            for *facts, sealed in source.rows():
                target.write_row((*facts, keys.seal(keys.open(sealed, NATIONAL_ID), BORROWER_ID)))
                done += 1
                if done % 10_000 == 0:
                    bar.update(done)
        bar.close()
    log(f"{total:,} active members with a national ID copied")
    return int(total)


def _secondary_indexes(conn: psycopg.Connection) -> list[tuple[str, str]]:
    rows = conn.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i"
        " JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid"
        " WHERE i.schemaname = 'public' AND i.tablename = ANY(%s) AND NOT x.indisprimary",
        (list(LOADED_TABLES),),
    ).fetchall()
    return [(name, definition) for name, definition in rows]


def _statements(club_loans: int, bank_loans: int, members: int, seed: int) -> list[tuple[str, str]]:
    loan_member = _hash("g", seed, members)
    late = _hash("l.id", seed + 1, 100)
    bank_member = _hash("g", seed + 2, members)
    return [
        (
            "funds",
            "INSERT INTO funds (club_id, kind, province_code, commune_code, opened_by,"
            " created_at, version) SELECT DISTINCT ON (club_id) club_id, 'income_generation',"
            " province_code, commune_code, 'bench', now(), 1 FROM bench_members"
            " ORDER BY club_id",
        ),
        (
            "loans",
            "INSERT INTO loans (fund_id, club_id, member_id, province_code, commune_code, status,"
            " form, purpose, principal, term_months, monthly_rate_ppm, interest_method,"
            " repayment_frequency, applied_on, applied_by, applied_at, decided_by, decided_at,"
            " disbursed_on, matures_on, disbursed_by, disbursed_at, principal_repaid,"
            " interest_paid, version)"
            " SELECT f.id, m.club_id, m.member_id, m.province_code, m.commune_code, 'disbursed',"
            " 'cash', 'bench', p.principal, p.term, p.ppm, 'flat', 'monthly',"
            " p.disbursed_on - 5, 'bench', now(), 'bench', now(), p.disbursed_on,"
            " (p.disbursed_on + make_interval(months => p.term))::date, 'bench', now(), 0, 0, 1"
            f" FROM generate_series(1, {club_loans}) g"
            f" JOIN bench_members m ON m.rn = {loan_member}"
            " JOIN funds f ON f.club_id = m.club_id"
            " CROSS JOIN LATERAL (SELECT"
            f" (3 + {_hash('g', seed + 3, 8)}) * 1000000 AS principal,"
            f" CASE WHEN {_hash('g', seed + 4, 2)} = 0 THEN 6 ELSE 12 END AS term,"
            f" 5000 + {_hash('g', seed + 5, 6)} * 1000 AS ppm,"
            f" {TODAY_SQL} - {_hash('g', seed + 6, 1095)}::int AS disbursed_on) p",
        ),
        (
            "loan_instalments",
            "INSERT INTO loan_instalments (loan_id, number, due_on, principal, interest,"
            " cumulative_principal, cumulative_interest)"
            " SELECT l.id, k, (l.disbursed_on + make_interval(months => k))::date,"
            " CASE WHEN k = l.term_months THEN l.principal - (l.principal / l.term_months)"
            " * (l.term_months - 1) ELSE l.principal / l.term_months END,"
            " round(l.principal * l.monthly_rate_ppm / 1e6),"
            " CASE WHEN k = l.term_months THEN l.principal ELSE (l.principal / l.term_months)"
            " * k END, round(l.principal * l.monthly_rate_ppm / 1e6) * k"
            " FROM loans l CROSS JOIN LATERAL generate_series(1, l.term_months) k",
        ),
        (
            "loan_repayments",
            # Good payers pay each instalment on its day; 12 % stop after their first ones.
            "INSERT INTO loan_repayments (loan_id, paid_on, amount, principal, interest,"
            " cumulative_principal, cumulative_interest, reference, recorded_by, created_at)"
            " SELECT i.loan_id, i.due_on, i.principal + i.interest, i.principal, i.interest,"
            " i.cumulative_principal, i.cumulative_interest, 'bench', 'bench', now()"
            " FROM loan_instalments i JOIN loans l ON l.id = i.loan_id"
            f" WHERE i.due_on <= {TODAY_SQL}"
            f" AND ({late} >= 12 OR i.number <= 1 + {late} % 3)",
        ),
        (
            "loans (repaid totals)",
            "UPDATE loans l SET principal_repaid = r.principal, interest_paid = r.interest,"
            " last_paid_on = r.paid_on,"
            " status = CASE WHEN r.principal = l.principal THEN 'closed' ELSE l.status END,"
            " closed_on = CASE WHEN r.principal = l.principal THEN r.paid_on END"
            " FROM (SELECT loan_id, max(cumulative_principal) AS principal,"
            " max(cumulative_interest) AS interest, max(paid_on) AS paid_on"
            " FROM loan_repayments GROUP BY loan_id) r WHERE r.loan_id = l.id",
        ),
        (
            "loans (standing)",
            # As services/loans/portfolio/standing.py keeps it: late from 31 days after the
            # first instalment that what was paid does not cover.
            "UPDATE loans l SET late_from = s.due_on + 31"
            " FROM (SELECT i.loan_id, min(i.due_on) AS due_on FROM loan_instalments i"
            " JOIN loans p ON p.id = i.loan_id"
            " WHERE i.cumulative_principal > p.principal_repaid"
            " OR i.cumulative_interest > p.interest_paid GROUP BY i.loan_id) s"
            " WHERE s.loan_id = l.id",
        ),
        (
            "loans (write-offs)",
            "UPDATE loans l SET status = 'written_off', written_off_on = l.matures_on + 90,"
            " written_off_principal = l.principal - l.principal_repaid,"
            " write_off_reason = 'bench', written_off_by = 'bench', written_off_at = now()"
            f" WHERE l.status = 'disbursed' AND l.matures_on + 90 <= {TODAY_SQL}"
            f" AND {late} < 1",
        ),
        (
            "banks",
            f"INSERT INTO banks (code, postings, last_posted_at) VALUES ('{BANK_CODE}', 1, now())",
        ),
        (
            "bank_loans",
            "INSERT INTO bank_loans (bank_code, loan_number, borrower_blind_index,"
            " borrower_national_id_sealed,"
            " borrower_name, programme, principal, disbursed_on, maturity_on,"
            " annual_interest_rate_bp, outstanding_principal, overdue_amount, status, as_of,"
            " posting_id, posting_outcome, posted_by, posted_at,"
            " member_id, club_id, province_code, commune_code, matched_at, created_at,"
            " updated_at)"
            f" SELECT '{BANK_CODE}', 'BENCH-' || g,"
            " coalesce(m.blind_index, substr(md5('stranger ' || g), 1, 22)),"
            " coalesce(m.sealed, stranger.sealed), 'Nguyễn Văn Bench',"
            " 'poor_households', b.principal, b.disbursed_on,"
            " (b.disbursed_on + interval '5 years')::date, 660,"
            " CASE WHEN b.closed THEN 0 ELSE b.principal / 2 END,"
            " CASE WHEN b.overdue AND NOT b.closed THEN b.principal / 10 ELSE 0 END,"
            " CASE WHEN b.closed THEN 'closed' WHEN b.overdue THEN 'overdue' ELSE 'active' END,"
            f" {TODAY_SQL} - 30, nextval('bank_loan_versions_id_seq'), 'created', 'bench', now(),"
            " m.member_id, m.club_id, m.province_code, m.commune_code,"
            " CASE WHEN m.member_id IS NOT NULL THEN now() END, now(), now()"
            f" FROM generate_series(1, {bank_loans}) g"
            f" LEFT JOIN bench_members m ON g % 10 < 3 AND m.rn = {bank_member}"
            f" JOIN bench_strangers stranger ON stranger.n = g % {STRANGERS}"
            " CROSS JOIN LATERAL (SELECT"
            f" (10 + {_hash('g', seed + 8, 91)}) * 1000000 AS principal,"
            f" {TODAY_SQL} - 60 - {_hash('g', seed + 9, 2500)}::int AS disbursed_on,"
            f" {_hash('g', seed + 10, 100)} < 20 AS closed,"
            f" {_hash('g', seed + 11, 100)} < 8 AS overdue) b",
        ),
    ]


def generate(
    loans_url: str,
    clubs_url: str,
    club_loans: int,
    bank_loans: int,
    seed: int,
    log: Callable[[str], None],
) -> GenerationStats:
    """Fills an empty, migrated loans database from the registry in `clubs_url`."""
    sealing.configure(LoansSettings())  # the same keys as the service (and the registry's)
    stats = GenerationStats()
    started = time.monotonic()
    with psycopg.connect(libpq_url(loans_url), autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS bench_members")
        conn.execute("DROP TABLE IF EXISTS bench_strangers")
        members = _copy_members(clubs_url, conn, log)
        if not members:
            raise RuntimeError("the registry has no active members with a national ID")
        indexes = _secondary_indexes(conn)
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        steps = _statements(club_loans, bank_loans, members, seed)
        bar = ProgressBar("loan book", len(steps), "steps")
        for number, (label, statement) in enumerate(steps, start=1):
            step_started = time.monotonic()
            count = conn.execute(statement).rowcount
            stats.seconds[label] = time.monotonic() - step_started
            if not label.startswith("loans ("):
                stats.rows[label] = count
            bar.update(number, f"{label}: {count:,} rows in {stats.seconds[label]:.1f} s")
        bar.close()
        index_started = time.monotonic()
        bar = ProgressBar("indexes", len(indexes), "indexes")
        for number, (_, definition) in enumerate(indexes, start=1):
            conn.execute(definition)
            bar.update(number)
        bar.close()
        stats.seconds["indexes"] = time.monotonic() - index_started
        conn.execute("DROP TABLE bench_members")
        conn.execute("DROP TABLE bench_strangers")
        analyze_started = time.monotonic()
        for table in (*LOADED_TABLES, "banks"):
            conn.execute(f"VACUUM ANALYZE {table}")
        stats.seconds["analyze"] = time.monotonic() - analyze_started
    stats.seconds["total"] = time.monotonic() - started
    return stats
