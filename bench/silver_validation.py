"""Silver validation throughput: the project's Pandera-polars check against Pandera's pandas backend on the same rules,
with a plain DuckDB scan of the same rules as the floor, all three on the same claim lines.

The data is `silver.medical_claims` as stored (pseudonymised, bitemporal), generated vectorised with a seeded share of
rule-breaking rows of every kind the schema judges, and written once to parquet under `$WORKBENCH_HOME/bench/`.
Each side loads it in a process of its own (peak memory is that process's VmHWM, see bench/measure.py) and is timed on in-memory data:

- ours: `failure_summary(silver_schema("medical_claims"), frame)`, the validation the `schema` asset check runs;
- pandas: a `pandera.pandas` schema built from that same schema object: the same column checks with date bounds as
  timestamps (pandas compares datetime64, not `date`), the same dtypes and nullability, and the four record rules
  (polars expressions, which pandas cannot run) translated by hand under the same names;
- DuckDB: one `count(*)` of rows breaking any rule over a DuckDB table, column rules generated from the same schema
  object, record rules translated by hand. It checks rows only (columns and types are the table's own).

A row fails if it breaks any rule; the three counts must agree. Table-level rules (columns, types) pass on this data.

    python -m bench.silver_validation --rows 10000000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from datetime import date
from typing import TYPE_CHECKING

import numpy as np
import polars as pl
import pyarrow as pa

from bench.measure import median_timed, peak_mib, run_json
from bench.table import Row, load_average, markdown, times
from checks.pandera_adapter import failure_summary
from checks.schemas import VALID_TO, silver_key, silver_schema
from resources.environment import settings
from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE

if TYPE_CHECKING:  # pandas and Pandera's pandas backend load only in the process measuring them
    import pandas as pd
    import pandera.pandas as ppa

FEED = "medical_claims"
SIDES = ("polars", "pandas", "duckdb")
REPEATS = {"polars": 3, "pandas": 1, "duckdb": 3}  # pandas at 10M rows takes minutes: one run
TARGET_RATIO = 5.0
MEMBERS = 1_000_000
PROCEDURES = ("99213", "99214", "99203", "36415", "80053", "85025", "77067", "45378", "G0121", "83036", "93000", "71046")
DIAGNOSES = ("I10", "E11.9", "E78.5", "Z00.00", "Z12.31", "Z12.11", "J06.9", "M54.50", "E66.9", "I25.10", "Z79.4", "K21.9")
PLACES = ("11", "21", "22", "23", "81")
FIRST_SERVICE, SERVICE_DAYS = date(2021, 1, 1), 5 * 365
# Share of rows given each fault, independently (a row may break several rules); a version can only end early on the
# superseded rows (SUPERSEDED of all), so its share applies to those.
FAULTS = {"procedure_code_malformed": 0.0015, "provider_npi_short": 0.001, "diagnosis_missing": 0.0005,
          "paid_negative": 0.0005, "billed_over_max": 0.0002, "claim_line_zero": 0.0002, "paid_before_service": 0.001,
          "service_after_arrival": 0.0005, "current_key_duplicated": 0.0005, "version_ends_before_arrival": 0.01}
SUPERSEDED = 0.02  # share of rows that are earlier versions of a corrected claim line


def _hex_keys(rng: np.random.Generator, n: int) -> pl.Series:
    """n pseudonyms shaped like silver's member_key (16 hex characters)."""
    raw = pa.FixedSizeBinaryArray.from_buffers(pa.binary(8), n, [None, pa.py_buffer(rng.bytes(8 * n))])
    return pl.Series(raw).cast(pl.Binary).bin.encode("hex")


