"""Monitoring: each scored month compared with the training reference of the model version that scored it.

`monitoring/<measure>` stores per-feature drift (PSI, KS or chi-square, null rates, new categories) and carries the
prediction drift, label-free estimated performance and, once labels have matured, realized performance in its
metadata. Four checks judge it against assets/monitoring/thresholds.yaml; the model-health sensors read their
evaluations from the instance to request retraining or a rollback.
"""

from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from assets.gold import AS_OF_MONTH, labelled_member_rows
from assets.labels import CLOSED, OPEN
from assets.measures import measure_settings, measures
from assets.monitoring import ESTIMATED_PERFORMANCE, FEATURE_DRIFT, PREDICTION_DRIFT, REALIZED_PERFORMANCE
from assets.monitoring.thresholds import FAIL, PASS, MonitoringThresholds
from assets.partitions import as_of_partitions
from assets.pit import add_months, month_end
from assets.policy import PHI_NONE, column_schema, markdown_table, tags
from resources.io_manager import PARTITION_COLUMN
from resources.model_registry import ModelRegistry, model_name
from resources.warehouse import Warehouse

if TYPE_CHECKING:
    from assets.monitoring.report import Baseline, Report

OWNERS = ["team:ml-platform"]
CHECKS = {
    FEATURE_DRIFT: "Every feature's PSI against the training reference and its null-rate rise stay under the thresholds.",
    PREDICTION_DRIFT: "The distribution of the scores stays close to the scores on the training rows (PSI).",
    ESTIMATED_PERFORMANCE: "The label-free (CBPE) expected ROC AUC has not dropped from its value on the validation months.",
    REALIZED_PERFORMANCE: "Once labels mature, the ROC AUC of the month's scores has not dropped below the validated ROC AUC.",
}
DRIFT_DESCRIPTIONS = {
    "psi": "Population stability index over 10 reference-quantile bins (categories for text features), nulls as their own bin.",
    "statistic": "Kolmogorov-Smirnov D (numeric) or chi-square (categorical) against the training reference.",
    "p_value": "p-value of that test (with tens of thousands of rows even tiny shifts are significant: judge by PSI).",
    "new_categories": "Categories the training reference never saw.",
    "level": "Worse of psi_level and null_rate_level: pass, warn, fail, or not judged (too few rows).",
    "model_version": "Model version that scored the month (its training rows are the reference).",
}
MONITORING_SCHEMA = {
    "feature": pl.String, "kind": pl.String, "psi": pl.Float64, "statistic": pl.Float64, "p_value": pl.Float64,
    "reference_null_rate": pl.Float64, "current_null_rate": pl.Float64, "new_categories": pl.List(pl.String),
    "reference_rows": pl.Int64, "current_rows": pl.Int64, "psi_level": pl.String, "null_rate_level": pl.String, "level": pl.String,
    "measure": pl.String, "model_version": pl.Int32, AS_OF_MONTH: pl.String,
}


def baseline(registry: ModelRegistry, warehouse: Warehouse, measure: str, version: int, loaded) -> "Baseline":
    """The rows `version` learned from and was validated on, rebuilt from gold with the months its registry tags name."""
    from assets.model_review import predictor, version_record
    from assets.modeling.dataset import FEATURE_COLUMNS, time_split, training_frame
    from assets.monitoring.report import Baseline

    record = version_record(registry, model_name(measure), version)
    keys = [f"{m}-01" for m in record.train_months + record.validation_months]
    features, labels = labelled_member_rows(warehouse, measure, keys)
    train, validation = time_split(training_frame(features, labels, measure), len(record.validation_months))
    validated = registry.client().get_run(record.run_id).data.metrics["roc_auc"]
    predict = predictor(loaded)
    return Baseline(train.select(FEATURE_COLUMNS), predict(train), predict(validation), validated)


def _labelled(scores: pl.DataFrame, labels: pl.DataFrame, measure: str) -> pl.DataFrame:
    """The month's scores whose outcome is known, with the outcome as `label` (1: the gap stayed open)."""
    known = labels.filter((pl.col("measure") == measure) & pl.col("label_status").is_in([OPEN, CLOSED]))
    return scores.join(known.select("member_key", pl.col("gap_open_at_horizon").cast(pl.Int8).alias("label")), on="member_key", how="inner")


def scored_by(scores: pl.DataFrame, measure: str, month: str) -> int:
    """The one model version that scored the month: a month scored by two versions has no single reference to judge it by."""
    versions = scores["model_version"].unique().to_list()
    if len(versions) != 1:
        raise ValueError(f"scores/{measure} {month} must come from one model version to be monitored, found {versions or 'none'}")
    return int(versions[0])


