"""Silver as the gold layer reads it: one long table of coded clinical events, and enrollment at a date.

Events are built once per silver snapshot and tagged with every code set they belong to; each as-of
date then only filters them through `pit.visible`.
"""

from dataclasses import dataclass
from datetime import date

import polars as pl

from assets.measures import code_sets
from assets.pit import visible
from checks.schemas import VALID_TO
from resources.feeds.contract import ARRIVAL_DATE

LINEAGE = [ARRIVAL_DATE, VALID_TO]
EVENT_COLUMNS = ["member_key", "event_date", "system", "code", "event_id", "feed", "value", *LINEAGE]


@dataclass(frozen=True)
class Silver:
    """The silver tables the gold layer needs, as lazy frames."""

    eligibility: pl.LazyFrame
    medical_claims: pl.LazyFrame
    pharmacy_fills: pl.LazyFrame
    lab_results: pl.LazyFrame
    clinical_records: pl.LazyFrame

    @classmethod
    def of(cls, frames: dict[str, pl.DataFrame | pl.LazyFrame]) -> "Silver":
        return cls(**{name: frame.lazy() for name, frame in frames.items()})


def _procedure_system(code: pl.Expr) -> pl.Expr:
    return pl.when(code.str.contains(r"^[A-Z]")).then(pl.lit("HCPCS")).otherwise(pl.lit("CPT"))


def _claim_events(claims: pl.LazyFrame) -> pl.LazyFrame:
    line_id = pl.col("claim_id") + ":" + pl.col("claim_line").cast(pl.String)
    base = [pl.col("member_key"), pl.col("service_date").alias("event_date"), line_id.alias("event_id"), pl.lit("medical_claims").alias("feed"),
            pl.lit(None, pl.Float64).alias("value"), *[pl.col(c) for c in LINEAGE]]
    procedures = claims.select(*base, _procedure_system(pl.col("procedure_code")).alias("system"), pl.col("procedure_code").alias("code"))
    diagnoses = [
        claims.filter(pl.col(dx).is_not_null()).select(*base, pl.lit("ICD10CM").alias("system"), pl.col(dx).alias("code"))
        for dx in ("diagnosis_code_1", "diagnosis_code_2")
    ]
    return pl.concat([procedures, *diagnoses], how="diagonal")


def _lab_events(labs: pl.LazyFrame) -> pl.LazyFrame:
    return labs.select(
        pl.col("member_key"), pl.col("collection_date").alias("event_date"), pl.lit("LOINC").alias("system"),
        pl.col("loinc_code").alias("code"), pl.col("result_id").alias("event_id"), pl.lit("lab_results").alias("feed"),
        pl.col("value"), *[pl.col(c) for c in LINEAGE],
    )


def _clinical_events(clinical: pl.LazyFrame) -> pl.LazyFrame:
    return clinical.select(
        pl.col("member_key"), pl.col("encounter_date").alias("event_date"),
        pl.when(pl.col("record_type") == "problem").then(pl.lit("ICD10CM")).otherwise(pl.lit("LOINC")).alias("system"),
        pl.col("code"), pl.col("record_id").alias("event_id"), pl.lit("clinical_records").alias("feed"),
        pl.col("value"), *[pl.col(c) for c in LINEAGE],
    )


def tagged_events(silver: Silver) -> pl.LazyFrame:
    """Every coded event with the code sets it belongs to (exact codes, or ICD-10-CM category prefixes)."""
    events = pl.concat([_claim_events(silver.medical_claims), _lab_events(silver.lab_results), _clinical_events(silver.clinical_records)],
                       how="diagonal").select(EVENT_COLUMNS)
    sets = code_sets().lazy()
    exact = events.join(sets.filter(pl.col("match") == "exact").select("code_set", "system", "code"), on=["system", "code"])
    prefixes = sets.filter(pl.col("match") == "prefix").with_columns(pl.col("code").str.len_chars().alias("length"))
    by_prefix = [
        events.with_columns(pl.col("code").str.slice(0, n).alias("prefix")).join(
            prefixes.filter(pl.col("length") == n).select("code_set", "system", pl.col("code").alias("prefix")), on=["system", "prefix"]
        ).drop("prefix")
        for n in (3, 5)
    ]
    # Whole-row unique: a code listed both exactly and by prefix counts once, while versions of one event
    # (same id, different arrival) stay distinct.
    return pl.concat([exact, *by_prefix], how="diagonal").unique()


def enrolled(eligibility: pl.LazyFrame, as_of: date, min_enrolled_days: int) -> pl.LazyFrame:
    """Members enrolled on `as_of` for at least `min_enrolled_days`, with the demographics of that span."""
    spans = visible(eligibility, as_of, "coverage_start").filter(pl.col("coverage_end").is_null() | (pl.col("coverage_end") >= as_of))
    current = spans.sort("coverage_start").group_by("member_key").last()
    days = (pl.lit(as_of) - pl.col("coverage_start")).dt.total_days() + 1
    return current.filter(days >= min_enrolled_days).select(
        "member_key", "sex", "birth_year", "zip3", "line_of_business", "plan_id",
        (pl.lit(as_of.year) - pl.col("birth_year")).cast(pl.Int32).alias("age"),
        days.cast(pl.Int32).alias("enrolled_days"),
    )
