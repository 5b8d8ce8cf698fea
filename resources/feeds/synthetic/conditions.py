"""Chronic conditions and each member's own clinical levels (HbA1c, blood pressure, LDL, eGFR)."""

from __future__ import annotations

import numpy as np

from resources.feeds.synthetic.categories import ASCVD, DIABETES, HYPERTENSION

# Adult prevalence per condition (diabetes, hypertension, ASCVD) and line of business (commercial, medicare, medicaid).
PREVALENCE = ((0.11, 0.26, 0.12), (0.27, 0.62, 0.28), (0.03, 0.19, 0.045))
CONDITION_CORRELATION = 0.25


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
