"""Point-in-time member features: one function builds the frame for any members and any as-of date.

Training, batch scoring and notebooks all call `build_features`; everything it reads passes through
`pit.visible`, so a feature is exactly what production would have seen on the as-of date. Each feature
is declared once in FEATURES with its description and source columns (Dagster column schema and lineage).
"""

import math
from dataclasses import dataclass
from datetime import date, timedelta

import polars as pl

from assets.adherence import proportion_of_days_covered
from assets.events import Silver
from assets.measures import measures
from assets.measures.evaluate import Snapshot, all_measure_status, snapshot
from assets.pit import add_months, visible

UTILISATION = {"visits": ["11", "02", "10", "22"], "ed": ["23"], "inpatient": ["21"]}
WINDOWS = (90, 180, 365, 730)
CONDITIONS = ("diabetes", "hypertension", "ascvd", "ckd", "copd", "depression", "obesity", "heart_failure")
LABS = {"hba1c": "hba1c_test", "egfr": "egfr_test", "ldl": "ldl_test"}
PDC_CLASSES = ("statin", "antihypertensive", "oral_hypoglycemic", "insulin")
PDC_DAYS = 180
# Recency features look back at most this far: the longest measure window (mammography) and the history every as-of
# month is guaranteed (WORKBENCH_LOOKBACK_MONTHS). An unbounded look-back sees more of the past in later months than in
# the training months, so null rates fall as the data window grows: drift made by the window, not by the members.
RECENCY_MONTHS = 27
HALF_LIFE_DAYS = 90
AGE_BANDS = ((0, 17, "0-17"), (18, 34, "18-34"), (35, 49, "35-49"), (50, 64, "50-64"), (65, 74, "65-74"), (75, 200, "75+"))


SCREENED_MEASURES = {name: tuple(w.code_set for w in m.numerator) for name, m in measures().items() if m.numerator}


@dataclass(frozen=True)
class Feature:
    name: str
    dtype: type[pl.DataType]
    description: str
    sources: tuple[str, ...]


def _declare() -> list[Feature]:
    claims, labs, fills, clinical, elig = "silver/medical_claims", "silver/lab_results", "silver/pharmacy_fills", "silver/clinical_records", "silver/eligibility"
    out = [
        Feature("age", pl.Int32, "Age at Dec 31 of the as-of year.", (f"{elig}.birth_year",)),
        Feature("age_band", pl.String, "Age band (0-17, 18-34, 35-49, 50-64, 65-74, 75+).", (f"{elig}.birth_year",)),
        Feature("sex", pl.String, "Administrative sex.", (f"{elig}.sex",)),
        Feature("line_of_business", pl.String, "Commercial, Medicare or Medicaid.", (f"{elig}.line_of_business",)),
        Feature("region", pl.String, "ZIP3 area.", (f"{elig}.zip3",)),
        Feature("plan_id", pl.String, "Benefit plan (its design, e.g. HMO or PPO, shapes access to screening).", (f"{elig}.plan_id",)),
        Feature("enrolled_days", pl.Int32, "Days of the current enrollment span up to the as-of date.", (f"{elig}.coverage_start",)),
        Feature("month_of_year", pl.Int8, "Calendar month of the as-of date: measurement-year measures reset in January.", ()),
    ]
    out += [Feature(f"{kind}_{days}d", pl.UInt32, f"Distinct {kind.replace('_', ' ')} service dates in the last {days} days.", (f"{claims}.place_of_service", f"{claims}.service_date"))
            for kind in UTILISATION for days in WINDOWS]
    out += [Feature(f"has_{c}", pl.Boolean, f"{c.replace('_', ' ').capitalize()} diagnosed (claims or problem list) in the last 24 months.",
                    (f"{claims}.diagnosis_code_1", f"{claims}.diagnosis_code_2", f"{clinical}.code")) for c in CONDITIONS]
    for lab in LABS:
        out += [Feature(f"days_since_{lab}", pl.Int32, f"Days since the last {lab} result in the last {RECENCY_MONTHS} months (null: none).", (f"{labs}.loinc_code", f"{labs}.collection_date")),
                Feature(f"last_{lab}", pl.Float64, f"Value of the last {lab} result in the last {RECENCY_MONTHS} months.", (f"{labs}.value",))]
    out += [Feature(f"pdc_{c}", pl.Float64, f"Proportion of the last {PDC_DAYS} days covered by {c.replace('_', ' ')} fills (0 if none).",
                    (f"{fills}.therapeutic_class", f"{fills}.fill_date", f"{fills}.days_supply")) for c in PDC_CLASSES]
    out += [Feature(f"prior_gap_{m}", pl.Int8, f"Gap status 12 months earlier for {m.replace('_', ' ')}: 1 open, 0 closed, -1 not eligible.", (f"{claims}.procedure_code", f"{labs}.loinc_code"))
            for m in measures()]
    for m in SCREENED_MEASURES:
        out += [Feature(f"days_since_{m}_event", pl.Int32, f"Days since the last event that counts for {m.replace('_', ' ')} in the last {RECENCY_MONTHS} months (null: none).",
                        (f"{claims}.procedure_code", f"{labs}.loinc_code", f"{claims}.service_date")),
                Feature(f"{m}_events_24m", pl.UInt32, f"Distinct dates with an event that counts for {m.replace('_', ' ')} in the last 24 months.",
                        (f"{claims}.procedure_code", f"{labs}.loinc_code", f"{claims}.service_date"))]
    out += [
        Feature("days_since_primary_care", pl.Int32, f"Days since the last primary-care visit in the last {RECENCY_MONTHS} months (null: none).", (f"{claims}.procedure_code", f"{claims}.service_date")),
        Feature("preventive_visits_24m", pl.UInt32, "Distinct dates with a preventive or annual wellness visit in the last 24 months.", (f"{claims}.procedure_code", f"{claims}.service_date")),
        Feature("visits_decayed", pl.Float64, f"Visits weighted by exp(-ln2 * age / {HALF_LIFE_DAYS} d) over 365 days.", (f"{claims}.service_date",)),
        Feature("ed_decayed", pl.Float64, f"ED visits weighted by exp(-ln2 * age / {HALF_LIFE_DAYS} d) over 365 days.", (f"{claims}.service_date",)),
    ]
    return out


