"""The pharmacy fills feed: refills of chronic courses and short acute courses."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.courses import DRUGS, _courses, _drug_indices
from resources.feeds.synthetic.delivery import _dates, _identifiers_in_order
from resources.feeds.synthetic.events import _draw
from resources.feeds.synthetic.population import _Population, _population
from resources.feeds.synthetic.sampling import _choose, _rng
from resources.feeds.synthetic.window import WINTER_PEAK, _Calendar, _calendar

NINETY_DAY_SHARE = np.array([0.35, 0.45, 0.10])  # 90-day fills, per line of business


def _refills(rng: np.random.Generator, cfg: SyntheticConfig, pop: _Population, cal: _Calendar) -> tuple[np.ndarray, ...]:
    """Refill sequences: on time with the course's adherence, else late by weeks; a few stop; only covered months are paid."""
    member, drug, adherence = _courses(rng, pop)
    c = member.size
    supply = np.where(rng.random(c) < NINETY_DAY_SHARE[pop.lob[member]], 90, 30)
    window = cal.end - cal.first[0] + 1
    prevalent = rng.random(c) < 0.8
    start = cal.first[0] + np.where(prevalent, np.floor(rng.random(c) * supply), np.floor(rng.random(c) * window)).astype(np.int64)
    slots = cfg.months + 3
    late = 1 + np.round(rng.exponential(30, (c, slots))).astype(np.int64)
    gap = np.where(rng.random((c, slots)) < adherence[:, None], rng.integers(-6, 4, (c, slots)), late)
    step = supply[:, None] + gap
    day = start[:, None] + np.c_[np.zeros(c, dtype=np.int64), np.cumsum(step, axis=1)[:, :-1]]
    stopped = np.cumsum(rng.random((c, slots)) < 0.006, axis=1) > 0
    month = np.clip(cal.month_of(day), 0, cal.first.size - 1)
    paid = (day <= cal.end) & ~stopped & pop.enrollment.covered[member[:, None], month]
    row, slot = np.nonzero(paid)
    return member[row], day[row, slot], drug[row], supply[row]


def _acute_fills(rng: np.random.Generator, pop: _Population, cal: _Calendar) -> tuple[np.ndarray, ...]:
    """Short courses (antibiotics, steroids, pain relief) at a few a year."""
    events = _draw(rng, np.full(pop.size, 0.05), pop, cal, cal.season(WINTER_PEAK), weekdays=False)
    n = events.member.size
    return events.member, events.day, _drug_indices(rng, codes.ACUTE, n), _choose(rng, codes.ACUTE_DAYS_SUPPLY, n)


def _pharmacy_fills(cfg: SyntheticConfig) -> pl.DataFrame:
    """Dispensings with NDC, drug and strength, days supply, quantity and paid amount; arrival 0-3 days after the fill."""
    rng, pop, cal = _rng(cfg, "pharmacy_fills"), _population(cfg), _calendar(cfg)
    parts = [_refills(rng, cfg, pop, cal), _acute_fills(rng, pop, cal)]
    member, day, drug, supply = (np.concatenate(columns) for columns in zip(*parts))
    order = np.lexsort((drug, member, day))
    member, day, drug, supply = member[order], day[order], drug[order], supply[order]
    table = pl.DataFrame(DRUGS, orient="row").with_columns(pl.col("strength_mg").cast(pl.Float64))[drug]
    quantity = np.round(table["units_per_day"].to_numpy() * supply)
    paid = quantity * table["unit_cost"].to_numpy() * rng.uniform(0.9, 1.1, day.size) + 1.75
    return pl.DataFrame({
        "fill_id": _identifiers_in_order(rng, day, cfg.id_prefix("RX"), 10),
        "member_id": pop.frame["member_id"].gather(member),
        "fill_date": _dates(day),
        "ndc": table["ndc"],
        "drug_name": table["name"],
        "therapeutic_class": table["therapeutic_class"],
        "strength_mg": table["strength_mg"],
        "days_supply": supply.astype(np.int64),
        "quantity": quantity,
        "paid_amount": np.round(paid, 2),
        "arrival": day + rng.integers(0, 4, day.size),
    })