def current_versions(rng: np.random.Generator, n: int) -> pl.DataFrame:
    """n current claim lines: claims of 1-4 lines, one member and service date per claim."""
    sizes = rng.poisson(1.0, n) + 1
    claim = np.repeat(np.arange(n), sizes)[:n]
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    service = pl.lit(FIRST_SERVICE) + pl.duration(days=pl.Series(rng.integers(0, SERVICE_DAYS, n)[claim]))
    paid = service + pl.duration(days=pl.Series(rng.integers(7, 90, n)))
    arrival = paid + pl.duration(days=pl.Series(rng.integers(0, 8, n)))
    billed = np.round(rng.lognormal(5, 1.1, n), 2)
    frame = pl.select(**{
        "member_key": _hex_keys(rng, MEMBERS).gather(rng.integers(0, MEMBERS, n)[claim]),
        "claim_id": pl.Series(claim).cast(pl.String).str.zfill(10),
        "claim_line": pl.Series(np.arange(n) - starts[claim] + 1, dtype=pl.Int64),
        "service_date": service, "paid_date": paid,
        "place_of_service": pl.Series(PLACES).gather(rng.choice(len(PLACES), n, p=[0.8, 0.05, 0.08, 0.05, 0.02])),
        "provider_npi": (pl.Series(rng.integers(10**9, 2 * 10**9, 50_000)).cast(pl.String).gather(rng.integers(0, 50_000, n))
                         .scatter(np.flatnonzero(rng.random(n) < 0.08), None)),
        "diagnosis_code_1": pl.Series(DIAGNOSES).gather(rng.integers(0, len(DIAGNOSES), n)),
        "diagnosis_code_2": pl.Series(DIAGNOSES).gather(rng.integers(0, len(DIAGNOSES), n)).scatter(np.flatnonzero(rng.random(n) < 0.6), None),
        "procedure_code": pl.Series(PROCEDURES).gather(rng.integers(0, len(PROCEDURES), n)),
        "billed_amount": pl.Series(billed), "paid_amount": pl.Series(np.round(billed * rng.uniform(0.2, 0.9, n), 2)),
        ARRIVAL_DATE: arrival,
    })
    return frame.with_columns(pl.concat_str(pl.lit(f"{FEED}/"), pl.col(ARRIVAL_DATE).cast(pl.String), pl.lit(".csv")).alias(SOURCE_FILE),
                              (pl.int_range(pl.len()).over(ARRIVAL_DATE) + 2).cast(pl.Int64).alias(SOURCE_LINE),
                              pl.lit(None, pl.Date).alias(VALID_TO))


def earlier_versions(rng: np.random.Generator, current: pl.DataFrame, n: int) -> pl.DataFrame:
    """n superseded versions of current lines: same key, arrived 1-30 days before the correction that closed them."""
    picked = current.gather(rng.choice(current.height, n, replace=False))
    back = pl.duration(days=pl.Series(rng.integers(1, 31, n)))
    return picked.with_columns(pl.col(ARRIVAL_DATE).alias(VALID_TO),
                               pl.max_horizontal(pl.col(ARRIVAL_DATE) - back, pl.col("paid_date")).alias(ARRIVAL_DATE),
                               (pl.col("paid_amount") * 0.9).round(2))


def with_faults(rng: np.random.Generator, frame: pl.DataFrame) -> pl.DataFrame:
    """Breaks each rule in a seeded share of rows (FAULTS); a duplicated current key copies another current row's key."""
    hit = {name: pl.Series(rng.random(frame.height) < share) for name, share in FAULTS.items()}
    current = pl.col(VALID_TO).is_null()
    donor = frame.select(pl.col("claim_id", "claim_line").shift(1))
    return frame.with_columns(
        pl.when(hit["procedure_code_malformed"]).then(pl.col("procedure_code").str.slice(0, 4)).otherwise("procedure_code").alias("procedure_code"),
        pl.when(hit["provider_npi_short"]).then(pl.col("provider_npi").str.slice(1)).otherwise("provider_npi").alias("provider_npi"),
        pl.when(~hit["diagnosis_missing"]).then("diagnosis_code_1").alias("diagnosis_code_1"),
        pl.when(hit["paid_negative"]).then(-pl.col("paid_amount")).otherwise("paid_amount").alias("paid_amount"),
        pl.when(hit["billed_over_max"]).then(pl.col("billed_amount") + 1e6).otherwise("billed_amount").alias("billed_amount"),
        pl.when(hit["claim_line_zero"]).then(0).otherwise("claim_line").alias("claim_line"),
        pl.when(hit["paid_before_service"]).then(pl.col("service_date") - pl.duration(days=3)).otherwise("paid_date").alias("paid_date"),
        pl.when(hit["service_after_arrival"]).then(pl.col(ARRIVAL_DATE) + pl.duration(days=2)).otherwise("service_date").alias("service_date"),
        pl.when(hit["version_ends_before_arrival"] & ~current).then(pl.col(ARRIVAL_DATE) - pl.duration(days=1)).otherwise(VALID_TO).alias(VALID_TO),
    ).with_columns(
        *(pl.when(hit["current_key_duplicated"] & current & donor[c].is_not_null()).then(donor[c]).otherwise(c).alias(c) for c in donor.columns)
    )


