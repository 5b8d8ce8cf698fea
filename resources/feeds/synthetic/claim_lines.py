"""Claim lines per kind of care: office and telehealth visits, ED, inpatient stays, screenings and lab panels."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.synthetic.care import _Care
from resources.feeds.synthetic.categories import ASCVD, COLONOSCOPY, DIABETES, FIT, MEDICARE
from resources.feeds.synthetic.diagnoses import _visit_dx
from resources.feeds.synthetic.events import _Events
from resources.feeds.synthetic.population import _Population
from resources.feeds.synthetic.propensities import _sigmoid
from resources.feeds.synthetic.sampling import _choose


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


def _office_claims(rng: np.random.Generator, pop: _Population, visits: _Events, virtual: bool) -> pl.DataFrame:
    """Office or telehealth E/M visits, some preventive, some with in-office labs."""
    member, n = visits.member, visits.member.size
    age = pop.age[member]
    preventive = np.array([c for _, c in codes.PREVENTIVE_BY_AGE])[np.searchsorted([a for a, _ in codes.PREVENTIVE_BY_AGE], age, side="right") - 1]
    wellness = np.where(rng.random(n) < 0.9, codes.MEDICARE_WELLNESS[1], codes.MEDICARE_WELLNESS[0])
    preventive = np.where(pop.lob[member] == MEDICARE, wellness, preventive)
    em = _choose(rng, codes.TELEHEALTH_EM if virtual else codes.OFFICE_EM, n)
    # Engaged members come for their annual preventive visit; the disengaged rarely do (about one office visit in nine overall).
    preventive_share = _sigmoid(-2.5 + 1.8 * pop.engagement[member])
    em = np.where(~virtual & (rng.random(n) < preventive_share), preventive, em)
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
