"""The months of the window as epoch days, their seasons, and the weekday rules offices and payers follow."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from resources.feeds.synthetic.config import SyntheticConfig

EPOCH = date(1970, 1, 1)
WINTER_PEAK, FLU_PEAK = 0.15, 0.30


def _epoch_day(d: date) -> int:
    """Days since 1970-01-01."""
    return (d - EPOCH).days


def _weekday(day: np.ndarray, month_last: np.ndarray) -> np.ndarray:
    """Move weekend days to Monday (or back to Friday at a month's end): offices and payers work weekdays."""
    dow = (day + 3) % 7
    forward = np.where(dow == 5, 2, np.where(dow == 6, 1, 0))
    backward = np.where(dow == 5, -1, np.where(dow == 6, -2, 0))
    return np.where(day + forward <= month_last, day + forward, day + backward)


def _monday_after(day: np.ndarray) -> np.ndarray:
    """The first Monday strictly after each day (1970-01-01 was a Thursday)."""
    return day + 7 - (day + 3) % 7


def _business_day(day: np.ndarray) -> np.ndarray:
    """Weekend days moved to the following Monday: payers release payments on weekdays."""
    return day + np.select([(day + 3) % 7 == 5, (day + 3) % 7 == 6], [2, 1], 0)


@dataclass(frozen=True)
class _Calendar:
    """The months of the window as epoch days; month indices may run negative (before the window)."""

    base: np.datetime64
    first: np.ndarray
    last: np.ndarray
    month_of_year: np.ndarray
    end: int

    def first_day(self, month: np.ndarray) -> np.ndarray:
        """First epoch day of each window month."""
        return (self.base + month).astype("datetime64[D]").astype(np.int64)

    def month_of(self, day: np.ndarray) -> np.ndarray:
        """Window month of each epoch day."""
        return (day.astype("datetime64[D]").astype("datetime64[M]") - self.base).astype(np.int64)

    def season(self, amplitude: float) -> np.ndarray:
        """Winter-peaked multiplier per window month."""
        return 1.0 + amplitude * np.cos(2 * np.pi * (self.month_of_year - 1) / 12)


def _calendar(cfg: SyntheticConfig) -> _Calendar:
    """The calendar of the config's window; the last month ends at the end date."""
    base = np.datetime64(cfg.start_date, "M")
    months = np.arange(base, np.datetime64(cfg.end_date, "M") + 1)
    end = _epoch_day(cfg.end_date)
    first = months.astype("datetime64[D]").astype(np.int64)
    last = np.minimum((months + 1).astype("datetime64[D]").astype(np.int64) - 1, end)
    return _Calendar(base, first, last, months.astype(np.int64) % 12 + 1, end)