FEATURES = _declare()
KEYS = ["member_key", "as_of"]


def _days_ago(column: str, as_of: date) -> pl.Expr:
    return (pl.lit(as_of) - pl.col(column)).dt.total_days()


def _age_band() -> pl.Expr:
    band = pl.lit(None, pl.String)
    for low, high, label in reversed(AGE_BANDS):
        band = pl.when(pl.col("age").is_between(low, high)).then(pl.lit(label)).otherwise(band)
    return band.alias("age_band")


def utilisation(claims: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Distinct service dates per care setting in each window, plus exponentially decayed visit weights."""
    recent = claims.filter(pl.col("service_date") > as_of - timedelta(days=max(WINDOWS)))
    decay = (-math.log(2) * _days_ago("service_date", as_of) / HALF_LIFE_DAYS).exp()
    aggs = []
    for kind, places in UTILISATION.items():
        hit = pl.col("place_of_service").is_in(places)
        aggs += [pl.col("service_date").filter(hit & (_days_ago("service_date", as_of) < days)).n_unique().alias(f"{kind}_{days}d") for days in WINDOWS]
    visits = recent.select("member_key", "service_date", "place_of_service").unique()
    # Summed as integer nano-units: float sums depend on chunk layout, and snapshots must be byte-for-byte reproducible.
    nanos = (decay * 1e9).round().cast(pl.Int64)
    in_year = _days_ago("service_date", as_of) < 365
    decayed = [(nanos.filter(pl.col("place_of_service").is_in(UTILISATION[k]) & in_year).sum() / 1e9).alias(f"{k}_decayed") for k in ("visits", "ed")]
    return visits.group_by("member_key").agg(*aggs, *decayed)


def recent_events(snap: Snapshot) -> pl.LazyFrame:
    """The snapshot's events within the recency horizon, the same depth of history in every as-of month."""
    return snap.events.filter(pl.col("event_date") > add_months(snap.as_of, -RECENCY_MONTHS))


def condition_flags(snap: Snapshot) -> pl.LazyFrame:
    recent = snap.events.filter(pl.col("event_date") > add_months(snap.as_of, -24))
    return recent.group_by("member_key").agg(*[(pl.col("code_set") == c).any().alias(f"has_{c}") for c in CONDITIONS])


def lab_history(snap: Snapshot) -> pl.LazyFrame:
    aggs = []
    for lab, code_set in LABS.items():
        hit = (pl.col("code_set") == code_set) & (pl.col("feed") == "lab_results")
        aggs += [_days_ago("event_date", snap.as_of).filter(hit).min().cast(pl.Int32).alias(f"days_since_{lab}"),
                 pl.col("value").filter(hit).sort_by(pl.col("event_date").filter(hit), pl.col("event_id").filter(hit)).last().alias(f"last_{lab}")]
    return recent_events(snap).group_by("member_key").agg(*aggs)


def pharmacy_coverage(snap: Snapshot) -> pl.LazyFrame:
    start = snap.as_of - timedelta(days=PDC_DAYS - 1)
    fills = snap.fills.filter(pl.col("therapeutic_class").is_in(PDC_CLASSES) & (pl.col("fill_date") > start - timedelta(days=PDC_DAYS)))
    pdc = proportion_of_days_covered(fills, ["member_key", "therapeutic_class"], pl.lit(start), snap.as_of)
    return pdc.collect().pivot(on="therapeutic_class", index="member_key", values="pdc").lazy().rename(lambda c: c if c == "member_key" else f"pdc_{c}")


def screening_history(snap: Snapshot) -> pl.LazyFrame:
    """Per measure: how long ago the member last had an event that closes it, and how often in 24 months."""
    since = add_months(snap.as_of, -24)
    aggs = []
    for measure, code_sets in SCREENED_MEASURES.items():
        hit = pl.col("code_set").is_in(code_sets)
        aggs += [_days_ago("event_date", snap.as_of).filter(hit).min().cast(pl.Int32).alias(f"days_since_{measure}_event"),
                 pl.col("event_date").filter(hit & (pl.col("event_date") > since)).n_unique().alias(f"{measure}_events_24m")]
    return recent_events(snap).group_by("member_key").agg(*aggs)


def primary_care(snap: Snapshot) -> pl.LazyFrame:
    """Recency of primary care and the count of preventive visits, the habit that best shows engagement with care."""
    preventive = (pl.col("code_set") == "preventive_visit") & (pl.col("event_date") > add_months(snap.as_of, -24))
    visits = recent_events(snap).filter(pl.col("code_set").is_in(["primary_care_visit", "preventive_visit"]))
    return visits.group_by("member_key").agg(
        _days_ago("event_date", snap.as_of).filter(pl.col("code_set") == "primary_care_visit").min().cast(pl.Int32).alias("days_since_primary_care"),
        pl.col("event_date").filter(preventive).n_unique().alias("preventive_visits_24m"))


def prior_gaps(silver: Silver, events: pl.LazyFrame, as_of: date) -> pl.LazyFrame:
    """Each measure's gap status 12 months before, from what was visible then (the same visibility rule)."""
    earlier = all_measure_status(snapshot(silver, events, add_months(as_of, -12)))
    coded = earlier.with_columns(pl.when(pl.col("gap_open").is_null()).then(-1).otherwise(pl.col("gap_open").cast(pl.Int8)).cast(pl.Int8).alias("code"))
    return coded.pivot(on="measure", index="member_key", values="code").lazy().rename(lambda c: c if c == "member_key" else f"prior_gap_{c}")


def build_features(silver: Silver, events: pl.LazyFrame, as_of: date, members: pl.Series | None = None) -> pl.DataFrame:
    """The feature frame at `as_of` for enrolled members (or the given member keys among them)."""
    snap = snapshot(silver, events, as_of)
    base = snap.members.with_columns(_age_band(), pl.col("zip3").alias("region"))
    if members is not None:
        base = base.filter(pl.col("member_key").is_in(members.implode()))
    parts = [utilisation(visible(silver.medical_claims, as_of, "service_date"), as_of), condition_flags(snap), lab_history(snap),
             pharmacy_coverage(snap), screening_history(snap), primary_care(snap), prior_gaps(silver, events, as_of)]
    frame = base
    for part in parts:
        frame = frame.join(part, on="member_key", how="left")
    frame = frame.with_columns(pl.lit(as_of).alias("as_of"), pl.lit(as_of.month, pl.Int8).alias("month_of_year"))
    missing = [pl.lit(None).alias(f.name) for f in FEATURES if f.name not in frame.collect_schema()]
    defaults = [pl.col(f.name).fill_null(0) for f in FEATURES
                if f.name.startswith(("pdc_", "visits_", "ed_", "inpatient_", "preventive_")) or f.name.endswith(("_decayed", "_events_24m"))]
    defaults += [pl.col(f.name).fill_null(False) for f in FEATURES if f.name.startswith("has_")]
    defaults += [pl.col(f.name).fill_null(-1) for f in FEATURES if f.name.startswith("prior_gap_")]
    out = frame.with_columns(missing).with_columns(defaults).select(*KEYS, *[pl.col(f.name).cast(f.dtype) for f in FEATURES])
    return out.collect().sort("member_key")
