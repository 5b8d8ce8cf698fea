"""The population: every member with demographics, plan, hidden truths and coverage, built once per config."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.synthetic.canaries import _canary_rows, _with_canaries
from resources.feeds.synthetic.categories import ASCVD, DIABETES, HYPERTENSION, MEDICAID
from resources.feeds.synthetic.conditions import _clinical_levels, _conditions
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.enrollment import _enrollment, _Enrollment
from resources.feeds.synthetic.identities import _identifiers, _npis
from resources.feeds.synthetic.propensities import _propensities
from resources.feeds.synthetic.sampling import _choose, _pick, _rng
from resources.feeds.synthetic.window import _calendar

# Population mix and female share per line of business (commercial, medicare, medicaid).
LOB_MIX = (0.55, 0.20, 0.25)
FEMALE_SHARE = np.array([0.50, 0.55, 0.58])


@dataclass(frozen=True)
class _Population:
    """Every member as arrays indexed by member row, plus the member frame."""

    frame: pl.DataFrame
    age: np.ndarray
    female: np.ndarray
    lob: np.ndarray
    region: np.ndarray
    conditions: np.ndarray     # (members, 3): diabetes, hypertension, ASCVD
    condition_dx: np.ndarray   # (members, 3): the member's ICD-10 code for each condition
    type1: np.ndarray
    mastectomy: np.ndarray
    colorectal_cancer: np.ndarray
    engagement: np.ndarray
    bmi: np.ndarray
    hba1c: np.ndarray
    systolic: np.ndarray
    diastolic: np.ndarray
    ldl: np.ndarray
    egfr: np.ndarray
    p_mammogram: np.ndarray
    p_colorectal: np.ndarray
    p_hba1c: np.ndarray
    p_statin_adherent: np.ndarray
    pcp_npi: np.ndarray
    ehr_connected: np.ndarray
    enrollment: _Enrollment

    @property
    def size(self) -> int:
        """Number of members."""
        return self.age.size

    @property
    def chronic(self) -> np.ndarray:
        """Number of chronic conditions per member."""
        return self.conditions.sum(axis=1)


def _ages(rng: np.random.Generator, lob: np.ndarray) -> np.ndarray:
    """Age at the end date: commercial working age, medicare mostly 65+, medicaid younger with some children."""
    n = lob.size
    commercial = np.where(rng.random(n) < 0.97, 18 + 47 * rng.beta(1.15, 1.25, n), 65 + 8 * rng.random(n))
    medicare = np.where(rng.random(n) < 0.88, 65 + np.minimum(rng.gamma(1.8, 6.0, n), 35), 25 + 40 * rng.random(n))
    medicaid = np.where(rng.random(n) < 0.15, 1 + 17 * rng.random(n), 18 + 47 * rng.beta(1.2, 2.2, n))
    return np.choose(lob, [commercial, medicare, medicaid])


def _plans(rng: np.random.Generator, lob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A benefit plan per member within their line of business, and whether it is an HMO."""
    plan_id, hmo = np.empty(lob.size, dtype=object), np.zeros(lob.size, dtype=bool)
    for k, line in enumerate(codes.LINES_OF_BUSINESS):
        members, options = np.flatnonzero(lob == k), codes.PLANS[line]
        pick = _pick(rng, tuple((p, w) for p, _, w in options), members.size)
        plan_id[members] = np.array([p for p, _, _ in options])[pick]
        hmo[members] = np.array([h for _, h, _ in options])[pick]
    return plan_id.astype(str), hmo


