"""Bronze checks: the delivered schema against the feed contract, and feed freshness against its cadence."""

from dataclasses import asdict, dataclass
from datetime import date

import dagster as dg
import polars as pl

from assets.policy import markdown_table
from resources.bronze_store import BronzeStore
from resources.environment import settings
from resources.feeds.contract import ARRIVAL_DATE, FEEDS, RAW_LINEAGE, FeedContract, contract

SCHEMA_CONTRACT = "schema_contract"
FRESHNESS = "freshness"
TYPE_CHANGE_SHARE = 0.5


@dataclass(frozen=True)
class SchemaChange:
    kind: str
    column: str
    arrival_date: str
    detail: str
    accepted: bool


def _castable(column: pl.Expr, kind: str) -> pl.Expr:
    text = column.str.strip_chars()
    if kind == "date":
        return text.str.to_date("%Y-%m-%d", strict=False).is_not_null()
    if kind == "decimal":
        return text.cast(pl.Float64, strict=False).is_not_null()
    return text.cast(pl.Int64, strict=False).is_not_null()


def value_shape(column: pl.Expr) -> pl.Expr:
    """A value's shape with digits as 9 and letters as A: shows a format change without showing the value."""
    return column.str.replace_all(r"[0-9]", "9").str.replace_all(r"[A-Za-z]", "A")


def _day_stats(rows: pl.DataFrame, spec: FeedContract) -> pl.DataFrame:
    """One row per arrival day: which columns carry values, and how many typed values do not parse."""
    values = [c for c in rows.columns if c not in RAW_LINEAGE]
    typed = [c for c in spec.columns.values() if c.type != "string" and c.name in values]
    return rows.group_by(ARRIVAL_DATE).agg(
        *[pl.col(c).is_not_null().any().alias(f"present:{c}") for c in values],
        *[pl.col(c.name).is_not_null().sum().alias(f"n:{c.name}") for c in typed],
        *[(pl.col(c.name).is_not_null() & ~_castable(pl.col(c.name), c.type)).sum().alias(f"bad:{c.name}") for c in typed],
        *[value_shape(pl.col(c.name).filter(~_castable(pl.col(c.name), c.type))).mode().sort().first().alias(f"shape:{c.name}") for c in typed],
    ).sort(ARRIVAL_DATE)


def _day_changes(day: dict, spec: FeedContract) -> list[SchemaChange]:
    when = day[ARRIVAL_DATE].isoformat()
    present = {k.split(":", 1)[1] for k, v in day.items() if k.startswith("present:") and v}
    changes = [SchemaChange("renamed", c, when, f"delivered as {c!r}, mapped to {spec.renames[c]!r} by the contract", True)
               for c in sorted(present & set(spec.renames))]
    known = set(spec.columns) | set(spec.renames)
    changes += [SchemaChange("new_column", c, when, f"column {c!r} is not in the {spec.name} contract (kept in bronze, not in silver)", False)
                for c in sorted(present - known)]
    delivered = present | {spec.renames[c] for c in present & set(spec.renames)}
    changes += [SchemaChange("missing_column", c.name, when, f"required column {c.name!r} absent from the delivery", False)
                for c in spec.columns.values() if c.required and c.name not in delivered]
    for col in spec.columns.values():
        total, bad = day.get(f"n:{col.name}") or 0, day.get(f"bad:{col.name}") or 0
        if total and bad / total > TYPE_CHANGE_SHARE:
            changes.append(SchemaChange("type_changed", col.name, when,
                                        f"{bad:,} of {total:,} values are not {col.type} (look like {day[f'shape:{col.name}']!r})", False))
    return changes


def schema_changes(rows: pl.DataFrame, spec: FeedContract) -> list[SchemaChange]:
    """Every schema change per arrival day: declared renames (accepted), new, missing and retyped columns."""
    if not rows.height:
        return []
    return [change for day in _day_stats(rows, spec).iter_rows(named=True) for change in _day_changes(day, spec)]


def schema_contract_result(changes: list[SchemaChange]) -> dg.AssetCheckResult:
    """The check over every change found in the days landed (each day is judged on its own rows)."""
    breaking = [c for c in changes if not c.accepted]
    return dg.AssetCheckResult(
        check_name=SCHEMA_CONTRACT,
        passed=not breaking,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(f"{c.column}: {c.kind} on {c.arrival_date}" for c in breaking[:5]) or None,
        metadata={
            "breaking_changes": len(breaking),
            "accepted_renames": len(changes) - len(breaking),
            "changes": markdown_table(pl.DataFrame([asdict(c) for c in changes], schema={f: pl.String for f in ("kind", "column", "arrival_date", "detail")} | {"accepted": pl.Boolean})),
        },
    )


def staleness(latest_arrival: date | None, reference: date, spec: FeedContract) -> tuple[bool, str]:
    """Whether a feed is late at `reference`: nothing for longer than its cadence plus grace."""
    allowed = spec.cadence_days + spec.grace_days
    if latest_arrival is None:
        return True, f"no delivery has arrived; expected every {spec.cadence_days} day(s)"
    age = (reference - latest_arrival).days
    return age > allowed, f"last delivery {latest_arrival} ({age} days before {reference}); allowed {allowed} days"


def freshness_check(feed: str) -> dg.AssetChecksDefinition:
    spec = contract(feed)

    @dg.asset_check(asset=["bronze", feed], name=FRESHNESS, description=f"A {feed} delivery arrived within {spec.cadence_days} + {spec.grace_days} days.")
    def _freshness(bronze_store: BronzeStore) -> dg.AssetCheckResult:
        arrivals = [date.fromisoformat(m.arrival_date) for m in bronze_store.manifests(feed) if m.rows]
        reference = settings().end_date
        stale, detail = staleness(max(arrivals, default=None), reference, spec)
        return dg.AssetCheckResult(passed=not stale, description=detail,
                                   metadata={"latest_arrival": str(max(arrivals, default="none")), "reference_date": str(reference),
                                             "cadence_days": spec.cadence_days, "grace_days": spec.grace_days})

    return _freshness


FRESHNESS_CHECKS = [freshness_check(feed) for feed in FEEDS]
