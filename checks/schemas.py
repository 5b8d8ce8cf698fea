"""Pandera (polars) schemas built from the feed contracts: one place for every row and table rule.

`intake_schema` judges conformed rows before pseudonymisation (it may see identifiers, and its
failure cases never leave memory); `silver_schema` is the contract of the persisted silver table.
Rule names are `<column>:<kind>` for column rules and `record:<name>` for cross-column rules.
"""

from __future__ import annotations

from functools import cache

import pandera.polars as pa
import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE, Column, contract

DTYPES = {"string": pl.String, "date": pl.Date, "decimal": pl.Float64, "integer": pl.Int64}
HBA1C_LOINC = ("4548-4", "4549-2", "17856-6", "17855-8")
# Plausible vital-sign values by LOINC code (a systolic of 16 is a kPa value labelled mm[Hg]).
VITAL_RANGES = {"8480-6": (50.0, 300.0), "8462-4": (20.0, 200.0), "39156-5": (10.0, 100.0)}
PSEUDONYM_PATTERN = r"^[0-9a-f]{16}$"
RULES = "_rules"
DUPLICATE = "record:duplicate"
VALID_TO = "_valid_to_arrival"
RULE_KINDS = {
    "not_nullable": "required",
    "str_matches": "pattern",
    "isin": "allowed",
    "greater_than_or_equal_to": "range",
    "less_than_or_equal_to": "range",
    "in_range": "range",
    "field_uniqueness": "unique",
    "multiple_fields_uniqueness": "unique",
}


TABLE_CHECKS = ("column_in_dataframe", "column_in_schema", "dtype")


def rule_kind(check: pl.Expr) -> pl.Expr:
    """Pandera's check name (e.g. `str_matches('^..$')`) as the rule kind people read (`pattern`)."""
    return check.str.extract(r"^(\w+)").replace(RULE_KINDS)


def rule_name() -> pl.Expr:
    """`column:kind` or `record:name` for a row of Pandera failure cases (its values are never used).

    Frame-level rules report the schema name as their column; a missing or unexpected column is named by
    the failure case itself, which is then a column name, not a value.
    """
    kind = rule_kind(pl.col("check"))
    column = (
        pl.when(pl.col("check").is_in(TABLE_CHECKS[:2])).then(pl.col("failure_case"))
        .when(pl.col("schema_context") == "DataFrameSchema").then(pl.lit("record"))
        .otherwise(pl.col("column"))
    )
    return (column + ":" + kind).alias("rule")


def _vital_plausible() -> pl.Expr:
    ok = pl.lit(True)
    for code, (low, high) in VITAL_RANGES.items():
        ok = ok & ((pl.col("code") != code) | pl.col("value").is_null() | pl.col("value").is_between(low, high))
    return (pl.col("record_type") != "vital") | ok


def _strength_matches_drug_name() -> pl.Expr:
    """The strength column agrees with the strength printed in the drug name (catches grams sent as mg)."""
    stated = pl.coalesce(
        pl.col("drug_name").str.extract(r"([0-9]+(?:\.[0-9]+)?)\s*mg\b", 1).cast(pl.Float64, strict=False),
        pl.col("drug_name").str.extract(r"([0-9]+(?:\.[0-9]+)?)\s*mcg\b", 1).cast(pl.Float64, strict=False) / 1000,
    )
    return stated.is_null() | pl.col("strength_mg").is_null() | ((pl.col("strength_mg") / stated - 1).abs() < 0.01)


def _not_after_arrival(column: str) -> pl.Expr:
    return pl.col(column).is_null() | (pl.col(column) <= pl.col(ARRIVAL_DATE))


RECORD_RULES: dict[str, dict[str, pl.Expr]] = {
    "eligibility": {
        "coverage_end_not_before_start": pl.col("coverage_end").is_null() | (pl.col("coverage_end") >= pl.col("coverage_start")),
        "birth_not_after_arrival": _not_after_arrival("birth_date"),
    },
    "medical_claims": {
        "paid_not_before_service": pl.col("paid_date").is_null() | (pl.col("paid_date") >= pl.col("service_date")),
        "service_not_after_arrival": _not_after_arrival("service_date"),
    },
    "pharmacy_fills": {
        "fill_not_after_arrival": _not_after_arrival("fill_date"),
        "strength_matches_drug_name": _strength_matches_drug_name(),
    },
    "lab_results": {
        "result_not_before_collection": pl.col("result_date").is_null() | (pl.col("result_date") >= pl.col("collection_date")),
        "collection_not_after_arrival": _not_after_arrival("collection_date"),
        "hba1c_percent_plausible": ~(pl.col("loinc_code").is_in(HBA1C_LOINC) & (pl.col("unit") == "%")) | pl.col("value").is_between(3.0, 20.0),
    },
    "clinical_records": {
        "vital_has_value": (pl.col("record_type") != "vital") | pl.col("value").is_not_null(),
        "vital_plausible": _vital_plausible(),
        "encounter_not_after_arrival": _not_after_arrival("encounter_date"),
    },
}


