"""PHI handling for everything past the raw layer: keyed pseudonyms and generalised quasi-identifiers.

The pseudonym is HMAC-SHA256(key, member_id), computed inside DuckDB (vectorised) and truncated to
16 hex characters; without the key it cannot be recomputed from a member id.
"""

from __future__ import annotations

import duckdb
import polars as pl

MEMBER_ID = "member_id"
MEMBER_KEY = "member_key"
PSEUDONYM_CHARS = 16
_BLOCK = 64


def _hmac_sql(key: bytes, column: str, chars: int = PSEUDONYM_CHARS) -> str:
    padded = key.ljust(_BLOCK, b"\0")
    ipad = bytes(b ^ 0x36 for b in padded).hex()
    opad = bytes(b ^ 0x5C for b in padded).hex()
    inner = f"unhex(sha256(unhex('{ipad}') || encode({column})))"
    return f"left(sha256(unhex('{opad}') || {inner}), {chars})"


def keyed_digests(values: pl.Series, key: bytes, chars: int) -> pl.Series:
    """HMAC-SHA256(key, value) as `chars` hex characters for a text column (null stays null)."""
    frame = pl.DataFrame({"value": values})
    with duckdb.connect() as con:
        con.register("values_in", frame.to_arrow())
        return con.execute(f"SELECT {_hmac_sql(key, 'value', chars)} AS digest FROM values_in").pl()["digest"]


def pseudonyms(member_ids: pl.Series, key: bytes) -> pl.Series:
    """Member pseudonyms for a column of member ids (null stays null)."""
    return keyed_digests(member_ids, key, PSEUDONYM_CHARS).alias(MEMBER_KEY)


def content_digests(frame: pl.DataFrame, columns: list[str], key: bytes) -> pl.Series:
    """A keyed 128-bit digest of each row's values in `columns` (direct identifiers): equal values, equal digests.
    It stands in for identifiers that pseudonymised rows no longer hold wherever rows must still be compared."""
    return keyed_digests(frame.select(pl.struct(columns).struct.json_encode())[:, 0], key, 32)


def redact(frame: pl.DataFrame, key: bytes, direct_identifiers: list[str]) -> pl.DataFrame:
    """Put member_key first and drop every direct identifier (member_id included)."""
    out = frame.with_columns(pseudonyms(frame[MEMBER_ID], key).alias(MEMBER_KEY))
    return out.select(MEMBER_KEY, *[c for c in out.columns if c not in direct_identifiers and c != MEMBER_KEY])


def pseudonymise(frame: pl.DataFrame, key: bytes, direct_identifiers: list[str]) -> pl.DataFrame:
    """Generalise birth date to birth year and ZIP to ZIP3 (typed frames), then redact."""
    generalised = frame.with_columns(
        [pl.col("birth_date").dt.year().cast(pl.Int32).alias("birth_year")] if "birth_date" in frame.columns else []
    ).with_columns([pl.col("zip").str.slice(0, 3).alias("zip3")] if "zip" in frame.columns else [])
    return redact(generalised, key, direct_identifiers)
