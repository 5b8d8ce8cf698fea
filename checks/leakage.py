"""Look-ahead leakage probe: a feature snapshot at T must not change when anything that arrived after T
is deleted or altered. The probe rebuilds the snapshot from both altered silvers and names what moved."""

from collections.abc import Callable
from datetime import date, timedelta

import polars as pl

from assets.events import Silver
from checks.schemas import VALID_TO
from resources.feeds.contract import ARRIVAL_DATE, contract

Builder = Callable[[Silver, date], pl.DataFrame]


def _late(as_of: date) -> pl.Expr:
    return pl.col(ARRIVAL_DATE) > as_of


def without_later_arrivals(silver: Silver, as_of: date) -> Silver:
    """Silver as it stood on `as_of`: later rows deleted, versions they closed reopened."""
    return Silver(**{
        name: frame.filter(~_late(as_of)).with_columns(pl.when(pl.col(VALID_TO) > as_of).then(None).otherwise(pl.col(VALID_TO)).alias(VALID_TO))
        for name, frame in vars(silver).items()
    })


def with_later_arrivals_backdated(silver: Silver, as_of: date) -> Silver:
    """Every later row moved to look as if it happened the day before `as_of` (every contract date), with its numbers changed."""
    day_before = as_of - timedelta(days=1)
    out = {}
    for name, frame in vars(silver).items():
        schema = frame.collect_schema()
        dates = [c.name for c in contract(name).columns.values() if c.type == "date" and c.name in schema]
        moved = [pl.when(_late(as_of)).then(pl.lit(day_before)).otherwise(pl.col(c)).alias(c) for c in dates]
        scaled = [pl.when(_late(as_of)).then(pl.col(c) * 2 + 1).otherwise(pl.col(c)).alias(c) for c, t in schema.items() if t == pl.Float64]
        out[name] = frame.with_columns(*moved, *scaled)
    return Silver(**out)


def changed_columns(expected: pl.DataFrame, actual: pl.DataFrame) -> list[str]:
    """Columns whose values differ (row count or order differences name every column)."""
    if expected.shape != actual.shape or expected.columns != actual.columns:
        return list(expected.columns)
    return [c for c in expected.columns if not expected[c].equals(actual[c])]


def leakage(build: Builder, silver: Silver, as_of: date, stored: pl.DataFrame) -> dict[str, list[str]]:
    """Columns of the stored snapshot that change when post-`as_of` data is deleted or back-dated."""
    probes = {"deleted": without_later_arrivals(silver, as_of), "backdated": with_later_arrivals_backdated(silver, as_of)}
    return {kind: changed for kind, probe in probes.items() if (changed := changed_columns(stored, build(probe, as_of)))}
