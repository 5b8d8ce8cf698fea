"""Care-gap labels: for each member with an open gap at T, is the gap still open at T + horizon?

The outcome is computed only from data that had arrived by T + horizon (the same visibility rule, moved
forward); a label whose horizon lies beyond the data we have is marked immature, never guessed.
"""

from datetime import date

import polars as pl

from assets.events import Silver
from assets.measures.evaluate import all_measure_status, snapshot
from assets.pit import add_months
from resources.bronze_store import BronzeStore
from resources.feeds.contract import FEEDS

IMMATURE, OPEN, CLOSED, CENSORED = "immature", "open", "closed", "censored"
LABEL_SCHEMA = {
    "member_key": pl.String, "as_of": pl.Date, "measure": pl.String, "horizon_date": pl.Date,
    "label_status": pl.String, "gap_open_at_horizon": pl.Boolean, "closed_by": pl.String,
}


def data_through(store: BronzeStore) -> date:
    """The last day every feed has delivered through (its latest non-empty arrival): later horizons are immature."""
    latest = [max((m.arrival_date for m in store.manifests(feed) if m.rows), default=None) for feed in FEEDS]
    if None in latest:
        raise ValueError(f"no delivery has landed yet for: {', '.join(f for f, d in zip(FEEDS, latest) if d is None)}")
    return date.fromisoformat(min(latest))


def outcomes(at_start: pl.DataFrame, at_horizon: pl.DataFrame | None, as_of: date, horizon: date) -> pl.DataFrame:
    """Label rows from measure status at the as-of date and at the horizon (None while the horizon is immature)."""
    base = at_start.filter(pl.col("gap_open").fill_null(False)).select(
        "member_key", "measure", pl.lit(as_of).alias("as_of"), pl.lit(horizon).alias("horizon_date"))
    if at_horizon is None:
        labelled = base.with_columns(pl.lit(IMMATURE).alias("label_status"), pl.lit(None, pl.Boolean).alias("gap_open_at_horizon"),
                                     pl.lit(None, pl.String).alias("closed_by"))
    else:
        later = at_horizon.select("member_key", "measure", pl.col("gap_open").alias("gap_open_at_horizon"), pl.col("evidence_id").alias("closed_by"))
        labelled = base.join(later, on=["member_key", "measure"], how="left").with_columns(
            pl.when(pl.col("gap_open_at_horizon").is_null()).then(pl.lit(CENSORED))
            .when(pl.col("gap_open_at_horizon")).then(pl.lit(OPEN)).otherwise(pl.lit(CLOSED)).alias("label_status"),
            pl.when(pl.col("gap_open_at_horizon")).then(None).otherwise(pl.col("closed_by")).alias("closed_by"),
        )
    return labelled.select(list(LABEL_SCHEMA)).cast(LABEL_SCHEMA).sort("measure", "member_key")


def build_labels(silver: Silver, events: pl.LazyFrame, as_of: date, horizon_months: int, through: date) -> pl.DataFrame:
    """Labels at `as_of` straight from silver (the asset reads the same statuses from gold/measure_status)."""
    horizon = add_months(as_of, horizon_months)
    at_start = all_measure_status(snapshot(silver, events, as_of))
    at_horizon = all_measure_status(snapshot(silver, events, horizon)) if horizon <= through else None
    return outcomes(at_start, at_horizon, as_of, horizon)
