"""Per-member monthly propensities for screenings, tests and statin adherence, calibrated to published anchors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from resources.feeds.synthetic.categories import DIABETES, FIT

# Published anchors (measures.md) the propensities are calibrated to, per line of business.
BREAST_SCREENING_TARGET = (0.73, 0.71, 0.52)
COLORECTAL_TARGET = (0.60, 0.70, 0.48)
HBA1C_TESTING_TARGET = (0.90, 0.92, 0.85)
BREAST_LOOKBACK, COLORECTAL_LOOKBACK, HBA1C_LOOKBACK = 27, 36, 12
COLORECTAL_MODALITY = (0.62, 0.30, 0.08)  # colonoscopy, FIT, stool DNA
DEAD_MONTHS = 9  # after a mammogram or FIT, about nine months pass before the next


def _sigmoid(x: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-x))


def _calibrated(score: np.ndarray, eligible: np.ndarray, lob: np.ndarray, targets: tuple[float, ...],
                rate: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
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
    common = 0.5 * engagement + 0.8 * access + 0.6 * hmo + 0.25 * chronic
    noise = 0.2 * rng.standard_normal((n, 4))
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
