"""Care-gap labels: for each member with an open gap at T, is the gap still open at T + horizon?

The outcome is computed only from data that had arrived by T + horizon (the same visibility rule, moved
forward); a label whose horizon lies beyond the data we have is marked immature, never guessed.
"""

from datetime import date

import polars as pl

from assets.events import Silver
from assets.measures.evaluate import all_measure_status, snapshot
from assets.pit import add_months

IMMATURE, OPEN, CLOSED, CENSORED = "immature", "open", "closed", "censored"
LABEL_SCHEMA = {
    "member_key": pl.String, "as_of": pl.Date, "measure": pl.String, "horizon_date": pl.Date,
    "label_status": pl.String, "gap_open_at_horizon": pl.Boolean, "closed_by": pl.String,
}


def data_through(silver: Silver) -> date:
    """The last day every feed has delivered through: labels reaching past it are immature."""
    latest = [frame.select(pl.col("_arrival_date").max()).collect().item() for frame in vars(silver).values()]
    return min(d for d in latest if d is not None)


def build_labels(silver: Silver, events: pl.LazyFrame, as_of: date, horizon_months: int, through: date) -> pl.DataFrame:
    """One row per (member, measure) with an open gap at `as_of`: open, closed, censored or immature at the horizon."""
    horizon = add_months(as_of, horizon_months)
    at_start = all_measure_status(snapshot(silver, events, as_of)).filter(pl.col("gap_open").fill_null(False))
    base = at_start.select("member_key", "measure", pl.lit(as_of).alias("as_of"), pl.lit(horizon).alias("horizon_date"))
    if horizon > through:
        labelled = base.with_columns(pl.lit(IMMATURE).alias("label_status"), pl.lit(None, pl.Boolean).alias("gap_open_at_horizon"),
                                     pl.lit(None, pl.String).alias("closed_by"))
    else:
        later = all_measure_status(snapshot(silver, events, horizon)).select(
            "member_key", "measure", pl.col("gap_open").alias("gap_open_at_horizon"), pl.col("evidence_id").alias("closed_by"))
        labelled = base.join(later, on=["member_key", "measure"], how="left").with_columns(
            pl.when(pl.col("gap_open_at_horizon").is_null()).then(pl.lit(CENSORED))
            .when(pl.col("gap_open_at_horizon")).then(pl.lit(OPEN)).otherwise(pl.lit(CLOSED)).alias("label_status"),
            pl.when(pl.col("gap_open_at_horizon")).then(None).otherwise(pl.col("closed_by")).alias("closed_by"),
        )
    return labelled.select(list(LABEL_SCHEMA)).cast(LABEL_SCHEMA).sort("measure", "member_key")
