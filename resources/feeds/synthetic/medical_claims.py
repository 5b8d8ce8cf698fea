"""The medical claims feed: every kind of claim line, adjudicated and paid after a lag."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.synthetic.care import _care
from resources.feeds.synthetic.claim_lines import (
    _colorectal_claims,
    _emergency_claims,
    _inpatient_claims,
    _lab_claims,
    _mammogram_claims,
    _office_claims,
)
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.delivery import _dates, _identifiers_in_order
from resources.feeds.synthetic.identities import _npis
from resources.feeds.synthetic.population import _population
from resources.feeds.synthetic.sampling import _rng
from resources.feeds.synthetic.window import _business_day

ALLOWED_RATIO = np.array([0.55, 0.35, 0.25])  # allowed over billed, per line of business


@lru_cache(maxsize=4)
def _providers(cfg: SyntheticConfig) -> dict[str, np.ndarray]:
    """NPI pools per kind of rendering provider."""
    rng = _rng(cfg, "providers")
    size = max(10, cfg.members // 500)
    return {kind: _npis(rng, size) for kind in ("emergency", "hospitalist", "radiology", "gastroenterology", "lab")}


def _medical_claims(cfg: SyntheticConfig) -> pl.DataFrame:
    """Claim lines of every kind, paid after an adjudication lag (typically 2-6 weeks, long tail); arrival = paid date."""
    rng, pop, care, providers = _rng(cfg, "medical_claims"), _population(cfg), _care(cfg), _providers(cfg)
    parts = [
        _office_claims(rng, pop, care.office, virtual=False),
        _office_claims(rng, pop, care.telehealth, virtual=True),
        _emergency_claims(rng, pop, care.emergency, providers["emergency"]),
        _inpatient_claims(rng, pop, care.inpatient, providers["hospitalist"]),
        _mammogram_claims(rng, care.mammogram, providers["radiology"]),
        _colorectal_claims(rng, care, providers),
        _lab_claims(rng, pop, care, providers["lab"]),
    ]
    offsets = np.cumsum([0] + [p["claim"].max() + 1 if p.height else 0 for p in parts])
    lines = pl.concat([p.with_columns(pl.col("claim") + int(o)) for p, o in zip(parts, offsets)])
    claim, service, member = (lines[c].to_numpy() for c in ("claim", "service_day", "member"))
    starts = np.flatnonzero(np.r_[True, claim[1:] != claim[:-1]])
    claims = starts.size
    appealed = np.where(rng.random(claims) < 0.03, rng.integers(45, 200, claims), 0)
    lag = 7 + np.round(rng.lognormal(np.log(17), 0.45, claims)).astype(np.int64) + appealed
    paid = _business_day(np.maximum.reduceat(service, starts) + lag)
    claim_ids = _identifiers_in_order(rng, paid, cfg.id_prefix("C"), 11)
    per_line = np.repeat(np.arange(claims), np.diff(np.r_[starts, claim.size]))
    billed = lines["procedure_code"].replace_strict(codes.BILLED_CHARGE, default=100, return_dtype=pl.Float64).to_numpy()
    billed = billed * rng.lognormal(0.0, 0.2, billed.size)
    allowed = billed * ALLOWED_RATIO[pop.lob[member]] * rng.uniform(0.88, 1.0, billed.size)
    return lines.select(
        claim_ids.gather(per_line).alias("claim_id"),
        "claim_line",
        pop.frame["member_id"].gather(member),
        _dates(service).alias("service_date"),
        _dates(paid[per_line]).alias("paid_date"),
        "place_of_service",
        pl.col("npi").cast(pl.String).alias("provider_npi"),
        "diagnosis_code_1",
        "diagnosis_code_2",
        "procedure_code",
        pl.Series("billed_amount", np.round(billed, 2)),
        pl.Series("paid_amount", np.where(rng.random(billed.size) < 0.015, 0.0, np.round(allowed, 2))),
        pl.Series("arrival", paid[per_line]),
    )
