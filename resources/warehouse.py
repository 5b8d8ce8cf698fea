"""The DuckDB warehouse: silver, gold and operational tables, one schema per layer.

All reads go through this resource and its access policy (resources/access.py): the acting principal
(`principal`, else WORKBENCH_PRINCIPAL) must be allowed the table, sees only its granted rows, in the
form its role allows; denials and reads by people are written to the audit trail.

`path` is the DuckDB file; an `s3://` path keeps every table as Parquet objects under it instead
(resources/parquet_tables.py), read through an in-memory DuckDB connection, so the same SQL and policy apply.
"""

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import dagster as dg
import duckdb
import polars as pl

from resources.access import ROW_FILTER_TABLE, AccessDenied, Grant, authorize, grant_for, restrict, row_filter_sql
from resources.audit import audit_trail, current_principal
from resources.file_lock import held, lock_path
from resources.object_store import ObjectStore, is_s3
from resources.parquet_tables import ParquetTables, numbered, referenced_tables


# Rows per batch when a table is read in batches (a few hundred MB of a wide table).
BATCH_ROWS = 1_000_000


def quoted(columns: list[str]) -> str:
    """Column names as a DuckDB column list."""
    return ", ".join(f'"{c}"' for c in columns)


class UnknownTableError(LookupError):
    """A table that the warehouse does not hold; the message lists what it does hold."""


