"""Validation metrics for a care-gap model: discrimination, calibration and subgroup ROC AUC, as plain JSON-ready values.

A metric that is undefined on the rows given (one class only, constant predictions) is None, never NaN.
"""

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

ECE_BINS = 10
SUBGROUPS = ("sex", "age_band", "line_of_business")
MIN_CLASS_ROWS = 100  # per class, by default: with fewer, a group's ROC AUC is too noisy (standard error above 0.04) to judge
EPSILON = 1e-6


def _both_classes(y: np.ndarray) -> bool:
    """Ranking and calibration metrics need at least one row of each class."""
    return bool(y.size) and 0 < y.sum() < y.size


def roc_auc(y: np.ndarray, p: np.ndarray) -> float | None:
    """ROC AUC, or None when only one class is present."""
    return float(roc_auc_score(y, p)) if _both_classes(y) else None


def expected_calibration_error(y: np.ndarray, p: np.ndarray, bins: int = ECE_BINS) -> float:
    """Row-weighted mean |observed rate - mean probability| over `bins` equal-width bins of p ([0, 0.1), ..., [0.9, 1.0])."""
    which = np.minimum((p * bins).astype(np.int64), bins - 1)
    observed, predicted = np.bincount(which, weights=y, minlength=bins), np.bincount(which, weights=p, minlength=bins)
    return float(np.abs(observed - predicted).sum() / y.size)


def calibration_slope(y: np.ndarray, p: np.ndarray) -> float | None:
    """Slope of a logistic regression of y on logit(p): 1 is perfect, below 1 the probabilities are too extreme."""
    logit = np.log(np.clip(p, EPSILON, 1 - EPSILON) / np.clip(1 - p, EPSILON, 1 - EPSILON))
    if not _both_classes(y) or np.ptp(logit) == 0:
        return None
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit[:, None], y)  # C this large is unpenalised, yet finite if separable
    return float(fit.coef_[0, 0])


def subgroup_auc(y: np.ndarray, p: np.ndarray, groups: pl.DataFrame, min_class_rows: int = MIN_CLASS_ROWS) -> dict:
    """ROC AUC per group of each attribute (groups with at least `min_class_rows` of each class) and the widest gap per attribute."""
    per_group, gaps = {}, {}
    for attribute in SUBGROUPS:
        codes = groups[attribute].cast(pl.String).fill_null("missing").to_numpy()
        aucs = {}
        for value in np.unique(codes):
            hit = codes == value
            positives = y[hit].sum()
            auc = roc_auc(y[hit], p[hit]) if min(positives, hit.sum() - positives) >= min_class_rows else None
            if auc is not None:
                aucs[str(value)] = auc
        per_group[attribute] = aucs
        gaps[attribute] = max(aucs.values()) - min(aucs.values()) if len(aucs) > 1 else None
    assessed = [gap for gap in gaps.values() if gap is not None]
    return {"subgroup_auc": per_group, "subgroup_auc_gap": gaps, "max_subgroup_auc_gap": max(assessed) if assessed else None}


def evaluate(y: np.ndarray, p: np.ndarray, groups: pl.DataFrame, min_class_rows: int = MIN_CLASS_ROWS) -> dict:
    """Every metric the gates read, for labels y (1 = still open), probabilities p of y = 1 and the rows' sex/age band/line of business.

    pr_auc is average precision (step-wise, no interpolation); pr_auc_lift is pr_auc over the prevalence of y = 1.
    """
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if not (y.size == p.size == groups.height):
        raise ValueError(f"y ({y.size}), p ({p.size}) and groups ({groups.height}) must have one entry per row")
    prevalence = float(y.mean()) if y.size else None
    pr_auc = float(average_precision_score(y, p)) if _both_classes(y) else None
    return {
        "n": int(y.size),
        "prevalence": prevalence,
        "roc_auc": roc_auc(y, p),
        "pr_auc": pr_auc,
        "pr_auc_lift": pr_auc / prevalence if pr_auc is not None else None,
        "brier": float(brier_score_loss(y, p)) if y.size else None,
        "ece": expected_calibration_error(y, p) if y.size else None,
        "calibration_slope": calibration_slope(y, p),
        **subgroup_auc(y, p, groups, min_class_rows),
    }