@lru_cache(maxsize=4)
def _population(cfg: SyntheticConfig) -> _Population:
    """Build every member once per config; feeds, truths and canaries all read this one population."""
    rng, cal, n = _rng(cfg, "members"), _calendar(cfg), cfg.members
    lob = rng.choice(3, n, p=LOB_MIX)
    female = rng.random(n) < FEMALE_SHARE[lob]
    age = _ages(rng, lob)
    birth_day = cal.end - np.floor(age * 365.25).astype(np.int64)
    weights = np.array([r.weight for r in codes.REGIONS])
    region = rng.choice(weights.size, n, p=weights / weights.sum())
    access = np.array([r.access for r in codes.REGIONS])[region]
    plan_id, hmo = _plans(rng, lob)
    bmi_z = rng.standard_normal(n)
    conditions = _conditions(rng, age, female, lob, bmi_z)
    chronic = conditions.sum(axis=1)
    engagement = rng.standard_normal(n) + 0.3 * access + 0.15 * (age - 50) / 15 - 0.3 * (lob == MEDICAID)
    mastectomy = female & (age >= 35) & (rng.random(n) < np.where(age >= 60, 0.02, 0.01))
    colorectal_cancer = (age >= 45) & (rng.random(n) < 0.006)
    truths = _propensities(rng, age, female, lob, hmo, access, chronic, engagement, conditions, mastectomy, colorectal_cancer)
    type1 = conditions[:, DIABETES] & (rng.random(n) < 0.07)
    type2_dx = tuple(c for c in codes.DIABETES_DX if c[0] not in codes.TYPE1_DIABETES_DX)
    diabetes_dx = np.where(type1, np.array(codes.TYPE1_DIABETES_DX)[rng.integers(0, 2, n)], _choose(rng, type2_dx, n))
    condition_dx = np.column_stack([diabetes_dx, _choose(rng, codes.HYPERTENSION_DX, n), _choose(rng, codes.ASCVD_DX, n)])
    levels = _clinical_levels(rng, age, lob, conditions, engagement, bmi_z)
    enrollment = _enrollment(rng, cfg, cal, lob, birth_day, age)
    pcp_pool = _npis(rng, max(20, n // 60))
    ehr_coverage = np.array([r.ehr_coverage for r in codes.REGIONS])[region]
    canary = _canary_rows(_rng(cfg, "canaries"), cfg, enrollment.covered, age, chronic)
    frame = _with_canaries(_identifiers(rng, n, female, region, cfg.id_prefix("M")), canary).select(
        "member_id", "first_name", "last_name",
        pl.Series("birth_date", birth_day).cast(pl.Date),
        pl.Series("sex", np.where(female, "F", "M")),
        "address_line", "zip", "phone",
        pl.Series("line_of_business", np.array(codes.LINES_OF_BUSINESS)[lob]),
        pl.Series("plan_id", plan_id),
        pl.Series("true_engagement", engagement),
        pl.Series("true_diabetes", conditions[:, DIABETES]),
        pl.Series("true_hypertension", conditions[:, HYPERTENSION]),
        pl.Series("true_ascvd", conditions[:, ASCVD]),
        pl.Series("true_bilateral_mastectomy", mastectomy),
        pl.Series("true_colorectal_cancer", colorectal_cancer),
        pl.Series("true_hba1c", np.round(levels["hba1c"], 2)),
        pl.Series("true_systolic", np.round(levels["systolic"], 1)),
        *[pl.Series(name, values) for name, values in truths.items()],
    )
    return _Population(
        frame=frame, age=age, female=female, lob=lob, region=region, conditions=conditions, condition_dx=condition_dx,
        type1=type1, mastectomy=mastectomy, colorectal_cancer=colorectal_cancer, engagement=engagement,
        bmi=np.where(age >= 18, np.exp(np.log(28.0) + 0.2 * bmi_z), np.exp(np.log(19.0) + 0.18 * bmi_z)), **levels,
        p_mammogram=truths["true_p_mammogram"], p_colorectal=truths["true_p_colorectal_screen"],
        p_hba1c=truths["true_p_hba1c_test"], p_statin_adherent=truths["true_p_statin_adherent"],
        pcp_npi=pcp_pool[rng.integers(0, pcp_pool.size, n)], ehr_connected=rng.random(n) < ehr_coverage, enrollment=enrollment,
    )
