"""Silver checks: the stored table against its Pandera contract, row reconciliation per bronze partition,
and the quarantine rate per rule."""

import dagster as dg
import polars as pl

from checks.pandera_adapter import pandera_check_result
from assets.policy import markdown_table
from checks.schemas import RULES, silver_key, silver_schema
from resources.bronze_store import BronzeStore
from resources.feeds.contract import ARRIVAL_DATE, FEEDS
from resources.warehouse import Warehouse

QUARANTINE_WARN_SHARE = 0.05


def reconcile(landed: pl.DataFrame, accepted: pl.DataFrame, quarantined: pl.DataFrame) -> pl.DataFrame:
    """Per arrival date: rows in (bronze manifest) against rows accepted plus rows quarantined."""
    counts = [f.group_by(ARRIVAL_DATE).len(name) for f, name in ((accepted, "accepted"), (quarantined, "quarantined"))]
    out = landed.join(counts[0], on=ARRIVAL_DATE, how="full", coalesce=True).join(counts[1], on=ARRIVAL_DATE, how="full", coalesce=True)
    return out.fill_null(0).with_columns((pl.col("rows_in") - pl.col("accepted") - pl.col("quarantined")).alias("unaccounted")).sort(ARRIVAL_DATE)


def landed_rows(store: BronzeStore, feed: str) -> pl.DataFrame:
    manifests = store.manifests(feed)
    return pl.DataFrame(
        {ARRIVAL_DATE: [m.arrival_date for m in manifests], "rows_in": [m.rows for m in manifests]},
        schema={ARRIVAL_DATE: pl.String, "rows_in": pl.Int64},
    ).with_columns(pl.col(ARRIVAL_DATE).str.to_date())


def quarantine_by_rule(quarantined: pl.DataFrame) -> pl.DataFrame:
    return quarantined.select(pl.col(RULES).str.split("; ")).explode(RULES).group_by(RULES).len().sort("len", descending=True)


def silver_checks(feed: str) -> list[dg.AssetChecksDefinition]:
    key = dg.AssetKey(["silver", feed])

    @dg.asset_check(asset=key, name="schema", blocking=True, description=f"silver.{feed} satisfies its Pandera contract (columns, types, rules, one current version per key).")
    def _schema(warehouse: Warehouse) -> dg.AssetCheckResult:
        return pandera_check_result(silver_schema(feed), warehouse.read_batches("silver", feed, by=silver_key(feed)))

    @dg.asset_check(asset=key, name="reconciliation", blocking=True, additional_deps=[["quarantine", feed]],
                    description="For every bronze partition: rows in = rows accepted + rows quarantined.")
    def _reconciliation(warehouse: Warehouse, bronze_store: BronzeStore) -> dg.AssetCheckResult:
        accepted = warehouse.query(f'SELECT "{ARRIVAL_DATE}" FROM silver."{feed}"')
        quarantined = warehouse.query(f'SELECT "{ARRIVAL_DATE}" FROM quarantine."{feed}"')
        table = reconcile(landed_rows(bronze_store, feed), accepted, quarantined)
        broken = table.filter(pl.col("unaccounted") != 0)
        return dg.AssetCheckResult(
            passed=broken.is_empty(),
            description=f"{broken.height} of {table.height} partitions do not reconcile" if broken.height else f"all {table.height} partitions reconcile",
            metadata={
                "rows_in": int(table["rows_in"].sum()),
                "accepted": int(table["accepted"].sum()),
                "quarantined": int(table["quarantined"].sum()),
                "partitions": table.height,
                "unreconciled_partitions": dg.MetadataValue.json([str(d) for d in broken[ARRIVAL_DATE].head(20)]),
            },
        )

    @dg.asset_check(asset=key, name="quarantine_rate", additional_deps=[["quarantine", feed]],
                    description=f"Rows quarantined stay under {QUARANTINE_WARN_SHARE:.0%} of rows in.")
    def _quarantine_rate(warehouse: Warehouse) -> dg.AssetCheckResult:
        quarantined = warehouse.query(f'SELECT "{RULES}" FROM quarantine."{feed}"')
        accepted = warehouse.query(f'SELECT count(*) AS n FROM silver."{feed}"')["n"][0]
        share = quarantined.height / max(accepted + quarantined.height, 1)
        rules = quarantine_by_rule(quarantined)
        return dg.AssetCheckResult(
            passed=share <= QUARANTINE_WARN_SHARE,
            severity=dg.AssetCheckSeverity.WARN,
            description=f"{share:.2%} of rows quarantined",
            metadata={
                "quarantine_share": round(share, 5),
                "by_rule": markdown_table(rules),
            },
        )

    return [_schema, _reconciliation, _quarantine_rate]


SILVER_CHECKS = [check for feed in FEEDS for check in silver_checks(feed)]
