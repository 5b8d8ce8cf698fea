"""Care events per member and day, drawn per enrolled month at a rate or as a renewal process."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from resources.feeds.synthetic.population import _Population
from resources.feeds.synthetic.propensities import DEAD_MONTHS
from resources.feeds.synthetic.window import _Calendar, _weekday


@dataclass(frozen=True)
class _Events:
    """Events as parallel arrays of member index and epoch day."""

    member: np.ndarray
    day: np.ndarray

    def take(self, mask: np.ndarray) -> _Events:
        """The events where `mask` holds."""
        return _Events(self.member[mask], self.day[mask])


def _draw(rng: np.random.Generator, rate: np.ndarray, pop: _Population, cal: _Calendar, season: np.ndarray | None = None,
          bernoulli: bool = False, weekdays: bool = True) -> _Events:
    """Events per enrolled member-month at a monthly rate (Poisson counts, or at most one if `bernoulli`)."""
    who = np.flatnonzero(rate > 0)
    expected = rate[who, None] * pop.enrollment.covered[who] * (1.0 if season is None else season[None, :])
    counts = (rng.random(expected.shape) < expected).astype(np.int64) if bernoulli else rng.poisson(expected)
    row, month = np.nonzero(counts)
    reps = counts[row, month]
    return _in_month(rng, np.repeat(who[row], reps), np.repeat(month, reps), cal, weekdays)


def _in_month(rng: np.random.Generator, member: np.ndarray, month: np.ndarray, cal: _Calendar, weekdays: bool = True) -> _Events:
    """A uniformly drawn day (a weekday if asked) within each event's window month, sorted by member and day."""
    span = cal.last[month] - cal.first[month] + 1
    day = cal.first[month] + np.floor(rng.random(month.size) * span).astype(np.int64)
    if weekdays:
        day = _weekday(day, cal.last[month])
    order = np.lexsort((day, member))
    return _Events(member[order], day[order])


def _renewal(rng: np.random.Generator, p: np.ndarray, pop: _Population, cal: _Calendar) -> _Events:
    """Monthly events at rate `p` with DEAD_MONTHS after each, started in the steady state; only covered months are seen."""
    who = np.flatnonzero(p > 0)
    q, n, months = p[who], who.size, cal.first.size
    slots = months // (DEAD_MONTHS + 1) + 2
    blocked = rng.random(n) < q * DEAD_MONTHS / (1 + q * DEAD_MONTHS)
    first = np.where(blocked, rng.integers(1, DEAD_MONTHS + 1, n), 0) + rng.geometric(q) - 1
    gaps = DEAD_MONTHS + rng.geometric(q[:, None], (n, slots - 1))
    month = first[:, None] + np.c_[np.zeros(n, dtype=np.int64), np.cumsum(gaps, axis=1)]
    seen = month < months
    seen[seen] = pop.enrollment.covered[np.broadcast_to(who[:, None], month.shape)[seen], month[seen]]
    row, slot = np.nonzero(seen)
    return _in_month(rng, who[row], month[row, slot], cal)


def _spaced(events: _Events, among: np.ndarray) -> np.ndarray:
    """Events more than DEAD_MONTHS after the member's previous drawn event of those flagged `among`."""
    member, day = events.member[among], events.day[among]
    same = np.r_[False, member[1:] == member[:-1]]
    keep = np.ones(events.member.size, dtype=bool)
    keep[among] = ~same | (np.r_[np.inf, np.diff(day)] > DEAD_MONTHS * 30.4)
    return keep