def judge_month(base: "Baseline", scores: pl.DataFrame, features: pl.DataFrame, labels: pl.DataFrame, measure: str, month: str) -> "Report":
    """One month's scores, feature rows and labels against the baseline of the version that scored them; the asset and the
    monitoring report both call this, so they cannot disagree."""
    from assets.monitoring.report import monitor

    current = scores.select("member_key", "p_gap_persists").join(features, on="member_key", how="inner")
    labels_due = add_months(month_end(month), measure_settings()["horizon_months"])
    return monitor(base, current, current["p_gap_persists"].to_numpy(), MonitoringThresholds.configured(),
                   _labelled(scores, labels, measure), labels_due)


def _check_results(report: "Report") -> list[dg.AssetCheckResult]:
    """Pass and not-judged pass; warn fails with WARN severity, fail with ERROR (which the sensors act on)."""
    from assets.monitoring.report import NOT_JUDGED

    return [dg.AssetCheckResult(check_name=name, passed=report.levels[name] in (PASS, NOT_JUDGED), description=report.reasons[name],
                                severity=dg.AssetCheckSeverity.ERROR if report.levels[name] == FAIL else dg.AssetCheckSeverity.WARN,
                                metadata={"level": report.levels[name], "reason": report.reasons[name]})
            for name in CHECKS]


def _metadata(report: "Report", measure: str, version: int, month: str) -> dict:
    """Numbers the Dagster UI plots across months, and a summary a reader takes in at a glance."""
    numbers = {"prediction_psi": report.prediction["psi"], "mean_p_gap_persists": report.prediction["current_mean"],
               "expected_roc_auc": report.estimated["expected_roc_auc"], "validated_roc_auc": report.estimated["validated_roc_auc"],
               "realized_roc_auc": (report.realized or {}).get("roc_auc"), "max_feature_psi": report.features["psi"].max()}
    summary = "\n".join([f"**{model_name(measure)} v{version}, as of {month}**", "", "| check | level | why |", "|---|---|---|",
                         *[f"| {name} | {report.levels[name]} | {report.reasons[name]} |" for name in CHECKS]])
    drifted = report.features.select("feature", "kind", "psi", "reference_null_rate", "current_null_rate", "level").head(10)
    return {"summary": dg.MetadataValue.md(summary), "model": f"{model_name(measure)} v{version}", "top_drifted_features": markdown_table(drifted),
            "schema_changes": dg.MetadataValue.json(report.schema), **{k: float(v) for k, v in numbers.items() if v is not None}}


def monitoring_asset(measure: str) -> dg.AssetsDefinition:
    key = dg.AssetKey(["monitoring", measure])

    @dg.asset(
        key=key, partitions_def=as_of_partitions(), group_name="monitoring", owners=OWNERS, kinds={"polars", "mlflow"}, tags=tags("monitoring", PHI_NONE),
        metadata={PARTITION_COLUMN: AS_OF_MONTH, "dagster/column_schema": column_schema(MONITORING_SCHEMA, DRIFT_DESCRIPTIONS)},
        ins={"scores": dg.AssetIn(["scores", measure]), "features": dg.AssetIn(["gold", "features"]), "labels": dg.AssetIn(["gold", "labels"])},
        check_specs=[dg.AssetCheckSpec(name, asset=key, description=text) for name, text in CHECKS.items()],
        description=f"{measures()[measure].title}: drift of the month's features and scores from the training rows of the model version "
                    "that scored them, label-free estimated performance, and realized performance once labels mature; thresholds in "
                    "assets/monitoring/thresholds.yaml.",
    )
    def _monitoring(context: dg.AssetExecutionContext, scores: pl.DataFrame, features: pl.DataFrame, labels: pl.DataFrame,
                    model_registry: ModelRegistry, warehouse: Warehouse):
        month = context.partition_key
        version = scored_by(scores, measure, month)
        base = baseline(model_registry, warehouse, measure, version, model_registry.load(measure, version))
        report = judge_month(base, scores, features, labels, measure, month)
        for name in CHECKS:
            context.log.info(f"monitoring/{measure} {month} {name}: {report.levels[name]}, {report.reasons[name]}")
        frame = report.features.with_columns(pl.lit(measure).alias("measure"), pl.lit(version, pl.Int32).alias("model_version"),
                                             pl.lit(month).alias(AS_OF_MONTH)).cast(MONITORING_SCHEMA).select(list(MONITORING_SCHEMA))
        yield dg.Output(frame, metadata=_metadata(report, measure, version, month))
        yield from _check_results(report)

    return _monitoring


MONITORS = [monitoring_asset(measure) for measure in measures()]
