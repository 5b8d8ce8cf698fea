"""Gold: care-gap measure status, point-in-time features and horizon labels, one partition per as-of month.

Each asset reads silver through the IO manager and calls the plain functions in `measures.evaluate`,
`features` and `labels`; a single run may cover many months (single-run backfill).
"""

from collections.abc import Callable
from datetime import date

import dagster as dg
import polars as pl

from assets.events import Silver, tagged_events
from assets.features import FEATURES, KEYS, build_features
from assets.labels import LABEL_SCHEMA, data_through, outcomes
from assets.measures import measure_settings
from assets.measures.evaluate import STATUS_SCHEMA, all_measure_status, snapshot
from assets.partitions import as_of_partitions
from assets.pit import add_months, month_end
from assets.policy import PHI_PSEUDONYMISED, column_schema, markdown_table, tags
from resources.bronze_store import BronzeStore
from resources.feeds.contract import FEEDS
from resources.io_manager import PARTITION_COLUMN
from resources.warehouse import Warehouse

AS_OF_MONTH = "as_of_month"
OWNERS = ["team:clinical-analytics"]
SILVER_INS = {f"silver_{feed}": dg.AssetIn(key=["silver", feed]) for feed in FEEDS}


def _lineage() -> dg.TableColumnLineage:
    def dep(source: str) -> dg.TableColumnDep:
        table, column = source.split(".")
        return dg.TableColumnDep(asset_key=dg.AssetKey(table.split("/")), column_name=column)

    return dg.TableColumnLineage(deps_by_column={f.name: [dep(s) for s in f.sources] for f in FEATURES})


def per_month(context: dg.AssetExecutionContext, silver: Silver, build: Callable[[pl.LazyFrame, str], pl.DataFrame]) -> pl.DataFrame:
    """Build each as-of month of the run from one event table, tagging rows with their partition key."""
    events = tagged_events(silver).collect().lazy()
    frames = []
    for key in context.partition_keys:
        frames.append(build(events, key).with_columns(pl.lit(key).alias(AS_OF_MONTH)))
        context.log.info(f"{context.asset_key.to_user_string()} {key}: {frames[-1].height:,} rows")
    return pl.concat(frames)


def _silver(inputs: dict[str, pl.DataFrame]) -> Silver:
    return Silver.of({name.removeprefix("silver_"): frame for name, frame in inputs.items()})


def gold_asset(name: str, description: str, columns: dict, extra: dict | None = None, ins: dict | None = None) -> Callable:
    return dg.asset(
        key=["gold", name], ins=SILVER_INS if ins is None else ins, partitions_def=as_of_partitions(), backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="gold", owners=OWNERS, kinds={"polars", "duckdb"}, tags=tags("gold", PHI_PSEUDONYMISED), description=description,
        metadata={PARTITION_COLUMN: AS_OF_MONTH, "dagster/column_schema": columns, **(extra or {})},
    )


@gold_asset("measure_status", "HEDIS-style care-gap status per member, measure and as-of month: eligible members, exclusions, whether the "
            "gap is open and the claim, lab or fill that closed it (or the PDC for statin adherence). Declared in assets/measures/.",
            column_schema({**STATUS_SCHEMA, AS_OF_MONTH: pl.String}, {"evidence_id": "Claim line, lab result or record id that closed the gap."}))
def measure_status(context: dg.AssetExecutionContext, **silver_tables: pl.DataFrame) -> pl.DataFrame:
    silver = _silver(silver_tables)
    frame = per_month(context, silver, lambda events, key: all_measure_status(snapshot(silver, events, month_end(key))))
    rates = frame.group_by("measure").agg(pl.len().alias("eligible_rows"), pl.col("excluded").mean().alias("excluded"),
                                          (~pl.col("gap_open")).mean().alias("closed_rate")).sort("measure")
    context.add_output_metadata({"measure_rates": markdown_table(rates)})
    return frame


