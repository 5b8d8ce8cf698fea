"""A deterministic synthetic health plan: members with hidden truths, and the five raw feeds they generate.

Each member carries `true_*` columns (latent engagement, chronic conditions, per-measure monthly propensities)
that drive every event, so behaviour depends on features a model can see (age, sex, line of business, region,
morbidity, past visits and screenings) and tests can compare a model with the best achievable signal. Rates are
calibrated per line of business to the published anchors in measures.md. Feeds come out as delivered: contract
columns as text plus lineage, one file per feed and arrival date, only what has arrived by the end date.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE, contract

EPOCH = date(1970, 1, 1)
COMMERCIAL, MEDICARE, MEDICAID = range(3)
DIABETES, HYPERTENSION, ASCVD = range(3)

# Population mix and adult prevalence per line of business (commercial, medicare, medicaid).
LOB_MIX = (0.55, 0.20, 0.25)
FEMALE_SHARE = np.array([0.50, 0.55, 0.58])
PREVALENCE = ((0.11, 0.26, 0.12), (0.27, 0.62, 0.28), (0.03, 0.19, 0.045))
CONDITION_CORRELATION = 0.25

# Published anchors (measures.md) the propensities are calibrated to, per line of business.
BREAST_SCREENING_TARGET = (0.73, 0.71, 0.52)
COLORECTAL_TARGET = (0.60, 0.70, 0.48)
HBA1C_TESTING_TARGET = (0.90, 0.92, 0.85)
BREAST_LOOKBACK, COLORECTAL_LOOKBACK, HBA1C_LOOKBACK = 27, 36, 12
COLORECTAL_MODALITY = (0.62, 0.30, 0.08)  # colonoscopy, FIT, stool DNA
COLONOSCOPY, FIT, STOOL_DNA = range(3)
DEAD_MONTHS = 9  # after a mammogram or FIT, about nine months pass before the next

# Enrollment churn: monthly disenrollment hazard and the share who come back after a gap.
DISENROLL_HAZARD = np.array([0.015, 0.008, 0.030])
REENROLL_SHARE = np.array([0.20, 0.15, 0.50])
PREVALENT_SHARE = 0.72
MAX_SPANS = 3

# Utilisation and claims economics.
ALLOWED_RATIO = np.array([0.55, 0.35, 0.25])
NINETY_DAY_SHARE = np.array([0.35, 0.45, 0.10])
CLAIMS_VISIBLE = 0.93
WINTER_PEAK, FLU_PEAK = 0.15, 0.30


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    """What to generate: population size, months of service history before the end date, and the seed."""

    end_date: date
    seed: int = 7
    members: int = 50_000
    months: int = 36
    canaries: int = 3

    def __post_init__(self) -> None:
        if self.members < max(100, 10 * self.canaries):
            raise ValueError(f"members must be at least {max(100, 10 * self.canaries)}, got {self.members}")
        if self.months < 1:
            raise ValueError(f"months must be at least 1, got {self.months}")

    @property
    def start_date(self) -> date:
        """First day of the window: the first of the month `months` months before the end date's month."""
        year, month = divmod(self.end_date.year * 12 + self.end_date.month - 1 - self.months, 12)
        return date(year, month + 1, 1)


# --- small helpers ---------------------------------------------------------------------------------------
def _rng(cfg: SyntheticConfig, stream: str) -> np.random.Generator:
    """An independent reproducible stream per purpose, so no feed depends on which others were generated."""
    return np.random.default_rng(np.random.SeedSequence([cfg.seed, zlib.crc32(stream.encode())]))


def _epoch_day(d: date) -> int:
    return (d - EPOCH).days


def _pick(rng: np.random.Generator, weighted: tuple, size: int) -> np.ndarray:
    """Indices into a (value, weight) list, drawn by weight."""
    weights = np.array([w for _, w in weighted], dtype=float)
    return rng.choice(len(weighted), size, p=weights / weights.sum())


def _values(weighted: tuple) -> np.ndarray:
    return np.array([v for v, _ in weighted])


def _choose(rng: np.random.Generator, weighted: tuple, size: int) -> np.ndarray:
    """Values from a (value, weight) list, drawn by weight."""
    return _values(weighted)[_pick(rng, weighted, size)]


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


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


# --- the window --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Calendar:
    """The months of the window as epoch days; month indices may run negative (before the window)."""

    base: np.datetime64
    first: np.ndarray
    last: np.ndarray
    month_of_year: np.ndarray
    end: int

    def first_day(self, month: np.ndarray) -> np.ndarray:
        return (self.base + month).astype("datetime64[D]").astype(np.int64)

    def month_of(self, day: np.ndarray) -> np.ndarray:
        return (day.astype("datetime64[D]").astype("datetime64[M]") - self.base).astype(np.int64)

    def season(self, amplitude: float) -> np.ndarray:
        """Winter-peaked multiplier per window month."""
        return 1.0 + amplitude * np.cos(2 * np.pi * (self.month_of_year - 1) / 12)


def _calendar(cfg: SyntheticConfig) -> _Calendar:
    base = np.datetime64(cfg.start_date, "M")
    months = np.arange(base, np.datetime64(cfg.end_date, "M") + 1)
    end = _epoch_day(cfg.end_date)
    first = months.astype("datetime64[D]").astype(np.int64)
    last = np.minimum((months + 1).astype("datetime64[D]").astype(np.int64) - 1, end)
    return _Calendar(base, first, last, months.astype(np.int64) % 12 + 1, end)


# --- the population --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Enrollment:
    member: np.ndarray
    start: np.ndarray      # window month of coverage start (negative: before the window)
    end: np.ndarray        # window month of the last covered month
    closed: np.ndarray     # False while the span is open at the end date
    covered: np.ndarray    # (members, months) enrolled in each window month


@dataclass(frozen=True)
class _Population:
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
        return self.age.size

    @property
    def chronic(self) -> np.ndarray:
        return self.conditions.sum(axis=1)


def _ages(rng: np.random.Generator, lob: np.ndarray) -> np.ndarray:
    """Age at the end date: commercial working age, medicare mostly 65+, medicaid younger with some children."""
    n = lob.size
    commercial = np.where(rng.random(n) < 0.97, 18 + 47 * rng.beta(1.15, 1.25, n), 65 + 8 * rng.random(n))
    medicare = np.where(rng.random(n) < 0.88, 65 + np.minimum(rng.gamma(1.8, 6.0, n), 35), 25 + 40 * rng.random(n))
    medicaid = np.where(rng.random(n) < 0.15, 1 + 17 * rng.random(n), 18 + 47 * rng.beta(1.2, 2.2, n))
    return np.choose(lob, [commercial, medicare, medicaid])


