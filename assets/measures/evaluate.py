"""Evaluate the declared measures at an as-of date, from what was visible then.

Per member and measure: eligible (population met), excluded, gap open, and the evidence that closed
the gap (the event's feed, id and date) or the PDC for the adherence measure.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from assets.adherence import proportion_of_days_covered
from assets.events import Silver, enrolled, tagged_events
from assets.measures import Condition, Measure, Window, conditions, measure_settings, measures
from assets.pit import add_months, visible

STATUS_SCHEMA = {
    "member_key": pl.String, "measure": pl.String, "excluded": pl.Boolean, "gap_open": pl.Boolean, "evidence_feed": pl.String,
    "evidence_id": pl.String, "evidence_date": pl.Date, "pdc": pl.Float64,
}


@dataclass(frozen=True)
class Snapshot:
    """Everything visible at one as-of date, ready for measures and features."""

    as_of: date
    members: pl.LazyFrame
    events: pl.LazyFrame
    fills: pl.LazyFrame


def snapshot(silver: Silver, events: pl.LazyFrame, as_of: date) -> Snapshot:
    return Snapshot(
        as_of=as_of,
        members=enrolled(silver.eligibility, as_of, measure_settings()["min_enrolled_days"]),
        events=visible(events, as_of, "event_date"),
        fills=visible(silver.pharmacy_fills, as_of, "fill_date"),
    )


def window_start(window: Window, as_of: date) -> date | None:
    if window.measurement_year:
        return date(as_of.year, 1, 1)
    if window.lookback_months is None:
        return None
    return add_months(as_of, -window.lookback_months) + timedelta(days=1)


def in_window(events: pl.LazyFrame, window: Window, as_of: date) -> pl.LazyFrame:
    start = window_start(window, as_of)
    hits = events.filter(pl.col("code_set") == window.code_set)
    return hits if start is None else hits.filter(pl.col("event_date") >= start)


def with_condition(snap: Snapshot, condition: Condition) -> pl.LazyFrame:
    """Members meeting a chronic-condition definition at the as-of date."""
    window = Window(condition.code_set, condition.lookback_months)
    dates = in_window(snap.events, window, snap.as_of).group_by("member_key").agg(pl.col("event_date").n_unique().alias("dates"))
    fill_start = window_start(window, snap.as_of)
    filled = snap.fills.filter(pl.col("therapeutic_class").is_in(condition.or_one_date_with_fill) & (pl.col("fill_date") >= fill_start))
    with_fill = dates.join(filled.select("member_key").unique(), on="member_key", how="semi").filter(pl.col("dates") >= 1)
    return pl.concat([dates.filter(pl.col("dates") >= condition.min_dates).select("member_key"), with_fill.select("member_key")]).unique()


def eligible(snap: Snapshot, measure: Measure) -> pl.LazyFrame:
    """Enrolled members in the measure's age and sex bands, with its condition and required fill."""
    bands = pl.lit(False)
    for sex, (low, high) in measure.age_by_sex.items():
        bands = bands | ((pl.col("sex") == sex) & pl.col("age").is_between(low, high))
    population = snap.members.filter(bands).select("member_key")
    if measure.condition:
        population = population.join(with_condition(snap, conditions()[measure.condition]), on="member_key", how="semi")
    if measure.filled_class:
        start = window_start(Window("", measure.fill_lookback_months), snap.as_of)
        fills = snap.fills.filter((pl.col("therapeutic_class") == measure.filled_class) & (pl.col("fill_date") >= start))
        population = population.join(fills.select("member_key"), on="member_key", how="semi")
    return population


def _evidence(snap: Snapshot, measure: Measure) -> pl.LazyFrame:
    hits = pl.concat([in_window(snap.events, w, snap.as_of) for w in measure.numerator], how="diagonal")
    latest = hits.sort("event_date", "event_id").group_by("member_key").last()
    return latest.select("member_key", pl.col("feed").alias("evidence_feed"), pl.col("event_id").alias("evidence_id"), pl.col("event_date").alias("evidence_date"))


def _adherence(snap: Snapshot, measure: Measure) -> pl.LazyFrame:
    spec = measure.adherence
    start = window_start(Window("", spec["lookback_months"]), snap.as_of)
    fills = snap.fills.filter((pl.col("therapeutic_class") == spec["therapeutic_class"]) & (pl.col("fill_date") >= start))
    first_fill = fills.group_by("member_key").agg(pl.col("fill_date").min().alias("first_fill"))
    pdc = proportion_of_days_covered(fills.join(first_fill, on="member_key"), ["member_key"], pl.col("first_fill"), snap.as_of)
    return pdc.with_columns((pl.col("pdc") < spec["threshold"]).alias("gap_open"))


def measure_status(snap: Snapshot, measure: Measure) -> pl.DataFrame:
    """One row per eligible member: excluded, gap open (null when excluded), evidence or PDC."""
    population = eligible(snap, measure)
    excluded = pl.concat([in_window(snap.events, w, snap.as_of).select("member_key") for w in measure.exclusions]).unique()
    status = population.join(excluded.with_columns(pl.lit(True).alias("excluded")), on="member_key", how="left").with_columns(
        pl.col("excluded").fill_null(False), pl.lit(measure.name).alias("measure"))
    if measure.adherence:
        status = status.join(_adherence(snap, measure), on="member_key", how="left")
    else:
        status = status.join(_evidence(snap, measure), on="member_key", how="left").with_columns(pl.col("evidence_id").is_null().alias("gap_open"))
    status = status.with_columns(pl.when(pl.col("excluded")).then(None).otherwise(pl.col("gap_open")).alias("gap_open"))
    missing = [pl.lit(None, dtype).alias(name) for name, dtype in STATUS_SCHEMA.items() if name not in status.collect_schema()]
    return status.with_columns(missing).select(list(STATUS_SCHEMA)).collect().cast(STATUS_SCHEMA).sort("measure", "member_key")


def all_measure_status(snap: Snapshot) -> pl.DataFrame:
    return pl.concat([measure_status(snap, m) for m in measures().values()])


def evaluate_at(silver: Silver, as_of: date) -> pl.DataFrame:
    """Measure status of every measure at one as-of date, straight from silver."""
    return all_measure_status(snapshot(silver, tagged_events(silver), as_of))
