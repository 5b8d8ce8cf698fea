"""Scores: each measure's champion applied to every member with an open gap, per as-of month, and the outreach list.

The model is read from the registry (`models:/caregap_<measure>@champion`) at run time, so a promotion or a rollback
changes the next scores without touching this code; every row names the model version that produced it.
"""

import dagster as dg
import polars as pl

from assets.gold import AS_OF_MONTH
from assets.measures import measure_settings, measures
from assets.modeling.scoring import SCORE_SCHEMA, TOP_K, open_gaps, outreach_list, score
from assets.partitions import as_of_partitions
from assets.policy import PHI_PSEUDONYMISED, column_schema, markdown_table, tags
from resources.environment import settings
from resources.io_manager import PARTITION_COLUMN
from resources.model_registry import CHAMPION, ModelRegistry, model_name
from resources.warehouse import UnknownTableError, Warehouse

OWNERS = ["team:care-management"]
SCORE_DESCRIPTIONS = {
    "p_gap_persists": "Probability that the open gap is still open at the label horizon without outreach.",
    "model_version": "Registered version of the model that produced the score.",
    **{f"top{i}_feature": f"Feature with the {i}. largest contribution to this member's score." for i in range(1, TOP_K + 1)},
    **{f"top{i}_contribution": "Its contribution: log-odds (logistic) or probability change (occlusion, other families)." for i in range(1, TOP_K + 1)},
}
OUTREACH_SCHEMA = {"rank": pl.Int32, "member_key": pl.String, "expected_gaps_closed": pl.Float64, "open_gaps": pl.Int32, "measures": pl.String}


def _monthly(key: list[str], **kwargs) -> dict:
    return dict(key=key, partitions_def=as_of_partitions(), tags=tags("scores", PHI_PSEUDONYMISED), **kwargs)


def score_asset(measure: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["scores", measure])

    @dg.asset(
        **_monthly(key.path, group_name="scores", owners=OWNERS, kinds={"mlflow", "polars"},
                   metadata={PARTITION_COLUMN: AS_OF_MONTH, "dagster/column_schema": column_schema({**SCORE_SCHEMA, AS_OF_MONTH: pl.String}, SCORE_DESCRIPTIONS)}),
        ins={"features": dg.AssetIn(["gold", "features"]), "measure_status": dg.AssetIn(["gold", "measure_status"])},
        deps=[dg.AssetKey(["models", measure])],
        check_specs=[dg.AssetCheckSpec("every_open_gap_scored", asset=key, description="One score per member with an open gap, none for anyone else.")],
        description=f"{measures()[measure].title}: the champion's probability that each open gap is still open "
                    f"{measure_settings()['horizon_months']} months later, with the {TOP_K} features that drove it.",
    )
    def _scores(context: dg.AssetExecutionContext, features: pl.DataFrame, measure_status: pl.DataFrame, model_registry: ModelRegistry):
        champion = model_registry.version(measure, CHAMPION)
        if champion is None:
            raise LookupError(f"{model_name(measure)} has no champion; materialize models/{measure} (and pass its gates) first")
        loaded = model_registry.load(measure, champion.version)
        frames, expected = [], 0
        for month in context.partition_keys:
            population = open_gaps(measure_status.filter(pl.col(AS_OF_MONTH) == month), measure)
            month_features = features.filter(pl.col(AS_OF_MONTH) == month).drop(AS_OF_MONTH)
            frames.append(score(loaded, month_features, population, measure, model_name(measure), int(champion.version)).with_columns(
                pl.lit(month).alias(AS_OF_MONTH)))
            expected += population.height
            context.log.info(f"scores/{measure} {month}: {frames[-1].height:,} members scored with v{champion.version}")
        frame = pl.concat(frames)
        yield dg.Output(frame, metadata={"model": f"{model_name(measure)} v{champion.version}", "model_uri": f"models:/{model_name(measure)}/{champion.version}",
                                         "mean_p_gap_persists": float(frame["p_gap_persists"].mean() or 0.0)})
        duplicates = frame.height - frame.select("member_key", AS_OF_MONTH).n_unique()
        yield dg.AssetCheckResult(check_name="every_open_gap_scored", passed=frame.height == expected and duplicates == 0,
                                  metadata={"open_gaps": expected, "scored": frame.height, "duplicate_scores": duplicates})

    return _scores


SCORES = [score_asset(measure) for measure in measures()]


@dg.asset(
    **_monthly(["scores", "outreach_list"], group_name="scores", owners=OWNERS, kinds={"polars"},
               metadata={PARTITION_COLUMN: AS_OF_MONTH, "dagster/column_schema": column_schema({**OUTREACH_SCHEMA, AS_OF_MONTH: pl.String}, {
                   "expected_gaps_closed": "Response rate x summed probability that the member's open gaps persist.",
                   "measures": "Measures with an open gap."})}),
    deps=[s.key for s in SCORES],
    description="The members care managers should call first each month: the top members by expected gaps closed across the "
                "measures scored that month (size WORKBENCH_OUTREACH_SIZE; response rate in assets/measures/measures.yaml). A measure "
                "with no approved model yet is left out and named in the metadata, so one refused model does not stop every call.",
)
def outreach(context: dg.AssetExecutionContext, warehouse: Warehouse) -> pl.DataFrame:
    months = list(context.partition_keys)
    scores = {m: month_scores(warehouse, m, months) for m in measures()}
    scored = {m: frame for m, frame in scores.items() if frame is not None and frame.height}
    if not scored:
        raise ValueError(f"no measure has scores for {', '.join(months)}: score at least one measure before its outreach list")
    combined = pl.concat(list(scored.values()))
    rate, size = measure_settings()["outreach_response_rate"], settings().outreach_size
    frames = [outreach_list(combined.filter(pl.col(AS_OF_MONTH) == month), rate, size).with_columns(pl.lit(month).alias(AS_OF_MONTH))
              for month in months]
    frame = pl.concat(frames).cast(OUTREACH_SCHEMA | {AS_OF_MONTH: pl.String})
    context.add_output_metadata({"members": frame.height, "by_open_gaps": markdown_table(frame.group_by("open_gaps").len().sort("open_gaps")),
                                 "measures_scored": ", ".join(scored), "measures_not_scored": ", ".join(sorted(set(scores) - set(scored))) or "none"})
    return frame


def month_scores(warehouse: Warehouse, measure: str, months: list[str]) -> pl.DataFrame | None:
    """The measure's scores for `months`, or None when it has never been scored (no approved model has served it)."""
    try:
        return warehouse.read_table("scores", measure, AS_OF_MONTH, months)
    except UnknownTableError:
        return None
