"""The numbers behind a validation report's figures and tables: curves, calibration bins, subgroups, importance, drift.

Plain numpy and polars over labels y (1 = gap still open), probabilities p and feature frames. Every result is an
aggregate (counts, rates, curve points), so a report built from these cannot show a member.
"""

from collections.abc import Callable

import numpy as np
import polars as pl
from sklearn.metrics import precision_recall_curve, roc_curve

from assets.modeling.dataset import CATEGORICAL, FEATURE_COLUMNS, MISSING, NUMERIC
from assets.modeling.evaluation import ECE_BINS, SUBGROUPS, roc_auc
from assets.monitoring.drift import feature_drift, reference
from assets.monitoring.report import judged_features
from assets.monitoring.thresholds import MonitoringThresholds


def roc_points(y: np.ndarray, p: np.ndarray) -> pl.DataFrame:
    """The ROC curve's corners (sklearn drops the collinear ones), for plotting."""
    fpr, tpr, _ = roc_curve(y, p)
    return pl.DataFrame({"false_positive_rate": fpr, "true_positive_rate": tpr})


def pr_points(y: np.ndarray, p: np.ndarray) -> pl.DataFrame:
    """The precision-recall curve, step-wise as average precision (the gates' pr_auc) integrates it."""
    precision, recall, _ = precision_recall_curve(y, p)
    return pl.DataFrame({"recall": recall, "precision": precision})


def calibration_bins(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> pl.DataFrame:
    """Rows, mean probability and observed rate per equal-width bin of p: the same bins as the expected calibration error."""
    frame = pl.DataFrame({"y": np.asarray(y, dtype=np.float64), "p": np.asarray(p, dtype=np.float64)})
    binned = frame.with_columns((pl.col("p") * bins).floor().cast(pl.Int32).clip(upper_bound=bins - 1).alias("bin"))
    return (binned.group_by("bin").agg(pl.len().alias("rows"), pl.col("p").mean().alias("mean_predicted"), pl.col("y").mean().alias("observed"))
            .sort("bin").with_columns((pl.col("bin") / bins).alias("from"), ((pl.col("bin") + 1) / bins).alias("to")))


def subgroup_table(y: np.ndarray, p: np.ndarray, groups: pl.DataFrame, assessed: dict[str, dict]) -> pl.DataFrame:
    """Rows, prevalence and ROC AUC per group of each subgroup attribute; `gate` says whether the fairness gate judged it.

    `assessed` is the recorded `subgroup_auc` (attribute -> group -> AUC): the groups large enough for the gate at training.
    """
    frame = groups.select([pl.col(a).cast(pl.String).fill_null(MISSING) for a in SUBGROUPS]).with_columns(
        pl.Series("y", np.asarray(y, dtype=np.float64)), pl.Series("p", np.asarray(p, dtype=np.float64)))
    tables = []
    for attribute in SUBGROUPS:
        per_group = frame.group_by(pl.col(attribute).alias("group")).agg(pl.len().alias("rows"), pl.col("y").mean().alias("prevalence"),
                                                                         pl.col("y"), pl.col("p")).sort("group")
        tables.append(per_group.select(
            pl.lit(attribute).alias("attribute"), "group", "rows", "prevalence",
            pl.Series("roc_auc", [roc_auc(np.array(ys), np.array(ps)) for ys, ps in per_group.select("y", "p").iter_rows()], dtype=pl.Float64),
            pl.col("group").is_in(list(assessed.get(attribute, {}))).alias("gate")))
    return pl.concat(tables)


# Rows per prediction call in permutation importance: large enough that a model's per-call overhead stays small, small
# enough that the shuffled copies stay bounded (all 60 at once held ~2 GiB in a 50,000-member report's kernel).
IMPORTANCE_BATCH_ROWS = 200_000


def permutation_importance(predict: Callable[[pl.DataFrame], np.ndarray], frame: pl.DataFrame, y: np.ndarray, seed: int = 0,
                           batch_rows: int = IMPORTANCE_BATCH_ROWS) -> pl.DataFrame:
    """ROC AUC lost on these rows when one feature's values are shuffled across them: model-agnostic; the shuffled copies
    go through the model a few features per call, at most `batch_rows` rows (or one feature's copy) at a time.
    """
    base = roc_auc(y, predict(frame))
    features = frame.select(FEATURE_COLUMNS)
    per_call = max(1, batch_rows // max(frame.height, 1))
    drops: list[float] = []
    for start in range(0, len(FEATURE_COLUMNS), per_call):
        names = FEATURE_COLUMNS[start:start + per_call]
        shuffled = pl.concat([features.with_columns(pl.col(name).shuffle(seed=seed)) for name in names])
        drops += [base - roc_auc(y, p) for p in predict(shuffled).reshape(len(names), frame.height)]
    return pl.DataFrame({"feature": FEATURE_COLUMNS, "roc_auc_drop": drops}).sort("roc_auc_drop", descending=True)


def drift_versus_training(train: pl.DataFrame, validation: pl.DataFrame) -> pl.DataFrame:
    """Per feature, the validation rows against bins fixed on the training rows, with monitoring's own drift functions and
    thresholds: PSI and its level (pass / warn / fail), the two-sample test's p-value (KS numeric, chi-square categorical),
    null rates and how many categories training never saw (counted, not named). Largest PSI first.
    """
    drift = judged_features(feature_drift(reference(train, NUMERIC, CATEGORICAL), validation), MonitoringThresholds.configured())
    return drift.select(
        "feature", "kind", "psi", pl.col("psi_level").alias("level"), "p_value", pl.col("reference_null_rate").alias("train_null_rate"),
        pl.col("current_null_rate").alias("validation_null_rate"), pl.col("new_categories").list.len().alias("unseen_categories"),
    ).sort("psi", descending=True)
