"""Coverage spans per member: churn, re-enrolment after gaps, and the months covered in the window."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from resources.feeds.synthetic.categories import MEDICARE
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.window import _Calendar, _epoch_day

# Monthly disenrollment hazard and the share who come back after a gap, per line of business.
DISENROLL_HAZARD = np.array([0.015, 0.008, 0.030])
REENROLL_SHARE = np.array([0.20, 0.15, 0.50])
PREVALENT_SHARE = 0.72
MAX_SPANS = 3


@dataclass(frozen=True)
class _Enrollment:
    """Coverage spans, one row per span, and the resulting covered months per member."""

    member: np.ndarray
    start: np.ndarray      # window month of coverage start (negative: before the window)
    end: np.ndarray        # window month of the last covered month
    closed: np.ndarray     # False while the span is open at the end date
    covered: np.ndarray    # (members, months) enrolled in each window month


def _enrollment(rng: np.random.Generator, cfg: SyntheticConfig, cal: _Calendar, lob: np.ndarray, birth_day: np.ndarray,
                age: np.ndarray) -> _Enrollment:
    """Coverage spans with churn (most in medicaid), re-enrolment after gaps, medicare starting at 65."""
    n, last = lob.size, cfg.months
    start = np.where(rng.random(n) < PREVALENT_SHARE, -rng.geometric(1 / 60, n), rng.integers(0, last + 1, n))
    floor = np.maximum(cal.month_of(birth_day) + 1, cal.month_of(np.array([_epoch_day(date(2000, 1, 1))])))
    aged_in = (lob == MEDICARE) & (age >= 65)
    floor = np.where(aged_in, cal.month_of(birth_day + np.int64(65 * 365.25)), floor)
    start = np.minimum(np.maximum(start, floor), last)
    spans: list[tuple[np.ndarray, ...]] = []
    active = np.ones(n, dtype=bool)
    for _ in range(MAX_SPANS):
        end = np.maximum(start, 0) + rng.geometric(DISENROLL_HAZARD[lob]) - 1
        closed = end < last
        spans.append((np.flatnonzero(active), start[active], np.minimum(end, last)[active], closed[active]))
        active &= closed & (rng.random(n) < REENROLL_SHARE[lob])
        start = end + 1 + rng.geometric(1 / 3, n)
        active &= start <= last
    member, s, e, c = (np.concatenate(parts) for parts in zip(*spans))
    change = np.zeros((n, last + 2), dtype=np.int8)
    np.add.at(change, (member, np.maximum(s, 0)), 1)
    np.add.at(change, (member, e + 1), -1)
    covered = np.cumsum(change, axis=1)[:, : last + 1] > 0
    return _Enrollment(member, s, e, c, covered)
