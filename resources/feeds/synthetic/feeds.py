"""The five raw feeds by name, each delivered as it stands at the end date."""

from __future__ import annotations

import polars as pl

from resources.feeds.contract import contract
from resources.feeds.synthetic.clinical import _clinical_records
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.delivery import _deliver
from resources.feeds.synthetic.eligibility import _eligibility
from resources.feeds.synthetic.labs import _lab_results
from resources.feeds.synthetic.medical_claims import _medical_claims
from resources.feeds.synthetic.pharmacy import _pharmacy_fills
from resources.feeds.synthetic.window import _epoch_day

BUILDERS = {
    "eligibility": _eligibility,
    "medical_claims": _medical_claims,
    "pharmacy_fills": _pharmacy_fills,
    "lab_results": _lab_results,
    "clinical_records": _clinical_records,
}


def generate_feed(cfg: SyntheticConfig, feed: str) -> pl.DataFrame:
    """One raw feed as delivered by the end date: contract columns as text plus `_source_file`, `_source_line`, `_arrival_date`."""
    contract(feed)
    return _deliver(feed, BUILDERS[feed](cfg), _epoch_day(cfg.end_date))
