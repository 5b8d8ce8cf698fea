"""Care events shared by several feeds: visits, stays, screenings and tests, and which feeds see each."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from resources.feeds import codes
from resources.feeds.synthetic.categories import ASCVD, COLONOSCOPY, DIABETES, FIT, HYPERTENSION
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.events import _draw, _Events, _renewal, _spaced
from resources.feeds.synthetic.population import _Population, _population
from resources.feeds.synthetic.propensities import COLORECTAL_MODALITY, _sigmoid
from resources.feeds.synthetic.sampling import _pick, _rng
from resources.feeds.synthetic.window import FLU_PEAK, WINTER_PEAK, _Calendar, _calendar

CLAIMS_VISIBLE = 0.93  # share of lab tests and screenings that also reach claims


@dataclass(frozen=True)
class _Care:
    """Every care event of the window, with which of them reach claims and labs."""

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
    office_rate = 0.195 * np.exp(0.6 * pop.engagement) * (1 + 0.45 * chronic) * (1 + 0.012 * adult_years) * np.where(pop.age < 18, 0.8, 1.0)
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
