"""From raw text rows toward silver: conform to the contract, judge every row by its own rules, pseudonymise.

Every input row ends either valid or with the rules it broke. The rules that span rows (exact re-sends,
versions of a key) are settled across batches by assets/silver_build.py.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandera.polars as pa
import polars as pl

from assets.privacy import MEMBER_ID, MEMBER_KEY, content_digests, pseudonymise, redact
from checks.schemas import RULES, VALID_TO, intake_schema, rule_name
from resources.feeds.contract import ARRIVAL_DATE, RAW_LINEAGE, SOURCE_FILE, SOURCE_LINE, FeedContract
from resources.feeds.landing import empty_raw_frame

ROW = "_row"
CONTENT = "_content"
IDENTITY = "_identity"
ARRIVAL_ORDER = [ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE]
UNIT_CONVERSIONS = {
    # HbA1c reported in IFCC mmol/mol becomes NGSP % (the unit every measure uses).
    ("lab_results", "mmol/mol"): (("4548-4", "4549-2", "17856-6", "17855-8"), 0.09148, 2.152, "%"),
}


@dataclass(frozen=True)
class JudgedRows:
    """One batch judged row by row. `text` still holds direct identifiers: it never leaves memory, and what is
    quarantined from it passes through `quarantine_text`."""

    text: pl.DataFrame
    valid: pl.DataFrame
    rules: pl.DataFrame


def empty_raw(spec: FeedContract) -> pl.DataFrame:
    """A raw frame with no rows but every contract column, so a feed with nothing landed still yields (empty) silver tables."""
    return empty_raw_frame().with_columns(pl.lit(None, pl.String).alias(c) for c in spec.column_names)


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


def judge_rows(raw: pl.DataFrame, spec: FeedContract, pseudonym_key: bytes, first_row: int = 0) -> JudgedRows:
    """Conform one batch of raw rows and judge each against its own rules (rows numbered from `first_row`)."""
    text = clean_text(apply_renames(raw, spec), spec.column_names).with_row_index(ROW, offset=first_row)
    typed, type_failures = cast_to_contract(text, spec)
    typed = convert_units(typed, spec.name)
    judged = without_masked_required(pl.concat([type_failures, rule_failures(typed, spec.name)]))
    rules = judged.group_by(ROW).agg(pl.col("rule").unique().sort().str.join("; ").alias(RULES))
    valid = typed.join(rules, on=ROW, how="anti")
    return JudgedRows(text=text, valid=_pseudonymised_with_content(valid, spec, pseudonym_key), rules=rules)


def _pseudonymised_with_content(valid: pl.DataFrame, spec: FeedContract, pseudonym_key: bytes) -> pl.DataFrame:
    """Valid rows pseudonymised, with a CONTENT hash that is equal exactly when every contract value is (exact re-sends).

    Identifiers other than the member id are gone once pseudonymised, so their keyed digest stands in for them; the
    member id is represented by its pseudonym. The hash then sees only what silver holds anyway, so it need not be keyed.
    """
    others = [c for c in spec.direct_identifiers() if c != MEMBER_ID]
    if others:
        valid = valid.with_columns(content_digests(valid, others, pseudonym_key).alias(IDENTITY))
    content = [MEMBER_KEY, *([IDENTITY] if others else []), *(c for c in spec.column_names if c not in spec.direct_identifiers())]
    row = pl.struct(content)
    return pseudonymise(valid, pseudonym_key, spec.direct_identifiers()).with_columns(
        pl.struct(row.hash(0).alias("h0"), row.hash(1).alias("h1")).alias(CONTENT), pl.lit(None, pl.Date).alias(VALID_TO),
    )


def quarantine_text(judged: JudgedRows, rules: pl.DataFrame, spec: FeedContract, pseudonym_key: bytes) -> pl.DataFrame:
    """The rows named in `rules` (ROW, RULES) as delivered, identifiers replaced by their pseudonym, in row order."""
    return redact(judged.text.join(rules, on=ROW, how="inner").sort(ROW), pseudonym_key, spec.direct_identifiers())