def _top_share(liability: np.ndarray, lob: np.ndarray, adult: np.ndarray, shares: tuple[float, ...]) -> np.ndarray:
    """Flag the adults with the highest liability, so each line's adult prevalence equals its target."""
    flagged = np.zeros(liability.size, dtype=bool)
    for k, share in enumerate(shares):
        group = adult & (lob == k)
        if group.any():
            flagged |= group & (liability > np.quantile(liability[group], 1 - share))
    return flagged


def _conditions(rng: np.random.Generator, age: np.ndarray, female: np.ndarray, lob: np.ndarray, bmi_z: np.ndarray) -> np.ndarray:
    """Diabetes, hypertension and ASCVD: rising with age and weight, correlated with each other."""
    corr = np.full((3, 3), CONDITION_CORRELATION) + (1 - CONDITION_CORRELATION) * np.eye(3)
    noise = rng.standard_normal((age.size, 3)) @ np.linalg.cholesky(corr).T
    adult, a, male = age >= 18, (age - 50) / 15, (~female).astype(float)
    diabetes = _top_share(1.0 * a + 0.6 * bmi_z + noise[:, 0], lob, adult, PREVALENCE[DIABETES])
    hypertension = _top_share(1.2 * a + 0.5 * bmi_z + 0.15 * male + 0.15 * diabetes + noise[:, 1], lob, adult, PREVALENCE[HYPERTENSION])
    ascvd = _top_share(1.3 * a + 0.5 * male + 0.4 * diabetes + 0.4 * hypertension + noise[:, 2], lob, adult, PREVALENCE[ASCVD])
    return np.column_stack([diabetes, hypertension, ascvd])


def _calibrated(score: np.ndarray, eligible: np.ndarray, lob: np.ndarray, targets: tuple[float, ...], rate) -> np.ndarray:
    """Shift each line's scores so the expected measure rate over its eligible members equals the published target."""
    shift = np.zeros(3)
    for k, target in enumerate(targets):
        group = score[eligible & (lob == k)]
        lo, hi = -15.0, 15.0
        for _ in range(40 if group.size else 0):
            mid = (lo + hi) / 2
            lo, hi = (mid, hi) if rate(group + mid).mean() < target else (lo, mid)
        shift[k] = (lo + hi) / 2
    return score + shift[lob]


def _monthly(period_probability: np.ndarray, months: int) -> np.ndarray:
    """The per-month probability that gives `period_probability` of at least one event in `months` months."""
    return 1 - (1 - period_probability) ** (1 / months)


def _screened_despite_spacing(score: np.ndarray) -> np.ndarray:
    """Chance of a mammogram in the lookback when each is followed by DEAD_MONTHS without one (stationary renewal)."""
    p = _monthly(_sigmoid(score), BREAST_LOOKBACK)
    return 1 - (1 - p) ** (BREAST_LOOKBACK - DEAD_MONTHS) / (1 + p * DEAD_MONTHS)


def _colorectal_up_to_date(score: np.ndarray) -> np.ndarray:
    """Chance of being up to date after the lookback: colonoscopy or sDNA any time, FIT in the last 12 months."""
    p = _monthly(_sigmoid(score), COLORECTAL_LOOKBACK)
    fit = COLORECTAL_MODALITY[FIT]
    return 1 - (1 - (1 - fit) * p) ** COLORECTAL_LOOKBACK * (1 - fit * p) ** 12


def _propensities(rng: np.random.Generator, age: np.ndarray, female: np.ndarray, lob: np.ndarray, hmo: np.ndarray,
                  access: np.ndarray, chronic: np.ndarray, engagement: np.ndarray, conditions: np.ndarray,
                  mastectomy: np.ndarray, colorectal_cancer: np.ndarray) -> dict[str, np.ndarray]:
    """Per-member monthly propensities from engagement, access, plan type, morbidity and age, calibrated per line."""
    n = age.size
    common = 0.9 * engagement + 0.35 * access + 0.2 * hmo + 0.15 * chronic
    noise = 0.6 * rng.standard_normal((n, 4))
    mammo_age = np.select([age < 50, age > 74], [-0.7, -1.0], 0.0)
    mammo_eligible = female & (age >= 40) & ~mastectomy
    mammo = _calibrated(common + mammo_age + noise[:, 0], female & (age >= 52) & (age <= 74) & ~mastectomy, lob,
                        BREAST_SCREENING_TARGET, _screened_despite_spacing)
    crc_age = np.select([age < 50, age > 75], [-0.6, -0.8], 0.0)
    crc_eligible = (age >= 45) & (age <= 85) & ~colorectal_cancer
    crc = _calibrated(common + crc_age + noise[:, 1], (age >= 46) & (age <= 75) & ~colorectal_cancer, lob,
                      COLORECTAL_TARGET, _colorectal_up_to_date)
    diabetic = conditions[:, DIABETES]
    a1c = _calibrated(common + noise[:, 2], diabetic, lob, HBA1C_TESTING_TARGET, _sigmoid)
    statin = 1.0 + 0.8 * engagement + 0.25 * (age - 50) / 15 + np.array([0.0, 0.25, 0.15])[lob] + noise[:, 3]
    return {
        "true_p_mammogram": np.where(mammo_eligible, _monthly(_sigmoid(mammo), BREAST_LOOKBACK), 0.0),
        "true_p_colorectal_screen": np.where(crc_eligible, _monthly(_sigmoid(crc), COLORECTAL_LOOKBACK), 0.0),
        "true_p_hba1c_test": np.where(diabetic, _monthly(_sigmoid(a1c), HBA1C_LOOKBACK), 0.0),
        "true_p_statin_adherent": np.where(age >= 18, _sigmoid(statin), 0.0),
    }


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


