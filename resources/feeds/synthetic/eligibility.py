"""The eligibility feed: span records as coverage opens and closes."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds.contract import contract
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.delivery import _dates
from resources.feeds.synthetic.population import _population
from resources.feeds.synthetic.window import _calendar


def _eligibility(cfg: SyntheticConfig) -> pl.DataFrame:
    """Span records: one when a span opens (or at the window start), another with coverage_end when it closes."""
    pop, cal = _population(cfg), _calendar(cfg)
    spans = pop.enrollment
    start_day = cal.first_day(spans.start)
    end_day = cal.first_day(spans.end + 1) - 1
    opened = pl.DataFrame({"span": np.arange(spans.member.size), "coverage_end": None, "arrival": cal.first_day(np.maximum(spans.start, 0))},
                          schema={"span": pl.Int64, "coverage_end": pl.Int64, "arrival": pl.Int64})
    closed_idx = np.flatnonzero(spans.closed)
    closed = pl.DataFrame({"span": closed_idx, "coverage_end": end_day[closed_idx], "arrival": end_day[closed_idx] + 1},
                          schema={"span": pl.Int64, "coverage_end": pl.Int64, "arrival": pl.Int64})
    records = pl.concat([opened, closed]).sort("arrival", "span")
    span = records["span"].to_numpy()
    members = pop.frame.select(contract("eligibility").column_names[:10])[spans.member[span]]
    return members.with_columns(
        _dates(start_day[span]).alias("coverage_start"),
        records["coverage_end"].cast(pl.Int32).cast(pl.Date).alias("coverage_end"),
        records["arrival"].alias("arrival"),
    )
