"""The clinical records feed: problem lists and vitals extracted from connected practices' EHRs."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.synthetic.care import _care
from resources.feeds.synthetic.categories import ASCVD, DIABETES, HYPERTENSION
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.delivery import _dates, _fixed, _identifiers_in_order
from resources.feeds.synthetic.diagnoses import _exclusion_dx
from resources.feeds.synthetic.events import _Events
from resources.feeds.synthetic.population import _Population, _population
from resources.feeds.synthetic.sampling import _rng
from resources.feeds.synthetic.window import _monday_after


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
    """Record rows for one vital sign."""
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
        _identifiers_in_order(rng, encounter, cfg.id_prefix("R"), 11).alias("record_id"),
        pop.frame["member_id"].gather(member),
        _dates(encounter).alias("encounter_date"),
        "record_type", "code", "value", "unit",
        pl.Series("source_system", systems),
        pl.Series("arrival", _monday_after(encounter + 7)),
    )
