"""Chronic drug therapy: the drug list, statin choice by intensity, and each member's courses."""

from __future__ import annotations

import numpy as np

from resources.feeds import codes
from resources.feeds.synthetic.categories import ASCVD, DIABETES, HYPERTENSION
from resources.feeds.synthetic.population import _Population
from resources.feeds.synthetic.propensities import _sigmoid
from resources.feeds.synthetic.sampling import _pick

DRUGS: tuple[codes.Drug, ...] = (
    *codes.STATINS,
    *(d for d, _ in codes.ORAL_HYPOGLYCEMICS + codes.INSULINS + codes.ANTIHYPERTENSIVES + codes.OTHER_CHRONIC + codes.ACUTE),
)
_DRUG_INDEX = {d.ndc: i for i, d in enumerate(DRUGS)}


def _drug_indices(rng: np.random.Generator, weighted: tuple, size: int) -> np.ndarray:
    """Indices into DRUGS, drawn by weight from a (drug, weight) list."""
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
