"""Diagnosis codes a visit carries: the member's own conditions, common complaints, and exclusion history."""

from __future__ import annotations

import numpy as np

from resources.feeds import codes
from resources.feeds.synthetic.population import _Population
from resources.feeds.synthetic.sampling import _choose, _values


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
