"""A deterministic synthetic health plan: members with hidden truths, and the five raw feeds they generate.

Each member carries `true_*` columns (latent engagement, chronic conditions, per-measure monthly propensities)
that drive every event, so behaviour depends on features a model can see (age, sex, line of business, region,
morbidity, past visits and screenings) and tests can compare a model with the best achievable signal. Rates are
calibrated per line of business to the published anchors in measures.md. Feeds come out as delivered: contract
columns as text plus lineage, one file per feed and arrival date, only what has arrived by the end date.
"""

from resources.feeds.synthetic.care import CLAIMS_VISIBLE
from resources.feeds.synthetic.categories import (
    ASCVD,
    COLONOSCOPY,
    COMMERCIAL,
    DIABETES,
    FIT,
    HYPERTENSION,
    MEDICAID,
    MEDICARE,
    STOOL_DNA,
)
from resources.feeds.synthetic.conditions import CONDITION_CORRELATION, PREVALENCE
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.courses import DRUGS
from resources.feeds.synthetic.delivery import TRIMMED_DECIMALS
from resources.feeds.synthetic.enrollment import DISENROLL_HAZARD, MAX_SPANS, PREVALENT_SHARE, REENROLL_SHARE
from resources.feeds.synthetic.feeds import BUILDERS, generate_feed
from resources.feeds.synthetic.medical_claims import ALLOWED_RATIO
from resources.feeds.synthetic.members import TRUTH_BY_MEASURE, canary_tokens, generate_members, true_propensities
from resources.feeds.synthetic.pharmacy import NINETY_DAY_SHARE
from resources.feeds.synthetic.population import FEMALE_SHARE, LOB_MIX
from resources.feeds.synthetic.propensities import (
    BREAST_LOOKBACK,
    BREAST_SCREENING_TARGET,
    COLORECTAL_LOOKBACK,
    COLORECTAL_MODALITY,
    COLORECTAL_TARGET,
    DEAD_MONTHS,
    HBA1C_LOOKBACK,
    HBA1C_TESTING_TARGET,
)
from resources.feeds.synthetic.window import EPOCH, FLU_PEAK, WINTER_PEAK

from resources.feeds.synthetic.care import _care
from resources.feeds.synthetic.medical_claims import _providers
from resources.feeds.synthetic.population import _population


def release_plans() -> None:
    """Drop every cached population and care history: the next call rebuilds them as a new process would. A run
    releases its plan when it ends, so later runs in the same process do not carry the whole plan's memory."""
    for cached in (_population, _care, _providers):
        cached.cache_clear()


__all__ = [
    "ALLOWED_RATIO", "ASCVD", "BREAST_LOOKBACK", "BREAST_SCREENING_TARGET", "BUILDERS", "CLAIMS_VISIBLE", "COLONOSCOPY",
    "COLORECTAL_LOOKBACK", "COLORECTAL_MODALITY", "COLORECTAL_TARGET", "COMMERCIAL", "CONDITION_CORRELATION", "DEAD_MONTHS",
    "DIABETES", "DISENROLL_HAZARD", "DRUGS", "EPOCH", "FEMALE_SHARE", "FIT", "FLU_PEAK", "HBA1C_LOOKBACK",
    "HBA1C_TESTING_TARGET", "HYPERTENSION", "LOB_MIX", "MAX_SPANS", "MEDICAID", "MEDICARE", "NINETY_DAY_SHARE",
    "PREVALENCE", "PREVALENT_SHARE", "REENROLL_SHARE", "STOOL_DNA", "TRIMMED_DECIMALS", "WINTER_PEAK",
    "TRUTH_BY_MEASURE", "SyntheticConfig", "canary_tokens", "generate_feed", "generate_members", "release_plans", "true_propensities",
]