def _column_checks(col: Column) -> list[pa.Check]:
    checks = []
    if col.pattern:
        checks.append(pa.Check.str_matches(col.pattern))
    if col.allowed:
        checks.append(pa.Check.isin(list(col.allowed)))
    if col.min is not None:
        checks.append(pa.Check.ge(col.min))
    if col.max is not None:
        checks.append(pa.Check.le(col.max))
    return checks


def _record_check(name: str, expr: pl.Expr) -> pa.Check:
    return pa.Check(lambda data: data.lazyframe.select(expr), name=name)


def _lineage_columns() -> dict[str, pa.Column]:
    return {
        SOURCE_FILE: pa.Column(pl.String, nullable=False),
        SOURCE_LINE: pa.Column(pl.Int64, nullable=False),
        ARRIVAL_DATE: pa.Column(pl.Date, nullable=False),
    }


@cache
def intake_schema(feed: str) -> pa.DataFrameSchema:
    """Row rules for conformed (typed, not yet pseudonymised) rows of a feed."""
    spec = contract(feed)
    columns = {
        c.name: pa.Column(DTYPES[c.type], checks=_column_checks(c), nullable=not c.required)
        for c in spec.columns.values()
    }
    rules = [_record_check(name, expr) for name, expr in RECORD_RULES[feed].items()]
    return pa.DataFrameSchema({**columns, **_lineage_columns()}, checks=rules, name=f"intake_{feed}")


def silver_columns(feed: str) -> dict[str, pa.Column]:
    """The persisted silver columns: contract columns minus direct identifiers, plus pseudonym and generalisations."""
    spec = contract(feed)
    columns = {"member_key": pa.Column(pl.String, checks=[pa.Check.str_matches(PSEUDONYM_PATTERN)], nullable=False)}
    if "birth_date" in spec.columns:
        columns["birth_year"] = pa.Column(pl.Int32, checks=[pa.Check.between(1900, 2100)], nullable=False)
    if "zip" in spec.columns:
        columns["zip3"] = pa.Column(pl.String, checks=[pa.Check.str_matches(r"^[0-9]{3}$")], nullable=False)
    for col in spec.columns.values():
        if col.classification != "direct_identifier":
            columns[col.name] = pa.Column(DTYPES[col.type], checks=_column_checks(col), nullable=not col.required)
    return {**columns, **_lineage_columns(), VALID_TO: pa.Column(pl.Date, nullable=True)}


def quarantine_columns(feed: str) -> dict[str, pa.Column]:
    """Quarantined rows keep the delivered text (identifiers replaced by member_key) and the rules broken."""
    spec = contract(feed)
    columns = {"member_key": pa.Column(pl.String, nullable=True)}
    columns |= {c.name: pa.Column(pl.String, nullable=True) for c in spec.columns.values() if c.classification != "direct_identifier"}
    return {**columns, RULES: pa.Column(pl.String, nullable=False), **_lineage_columns()}


def silver_key(feed: str) -> list[str]:
    return ["member_key" if k == "member_id" else k for k in contract(feed).key]


def version_rules(key: list[str]) -> dict[str, pl.Expr]:
    """Silver keeps every version of a key; exactly one is current, and a version ends when a later one arrives."""
    current = pl.col(VALID_TO).is_null()
    return {
        "one_current_version_per_key": ~(current & pl.struct(key).is_duplicated().over(current)),
        "version_ends_after_it_arrived": current | (pl.col(VALID_TO) >= pl.col(ARRIVAL_DATE)),
    }


@cache
def silver_schema(feed: str) -> pa.DataFrameSchema:
    """The contract of the silver table: exact columns and types, row rules, one current version per key."""
    columns = silver_columns(feed)
    rules = {name: expr for name, expr in RECORD_RULES[feed].items() if set(expr.meta.root_names()) <= set(columns)}
    rules |= version_rules(silver_key(feed))
    checks = [_record_check(name, expr) for name, expr in rules.items()]
    return pa.DataFrameSchema(columns, checks=checks, strict=True, name=f"silver_{feed}")