def silver_claims(lines: int, seed: int) -> pl.DataFrame:
    """`lines` silver claim lines in the schema's column order, SUPERSEDED of them earlier versions."""
    rng = np.random.default_rng(seed)
    superseded = int(lines * SUPERSEDED)
    current = current_versions(rng, lines - superseded)
    frame = pl.concat([current, earlier_versions(rng, current, superseded)])
    return with_faults(rng, frame.sample(fraction=1.0, shuffle=True, seed=seed)).select(list(silver_schema(FEED).columns))


def pandas_record_rules(key: list[str]) -> dict[str, Callable[[pd.DataFrame], pd.Series]]:
    """silver_schema's record rules in pandas, by the names it gives them: each is true where a row keeps the rule."""
    def current(df: pd.DataFrame) -> pd.Series:
        return df[VALID_TO].isna()

    return {
        "paid_not_before_service": lambda df: df["paid_date"].isna() | (df["paid_date"] >= df["service_date"]),
        "service_not_after_arrival": lambda df: df["service_date"].isna() | (df["service_date"] <= df[ARRIVAL_DATE]),
        "one_current_version_per_key": lambda df: ~(current(df) & df[key].assign(_current=current(df)).duplicated(keep=False)),
        "version_ends_after_it_arrived": lambda df: current(df) | (df[VALID_TO] >= df[ARRIVAL_DATE]),
    }


def sql_record_rules(key: list[str]) -> dict[str, str]:
    """Each rule as a predicate that is true when a row breaks it (never null)."""
    partition = ", ".join(key)
    return {
        "paid_not_before_service": "coalesce(paid_date < service_date, false)",
        "service_not_after_arrival": f"coalesce(service_date > {ARRIVAL_DATE}, false)",
        "one_current_version_per_key": f"({VALID_TO} IS NULL AND count(*) OVER (PARTITION BY {partition}, {VALID_TO} IS NULL) > 1)",
        "version_ends_after_it_arrived": f"coalesce({VALID_TO} < {ARRIVAL_DATE}, false)",
    }


def _same_rules(translated: dict) -> dict:
    """The translation itself, refused if its rule names are not exactly silver_schema's, in order."""
    names = [check.name for check in silver_schema(FEED).checks]
    if list(translated) != names:
        raise AssertionError(f"translated record rules {list(translated)} differ from silver_schema's {names}")
    return translated


def pandas_schema() -> ppa.DataFrameSchema:
    """silver_schema(FEED) in Pandera's pandas backend: same columns, dtypes, nullability, checks and rule names."""
    import pandas as pd
    import pandera.pandas as ppa

    dtypes = {"String": "str", "Int64": "int64", "Float64": "float64", "Date": "datetime64[ms]"}

    def check(source) -> ppa.Check:
        bounds = {k: pd.Timestamp(v) if isinstance(v, date) else v for k, v in source.statistics.items()}
        return getattr(ppa.Check, source.name)(**bounds)

    schema = silver_schema(FEED)
    columns = {name: ppa.Column(dtypes[str(col.dtype)], checks=[check(c) for c in col.checks], nullable=col.nullable)
               for name, col in schema.columns.items()}
    rules = _same_rules(pandas_record_rules(silver_key(FEED)))
    return ppa.DataFrameSchema(columns, checks=[ppa.Check(fn, name=name) for name, fn in rules.items()], strict=True, name=schema.name)


def violation_sql(table: str) -> str:
    """Rows breaking any rule of silver_schema(FEED): column rules generated from the schema object, record rules translated."""
    def literal(value: object) -> str:
        if isinstance(value, str):
            return "'" + value.replace("'", "''") + "'"
        return f"DATE '{value}'" if isinstance(value, date) else str(value)

    operators = {"greater_than_or_equal_to": ("<", "min_value"), "less_than_or_equal_to": (">", "max_value")}
    broken = []
    for name, col in silver_schema(FEED).columns.items():
        if not col.nullable:
            broken.append(f"{name} IS NULL")
        for c in col.checks:
            if c.name == "str_matches":
                broken.append(f"coalesce(NOT regexp_matches({name}, {literal(c.statistics['pattern'])}), false)")
            else:
                op, stat = operators[c.name]
                broken.append(f"coalesce({name} {op} {literal(c.statistics[stat])}, false)")
    broken += _same_rules(sql_record_rules(silver_key(FEED))).values()
    return f"SELECT count(*) FILTER (WHERE broken) AS failing FROM (SELECT {' OR '.join(broken)} AS broken FROM {table})"


