"""One month's monitoring of a served model against the rows it learned from, judged by the thresholds in one place.

Plain functions over frames and probability vectors: the monitoring asset feeds them from the warehouse and the
registry, the monitoring notebook and the tests call them directly.
"""

from dataclasses import dataclass
from datetime import date

import numpy as np
import polars as pl

from assets.modeling.dataset import CATEGORICAL, NUMERIC
from assets.monitoring import ESTIMATED_PERFORMANCE, FEATURE_DRIFT, PREDICTION_DRIFT, REALIZED_PERFORMANCE
from assets.monitoring.drift import feature_drift, prediction_drift, reference, schema_drift
from assets.monitoring.performance import estimated_performance, realized_performance
from assets.monitoring.thresholds import FAIL, PASS, WARN, MonitoringThresholds

NOT_JUDGED = "not judged"
LEVEL_ORDER = {NOT_JUDGED: -1, PASS: 0, WARN: 1, FAIL: 2}


@dataclass(frozen=True)
class Baseline:
    """What the served model looked like when it was validated: the rows it learned from and its validation scores."""

    train: pl.DataFrame            # training rows (features); the reference every month is compared with
    train_p: np.ndarray            # the model's probabilities on them
    validation_p: np.ndarray       # its probabilities on the validation rows
    validated_roc_auc: float       # its ROC AUC on the validation rows, as gated


@dataclass(frozen=True)
class Report:
    """Every monitoring table and figure for one measure and month, with each check's level and the reason for it."""

    features: pl.DataFrame
    prediction: dict
    estimated: dict
    realized: dict | None
    schema: dict
    levels: dict[str, str]
    reasons: dict[str, str]


def worst(levels: list[str]) -> str:
    return max(levels, key=LEVEL_ORDER.__getitem__, default=NOT_JUDGED)


def judged_features(drift: pl.DataFrame, t: MonitoringThresholds) -> pl.DataFrame:
    """Feature drift with the level of each feature's PSI and null-rate jump, and the worse of the two."""
    def level(row: dict) -> tuple[str, str]:
        if row["current_rows"] < t.min_rows:
            return NOT_JUDGED, NOT_JUDGED
        jump = (row["current_null_rate"] or 0.0) - (row["reference_null_rate"] or 0.0)
        return t.psi_threshold(row["feature"]).level(row["psi"]), t.null_rate_jump.level(jump)

    psi_levels, null_levels = zip(*(level(r) for r in drift.iter_rows(named=True))) if drift.height else ((), ())
    return drift.with_columns(
        pl.Series("psi_level", psi_levels, pl.String), pl.Series("null_rate_level", null_levels, pl.String),
        pl.Series("level", [worst([a, b]) for a, b in zip(psi_levels, null_levels)], pl.String),
    ).sort("psi", descending=True)


def _feature_reason(features: pl.DataFrame, level: str) -> str:
    flagged = features.filter(pl.col("level") == level)
    named = ", ".join(f"{r['feature']} (PSI {r['psi']:.2f}, nulls {r['reference_null_rate']:.0%} -> {r['current_null_rate']:.0%})"
                      for r in flagged.head(5).iter_rows(named=True))
    return f"{flagged.height} feature(s) at {level}: {named}" if flagged.height else "no feature drifted past the warn level"


def _realized(labelled: pl.DataFrame | None, baseline: Baseline, t: MonitoringThresholds, labels_due: date | None) -> tuple[dict | None, str, str]:
    if labelled is None or labelled.height == 0:
        due = f" (due {labels_due.isoformat()})" if labels_due else ""
        return None, NOT_JUDGED, f"labels have not matured yet{due}"
    realized = realized_performance(labelled["label"].to_numpy(), labelled["p_gap_persists"].to_numpy())
    if realized["roc_auc"] is None or labelled.height < t.min_rows:
        return realized, NOT_JUDGED, f"{labelled.height} labelled rows: too few (or one class) to judge"
    drop = baseline.validated_roc_auc - realized["roc_auc"]
    realized["auc_drop"] = drop
    return realized, t.realized_auc_drop.level(drop), (f"realized ROC AUC {realized['roc_auc']:.3f} vs validated "
                                                       f"{baseline.validated_roc_auc:.3f} (drop {drop:+.3f})")


def monitor(baseline: Baseline, current: pl.DataFrame, current_p: np.ndarray, t: MonitoringThresholds,
            labelled: pl.DataFrame | None = None, labels_due: date | None = None) -> Report:
    """Compare one scored month (feature rows and their probabilities) with the model's baseline.

    `labelled` holds `label` and `p_gap_persists` for the month's scores whose outcome has matured (None or empty: not yet).
    The estimated-performance drop compares the label-free estimate now with the same estimate on the validation scores,
    so a model whose estimate is biased is compared with itself.
    """
    features = judged_features(feature_drift(reference(baseline.train, NUMERIC, CATEGORICAL), current.select(NUMERIC + CATEGORICAL)), t)
    prediction = prediction_drift(baseline.train_p, current_p)
    estimated = estimated_performance(current_p)
    estimated_then = estimated_performance(baseline.validation_p)["expected_roc_auc"]
    estimated |= {"validated_roc_auc": baseline.validated_roc_auc, "expected_roc_auc_at_validation": estimated_then}
    realized, realized_level, realized_reason = _realized(labelled, baseline, t, labels_due)
    enough = len(current_p) >= t.min_rows
    levels = {
        FEATURE_DRIFT: worst(features["level"].to_list()),
        PREDICTION_DRIFT: t.prediction_psi.level(prediction["psi"]) if enough else NOT_JUDGED,
        ESTIMATED_PERFORMANCE: NOT_JUDGED,
        REALIZED_PERFORMANCE: realized_level,
    }
    reasons = {
        FEATURE_DRIFT: _feature_reason(features, levels[FEATURE_DRIFT]) if levels[FEATURE_DRIFT] != NOT_JUDGED
        else f"{len(current_p)} rows: fewer than {t.min_rows}, not judged",
        PREDICTION_DRIFT: f"score PSI {prediction['psi']:.3f}, mean {prediction['reference_mean']:.3f} -> {prediction['current_mean']:.3f}",
        REALIZED_PERFORMANCE: realized_reason,
    }
    if enough and estimated["expected_roc_auc"] is not None and estimated_then is not None:
        drop = estimated_then - estimated["expected_roc_auc"]
        estimated["auc_drop"] = drop
        levels[ESTIMATED_PERFORMANCE] = t.estimated_auc_drop.level(drop)
        reasons[ESTIMATED_PERFORMANCE] = (f"expected ROC AUC {estimated['expected_roc_auc']:.3f} vs {estimated_then:.3f} at validation "
                                          f"(drop {drop:+.3f}); validated ROC AUC {baseline.validated_roc_auc:.3f}")
    else:
        reasons[ESTIMATED_PERFORMANCE] = "too few rows or a single-class estimate: not judged"
    schema = schema_drift({c: str(t_) for c, t_ in baseline.train.select(NUMERIC + CATEGORICAL).schema.items()},
                          {c: str(t_) for c, t_ in current.select([c for c in current.columns if c in NUMERIC + CATEGORICAL]).schema.items()})
    return Report(features, prediction, estimated, realized, schema, levels, reasons)
