"""Silver built one batch of bronze at a time, staged in a scratch DuckDB, so no step holds a whole feed.

Row rules are judged per batch (assets/conform.py). The two rules that span batches are settled in DuckDB,
which spills to disk rather than holding everything in memory:
- an exact re-send (every contract value equal to an earlier row's) is quarantined; batches come in arrival
  order, so a re-send's first arrival is always already staged, and rows are compared by their keyed content
  digest because the staged rows no longer hold the direct identifiers;
- silver is bitemporal: a later arrival of the same key (a correction) does not erase the earlier version, it
  closes it with `_valid_to_arrival`, so any past as-of date sees exactly what had arrived by then.
Every input row ends either in silver or in quarantine with the rules it broke, so `rows in = accepted +
quarantined` holds by construction (and is checked again on the stored tables).
"""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from types import TracebackType
from typing import Generic, Self, TypeVar

import duckdb
import polars as pl

from assets.bronze import months_of
from assets.conform import ARRIVAL_ORDER, CONTENT, ROW, empty_raw, judge_rows, quarantine_text
from checks.schemas import DUPLICATE, RULES, VALID_TO, quarantine_columns, silver_columns, silver_key
from resources.feeds.contract import ARRIVAL_DATE, FeedContract
from resources.warehouse import quoted

# DuckDB's working memory for the cross-batch steps; beyond it, it spills to the scratch folder.
STAGING_MEMORY = "1GB"
# Raw rows judged at once: a batch is whole months of arrivals up to about this many rows (about 1.5 GB in polars).
BATCH_ROWS = 1_000_000
Frame = TypeVar("Frame", pl.DataFrame, pl.LazyFrame)


@dataclass(frozen=True)
class SilverSplit(Generic[Frame]):
    accepted: Frame
    quarantined: Frame


@dataclass(frozen=True)
class BatchCounts:
    rows_in: int
    accepted: int
    quarantined: int

    def __add__(self, other: BatchCounts) -> BatchCounts:
        return BatchCounts(self.rows_in + other.rows_in, self.accepted + other.accepted, self.quarantined + other.quarantined)


def arrival_batches(rows_by_day: dict[date, int], rows: int = BATCH_ROWS) -> list[list[date]]:
    """Arrival dates in arrival order, as batches of whole months of about `rows` rows (a larger month alone)."""
    batches: list[list[date]] = []
    size = 0
    for month in months_of(list(rows_by_day)):
        month_rows = sum(rows_by_day[day] for day in month)
        if batches and size + month_rows <= rows:
            batches[-1] += month
            size += month_rows
        else:
            batches.append(month)
            size = month_rows
    return batches


class SilverBuild:
    """Stages judged batches of one feed in DuckDB (spilling to `folder`), then writes silver and quarantine there as Parquet.

    Batches must come in arrival order (a later batch never holds an earlier arrival date)."""

    def __init__(self, spec: FeedContract, pseudonym_key: bytes, folder: Path) -> None:
        self.spec, self.pseudonym_key, self.folder = spec, pseudonym_key, folder
        self.con = duckdb.connect(config={"memory_limit": STAGING_MEMORY, "temp_directory": str(folder)})
        self.rows = 0
        self.add(empty_raw(spec))

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self.con.close()

    def add(self, raw: pl.DataFrame) -> BatchCounts:
        """Judge one batch, quarantine its rule breakers and re-sends, and stage the rest."""
        raw = raw if raw.height else empty_raw(self.spec)
        judged = judge_rows(raw, self.spec, self.pseudonym_key, first_row=self.rows)
        self.rows += raw.height
        resent = self._resent(judged.valid).with_columns(pl.lit(DUPLICATE).alias(RULES))
        accepted = judged.valid.join(resent, on=ROW, how="anti")
        quarantined = quarantine_text(judged, pl.concat([judged.rules, resent]), self.spec, self.pseudonym_key)
        self._stage("accepted", accepted)
        self._stage("quarantined", quarantined)
        return BatchCounts(raw.height, accepted.height, quarantined.height)

    def _resent(self, valid: pl.DataFrame) -> pl.DataFrame:
        """Rows (ROW) whose content (CONTENT) arrived before: earlier in this batch, or in a batch already staged."""
        within = valid.sort(ARRIVAL_ORDER).filter(~pl.col(CONTENT).is_first_distinct()).select(ROW)
        if not self._has("accepted"):
            return within
        self.con.register("batch", valid.select(ROW, CONTENT).to_arrow())
        earlier = self.con.execute(f'SELECT "{ROW}" FROM batch SEMI JOIN accepted USING ("{CONTENT}")').pl()
        return pl.concat([within, earlier.cast({ROW: within.schema[ROW]})]).unique(ROW).sort(ROW)

    def _has(self, table: str) -> bool:
        return bool(self.con.execute("SELECT count(*) FROM duckdb_tables() WHERE table_name = ?", [table]).fetchone()[0])

    def _stage(self, table: str, frame: pl.DataFrame) -> None:
        self.con.register("batch", frame.to_arrow())
        self.con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM batch LIMIT 0")
        self.con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM batch")

    def finish(self) -> SilverSplit[pl.LazyFrame]:
        """Close each version at its key's next arrival and write both tables in input row order."""
        feed = self.spec.name
        next_version = f'lead("{ARRIVAL_DATE}") OVER (PARTITION BY {quoted(silver_key(feed))} ORDER BY {quoted(ARRIVAL_ORDER)})'
        silver = f'SELECT * REPLACE ({next_version} AS "{VALID_TO}") FROM accepted'
        accepted, quarantined = self.folder / "silver.parquet", self.folder / "quarantine.parquet"
        self._export(f"SELECT {quoted(list(silver_columns(feed)))} FROM ({silver}) ORDER BY \"{ROW}\"", accepted)
        self._export(f"SELECT {quoted(list(quarantine_columns(feed)))} FROM quarantined ORDER BY \"{ROW}\"", quarantined)
        return SilverSplit(pl.scan_parquet(accepted), pl.scan_parquet(quarantined))

    def _export(self, sql: str, path: Path) -> None:
        self.con.execute(f"COPY ({sql}) TO '{path}' (FORMAT parquet, COMPRESSION zstd)")


def split_feed(raw: pl.DataFrame, spec: FeedContract, pseudonym_key: bytes) -> SilverSplit[pl.DataFrame]:
    """Silver and quarantine of raw rows held in memory, as one batch (tests, notebooks, benchmarks)."""
    with tempfile.TemporaryDirectory(prefix="workbench-silver-") as scratch, SilverBuild(spec, pseudonym_key, Path(scratch)) as build:
        build.add(raw)
        split = build.finish()
        return SilverSplit(split.accepted.collect(), split.quarantined.collect())
