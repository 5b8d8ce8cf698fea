"""Silver: conformed, typed, de-duplicated and pseudonymised feeds in DuckDB, plus their quarantine.

Rebuilt from all of bronze on each run (bronze is immutable, so silver is a pure function of it), a batch of
months of arrivals at a time (assets/silver_build.py); every bronze row ends either in `silver.<feed>` or in
`quarantine.<feed>` with the rules it broke.
"""

import tempfile
from dataclasses import asdict
from datetime import date
from pathlib import Path

import dagster as dg

from assets.policy import OWNERS, PHI_PSEUDONYMISED, markdown_table, table_schema, tags
from assets.silver_build import BatchCounts, SilverBuild, arrival_batches
from checks.schemas import RULES, quarantine_columns, silver_columns
from checks.silver import quarantine_by_rule
from resources.bronze_store import BronzeStore
from resources.feeds.contract import FEEDS, contract
from resources.vault import KeyVault


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
        batches = arrival_batches({date.fromisoformat(m.arrival_date): m.rows for m in bronze_store.manifests(feed)})
        with tempfile.TemporaryDirectory(prefix=f"workbench-silver-{feed}-") as scratch, \
                SilverBuild(spec, vault.pseudonym_key(), Path(scratch)) as build:
            total = BatchCounts(0, 0, 0)
            for i, days in enumerate(batches, 1):
                batch = build.add(bronze_store.read(feed, vault.raw_key(), {d.isoformat() for d in days}))
                total += batch
                context.log.info(f"{feed}: batch {i} of {len(batches)} (arrivals {days[0]:%Y-%m} to {days[-1]:%Y-%m}): {batch.rows_in:,} rows in, "
                                 f"{batch.accepted:,} accepted, {batch.quarantined:,} quarantined")
            split = build.finish()
            context.log.info(f"{feed}: {total.rows_in:,} rows in, {total.accepted:,} accepted, {total.quarantined:,} quarantined")
            rules = quarantine_by_rule(split.quarantined.select(RULES).collect())
            yield dg.Output(split.accepted, output_name=silver_key.to_python_identifier(), metadata=asdict(total))
            yield dg.Output(split.quarantined, output_name=quarantine_key.to_python_identifier(),
                            metadata={"by_rule": markdown_table(rules)})

    return _silver


SILVER_FEEDS = [silver_feed(feed) for feed in FEEDS]
