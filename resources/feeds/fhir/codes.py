"""The code map (`fhir_code_map.csv`, next to this package): source codes translated into the feeds' code systems."""

from __future__ import annotations

from functools import cache
from pathlib import Path

import polars as pl

CODE_MAP_FILE = Path(__file__).parent.with_name("fhir_code_map.csv")
DIAGNOSIS, PROCEDURE, DRUG = ("ICD10CM",), ("CPT", "HCPCS"), ("NDC",)


@cache
def code_map() -> pl.DataFrame:
    """The crosswalk table; a (system, code, target_system) given twice is an error, not a silent pick."""
    table = pl.read_csv(CODE_MAP_FILE, comment_prefix="#", infer_schema=False)
    repeated = table.filter(pl.struct("system", "code", "target_system").is_duplicated())
    if repeated.height:
        raise ValueError(f"{CODE_MAP_FILE.name}: repeated mappings {repeated.select('system', 'code', 'target_system').rows()}")
    return table


def map_codes(frame: pl.DataFrame, system: str, code: str, targets: tuple[str, ...], out: str, extras: tuple[str, ...] = ()) -> pl.DataFrame:
    """Add `out` (the target code, or the source code when unmapped) and `<out>_mapped`; codes already in a target system pass."""
    lookup = code_map().filter(pl.col("target_system").is_in(targets)).select(
        pl.col("system").alias(system), pl.col("code").alias(code), pl.col("target_code").alias("_target"), *extras
    )
    native = pl.col(system).is_in(targets).fill_null(False)
    return frame.join(lookup, on=[system, code], how="left").with_columns(
        pl.when(native).then(pl.col(code)).otherwise(pl.coalesce("_target", code)).alias(out),
        (native | pl.col("_target").is_not_null()).alias(f"{out}_mapped"),
    ).drop("_target")