def _npis(rng: np.random.Generator, size: int) -> np.ndarray:
    """Valid-looking NPIs: nine digits starting 1 or 2 plus the Luhn check digit over the 80840 prefix."""
    digits = rng.integers(0, 10, (size, 9))
    digits[:, 0] = rng.integers(1, 3, size)
    doubled = digits[:, ::2] * 2
    total = 24 + (doubled // 10 + doubled % 10).sum(axis=1) + digits[:, 1::2].sum(axis=1)
    check = (10 - total % 10) % 10
    return digits @ (10 ** np.arange(9, 0, -1)) + check


def _identifiers(rng: np.random.Generator, n: int, female: np.ndarray, region: np.ndarray) -> pl.DataFrame:
    """Direct identifiers: member id, names, street address, ZIP in the member's region, phone with its area code."""
    numbers = 1000 + np.cumsum(rng.integers(1, 1500, n))
    first = np.where(female, np.array(codes.FEMALE_FIRST_NAMES)[rng.integers(0, len(codes.FEMALE_FIRST_NAMES), n)],
                     np.array(codes.MALE_FIRST_NAMES)[rng.integers(0, len(codes.MALE_FIRST_NAMES), n)])
    zip3 = np.array([r.zip3 for r in codes.REGIONS])[region]
    area = np.array([r.area_code for r in codes.REGIONS])[region]
    return pl.DataFrame({
        "member_id": "M" + pl.Series(numbers).cast(pl.String).str.zfill(8),
        "first_name": first,
        "last_name": np.array(codes.LAST_NAMES)[rng.integers(0, len(codes.LAST_NAMES), n)],
        "address_line": pl.Series(rng.integers(1, 9999, n)).cast(pl.String) + " "
        + pl.Series(np.array(codes.STREET_NAMES)[rng.integers(0, len(codes.STREET_NAMES), n)]) + " "
        + pl.Series(np.array(codes.STREET_SUFFIXES)[rng.integers(0, len(codes.STREET_SUFFIXES), n)]),
        "zip": pl.Series(zip3) + pl.Series(rng.integers(0, 100, n)).cast(pl.String).str.zfill(2),
        "phone": pl.Series(area) + "-" + pl.Series(rng.integers(200, 1000, n)).cast(pl.String) + "-"
        + pl.Series(rng.integers(0, 10000, n)).cast(pl.String).str.zfill(4),
    })


def _canary_rows(rng: np.random.Generator, cfg: SyntheticConfig, covered: np.ndarray, age: np.ndarray, chronic: np.ndarray) -> np.ndarray:
    """Members enrolled throughout with a chronic condition, so their identifiers travel through every feed."""
    candidates = np.flatnonzero(covered.all(axis=1) & (age >= 40) & (chronic > 0))
    return np.sort(rng.choice(candidates, min(cfg.canaries, candidates.size), replace=False))


def _canary_names(count: int) -> tuple[list[str], list[str]]:
    return [f"Zqxcanary{k:04d}" for k in range(1, count + 1)], [f"999-555-{k:04d}" for k in range(1, count + 1)]


def _plans(rng: np.random.Generator, lob: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A benefit plan per member within their line of business, and whether it is an HMO."""
    plan_id, hmo = np.empty(lob.size, dtype=object), np.zeros(lob.size, dtype=bool)
    for k, line in enumerate(codes.LINES_OF_BUSINESS):
        members, options = np.flatnonzero(lob == k), codes.PLANS[line]
        pick = _pick(rng, tuple((p, w) for p, _, w in options), members.size)
        plan_id[members] = np.array([p for p, _, _ in options])[pick]
        hmo[members] = np.array([h for _, h, _ in options])[pick]
    return plan_id.astype(str), hmo


def _clinical_levels(rng: np.random.Generator, age: np.ndarray, lob: np.ndarray, conditions: np.ndarray,
                     engagement: np.ndarray, bmi_z: np.ndarray) -> dict[str, np.ndarray]:
    """Each member's own HbA1c, blood pressure, LDL and eGFR: worse with disease, better with engagement."""
    n, a = age.size, (age - 50) / 15
    diabetic, hypertensive = conditions[:, DIABETES], conditions[:, HYPERTENSION]
    spread = 0.55 - 0.3 * engagement + np.array([0.0, -0.1, 0.15])[lob] + 0.68 * rng.standard_normal(n)
    systolic = np.where(hypertensive, 134 - 3 * engagement + 12 * rng.standard_normal(n), 116 + 4 * a + 9 * rng.standard_normal(n))
    return {
        "hba1c": np.where(diabetic, np.clip(5.8 + np.exp(spread), 5.7, 15.5), np.clip(5.3 + 0.3 * rng.standard_normal(n) + 0.08 * bmi_z, 4.3, 6.3)),
        "systolic": systolic,
        "diastolic": 0.45 * systolic + 22 + 6 * rng.standard_normal(n),
        "ldl": np.clip(125 + 30 * rng.standard_normal(n) - 35 * conditions[:, ASCVD], 40, 260),
        "egfr": np.clip(100 - 0.8 * np.maximum(age - 30, 0) - 12 * diabetic + 12 * rng.standard_normal(n), 8, 130),
    }


def _with_canaries(ids: pl.DataFrame, canary: np.ndarray) -> pl.DataFrame:
    """Plant the canary last names and phone numbers on the chosen members."""
    names, phones = _canary_names(canary.size)
    return ids.with_columns(ids["last_name"].scatter(canary, names), ids["phone"].scatter(canary, phones))


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
    frame = _with_canaries(_identifiers(rng, n, female, region), canary).select(
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


def generate_members(cfg: SyntheticConfig) -> pl.DataFrame:
    """One row per member: direct identifiers, demographics, plan, and the hidden `true_*` columns."""
    return _population(cfg).frame


def true_propensities(cfg: SyntheticConfig) -> pl.DataFrame:
    """The hidden truths per member: the best achievable signal for tests and model-quality checks.

    `true_p_mammogram`, `true_p_colorectal_screen` and `true_p_hba1c_test` are monthly probabilities of the event
    while enrolled (no mammogram or FIT within nine months of the last); `true_p_statin_adherent` is the chance each
    refill of a statin course comes on time rather than weeks late.
    """
    frame = _population(cfg).frame
    return frame.select("member_id", *[c for c in frame.columns if c.startswith("true_")])


def canary_tokens(cfg: SyntheticConfig) -> list[str]:
    """Distinctive direct identifiers planted on a few members, so leak tests can scan every output for them."""
    frame = _population(cfg).frame.filter(pl.col("last_name").str.starts_with("Zqxcanary"))
    return [*frame["last_name"], *frame["member_id"], *frame["phone"]]


# --- care events shared by several feeds ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Events:
    member: np.ndarray
    day: np.ndarray

    def take(self, mask: np.ndarray) -> _Events:
        return _Events(self.member[mask], self.day[mask])


@dataclass(frozen=True)
class _Care:
    office: _Events
    telehealth: _Events
    emergency: _Events
    inpatient: _Events
    mammogram: _Events
    colorectal: _Events
    colorectal_modality: np.ndarray
    hba1c: _Events
    lipid: _Events
    egfr: np.ndarray           # per hba1c/lipid order (hba1c first): an eGFR was drawn too
    uacr: np.ndarray           # per hba1c order: a urine albumin-creatinine ratio was drawn too
    in_claims: dict[str, np.ndarray]
    in_labs: dict[str, np.ndarray]


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


def _colorectal(rng: np.random.Generator, pop: _Population, cal: _Calendar) -> tuple[_Events, np.ndarray]:
    """Screenings by modality; a colonoscopy or stool DNA test covers the member for the rest of the window."""
    events = _draw(rng, pop.p_colorectal, pop, cal, bernoulli=True)
    modality = _pick(rng, tuple(zip(range(3), COLORECTAL_MODALITY)), events.member.size)
    lasting = np.where(modality != FIT, events.day, np.iinfo(np.int64).max)
    first_lasting = np.full(pop.size, np.iinfo(np.int64).max)
    np.minimum.at(first_lasting, events.member, lasting)
    keep = (events.day <= first_lasting[events.member]) & _spaced(events, modality == FIT)
    return events.take(keep), modality[keep]


@lru_cache(maxsize=4)
def _care(cfg: SyntheticConfig) -> _Care:
    """All care events once per config, so claims, labs and clinical records tell one consistent story."""
    rng, pop, cal = _rng(cfg, "care"), _population(cfg), _calendar(cfg)
    adult_years = np.maximum(pop.age - 40, 0)
    chronic = pop.chronic
    office_rate = 0.22 * np.exp(0.35 * pop.engagement) * (1 + 0.45 * chronic) * (1 + 0.012 * adult_years) * np.where(pop.age < 18, 0.8, 1.0)
    office = _draw(rng, office_rate, pop, cal, cal.season(WINTER_PEAK))
    telehealth = _draw(rng, 0.18 * office_rate, pop, cal, cal.season(WINTER_PEAK))
    ed_rate = 0.018 * (1 + 0.3 * chronic) * np.array([1.0, 1.3, 2.0])[pop.lob] * np.exp(-0.2 * pop.engagement)
    emergency = _draw(rng, ed_rate, pop, cal, cal.season(FLU_PEAK), weekdays=False)
    inpatient_rate = 0.0035 * np.exp(0.035 * np.clip(pop.age - 45, -25, 45)) * (1 + 0.7 * chronic)
    inpatient = _draw(rng, inpatient_rate, pop, cal, cal.season(FLU_PEAK), weekdays=False)
    mammogram = _renewal(rng, pop.p_mammogram, pop, cal)
    colorectal, modality = _colorectal(rng, pop, cal)
    screening_rate = np.where((pop.age >= 40) | (pop.bmi >= 30), 0.006, 0.0) * np.exp(0.3 * pop.engagement)
    hba1c = _draw(rng, np.where(pop.conditions[:, DIABETES], pop.p_hba1c, screening_rate), pop, cal, bernoulli=True)
    lipid_rate = (np.select([pop.conditions[:, [DIABETES, ASCVD]].any(axis=1), pop.conditions[:, HYPERTENSION], pop.age >= 40, pop.age >= 18],
                            [0.08, 0.05, 0.025, 0.01], 0.0) * np.exp(0.3 * pop.engagement))
    lipid = _draw(rng, lipid_rate, pop, cal)
    diabetic_test = pop.conditions[hba1c.member, DIABETES]
    egfr = np.r_[diabetic_test & (rng.random(hba1c.member.size) < 0.45), rng.random(lipid.member.size) < 0.4]
    uacr = diabetic_test & (rng.random(hba1c.member.size) < 0.15 + 0.25 * _sigmoid(pop.engagement[hba1c.member]))
    lab_coverage = np.array([r.lab_coverage for r in codes.REGIONS])
    kinds = {"hba1c": hba1c, "lipid": lipid, "colorectal": colorectal}
    in_claims = {k: rng.random(e.member.size) < CLAIMS_VISIBLE for k, e in kinds.items()}
    in_claims["colorectal"] |= modality == COLONOSCOPY
    in_labs = {k: rng.random(e.member.size) < lab_coverage[pop.region[e.member]] for k, e in kinds.items()}
    in_labs["colorectal"] &= modality != COLONOSCOPY
    return _Care(office, telehealth, emergency, inpatient, mammogram, colorectal, modality, hba1c, lipid, egfr, uacr, in_claims, in_labs)


# --- delivery: typed frames to raw text with lineage ---------------------------------------------------------
TRIMMED_DECIMALS = ("strength_mg", "quantity")


def _fixed(value: pl.Expr, places: int) -> pl.Expr:
    """Decimal text with exactly `places` digits after the point, as senders write amounts."""
    scaled = (value * 10**places).round(0).cast(pl.Int64)
    if places == 0:
        return scaled.cast(pl.String)
    return (scaled // 10**places).cast(pl.String) + "." + (scaled % 10**places).cast(pl.String).str.zfill(places)


def _as_text(frame: pl.DataFrame, name: str) -> pl.Expr:
    """One typed column as delivered text: ISO dates, plain integers, decimals with cents, empty as null."""
    dtype = frame.schema[name]
    if dtype == pl.Float64:
        text = _fixed(pl.col(name), 2)
        text = text.str.strip_chars_end("0").str.strip_chars_end(".") if name in TRIMMED_DECIMALS else text
    else:
        text = pl.col(name).cast(pl.String)
    return pl.when(text != "").then(text).alias(name)


def _deliver(feed: str, typed: pl.DataFrame, end: int) -> pl.DataFrame:
    """The feed as delivered by the end date: contract columns as text, one file per arrival date, data from line 2."""
    spec = contract(feed)
    arrived = typed.filter(pl.col("arrival") <= end).sort("arrival", maintain_order=True)
    return arrived.select(
        *[_as_text(arrived, c) for c in spec.column_names],
        (pl.lit(f"{feed}_") + pl.col("arrival").cast(pl.Date).cast(pl.String) + pl.lit(".csv")).alias(SOURCE_FILE),
        (pl.int_range(pl.len(), dtype=pl.Int64).over("arrival") + 2).alias(SOURCE_LINE),
        pl.col("arrival").cast(pl.Date).alias(ARRIVAL_DATE),
    )


def _dates(days: np.ndarray) -> pl.Series:
    return pl.Series(days.astype(np.int32)).cast(pl.Date)


def _identifiers_in_order(rng: np.random.Generator, order_day: np.ndarray, prefix: str, digits: int) -> pl.Series:
    """Record ids that increase with the processing date, as a sender's sequence does."""
    order = np.lexsort((np.arange(order_day.size), order_day))
    numbers = np.empty(order_day.size, dtype=np.int64)
    numbers[order] = 10 ** (digits - 1) + np.cumsum(rng.integers(1, 10, order_day.size))
    return prefix + pl.Series(numbers).cast(pl.String)


# --- eligibility ---------------------------------------------------------------------------------------------------
def _eligibility(cfg: SyntheticConfig) -> pl.DataFrame:
    """Span records: one when a span opens (or at the window start), another with coverage_end when it closes."""
    pop, cal = _population(cfg), _calendar(cfg)
    spans = pop.enrollment
    start_day = cal.first_day(spans.start)
    end_day = cal.first_day(spans.end + 1) - 1
    opened = pl.DataFrame({"span": np.arange(spans.member.size), "coverage_end": None, "arrival": cal.first_day(np.maximum(spans.start, 0))},
                          schema={"span": pl.Int64, "coverage_end": pl.Int64, "arrival": pl.Int64})
    closed_idx = np.flatnonzero(spans.closed)
    closed = pl.DataFrame({"span": closed_idx, "coverage_end": end_day[closed_idx], "arrival": end_day[closed_idx] + 1},
                          schema={"span": pl.Int64, "coverage_end": pl.Int64, "arrival": pl.Int64})
    records = pl.concat([opened, closed]).sort("arrival", "span")
    span = records["span"].to_numpy()
    members = pop.frame.select(contract("eligibility").column_names[:10])[spans.member[span]]
    return members.with_columns(
        _dates(start_day[span]).alias("coverage_start"),
        records["coverage_end"].cast(pl.Int32).cast(pl.Date).alias("coverage_end"),
        records["arrival"].alias("arrival"),
    )


# --- medical claims ----------------------------------------------------------------------------------------------
@lru_cache(maxsize=4)
def _providers(cfg: SyntheticConfig) -> dict[str, np.ndarray]:
    """NPI pools per kind of rendering provider."""
    rng = _rng(cfg, "providers")
    size = max(10, cfg.members // 500)
    return {kind: _npis(rng, size) for kind in ("emergency", "hospitalist", "radiology", "gastroenterology", "lab")}


def _lines(member: np.ndarray, day: np.ndarray, pos: np.ndarray, npi: np.ndarray, dx1: np.ndarray, dx2: np.ndarray,
           procedures: list[np.ndarray], offsets: list[np.ndarray] | None = None) -> pl.DataFrame:
    """Claim lines from claim-level fields and one procedure array per line slot ("" means no such line)."""
    procs = np.column_stack(procedures)
    present = procs != ""
    claim, slot = np.nonzero(present)
    shift = np.column_stack(offsets)[claim, slot] if offsets else 0
    return pl.DataFrame({
        "claim": claim, "claim_line": np.cumsum(present, axis=1)[claim, slot], "member": member[claim],
        "service_day": day[claim] + shift, "place_of_service": np.broadcast_to(pos, member.shape)[claim],
        "npi": npi[claim], "diagnosis_code_1": dx1[claim], "diagnosis_code_2": dx2[claim], "procedure_code": procs[claim, slot],
    })


def _maybe(rng: np.random.Generator, share: float | np.ndarray, values: np.ndarray | str, size: int) -> np.ndarray:
    """`values` where a draw falls under `share`, else "" (no line, no code)."""
    return np.where(rng.random(size) < share, values, "")


def _visit_dx(rng: np.random.Generator, pop: _Population, member: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Diagnoses of a visit: mostly the member's own chronic conditions, else a common complaint; exclusions recur."""
    n, rows = member.size, np.arange(member.size)
    held = pop.conditions[member]
    count = held.sum(axis=1)
    pick = np.floor(rng.random(n) * np.maximum(count, 1)).astype(np.int64)
    ranks = np.cumsum(held, axis=1)
    first = np.argmax(ranks > pick[:, None], axis=1)
    second = np.argmax(ranks > ((pick + 1) % np.maximum(count, 1))[:, None], axis=1)
    own = pop.condition_dx[member]
    use = (count > 0) & (rng.random(n) < 0.7)
    dx1 = np.where(use, own[rows, first], _choose(rng, codes.OFFICE_DX, n))
    dx2 = np.where(use & (count > 1) & (rng.random(n) < 0.6), own[rows, second], "")
    exclusion = _exclusion_dx(pop, member)
    return dx1, np.where((exclusion != "") & (rng.random(n) < 0.4), exclusion, dx2)


def _exclusion_dx(pop: _Population, member: np.ndarray) -> np.ndarray:
    """The member's measure-exclusion history code (bilateral mastectomy, colorectal cancer), or ""."""
    cancer = _values(codes.COLORECTAL_CANCER_DX)[member % len(codes.COLORECTAL_CANCER_DX)]
    return np.where(pop.mastectomy[member], codes.BILATERAL_MASTECTOMY_DX, np.where(pop.colorectal_cancer[member], cancer, ""))


def _office_claims(rng: np.random.Generator, pop: _Population, visits: _Events, virtual: bool) -> pl.DataFrame:
    """Office or telehealth E/M visits, some preventive, some with in-office labs."""
    member, n = visits.member, visits.member.size
    age = pop.age[member]
    preventive = np.array([c for _, c in codes.PREVENTIVE_BY_AGE])[np.searchsorted([a for a, _ in codes.PREVENTIVE_BY_AGE], age, side="right") - 1]
    wellness = np.where(rng.random(n) < 0.9, codes.MEDICARE_WELLNESS[1], codes.MEDICARE_WELLNESS[0])
    preventive = np.where(pop.lob[member] == MEDICARE, wellness, preventive)
    em = _choose(rng, codes.TELEHEALTH_EM if virtual else codes.OFFICE_EM, n)
    em = np.where(~virtual & (rng.random(n) < 0.1), preventive, em)
    npi = np.where(rng.random(n) < 0.8, pop.pcp_npi[member], pop.pcp_npi[rng.integers(0, pop.size, n)])
    dx1, dx2 = _visit_dx(rng, pop, member)
    if virtual:
        pos = np.where(rng.random(n) < 0.6, codes.POS_TELEHEALTH, codes.POS_TELEHEALTH_HOME)
        return _lines(member, visits.day, pos, npi, dx1, dx2, [em])
    lab_share = 0.15 + 0.1 * (pop.chronic[member] > 0)
    first_lab = _maybe(rng, lab_share, _choose(rng, codes.OFFICE_LABS, n), n)
    second_lab = np.where((first_lab != "") & (rng.random(n) < 0.35), _choose(rng, codes.OFFICE_LABS, n), "")
    second_lab = np.where(second_lab == first_lab, "", second_lab)
    return _lines(member, visits.day, np.array(codes.POS_OFFICE), npi, dx1, dx2, [em, first_lab, second_lab])


def _emergency_claims(rng: np.random.Generator, pop: _Population, visits: _Events, npis: np.ndarray) -> pl.DataFrame:
    """ED visits with imaging and labs on some."""
    n = visits.member.size
    extras = [_maybe(rng, share, code, n) for code, share in codes.ED_EXTRAS]
    dx2 = np.where(pop.chronic[visits.member] > 0, pop.condition_dx[visits.member, np.argmax(pop.conditions[visits.member], axis=1)], "")
    return _lines(visits.member, visits.day, np.array(codes.POS_ED), npis[rng.integers(0, npis.size, n)],
                  _choose(rng, codes.ED_DX, n), dx2, [_choose(rng, codes.ED_EM, n), *extras])


def _inpatient_claims(rng: np.random.Generator, pop: _Population, stays: _Events, npis: np.ndarray) -> pl.DataFrame:
    """Professional lines of a stay: admission, daily visits, discharge; heart attacks in ASCVD members get a PCI."""
    member, n = stays.member, stays.member.size
    los = np.minimum(rng.geometric(0.35, n), 10)
    heart_attack = pop.conditions[member, ASCVD] & (rng.random(n) < 0.35)
    dx1 = np.where(heart_attack, codes.ACUTE_MI_DX, _choose(rng, codes.INPATIENT_DX, n))
    dx2 = np.where(pop.chronic[member] > 0, pop.condition_dx[member, np.argmax(pop.conditions[member], axis=1)], "")
    zero = np.zeros(n, dtype=np.int64)
    procedures = [np.full(n, codes.INPATIENT_ADMIT), np.where(los >= 2, codes.INPATIENT_DAILY, ""),
                  np.where(los >= 3, codes.INPATIENT_DAILY, ""), np.full(n, codes.INPATIENT_DISCHARGE),
                  np.where(heart_attack & (rng.random(n) < 0.6), codes.PCI, "")]
    offsets = [zero, zero + 1, zero + 2, los, zero]
    return _lines(member, stays.day, np.array(codes.POS_INPATIENT), npis[rng.integers(0, npis.size, n)], dx1, dx2, procedures, offsets)


def _mammogram_claims(rng: np.random.Generator, screens: _Events, npis: np.ndarray) -> pl.DataFrame:
    """Screening (and some diagnostic) mammograms, with tomosynthesis add-on lines."""
    n = screens.member.size
    code = _choose(rng, codes.MAMMOGRAM, n)
    addon = np.where((code == codes.SCREENING_MAMMOGRAM) & (rng.random(n) < 0.45), codes.TOMOSYNTHESIS_ADDON, "")
    dx = np.where(np.isin(code, codes.DIAGNOSTIC_MAMMOGRAM), codes.BREAST_LUMP_DX, codes.SCREENING_MAMMOGRAM_DX)
    pos = np.where(rng.random(n) < 0.4, codes.POS_OUTPATIENT_HOSPITAL, codes.POS_OFFICE)
    return _lines(screens.member, screens.day, pos, npis[rng.integers(0, npis.size, n)], dx, np.full(n, ""), [code, addon])


def _colorectal_claims(rng: np.random.Generator, care: _Care, providers: dict[str, np.ndarray]) -> pl.DataFrame:
    """Colonoscopies (anesthesia, pathology), FIT kits and stool DNA tests billed by the lab."""
    screens = care.colorectal.take(care.in_claims["colorectal"])
    modality = care.colorectal_modality[care.in_claims["colorectal"]]
    n = modality.size
    scope = modality == COLONOSCOPY
    code = np.where(scope, _choose(rng, codes.COLONOSCOPY, n), np.where(modality == FIT, _choose(rng, codes.FIT, n), codes.STOOL_DNA))
    biopsy = np.isin(code, codes.COLONOSCOPY_WITH_TISSUE)
    anesthesia = np.where(scope & (rng.random(n) < 0.7), codes.COLONOSCOPY_ANESTHESIA, "")
    pathology = np.where(biopsy, codes.SURGICAL_PATHOLOGY, "")
    pos = np.where(scope, np.where(rng.random(n) < 0.6, codes.POS_ASC, codes.POS_OUTPATIENT_HOSPITAL), codes.POS_LAB)
    npi = np.where(scope, providers["gastroenterology"][rng.integers(0, providers["gastroenterology"].size, n)],
                   providers["lab"][rng.integers(0, providers["lab"].size, n)])
    dx2 = np.where(biopsy, codes.COLON_POLYP_DX, "")
    return _lines(screens.member, screens.day, pos, npi, np.full(n, codes.SCREENING_COLORECTAL_DX), dx2, [code, anesthesia, pathology])


def _lab_claims(rng: np.random.Generator, pop: _Population, care: _Care, npis: np.ndarray) -> pl.DataFrame:
    """Lab panels billed by independent labs: HbA1c with kidney tests, and lipid panels."""
    a1c_seen, lipid_seen = care.in_claims["hba1c"], care.in_claims["lipid"]
    a1c_count = care.hba1c.member.size
    member = np.r_[care.hba1c.member[a1c_seen], care.lipid.member[lipid_seen]]
    day = np.r_[care.hba1c.day[a1c_seen], care.lipid.day[lipid_seen]]
    is_a1c = np.r_[np.ones(a1c_seen.sum(), bool), np.zeros(lipid_seen.sum(), bool)]
    egfr = np.r_[care.egfr[:a1c_count][a1c_seen], care.egfr[a1c_count:][lipid_seen]]
    uacr = np.r_[care.uacr[a1c_seen], np.zeros(lipid_seen.sum(), bool)]
    diabetic = pop.conditions[member, DIABETES]
    dx1 = np.where(is_a1c, np.where(diabetic, pop.condition_dx[member, DIABETES], codes.DIABETES_SCREENING_DX),
                   np.where(pop.conditions[member, ASCVD], pop.condition_dx[member, ASCVD], codes.HYPERLIPIDEMIA_DX))
    procedures = [np.where(is_a1c, codes.HBA1C_CPT, codes.LIPID_PANEL_CPT), np.where(egfr, codes.CREATININE_CPT, ""),
                  np.where(uacr, codes.URINE_ALBUMIN_CPT, ""), np.where(uacr, codes.URINE_CREATININE_CPT, "")]
    n = member.size
    return _lines(member, day, np.array(codes.POS_LAB), npis[rng.integers(0, npis.size, n)], dx1, np.full(n, ""), procedures)


def _medical_claims(cfg: SyntheticConfig) -> pl.DataFrame:
    """Claim lines of every kind, paid after an adjudication lag (typically 2-6 weeks, long tail); arrival = paid date."""
    rng, pop, care, cal, providers = _rng(cfg, "medical_claims"), _population(cfg), _care(cfg), _calendar(cfg), _providers(cfg)
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
    claim_ids = _identifiers_in_order(rng, paid, "C", 11)
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


# --- pharmacy fills --------------------------------------------------------------------------------------------------
DRUGS: tuple[codes.Drug, ...] = (
    *codes.STATINS,
    *(d for d, _ in codes.ORAL_HYPOGLYCEMICS + codes.INSULINS + codes.ANTIHYPERTENSIVES + codes.OTHER_CHRONIC + codes.ACUTE),
)
_DRUG_INDEX = {d.ndc: i for i, d in enumerate(DRUGS)}


def _drug_indices(rng: np.random.Generator, weighted: tuple, size: int) -> np.ndarray:
    return np.array([_DRUG_INDEX[d.ndc] for d, _ in weighted])[_pick(rng, weighted, size)]


def _statins(rng: np.random.Generator, ascvd: np.ndarray) -> np.ndarray:
    """A statin per treated member, by the intensity mix for secondary (ASCVD) or primary prevention."""
    chosen = np.zeros(ascvd.size, dtype=np.int64)
    for group, mask in (("ascvd", ascvd), ("primary", ~ascvd)):
        mix = codes.STATIN_INTENSITY_MIX[group]
        intensity = np.array(list(mix))[_pick(rng, tuple(mix.items()), ascvd.size)]
        for level in mix:
            options = np.array([i for i, d in enumerate(codes.STATINS) if d.intensity == level])
            take = mask & (intensity == level)
            chosen[take] = options[rng.integers(0, options.size, take.sum())]
    return chosen


def _courses(rng: np.random.Generator, pop: _Population) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Chronic therapy courses (member, drug, on-time refill probability) from each member's conditions."""
    n, eng = pop.size, pop.engagement
    diabetic, hypertensive, ascvd = (pop.conditions[:, k] for k in (DIABETES, HYPERTENSION, ASCVD))
    adult, older = pop.age >= 18, pop.age >= 40
    statin_share = np.select([ascvd, diabetic & older, hypertensive & (pop.age >= 50), pop.age >= 50],
                             [0.7 + 0.25 * _sigmoid(eng), 0.45, 0.25, 0.08], 0.0)
    courses = [
        (rng.random(n) < statin_share, _statins(rng, ascvd), pop.p_statin_adherent),
        (diabetic & ~pop.type1 & (rng.random(n) < 0.8), _drug_indices(rng, codes.ORAL_HYPOGLYCEMICS, n), None),
        (pop.type1 | (diabetic & (rng.random(n) < 0.15 + 0.15 * (pop.hba1c > 9))), _drug_indices(rng, codes.INSULINS, n), None),
        (hypertensive & (rng.random(n) < 0.82), _drug_indices(rng, codes.ANTIHYPERTENSIVES, n), None),
        (hypertensive & (rng.random(n) < 0.35), _drug_indices(rng, codes.ANTIHYPERTENSIVES, n), None),
        (adult & (rng.random(n) < 0.12), _drug_indices(rng, codes.OTHER_CHRONIC, n), None),
    ]
    general = _sigmoid(1.3 + 0.8 * eng + 0.5 * rng.standard_normal(n))
    member = np.concatenate([np.flatnonzero(take) for take, _, _ in courses])
    drug = np.concatenate([drugs[take] for take, drugs, _ in courses])
    adherence = np.concatenate([(general if p is None else p)[take] for take, _, p in courses])
    return member, drug, adherence


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
        "fill_id": _identifiers_in_order(rng, day, "RX", 10),
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


# --- lab results ---------------------------------------------------------------------------------------------------------
def _results(rng: np.random.Generator, tests: tuple, member: np.ndarray, day: np.ndarray, value: np.ndarray) -> pl.DataFrame:
    """Result rows for one kind of test: the LOINC variant each lab uses, with its name, unit and reference range."""
    variant = _pick(rng, tests, member.size)
    table = pl.DataFrame([t for t, _ in tests], orient="row", schema={
        "loinc_code": pl.String, "test_name": pl.String, "unit": pl.String, "low": pl.Float64, "high": pl.Float64, "places": pl.Int64})[variant]
    places = table["places"]
    as_text = lambda v: pl.when(places == 0).then(_fixed(v, 0)).otherwise(_fixed(v, 1))  # noqa: E731
    return table.with_columns(member=member, collection=day, value=pl.Series(value)).select(
        "member", "collection", "loinc_code", "test_name",
        as_text(pl.col("value")).alias("value"), "unit",
        as_text(pl.col("low")).alias("reference_low"), as_text(pl.col("high")).alias("reference_high"),
    )


def _lab_results(cfg: SyntheticConfig) -> pl.DataFrame:
    """Results from contracted labs: HbA1c, kidney tests, lipid panels, stool tests; arrival 0-7 days after release."""
    rng, pop, care = _rng(cfg, "lab_results"), _population(cfg), _care(cfg)
    a1c = care.hba1c.take(care.in_labs["hba1c"])
    lipid = care.lipid.take(care.in_labs["lipid"])
    a1c_count = care.hba1c.member.size
    kidney = np.r_[care.egfr[:a1c_count][care.in_labs["hba1c"]], care.egfr[a1c_count:][care.in_labs["lipid"]]]
    kidney_member, kidney_day = np.r_[a1c.member, lipid.member][kidney], np.r_[a1c.day, lipid.day][kidney]
    uacr = care.hba1c.take(care.in_labs["hba1c"] & care.uacr)
    stool = care.colorectal.take(care.in_labs["colorectal"])
    stool_fit = care.colorectal_modality[care.in_labs["colorectal"]] == FIT
    ldl = pop.ldl[lipid.member] + 8 * rng.standard_normal(lipid.member.size)
    hdl = 48 + 8 * pop.female[lipid.member] - 0.4 * (pop.bmi[lipid.member] - 28) + 6 * rng.standard_normal(lipid.member.size)
    tg = np.exp(np.log(120) + 0.02 * (pop.bmi[lipid.member] - 28) + 0.3 * rng.standard_normal(lipid.member.size))
    albumin_ratio = np.exp(np.log(np.where(pop.conditions[uacr.member, DIABETES], 18, 8)) + 0.9 * rng.standard_normal(uacr.member.size))
    a1c_value = np.clip(pop.hba1c[a1c.member] + 0.3 * rng.standard_normal(a1c.member.size), 4.0, 16.0)
    egfr_value = np.clip(pop.egfr[kidney_member] + 5 * rng.standard_normal(kidney_member.size), 5, 150)
    positive = rng.random(stool_fit.size) < np.where(stool_fit, 0.06, 0.12)
    parts = [
        _results(rng, codes.HBA1C_TESTS, a1c.member, a1c.day, a1c_value),
        _results(rng, codes.EGFR_TESTS, kidney_member, kidney_day, egfr_value),
        _results(rng, codes.UACR_TESTS, uacr.member, uacr.day, np.clip(albumin_ratio, 1, 3000)),
        _results(rng, ((codes.LDL, 1),), lipid.member, lipid.day, np.clip(ldl, 20, 300)),
        _results(rng, ((codes.HDL, 1),), lipid.member, lipid.day, np.clip(hdl, 20, 110)),
        _results(rng, ((codes.TRIGLYCERIDES, 1),), lipid.member, lipid.day, np.clip(tg, 30, 1500)),
        _results(rng, ((codes.TOTAL_CHOLESTEROL, 1),), lipid.member, lipid.day, np.clip(ldl + hdl + tg / 5, 80, 450)),
        _results(rng, ((codes.FIT_RESULT, 1),), stool.member[stool_fit], stool.day[stool_fit], positive[stool_fit].astype(float)),
        _results(rng, ((codes.STOOL_DNA_RESULT, 1),), stool.member[~stool_fit], stool.day[~stool_fit], positive[~stool_fit].astype(float)),
    ]
    results = pl.concat(parts).sort("collection", "member", "loinc_code", maintain_order=True)
    collection = results["collection"].to_numpy()
    released = collection + rng.integers(0, 4, collection.size)
    labs = np.array(codes.PERFORMING_LABS)
    region = pop.region[results["member"].to_numpy()]
    lab = np.where(rng.random(collection.size) < 0.8, labs[region % labs.size], labs[rng.integers(0, labs.size, collection.size)])
    return results.select(
        _identifiers_in_order(rng, collection, "L", 10).alias("result_id"),
        pop.frame["member_id"].gather(results["member"]),
        _dates(collection).alias("collection_date"),
        _dates(released).alias("result_date"),
        "loinc_code", "test_name", "value", "unit", "reference_low", "reference_high",
        pl.Series("performing_lab", lab),
        pl.Series("arrival", released + rng.integers(0, 8, collection.size)),
    )


# --- clinical records ----------------------------------------------------------------------------------------------------
def _vitals(rng: np.random.Generator, pop: _Population, visits: _Events) -> pl.DataFrame:
    """Blood pressure at every recorded visit and BMI at about half, around each member's own level."""
    n, member = visits.member.size, visits.member
    systolic = np.clip(np.round(pop.systolic[member] + 8 * rng.standard_normal(n)), 80, 230)
    diastolic = np.clip(np.round(pop.diastolic[member] + 6 * rng.standard_normal(n)), 40, 140)
    bmi = np.clip(np.round(pop.bmi[member] + 0.4 * rng.standard_normal(n), 1), 12, 80)
    weighed = rng.random(n) < 0.5
    bmi_text = pl.select(_fixed(pl.lit(pl.Series(bmi[weighed])), 1)).to_series()
    return pl.concat([
        _vital_rows(member, visits.day, codes.SYSTOLIC_LOINC, codes.BP_UNIT, pl.Series(systolic).cast(pl.Int64).cast(pl.String)),
        _vital_rows(member, visits.day, codes.DIASTOLIC_LOINC, codes.BP_UNIT, pl.Series(diastolic).cast(pl.Int64).cast(pl.String)),
        _vital_rows(member[weighed], visits.day[weighed], codes.BMI_LOINC, codes.BMI_UNIT, bmi_text),
    ])


def _vital_rows(member: np.ndarray, day: np.ndarray, code: str, unit: str, value: pl.Series) -> pl.DataFrame:
    return pl.DataFrame({"member": member, "encounter": day, "record_type": "vital", "code": code, "value": value, "unit": unit})


def _problems(pop: _Population, visits: _Events) -> pl.DataFrame:
    """The problem list at each member's first recorded visit of a year: conditions, obesity and exclusion history."""
    year = visits.day.astype("datetime64[D]").astype("datetime64[Y]")
    first = np.r_[True, (visits.member[1:] != visits.member[:-1]) | (year[1:] != year[:-1])]
    member, day = visits.member[first], visits.day[first]
    entries = [*((pop.conditions[member, k], pop.condition_dx[member, k]) for k in (DIABETES, HYPERTENSION, ASCVD)),
               (pop.bmi[member] >= 30, np.full(member.size, codes.OBESITY_DX)), (_exclusion_dx(pop, member) != "", _exclusion_dx(pop, member))]
    return pl.concat([
        pl.DataFrame({"member": member[held], "encounter": day[held], "record_type": "problem", "code": code[held],
                      "value": None, "unit": None}, schema_overrides={"value": pl.String, "unit": pl.String})
        for held, code in entries
    ])


def _clinical_records(cfg: SyntheticConfig) -> pl.DataFrame:
    """EHR extracts from connected practices: problem lists and vitals, delivered weekly (the Monday after a week's lag)."""
    rng, pop, care = _rng(cfg, "clinical_records"), _population(cfg), _care(cfg)
    recorded = care.office.take(pop.ehr_connected[care.office.member] & (rng.random(care.office.member.size) < 0.9))
    records = pl.concat([_problems(pop, recorded), _vitals(rng, pop, recorded)]).sort("encounter", "member", maintain_order=True)
    encounter, member = records["encounter"].to_numpy(), records["member"].to_numpy()
    systems = np.array(codes.EHR_SYSTEMS)[np.array([r.ehr_system for r in codes.REGIONS])[pop.region[member]]]
    return records.select(
        _identifiers_in_order(rng, encounter, "R", 11).alias("record_id"),
        pop.frame["member_id"].gather(member),
        _dates(encounter).alias("encounter_date"),
        "record_type", "code", "value", "unit",
        pl.Series("source_system", systems),
        pl.Series("arrival", _monday_after(encounter + 7)),
    )


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
