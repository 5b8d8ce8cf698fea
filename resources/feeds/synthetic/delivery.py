"""Delivery: typed frames to raw text with lineage, and the dates and record ids senders write."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE, contract

TRIMMED_DECIMALS = ("strength_mg", "quantity")


def _fixed(value: pl.Expr, places: int) -> pl.Expr:
    """Decimal text with exactly `places` digits after the point, as senders write amounts."""
    scaled = (value * 10**places).round(0).cast(pl.Int64)
    if places == 0:
        return scaled.cast(pl.String)
    return (scaled // 10**places).cast(pl.String) + "." + (scaled % 10**places).cast(pl.String).str.zfill(places)


def _as_text(frame: pl.DataFrame, name: str) -> pl.Expr:
    """One typed column as delivered text: ISO dates, plain integers, decimals with cents, empty as null."""
    dtype = frame.schema[name]
    if dtype == pl.Float64:
        text = _fixed(pl.col(name), 2)
        text = text.str.strip_chars_end("0").str.strip_chars_end(".") if name in TRIMMED_DECIMALS else text
    else:
        text = pl.col(name).cast(pl.String)
    return pl.when(text != "").then(text).alias(name)


def _deliver(feed: str, typed: pl.DataFrame, end: int) -> pl.DataFrame:
    """The feed as delivered by the end date: contract columns as text, one file per arrival date, data from line 2."""
    spec = contract(feed)
    arrived = typed.filter(pl.col("arrival") <= end).sort("arrival", maintain_order=True)
    return arrived.select(
        *[_as_text(arrived, c) for c in spec.column_names],
        (pl.lit(f"{feed}_") + pl.col("arrival").cast(pl.Date).cast(pl.String) + pl.lit(".csv")).alias(SOURCE_FILE),
        (pl.int_range(pl.len(), dtype=pl.Int64).over("arrival") + 2).alias(SOURCE_LINE),
        pl.col("arrival").cast(pl.Date).alias(ARRIVAL_DATE),
    )


def _dates(days: np.ndarray) -> pl.Series:
    """Epoch days as a Date series."""
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _identifiers_in_order(rng: np.random.Generator, order_day: np.ndarray, prefix: str, digits: int) -> pl.Series:
    """Record ids that increase with the processing date, as a sender's sequence does."""
    order = np.lexsort((np.arange(order_day.size), order_day))
    numbers = np.empty(order_day.size, dtype=np.int64)
    numbers[order] = 10 ** (digits - 1) + np.cumsum(rng.integers(1, 10, order_day.size))
    return prefix + pl.Series(numbers).cast(pl.String)
