"""Point in time: the single rule for what the workbench could see at an as-of date.

A silver row is visible at T when its service date and its arrival date are both on or before T, and
no later version of it had arrived by T. Features, measure status, labels, scoring and notebooks all
filter through `visible`, so no code path can see a record before it arrived.
"""

from calendar import monthrange
from datetime import date

import polars as pl

from checks.schemas import VALID_TO
from resources.feeds.contract import ARRIVAL_DATE


def visible(rows: pl.LazyFrame, as_of: date, service_date: str | None) -> pl.LazyFrame:
    """Rows that had happened and arrived by `as_of`, in the version current at `as_of`."""
    seen = (pl.col(ARRIVAL_DATE) <= as_of) & (pl.col(VALID_TO).is_null() | (pl.col(VALID_TO) > as_of))
    if service_date is not None:
        seen = seen & (pl.col(service_date) <= as_of)
    return rows.filter(seen)


def month_end(month_key: str) -> date:
    """The as-of date of a monthly partition `YYYY-MM-01`: the last day of that month."""
    start = date.fromisoformat(month_key)
    return start.replace(day=monthrange(start.year, start.month)[1])


def add_months(day: date, months: int) -> date:
    """The same day `months` later; a month's last day maps to the target month's last day (as-of dates are month ends)."""
    year, month = divmod(day.year * 12 + day.month - 1 + months, 12)
    length = monthrange(year, month + 1)[1]
    at_month_end = day.day == monthrange(day.year, day.month)[1]
    return date(year, month + 1, length if at_month_end else min(day.day, length))