def pandas_failures(schema: ppa.DataFrameSchema, frame: pd.DataFrame) -> pd.DataFrame:
    """Pandera-pandas failure cases (one row per failing cell or table rule, with the row `index`)."""
    import pandas as pd
    import pandera.pandas as ppa

    try:
        schema.validate(frame, lazy=True)
    except ppa.errors.SchemaErrors as err:
        return err.failure_cases
    return pd.DataFrame({"index": []})


def measure(side: str, path: str) -> dict:
    """Runs in a fresh process: load the file as that side keeps data, then time validation alone."""
    if side == "polars":
        frame = pl.read_parquet(path)
        loaded = peak_mib()
        failures, seconds = median_timed(failure_summary, REPEATS[side], silver_schema(FEED), frame)
        failing, table_level = failures["index"].drop_nulls().n_unique(), failures["index"].null_count()
    elif side == "pandas":
        import pyarrow.parquet as pq

        frame = pq.read_table(path).to_pandas(date_as_object=False)
        loaded = peak_mib()
        cases, seconds = median_timed(pandas_failures, REPEATS[side], pandas_schema(), frame)
        failing, table_level = cases["index"].dropna().nunique(), int(cases["index"].isna().sum())
    else:
        import duckdb

        con = duckdb.connect()
        con.execute("CREATE TABLE claims AS SELECT * FROM read_parquet(?)", [path])
        loaded = peak_mib()
        sql = violation_sql("claims")
        failing, seconds = median_timed(lambda: con.execute(sql).fetchone()[0], REPEATS[side])
        table_level = 0
    return {"seconds": seconds, "failing_rows": int(failing), "table_level_failures": int(table_level),
            "peak_rss_mib": peak_mib(), "loaded_rss_mib": loaded}


def rows(lines: int, seed: int = 20261124) -> list[Row]:
    """Generate the claim lines, measure each side in its own process, and compare; the failing-row counts must agree."""
    path = settings().home / "bench" / f"silver_claims_{lines}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    silver_claims(lines, seed).write_parquet(path)
    runs, loads = {}, {}
    for side in SIDES:
        loads[side] = load_average()
        runs[side] = run_json([sys.executable, "-m", "bench.silver_validation", "--measure", side, str(path)], timeout=4 * 3600)
    found = {side: run["failing_rows"] for side, run in runs.items() if run}
    if len(set(found.values())) > 1 or any(run and run["table_level_failures"] for run in runs.values()):
        raise AssertionError(f"validators disagree on {lines:,} claim lines: failing rows {found}")

    def speed(side: str) -> str:
        run = runs[side]
        return f"{lines / run['seconds']:,.0f} rows/s ({run['seconds']:,.1f} s, {side}, median of {REPEATS[side]})" if run else f"{side}: failed"

    def memory(side: str) -> str:
        run = runs[side]
        return f"{run['peak_rss_mib'] / 1024:.2f} GiB ({run['loaded_rss_mib'] / 1024:.2f} once loaded), {side}" if run else f"{side}: failed"

    ours, scale = runs["polars"], f"{lines:,} claim lines"
    peers = (("pandas", "Pandera's pandas backend, same rules", TARGET_RATIO), ("duckdb", "floor: plain DuckDB SQL count of the same rules", None))
    out = []
    for peer, name, target in peers:
        theirs = runs[peer]
        ratio = theirs["seconds"] / ours["seconds"] if ours and theirs else None
        out.append(Row(f"silver validation, {scale}: rows/s against {name}", speed("polars"), speed(peer),
                       "" if ratio is None else times(ours["seconds"], theirs["seconds"]), f">= {target:.0f}x faster" if target else "",
                       None if ratio is None or target is None else ratio >= target, loads["polars"], loads[peer]))
        out.append(Row(f"silver validation, {scale}: peak memory of the measuring process", memory("polars"), memory(peer),
                       "" if ratio is None else f"{theirs['peak_rss_mib'] / ours['peak_rss_mib']:.2f}x ours", load=loads["polars"], peer_load=loads[peer]))
    counts = ", ".join(f"{side} {n:,}" for side, n in found.items())
    out.append(Row(f"silver validation, {scale}: rows breaking any rule", f"{found.get('polars', 0):,} ({found.get('polars', 0) / lines:.2%})",
                   counts, "all agree" if len(found) == len(SIDES) else "not all sides ran"))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=int(os.environ.get("BENCH_CLAIM_LINES", "10000000")))
    parser.add_argument("--measure", nargs=2, metavar=("SIDE", "PARQUET"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        print(json.dumps(measure(*args.measure)))
        return
    print(markdown(rows(args.rows)))


if __name__ == "__main__":
    main()
