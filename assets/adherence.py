"""Proportion of days covered (PDC): the adherence arithmetic shared by the statin measure and the features.

Overlapping fills of the same class carry forward (an early refill is stockpiled, as HEDIS counts it):
a fill starts when the previous supply runs out. With cumulative supply S, the shifted end of fill i is
S_i + max_{j<=i}(start_j - S_{j-1}), which is vectorised with a cumulative sum and a cumulative max.
"""

from datetime import date

import polars as pl

EPOCH = date(1970, 1, 1)


def _day(column: str | pl.Expr) -> pl.Expr:
    expr = pl.col(column) if isinstance(column, str) else column
    return (expr - pl.lit(EPOCH)).dt.total_days()


def shifted_supply(fills: pl.LazyFrame, by: list[str]) -> pl.LazyFrame:
    """Each fill's covered interval [start, end) in epoch days after carrying overlaps forward."""
    ordered = fills.sort([*by, "fill_date"]).with_columns(_day("fill_date").alias("_start"), pl.col("days_supply").cum_sum().over(by).alias("_supply_to"))
    offset = (pl.col("_start") - (pl.col("_supply_to") - pl.col("days_supply"))).cum_max().over(by)
    return ordered.with_columns((pl.col("_supply_to") + offset).alias("covered_to")).with_columns(
        (pl.col("covered_to") - pl.col("days_supply")).alias("covered_from")
    )


def proportion_of_days_covered(fills: pl.LazyFrame, by: list[str], window_start: pl.Expr, window_end: date) -> pl.LazyFrame:
    """PDC per group over [window_start, window_end] (inclusive; window_start may differ per group)."""
    end = _day(pl.lit(window_end)) + 1
    start = _day(window_start)
    covered = (pl.min_horizontal(pl.col("covered_to"), end) - pl.max_horizontal(pl.col("covered_from"), start)).clip(lower_bound=0)
    return shifted_supply(fills, by).group_by(by).agg((covered.sum() / (end - start).first()).clip(upper_bound=1.0).alias("pdc"))
