"""The DuckDB warehouse: silver, gold and operational tables, one schema per layer.

All reads and writes of warehouse tables go through this resource, so access policy and auditing
(issue 7) attach in one place.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl


class UnknownTableError(LookupError):
    """A table that the warehouse does not hold; the message lists what it does hold."""


class Warehouse(dg.ConfigurableResource):
    path: str

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        con = duckdb.connect(self.path, read_only=read_only and Path(self.path).exists())
        try:
            yield con
        finally:
            con.close()

    def write_table(self, schema: str, name: str, frame: pl.DataFrame) -> None:
        """Replace `schema.name` with `frame` in one transaction."""
        with self.connect() as con:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.register("incoming", frame.to_arrow())
            con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS SELECT * FROM incoming')

    def write_partitions(self, schema: str, name: str, frame: pl.DataFrame, column: str, keys: list[str]) -> None:
        """Replace the rows of the given partitions (values of `column`) and keep every other partition."""
        with self.connect() as con:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.register("incoming", frame.to_arrow())
            con.execute(f'CREATE TABLE IF NOT EXISTS "{schema}"."{name}" AS SELECT * FROM incoming LIMIT 0')
            con.execute("BEGIN")
            con.execute(f'DELETE FROM "{schema}"."{name}" WHERE "{column}" IN (SELECT unnest(?))', [keys])
            con.execute(f'INSERT INTO "{schema}"."{name}" BY NAME SELECT * FROM incoming')
            con.execute("COMMIT")

    def tables(self) -> list[str]:
        if not Path(self.path).exists():
            return []
        with self.connect(read_only=True) as con:
            rows = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def read_table(self, schema: str, name: str, column: str | None = None, keys: list[str] | None = None) -> pl.DataFrame:
        """A whole table, or only the rows whose `column` is one of `keys` (a partition selection)."""
        qualified = f"{schema}.{name}"
        if qualified not in self.tables():
            raise UnknownTableError(f"warehouse has no table {qualified}; it has: {', '.join(self.tables()) or 'none'}")
        with self.connect(read_only=True) as con:
            if column is None:
                return con.execute(f'SELECT * FROM "{schema}"."{name}"').pl()
            return con.execute(f'SELECT * FROM "{schema}"."{name}" WHERE "{column}" IN (SELECT unnest(?))', [keys]).pl()

    def query(self, sql: str, **params: object) -> pl.DataFrame:
        with self.connect(read_only=True) as con:
            return con.execute(sql, params or None).pl()
