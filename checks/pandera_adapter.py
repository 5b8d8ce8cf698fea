"""The one adapter from a Pandera schema to a Dagster asset check result.

dagster-pandera only builds a Dagster type (a step that fails); checks need the failure summary as
metadata instead: counts per rule and a few example rows named by source file and line. The failing
values themselves are never reported, since they may be PHI.
"""

from __future__ import annotations

from collections.abc import Iterable

import dagster as dg
import pandera.polars as pa
import polars as pl

from assets.policy import markdown_table
from checks.schemas import rule_name
from resources.feeds.contract import SOURCE_FILE, SOURCE_LINE

EXAMPLES = 5


def failure_summary(schema: pa.DataFrameSchema, frame: pl.DataFrame) -> pl.DataFrame:
    """One row per failing cell or table rule: `rule` and the row `index` (null for table-level rules)."""
    try:
        schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        return err.failure_cases.select(rule_name(), pl.col("index"))
    return pl.DataFrame(schema={"rule": pl.String, "index": pl.Int32})


def _examples(frame: pl.DataFrame, indexes: pl.Series) -> list[str]:
    if SOURCE_FILE not in frame.columns or not indexes.len():
        return []
    rows = frame.select(SOURCE_FILE, SOURCE_LINE).gather(indexes.unique().sort().head(EXAMPLES).cast(pl.UInt32))
    return [f"{f}:{line}" for f, line in rows.iter_rows()]


def pandera_check_result(
    schema: pa.DataFrameSchema,
    batches: Iterable[pl.DataFrame],
    severity: dg.AssetCheckSeverity = dg.AssetCheckSeverity.ERROR,
) -> dg.AssetCheckResult:
    """Validate a table, given as batches (Warehouse.read_batches), against `schema`; pass/fail with failure counts per rule."""
    rules, rows, examples = [], 0, []
    for frame in batches:
        failures = failure_summary(schema, frame)
        rules.append(failures.select("rule"))
        rows += frame.height
        examples += _examples(frame, failures["index"].drop_nulls())[: EXAMPLES - len(examples)]
    failures = pl.concat(rules) if rules else pl.DataFrame(schema={"rule": pl.String})
    by_rule = failures.group_by("rule").len().sort(["len", "rule"], descending=[True, False])
    return dg.AssetCheckResult(
        passed=failures.is_empty(),
        severity=severity,
        description=f"{schema.name}: " + (", ".join(f"{r} ({n:,})" for r, n in by_rule.head(3).iter_rows()) if failures.height else "all rules hold"),
        metadata={
            "schema": schema.name,
            "rows_checked": rows,
            "failures": failures.height,
            "failures_by_rule": markdown_table(by_rule.rename({"len": "failures"})),
            "example_rows": dg.MetadataValue.json(examples),
        },
    )