class Warehouse(dg.ConfigurableResource):
    path: str
    principal: str | None = None
    s3_endpoint_url: str | None = None

    def _objects(self) -> ParquetTables | None:
        """The tables' Parquet objects when `path` is on S3; None for the local DuckDB file."""
        return ParquetTables(ObjectStore.at(self.path, self.s3_endpoint_url)) if is_s3(self.path) else None

    def _grant(self) -> Grant:
        return grant_for(self.principal or current_principal())

    def _audit(self, grant: Grant, action: str, target: str, reason: str) -> None:
        if action == "deny" or not grant.is_service:
            audit_trail().record(grant.principal, action, target, reason, {"role": grant.role})

    def _authorized(self, table: str) -> Grant:
        grant = self._grant()
        try:
            authorize(grant, table)
        except AccessDenied as denied:
            self._audit(grant, "deny", table, str(denied))
            raise
        return grant

    @contextmanager
    def connect(self, read_only: bool = False) -> Iterator[duckdb.DuckDBPyConnection]:
        """The DuckDB file under an inter-process lock held as long as the connection (shared to read, exclusive to
        write): DuckDB refuses a second process while one writes, so parallel steps queue here for the I/O only."""
        path = Path(self.path)
        path.parent.mkdir(parents=True, exist_ok=True)
        read_only = read_only and path.exists()
        with held(lock_path(path), shared=read_only):
            con = duckdb.connect(self.path, read_only=read_only)
            try:
                yield con
            finally:
                con.close()

    @contextmanager
    def _reading(self, *tables: str) -> Iterator[duckdb.DuckDBPyConnection]:
        """The DuckDB file read-only; on S3 an in-memory connection with views over `tables` (every table if none)."""
        if (objects := self._objects()) is None:
            with self.connect(read_only=True) as con:
                yield con
        else:
            with objects.connect(tables) as con:
                yield con

    def write_table(self, schema: str, name: str, frame: pl.DataFrame | pl.LazyFrame) -> None:
        """Replace `schema.name` with `frame` in one transaction; a LazyFrame streams through a Parquet file beside
        the warehouse, so a table larger than memory never becomes one frame."""
        if objects := self._objects():
            return objects.write_table(schema, name, frame)
        if isinstance(frame, pl.LazyFrame):
            with tempfile.TemporaryDirectory(dir=Path(self.path).parent, prefix=".incoming-") as folder:
                frame.sink_parquet(incoming := Path(folder) / "table.parquet")  # before taking the lock: other steps write meanwhile
                return self._replace(schema, name, f"read_parquet('{incoming}')")
        return self._replace(schema, name, "incoming", frame)

    def _replace(self, schema: str, name: str, source: str, incoming: pl.DataFrame | None = None) -> None:
        """`schema.name` becomes the rows of `source` (SQL), where `incoming` is registered under that name if given."""
        with self.connect() as con:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            if incoming is not None:
                con.register(source, incoming.to_arrow())
            con.execute(f'CREATE OR REPLACE TABLE "{schema}"."{name}" AS SELECT * FROM {source}')

    def write_partitions(self, schema: str, name: str, frame: pl.DataFrame, column: str, keys: list[str]) -> None:
        """Replace the rows of the given partitions (values of `column`) and keep every other partition."""
        if objects := self._objects():
            return objects.write_partitions(schema, name, frame, column, keys)
        with self.connect() as con:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.register("incoming", frame.to_arrow())
            con.execute(f'CREATE TABLE IF NOT EXISTS "{schema}"."{name}" AS SELECT * FROM incoming LIMIT 0')
            con.execute("BEGIN")
            con.execute(f'DELETE FROM "{schema}"."{name}" WHERE "{column}" IN (SELECT unnest(?))', [keys])
            con.execute(f'INSERT INTO "{schema}"."{name}" BY NAME SELECT * FROM incoming')
            con.execute("COMMIT")

    def append(self, schema: str, name: str, frame: pl.DataFrame, sequence: str) -> pl.DataFrame:
        """Append rows to an append-only table, numbering them in `sequence` after the last; returns the rows as stored."""
        if objects := self._objects():
            return objects.append(schema, name, frame, sequence)
        table = f'"{schema}"."{name}"'
        shaped = numbered(frame, sequence, 0)
        with self.connect() as con:
            con.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            con.register("incoming", shaped.to_arrow())
            con.execute(f"CREATE TABLE IF NOT EXISTS {table} AS SELECT * FROM incoming LIMIT 0")
            con.execute("BEGIN")
            last = con.execute(f'SELECT coalesce(max("{sequence}"), 0) FROM {table}').fetchone()[0]
            rows = numbered(frame, sequence, last)
            con.register("incoming", rows.to_arrow())
            con.execute(f"INSERT INTO {table} BY NAME SELECT * FROM incoming")
            con.execute("COMMIT")
        return rows

    def tables(self) -> list[str]:
        if objects := self._objects():
            return objects.tables()
        if not Path(self.path).exists():
            return []
        with self.connect(read_only=True) as con:
            rows = con.execute("SELECT table_schema || '.' || table_name FROM information_schema.tables ORDER BY 1").fetchall()
        return [r[0] for r in rows]

    def read_table(self, schema: str, name: str, column: str | None = None, keys: list[str] | None = None,
                   members: list[str] | None = None) -> pl.DataFrame:
        """A table as the acting principal may see it; optionally only the rows whose `column` is in `keys`, and only
        those of the given `members` (member keys)."""
        qualified, grant = self._readable(schema, name)
        clauses, params = [], {}
        if column is not None:
            clauses.append(f'"{column}" IN (SELECT unnest($keys))')
            params["keys"] = keys
        if members is not None:
            clauses.append('"member_key" IN (SELECT unnest($members))')
            params["members"] = members
        frame = self._select(grant, schema, name, " AND ".join(clauses) or None, params or None)
        self._audit(grant, "read", qualified, f"{frame.height} rows")
        return frame

    def read_batches(self, schema: str, name: str, by: list[str], rows: int = BATCH_ROWS) -> Iterator[pl.DataFrame]:
        """A table as the acting principal may see it, in batches of about `rows` rows split by a hash of `by`.

        Every row sharing values of `by` lands in one batch, so a rule over those groups (unique keys, one current
        version) holds batch by batch exactly when it holds for the whole table; a table larger than memory is
        validated without ever being one frame."""
        qualified, grant = self._readable(schema, name)
        with self._reading(qualified) as con:
            total = con.execute(f'SELECT count(*) FROM "{schema}"."{name}"').fetchone()[0]
        batches = max(1, -(-total // rows))
        for batch in range(batches):
            yield self._select(grant, schema, name, f"hash({quoted(by)}) % {batches} = {batch}")
        self._audit(grant, "read", qualified, f"{total} rows in {batches} batches")

    def _readable(self, schema: str, name: str) -> tuple[str, Grant]:
        qualified = f"{schema}.{name}"
        if qualified not in (known := self.tables()):
            raise UnknownTableError(f"warehouse has no table {qualified}; it has: {', '.join(known) or 'none'}")
        return qualified, self._authorized(qualified)

    def _select(self, grant: Grant, schema: str, name: str, where: str | None, params: dict | None = None) -> pl.DataFrame:
        """The rows matching `where` that `grant` may see, in the form its role allows."""
        with self._reading(f"{schema}.{name}", *([ROW_FILTER_TABLE] if grant.row_filter else [])) as con:
            columns = [r[0] for r in con.execute(f'DESCRIBE "{schema}"."{name}"').fetchall()]
            clauses = [c for c in (where, row_filter_sql(grant, columns)) if c]
            sql = f'SELECT * FROM "{schema}"."{name}"' + (" WHERE " + " AND ".join(clauses) if clauses else "")
            frame = con.execute(sql, params).pl()
        return restrict(grant, frame)

    def query(self, sql: str, **params: object) -> pl.DataFrame:
        """Ad-hoc SQL, for the pipeline service and governance only: it would bypass row and column rules."""
        grant = self._grant()
        if grant.role not in ("pipeline_service", "governance"):
            self._audit(grant, "deny", "warehouse:sql", "ad-hoc SQL is reserved to the pipeline service and governance")
            raise AccessDenied(f"{grant.principal} ({grant.role}) may not run ad-hoc SQL; read tables with read_table")
        with self._reading(*referenced_tables(sql)) as con:
            return con.execute(sql, params or None).pl()
