"""From raw text rows to silver: conform to the contract, judge every row, pseudonymise, de-duplicate.

Every input row ends in exactly one of two places: the silver table or the quarantine table with the
rules it broke, so `rows in = accepted + quarantined` holds by construction and is checked afterwards.
Silver is bitemporal: a later arrival of the same key (a correction) does not erase the earlier version;
the earlier one gets `_valid_to_arrival`, so any past as-of date sees exactly what had arrived by then.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from assets.privacy import pseudonymise, redact
from checks.schemas import DUPLICATE, RULES, VALID_TO, intake_schema, rule_name
from resources.feeds.contract import ARRIVAL_DATE, RAW_LINEAGE, SOURCE_FILE, SOURCE_LINE, FeedContract

ROW = "_row"
ARRIVAL_ORDER = [ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE]
UNIT_CONVERSIONS = {
    # HbA1c reported in IFCC mmol/mol becomes NGSP % (the unit every measure uses).
    ("lab_results", "mmol/mol"): (("4548-4", "4549-2", "17856-6", "17855-8"), 0.09148, 2.152, "%"),
}


@dataclass(frozen=True)
class SilverSplit:
    accepted: pl.DataFrame
    quarantined: pl.DataFrame


def apply_renames(raw: pl.DataFrame, spec: FeedContract) -> pl.DataFrame:
    """Map declared renames onto contract names and add absent contract columns as empty text."""
    out = raw
    for old, new in spec.renames.items():
        if old in out.columns:
            out = out.with_columns(pl.coalesce(new, old).alias(new) if new in out.columns else pl.col(old).alias(new))
    missing = [pl.lit(None, pl.String).alias(c) for c in spec.column_names if c not in out.columns]
    return out.with_columns(missing).select(*spec.column_names, *RAW_LINEAGE)


def clean_text(frame: pl.DataFrame, columns: list[str]) -> pl.DataFrame:
    """Trim text and treat empty cells as missing, as every CSV sender means them."""
    return frame.with_columns(pl.col(c).cast(pl.String).str.strip_chars().replace("", None) for c in columns)


def _cast(column: str, kind: str) -> pl.Expr:
    text = pl.col(column)
    if kind == "date":
        return text.str.to_date("%Y-%m-%d", strict=False)
    if kind == "decimal":
        return text.cast(pl.Float64, strict=False)
    if kind == "integer":
        return text.cast(pl.Int64, strict=False)
    return text


def cast_to_contract(text: pl.DataFrame, spec: FeedContract) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Typed frame plus (row, rule) failures for values present as text but not of the declared type."""
    typed = text.with_columns(_cast(c.name, c.type).alias(c.name) for c in spec.columns.values())
    failures = [
        text.select(ROW).filter(text[c.name].is_not_null() & typed[c.name].is_null()).with_columns(pl.lit(f"{c.name}:type").alias("rule"))
        for c in spec.columns.values()
        if c.type != "string"
    ]
    return typed, pl.concat(failures) if failures else pl.DataFrame(schema={ROW: pl.UInt32, "rule": pl.String})


def convert_units(typed: pl.DataFrame, feed: str) -> pl.DataFrame:
    for (conv_feed, unit), (codes, slope, intercept, target) in UNIT_CONVERSIONS.items():
        if conv_feed == feed:
            hit = pl.col("loinc_code").is_in(codes) & (pl.col("unit") == unit)
            typed = typed.with_columns(
                pl.when(hit).then(pl.col("value") * slope + intercept).otherwise(pl.col("value")).alias("value"),
                pl.when(hit).then(pl.lit(target)).otherwise(pl.col("unit")).alias("unit"),
            )
    return typed


def rule_failures(typed: pl.DataFrame, feed: str) -> pl.DataFrame:
    """(row, rule) for every contract rule a row breaks, judged by the feed's Pandera intake schema."""
    try:
        intake_schema(feed).validate(typed.drop(ROW), lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases.filter(pl.col("index").is_not_null())
        return cases.select(
            typed[ROW].gather(cases["index"].cast(pl.UInt32)).alias(ROW) if cases.height else pl.lit(None, pl.UInt32).alias(ROW),
            rule_name(),
        )
    return pl.DataFrame(schema={ROW: pl.UInt32, "rule": pl.String})


def without_masked_required(failures: pl.DataFrame) -> pl.DataFrame:
    """A value that failed its type cast is reported as `:type`, not also as missing (`:required`)."""
    typed_out = failures.filter(pl.col("rule").str.ends_with(":type")).select(ROW, pl.col("rule").str.replace(":type$", ":required"))
    return failures.join(typed_out, on=[ROW, "rule"], how="anti")


def duplicate_failures(valid: pl.DataFrame, spec: FeedContract) -> pl.DataFrame:
    """An exact re-send (every contract value equal) keeps only its first arrival."""
    ranked = valid.sort(ARRIVAL_ORDER)
    exact = ranked.filter(pl.struct(spec.column_names).is_duplicated() & ~pl.struct(spec.column_names).is_first_distinct())
    return exact.select(ROW, pl.lit(DUPLICATE).alias("rule"))


def with_versions(accepted: pl.DataFrame, key: list[str]) -> pl.DataFrame:
    """Each version of a key is valid until the next version of that key arrives (null while current)."""
    ranked = accepted.sort(ARRIVAL_ORDER)
    return ranked.with_columns(pl.col(ARRIVAL_DATE).shift(-1).over(key).alias(VALID_TO)).sort(ROW)


def split_feed(raw: pl.DataFrame, spec: FeedContract, pseudonym_key: bytes) -> SilverSplit:
    """Conform, judge and split one feed's raw rows into silver and quarantine."""
    text = clean_text(apply_renames(raw, spec), spec.column_names).with_row_index(ROW)
    typed, type_failures = cast_to_contract(text, spec)
    typed = convert_units(typed, spec.name)
    judged = without_masked_required(pl.concat([type_failures, rule_failures(typed, spec.name)]))
    valid = typed.filter(~pl.col(ROW).is_in(judged[ROW].implode()))
    failures = pl.concat([judged, duplicate_failures(valid, spec)])
    rules = failures.group_by(ROW).agg(pl.col("rule").unique().sort().str.join("; ").alias(RULES))
    identifiers = spec.direct_identifiers()
    accepted = with_versions(typed.join(rules, on=ROW, how="anti"), list(spec.key))
    silver = pseudonymise(accepted, pseudonym_key, identifiers).drop(ROW)
    quarantined = redact(text.join(rules, on=ROW, how="inner").sort(ROW), pseudonym_key, identifiers)
    return SilverSplit(accepted=silver, quarantined=quarantined.drop(ROW))
