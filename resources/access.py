"""Role-based access to warehouse tables, decided in one place: which tables, which rows, which form.

Roles and principals are data (access_policy.yaml). The warehouse calls `authorize` before and `restrict`
after every read, so notebooks loading assets through Dagster's IO manager get exactly what their role
allows. Denials raise AccessDenied (one line) and, like every read by a person, go to the audit trail.
"""

import fnmatch
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl
import yaml

POLICY_FILE = Path(__file__).with_name("access_policy.yaml")
SERVICE_ROLES = ("pipeline_service",)
SAFE_HARBOR_MAX_AGE = 90
DATE_SHIFT_DAYS = 180
RESTRICTED_ZIP3 = "000"
ROW_FILTER_TABLE = "silver.eligibility"  # where the lines-of-business filter finds each member's line


class AccessDenied(PermissionError):
    """A principal asked for something its role does not allow; the message names both."""


@dataclass(frozen=True)
class Grant:
    principal: str
    role: str
    tables: tuple[str, ...]
    row_filter: str | None = None
    deidentify: str | None = None
    lines_of_business: tuple[str, ...] = field(default_factory=tuple)

    @property
    def is_service(self) -> bool:
        return self.role in SERVICE_ROLES


@cache
def _policy() -> dict:
    return yaml.safe_load(POLICY_FILE.read_text())


def grant_for(principal: str) -> Grant:
    """The grant of a principal; an unknown principal is denied by name."""
    policy = _policy()
    if principal not in policy["principals"]:
        raise AccessDenied(f"principal {principal!r} is not in the access policy; known: {', '.join(policy['principals'])}")
    spec = policy["principals"][principal]
    role = policy["roles"][spec["role"]]
    return Grant(principal, spec["role"], tuple(role["tables"]), role.get("row_filter"), role.get("deidentify"), tuple(spec.get("lines_of_business", ())))


def authorize(grant: Grant, table: str) -> None:
    if not any(fnmatch.fnmatch(table, pattern) for pattern in grant.tables):
        raise AccessDenied(f"{grant.principal} ({grant.role}) may not read {table}")


def row_filter_sql(grant: Grant, columns: list[str]) -> str | None:
    """A WHERE clause limiting rows to members enrolled in the granted lines of business."""
    if grant.row_filter != "lines_of_business" or "member_key" not in columns:
        return None
    lines = ", ".join(f"'{line}'" for line in grant.lines_of_business) or "NULL"
    return f"member_key IN (SELECT member_key FROM {ROW_FILTER_TABLE} WHERE line_of_business IN ({lines}))"


def member_shift_days(member_key: pl.Expr) -> pl.Expr:
    """A stable per-member offset in [-180, 180] days, read from the pseudonym's own (already keyed) hex digits."""
    return member_key.str.slice(8, 8).str.to_integer(base=16) % (2 * DATE_SHIFT_DAYS + 1) - DATE_SHIFT_DAYS


def _generalise_zip3(frame: pl.DataFrame) -> pl.DataFrame:
    """ZIP3s of areas with 20,000 people or fewer become 000, as Safe Harbor requires."""
    rule = _policy()["safe_harbor"]
    columns = [c for c in rule["zip3_columns"] if c in frame.columns]
    return frame.with_columns([pl.when(pl.col(c).is_in(rule["restricted_zip3"])).then(pl.lit(RESTRICTED_ZIP3)).otherwise(pl.col(c)).alias(c) for c in columns])


def safe_harbor(frame: pl.DataFrame, today: date) -> pl.DataFrame:
    """Researcher form: dates shifted per member, ages over 89 grouped as 90, birth years of the over-89s removed,
    ZIP3s of sparsely populated areas replaced by 000."""
    out = _generalise_zip3(frame)
    if "member_key" in out.columns:
        shift = pl.duration(days=member_shift_days(pl.col("member_key")))
        out = out.with_columns([(pl.col(c) + shift).alias(c) for c, t in out.schema.items() if t == pl.Date])
    if "age" in out.columns:
        out = out.with_columns(pl.col("age").clip(upper_bound=SAFE_HARBOR_MAX_AGE))
    if "birth_year" in out.columns:
        too_old = pl.lit(today.year) - pl.col("birth_year") >= SAFE_HARBOR_MAX_AGE
        out = out.with_columns(pl.when(too_old).then(None).otherwise(pl.col("birth_year")).alias("birth_year"))
    return out


def restrict(grant: Grant, frame: pl.DataFrame) -> pl.DataFrame:
    return safe_harbor(frame, date.today()) if grant.deidentify == "safe_harbor" else frame
