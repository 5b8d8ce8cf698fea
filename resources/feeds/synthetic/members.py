"""The public views of the population: members, their hidden truths, and the planted canary tokens."""

from __future__ import annotations

import polars as pl

from resources.feeds.synthetic.blocks import BLOCK_MEMBERS, blocks
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.population import _population

# The truth behind each measure: the monthly propensity of the event that closes its gap (or of an on-time refill).
TRUTH_BY_MEASURE = {
    "breast_cancer_screening": "true_p_mammogram",
    "colorectal_cancer_screening": "true_p_colorectal_screen",
    "glycemic_status_testing": "true_p_hba1c_test",
    "statin_adherence": "true_p_statin_adherent",
}


def generate_members(cfg: SyntheticConfig, block_members: int = BLOCK_MEMBERS) -> pl.DataFrame:
    """One row per member of every block: direct identifiers, demographics, plan, and the hidden `true_*` columns."""
    return pl.concat([_population(block).frame for block in blocks(cfg, block_members)])


def true_propensities(cfg: SyntheticConfig, block_members: int = BLOCK_MEMBERS) -> pl.DataFrame:
    """The hidden truths per member: the best achievable signal for tests and model-quality checks.

    `true_p_mammogram`, `true_p_colorectal_screen` and `true_p_hba1c_test` are monthly probabilities of the event
    while enrolled (no mammogram or FIT within nine months of the last); `true_p_statin_adherent` is the chance each
    refill of a statin course comes on time rather than weeks late.
    """
    frames = [_population(block).frame for block in blocks(cfg, block_members)]
    return pl.concat([f.select("member_id", *[c for c in f.columns if c.startswith("true_")]) for f in frames])


def canary_tokens(cfg: SyntheticConfig, block_members: int = BLOCK_MEMBERS) -> list[str]:
    """Distinctive direct identifiers planted on a few members (of block 0), so leak tests can scan every output for them."""
    frame = _population(blocks(cfg, block_members)[0]).frame.filter(pl.col("last_name").str.starts_with("Zqxcanary"))
    return [*frame["last_name"], *frame["member_id"], *frame["phone"]]
