"""Gold checks: Pandera schemas of features and labels, the leakage probe, and label maturity."""

from datetime import date

import dagster as dg
import pandera.polars as pa
import polars as pl

from assets.events import Silver, tagged_events
from assets.features import FEATURES, build_features
from assets.gold import AS_OF_MONTH
from assets.labels import CENSORED, CLOSED, IMMATURE, OPEN, data_through
from assets.pit import month_end
from checks.leakage import leakage
from checks.pandera_adapter import pandera_check_result
from resources.bronze_store import BronzeStore
from resources.feeds.contract import FEEDS
from resources.warehouse import Warehouse

FEATURES_KEY, LABELS_KEY = dg.AssetKey(["gold", "features"]), dg.AssetKey(["gold", "labels"])
PROBED_MONTHS = 2


def _feature_column(name: str, dtype: type[pl.DataType]) -> pa.Column:
    checks = []
    if name.startswith("pdc_"):
        checks.append(pa.Check.in_range(0.0, 1.0))
    elif name.startswith(("days_since_", "visits_", "ed_", "inpatient_")) or name.endswith("_events_24m") or name in ("age", "enrolled_days"):
        checks.append(pa.Check.ge(0))
    elif name.startswith("prior_gap_"):
        checks.append(pa.Check.isin([-1, 0, 1]))
    nullable = name.startswith(("days_since_", "last_"))
    return pa.Column(dtype, checks=checks, nullable=nullable)


def features_schema() -> pa.DataFrameSchema:
    columns = {"member_key": pa.Column(pl.String), "as_of": pa.Column(pl.Date)}
    columns |= {f.name: _feature_column(f.name, f.dtype) for f in FEATURES}
    return pa.DataFrameSchema({**columns, "as_of_month": pa.Column(pl.String)}, unique=["member_key", "as_of"], strict=True, name="gold_features")


def labels_schema() -> pa.DataFrameSchema:
    mature = pl.col("label_status").is_in([OPEN, CLOSED])
    consistent = (mature == pl.col("gap_open_at_horizon").is_not_null()) & ((pl.col("label_status") == OPEN) == pl.col("gap_open_at_horizon").fill_null(False))
    return pa.DataFrameSchema(
        {
            "member_key": pa.Column(pl.String), "as_of": pa.Column(pl.Date), "measure": pa.Column(pl.String),
            "horizon_date": pa.Column(pl.Date), "label_status": pa.Column(pl.String, pa.Check.isin([OPEN, CLOSED, CENSORED, IMMATURE])),
            "gap_open_at_horizon": pa.Column(pl.Boolean, nullable=True), "closed_by": pa.Column(pl.String, nullable=True),
            "as_of_month": pa.Column(pl.String),
        },
        checks=[pa.Check(lambda d: d.lazyframe.select(consistent), name="label_matches_status")],
        unique=["member_key", "measure", "as_of"], strict=True, name="gold_labels",
    )


def load_silver(warehouse: Warehouse) -> Silver:
    return Silver.of({feed: warehouse.read_table("silver", feed) for feed in FEEDS})


def _build(silver: Silver, as_of: date) -> pl.DataFrame:
    return build_features(silver, tagged_events(silver), as_of)


@dg.asset_check(asset=FEATURES_KEY, name="schema", blocking=True, description="Features satisfy their Pandera schema (types, ranges, one row per member and month).")
def features_schema_check(warehouse: Warehouse) -> dg.AssetCheckResult:
    return pandera_check_result(features_schema(), warehouse.read_batches("gold", "features", by=["member_key"]))


@dg.asset_check(asset=LABELS_KEY, name="schema", blocking=True, description="Labels satisfy their Pandera schema and label values agree with their status.")
def labels_schema_check(warehouse: Warehouse) -> dg.AssetCheckResult:
    return pandera_check_result(labels_schema(), warehouse.read_batches("gold", "labels", by=["member_key"]))


@dg.asset_check(asset=FEATURES_KEY, name="no_lookahead_leakage", blocking=True, additional_deps=[["silver", f] for f in FEEDS],
                description=f"The {PROBED_MONTHS} latest stored snapshots are byte-identical after deleting, or back-dating, everything that arrived later.")
def leakage_check(warehouse: Warehouse) -> dg.AssetCheckResult:
    stored_months = warehouse.query(f'SELECT DISTINCT "{AS_OF_MONTH}" FROM gold.features ORDER BY 1')[AS_OF_MONTH].to_list()
    months = stored_months[-PROBED_MONTHS:]
    stored = warehouse.read_table("gold", "features", AS_OF_MONTH, months)  # only the probed months: the table grows with history
    silver = load_silver(warehouse)
    found = {}
    for month in months:
        snapshot = stored.filter(pl.col(AS_OF_MONTH) == month).drop(AS_OF_MONTH).sort("member_key")
        if leaked := leakage(_build, silver, month_end(month), snapshot):
            found[month] = leaked
    return dg.AssetCheckResult(
        passed=not found,
        description="; ".join(f"{m}: {k} changed {', '.join(cols[:5])}" for m, kinds in found.items() for k, cols in kinds.items()) or f"probed {', '.join(months)}: unchanged",
        metadata={"probed_months": dg.MetadataValue.json(months), "leaks": dg.MetadataValue.json(found)},
    )


@dg.asset_check(asset=LABELS_KEY, name="label_maturity", description="A label is immature exactly when its horizon lies past the data every feed has delivered.")
def label_maturity_check(warehouse: Warehouse, bronze_store: BronzeStore) -> dg.AssetCheckResult:
    labels = warehouse.read_table("gold", "labels")
    through = data_through(bronze_store)
    wrong = labels.filter((pl.col("label_status") == IMMATURE) != (pl.col("horizon_date") > through))
    return dg.AssetCheckResult(
        passed=wrong.is_empty(),
        description=f"{wrong.height:,} labels with the wrong maturity (data through {through})" if wrong.height else f"data through {through}",
        metadata={"data_through": str(through), "immature": int((labels["label_status"] == IMMATURE).sum()), "wrong": wrong.height},
    )


GOLD_CHECKS = [features_schema_check, labels_schema_check, leakage_check, label_maturity_check]
