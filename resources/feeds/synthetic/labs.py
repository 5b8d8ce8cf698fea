"""The lab results feed: results from contracted labs, with each lab's LOINC variant, unit and range."""

from __future__ import annotations

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.synthetic.care import _care
from resources.feeds.synthetic.categories import DIABETES, FIT
from resources.feeds.synthetic.config import SyntheticConfig
from resources.feeds.synthetic.delivery import _dates, _fixed, _identifiers_in_order
from resources.feeds.synthetic.population import _population
from resources.feeds.synthetic.sampling import _pick, _rng


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
        _identifiers_in_order(rng, collection, cfg.id_prefix("L"), 10).alias("result_id"),
        pop.frame["member_id"].gather(results["member"]),
        _dates(collection).alias("collection_date"),
        _dates(released).alias("result_date"),
        "loinc_code", "test_name", "value", "unit", "reference_low", "reference_high",
        pl.Series("performing_lab", lab),
        pl.Series("arrival", released + rng.integers(0, 8, collection.size)),
    )
