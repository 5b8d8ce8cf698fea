"""The warehouse on S3: every table as Parquet objects under `<root>/warehouse/<schema>/<table>/`, read through DuckDB.

Layout, chosen so that writers never touch each other's objects:
- a whole table is one object, `table.parquet`, replaced by a single PUT (atomic per object);
- a partitioned table is one object per partition key, `<key>.parquet`, so parallel partition runs write different keys;
- an append-only table is numbered part files, `part-<last sequence number>.parquet`, each written only if absent, so
  two concurrent appends cannot both take the same numbers (the loser fails, as a second DuckDB writer would locally).

Reads open an in-memory DuckDB connection with a view `schema.table` over each table's objects, so the warehouse's
SQL, access policy, row filters and audit apply unchanged. How DuckDB gets at the objects, measured on this stack
(duckdb 1.5.6, polars 2.1, pyarrow 25, the local S3 test server):
- DuckDB's own `httpfs` extension cannot be installed here (`INSTALL httpfs` downloads it). The only installable build,
  the third-party wheel `duckdb-extension-httpfs` 1.5.5, requires `duckdb==1.5.5` exactly (pip refuses it beside
  1.5.6); with 1.5.5 it loads and reads the test server, but it would downgrade DuckDB and tie every later DuckDB
  upgrade to that wheel's releases.
- A polars `scan_parquet("s3://...")` frame registered in DuckDB works, but DuckDB collects the whole frame, every
  column, before filtering (nothing is pushed into polars).
- A pyarrow dataset over the objects (pyarrow is already a dependency) is scanned lazily by DuckDB with projections
  and filters pushed into the Arrow scanner (ranged GETs; a selective filter on 2 M rows skipped row groups: 0.02 s
  against 0.5 s for a whole column).
So the views are pyarrow datasets: no new dependency and no pin change; the local default (a DuckDB file) is untouched.
A table's schema is its first object's, as locally it is the first write's.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import quote

import duckdb
import polars as pl

from resources.object_store import ObjectStore

TABLE_OBJECT = "table.parquet"
PART_PREFIX, PARQUET = "part-", ".parquet"


def parquet_bytes(frame: pl.DataFrame | pl.LazyFrame) -> bytes:
    buffer = io.BytesIO()
    if isinstance(frame, pl.LazyFrame):
        frame.sink_parquet(buffer, compression="zstd")
    else:
        frame.write_parquet(buffer, compression="zstd")
    return buffer.getvalue()


def partition_object(key: str) -> str:
    return f"{quote(key, safe='')}{PARQUET}"


def part_object(last: int) -> str:
    return f"{PART_PREFIX}{last:012d}{PARQUET}"


def referenced_tables(sql: str) -> set[str]:
    """The `schema.table` names `sql` reads, as DuckDB's parser sees them (aliases and quotes dropped); empty when the
    parser cannot tell (a statement with parameters, say), so that every table is mounted."""
    try:
        names = duckdb.get_table_names(sql, qualified=True)
    except duckdb.Error:
        return set()
    return {name.split(" AS ")[0].replace('"', "") for name in names}


def numbered(frame: pl.DataFrame, sequence: str, after: int) -> pl.DataFrame:
    """`frame` with `sequence` first, numbering its rows after `after`."""
    return frame.select(pl.int_range(after + 1, after + 1 + frame.height, dtype=pl.Int64).alias(sequence), pl.exclude(sequence))


@dataclass(frozen=True)
class ParquetTables:
    store: ObjectStore  # located at <root>/warehouse

    def write_table(self, schema: str, name: str, frame: pl.DataFrame | pl.LazyFrame) -> None:
        self.store.put(parquet_bytes(frame), schema, name, TABLE_OBJECT)

    def write_partitions(self, schema: str, name: str, frame: pl.DataFrame, column: str, keys: list[str]) -> None:
        """One object per key, holding that key's rows (none: an empty object, so the key's old rows are gone)."""
        values = frame.get_column(column).cast(pl.String)
        if strays := sorted(values.filter(values.is_null() | ~values.is_in(keys)).unique().to_list(), key=str):
            raise ValueError(f"{schema}.{name}: rows for {column} {', '.join(map(str, strays))}, outside the partitions written ({', '.join(keys)})")
        for key in keys:
            self.store.put(parquet_bytes(frame.filter(values == key)), schema, name, partition_object(key))

    def append(self, schema: str, name: str, frame: pl.DataFrame, sequence: str) -> pl.DataFrame:
        """A new part numbered after the last stored one; nothing is written for no rows once the table exists."""
        parts = [o.key for o in self.store.list(schema, name) if o.key.startswith(PART_PREFIX)]
        last = max((int(p.removeprefix(PART_PREFIX).removesuffix(PARQUET)) for p in parts), default=0)
        rows = numbered(frame, sequence, last)
        if rows.height or not parts:
            self.store.put(parquet_bytes(rows), schema, name, part_object(last + rows.height), replace=False)
        return rows

    def tables(self) -> list[str]:
        return sorted(f"{schema}.{name}" for schema in self.store.folders() for name in self.store.folders(schema))

    @contextmanager
    def connect(self, tables: Iterable[str] = ()) -> Iterator[duckdb.DuckDBPyConnection]:
        """An in-memory connection with a view `schema.table` over each of `tables` that exists (every table if none)."""
        con = duckdb.connect()
        try:
            for qualified in sorted(set(tables) or self.tables()):
                self._mount(con, *qualified.split(".", 1))
            yield con
        finally:
            con.close()

    def _mount(self, con: duckdb.DuckDBPyConnection, schema: str, name: str) -> None:
        objects = [o.key for o in self.store.list(schema, name) if o.key.endswith(PARQUET)]
        if not objects:
            return
        scan = f"_objects_{schema}_{name}"
        con.register(scan, self.store.parquet_dataset([f"{schema}/{name}/{key}" for key in objects]))
        con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
        con.execute(f'CREATE VIEW "{schema}"."{name}" AS SELECT * FROM "{scan}"')