@gold_asset("features", "Point-in-time member features at each as-of month: demographics, utilisation windows, chronic conditions, "
            "lab recency and values, pharmacy PDC by class, prior gap status, primary-care recency and decayed recency weights. "
            "Only records with service AND arrival on or before the as-of date are used.",
            column_schema({"member_key": pl.String, "as_of": pl.Date, **{f.name: f.dtype for f in FEATURES}, AS_OF_MONTH: pl.String},
                    {f.name: f.description for f in FEATURES}),
            {"dagster/column_lineage": _lineage()})
def features(context: dg.AssetExecutionContext, **silver_tables: pl.DataFrame) -> pl.DataFrame:
    silver = _silver(silver_tables)
    frame = per_month(context, silver, lambda events, key: build_features(silver, events, month_end(key)))
    nulls = frame.select([pl.col(f.name).null_count().alias(f.name) for f in FEATURES]).transpose(include_header=True, column_names=["nulls"])
    context.add_output_metadata({"members_x_months": frame.height, "null_rates": markdown_table(nulls.filter(pl.col("nulls") > 0).with_columns(
        (pl.col("nulls") / frame.height).alias("rate")))})
    return frame.select(*KEYS, *[f.name for f in FEATURES], AS_OF_MONTH)


HORIZON_MONTHS = measure_settings()["horizon_months"]
STATUS_THROUGH_HORIZON = {"measure_status": dg.AssetIn(
    ["gold", "measure_status"],
    partition_mapping=dg.TimeWindowPartitionMapping(start_offset=0, end_offset=HORIZON_MONTHS, allow_nonexistent_upstream_partitions=True),
)}


def _month_key(day: date) -> str:
    return day.replace(day=1).isoformat()


@gold_asset("labels", f"Whether each open care gap at the as-of month is still open {HORIZON_MONTHS} months later, read from "
            "gold/measure_status at both months (so the outcome is what was visible then); labels past the data are marked "
            "immature, members who left the measure are censored.", column_schema({**LABEL_SCHEMA, AS_OF_MONTH: pl.String},
            {"label_status": "open, closed, censored or immature."}), ins=STATUS_THROUGH_HORIZON)
def labels(context: dg.AssetExecutionContext, bronze_store: BronzeStore, measure_status: pl.DataFrame) -> pl.DataFrame:
    through = data_through(bronze_store)
    months = {key: frame for (key,), frame in measure_status.partition_by(AS_OF_MONTH, as_dict=True).items()}
    frames = []
    for key in context.partition_keys:
        as_of = month_end(key)
        horizon = add_months(as_of, HORIZON_MONTHS)
        later = None
        if horizon <= through:
            if _month_key(horizon) not in months:
                raise ValueError(f"gold/measure_status {_month_key(horizon)} is needed for mature labels at {key}; materialize it first")
            later = months[_month_key(horizon)]
        frames.append(outcomes(months.get(key, measure_status.clear()), later, as_of, horizon).with_columns(pl.lit(key).alias(AS_OF_MONTH)))
    frame = pl.concat(frames)
    balance = frame.group_by("measure", "label_status").len().pivot(on="label_status", index="measure", values="len").fill_null(0).sort("measure")
    context.add_output_metadata({"class_balance": markdown_table(balance), "data_through": str(through), "horizon_months": HORIZON_MONTHS})
    return frame


GOLD = [measure_status, features, labels]


def labelled_member_rows(warehouse: Warehouse, measure: str, months: list[str] | None = None) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The member-months `measure` labelled: their features and its labels, at the given as-of partition keys (None: all).

    What training and monitoring need, and no more: reading every member-month held the whole features table (about ten
    times the members breast screening labels) in each training step, monitoring step and report kernel.
    """
    labels = warehouse.read_table("gold", "labels", "measure", [measure])
    if months is not None:
        labels = labels.filter(pl.col(AS_OF_MONTH).is_in(months))
    features = warehouse.read_table("gold", "features", members=labels["member_key"].unique().to_list())
    return features.join(labels.select(KEYS), on=KEYS, how="semi"), labels
