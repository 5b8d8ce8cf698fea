"""Silver: conformed, typed, de-duplicated and pseudonymised feeds in DuckDB, plus their quarantine.

Rebuilt from all of bronze on each run (bronze is immutable, so silver is a pure function of it);
every bronze row ends either in `silver.<feed>` or in `quarantine.<feed>` with the rules it broke.
"""

import dagster as dg
import polars as pl

from assets.conform import split_feed
from assets.policy import OWNERS, PHI_PSEUDONYMISED, markdown_table, table_schema, tags
from checks.schemas import RULES, quarantine_columns, silver_columns
from checks.silver import quarantine_by_rule
from resources.bronze_store import BronzeStore
from resources.feeds.contract import FEEDS, RAW_LINEAGE, contract
from resources.vault import KeyVault


def empty_raw(feed: str) -> pl.DataFrame:
    """A raw frame with no rows, so a feed with nothing landed still yields (empty) silver tables."""
    return pl.DataFrame(schema={**{c: pl.String for c in contract(feed).column_names}, RAW_LINEAGE[0]: pl.String,
                                RAW_LINEAGE[1]: pl.Int64, RAW_LINEAGE[2]: pl.Date})


def silver_feed(feed: str) -> dg.AssetsDefinition:
    spec = contract(feed)
    silver_key, quarantine_key = dg.AssetKey(["silver", feed]), dg.AssetKey(["quarantine", feed])
    columns = silver_columns(feed)

    @dg.multi_asset(
        name=f"silver_{feed}",
        deps=[["bronze", feed]],
        outs={
            silver_key.to_python_identifier(): dg.AssetOut(
                key=silver_key, group_name="silver", owners=OWNERS["silver"],
                kinds={"duckdb", "polars", "pandera"}, tags=tags("silver", PHI_PSEUDONYMISED),
                description=(f"{spec.description} Conformed to the contract (declared renames mapped, typed, units converted), "
                             "de-duplicated (exact re-sends dropped), members pseudonymised, no direct identifiers. Bitemporal: a "
                             "correction keeps the earlier version, closed by `_valid_to_arrival`, so any past as-of date is reproducible."),
                metadata={"dagster/column_schema": table_schema(columns, spec), "natural_key": ", ".join(spec.key)},
            ),
            quarantine_key.to_python_identifier(): dg.AssetOut(
                key=quarantine_key, group_name="silver", owners=OWNERS["quarantine"],
                kinds={"duckdb", "polars"}, tags=tags("quarantine", PHI_PSEUDONYMISED),
                description=(f"{feed} rows that broke a contract rule or were exact re-sends, as delivered text "
                             f"with member pseudonyms, the rules broken (`{RULES}`) and their source file and line."),
                metadata={"dagster/column_schema": table_schema(quarantine_columns(feed), spec)},
            ),
        },
    )
    def _silver(context: dg.AssetExecutionContext, bronze_store: BronzeStore, vault: KeyVault):
        raw = bronze_store.read(feed, vault.raw_key())
        split = split_feed(raw if raw.height else empty_raw(feed), spec, vault.pseudonym_key())
        context.log.info(f"{feed}: {raw.height:,} rows in, {split.accepted.height:,} accepted, {split.quarantined.height:,} quarantined")
        rules = quarantine_by_rule(split.quarantined)
        yield dg.Output(split.accepted, output_name=silver_key.to_python_identifier(),
                        metadata={"rows_in": raw.height, "accepted": split.accepted.height, "quarantined": split.quarantined.height})
        yield dg.Output(split.quarantined, output_name=quarantine_key.to_python_identifier(),
                        metadata={"by_rule": markdown_table(rules)})

    return _silver


SILVER_FEEDS = [silver_feed(feed) for feed in FEEDS]
