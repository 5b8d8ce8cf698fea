"""Model performance in production: estimated from the scores alone before labels mature, realized once they have.

The estimate is confidence-based (as NannyML's CBPE): if the probabilities are calibrated, a row scored p is a positive
with probability p, so every confusion count has an expectation computable without labels. It is only as good as that
assumption: miscalibration moves the estimate while the true performance stays put, which is why realized performance
is measured again when labels arrive.
"""

import numpy as np
from sklearn.metrics import brier_score_loss

from assets.modeling.evaluation import calibration_slope, expected_calibration_error, roc_auc


def estimated_performance(probabilities: np.ndarray) -> dict:
    """Expected ROC AUC, positive rate and Brier score of calibrated probabilities, without labels.

    Thresholds are the probabilities themselves: at threshold t the expected true positives are the sum of p over p >= t
    and the expected false positives the sum of 1 - p, so one descending sort and two cumulative sums give the expected
    ROC curve (tied scores form one point), integrated with the trapezoid rule. The expected Brier score is mean p(1 - p).
    A value that is undefined (no rows, or every probability 0 or every one 1 for the AUC) is None.
    """
    p = np.sort(np.asarray(probabilities, dtype=np.float64))[::-1]
    if not p.size:
        return {"n": 0, "expected_roc_auc": None, "expected_positive_rate": None, "expected_brier": None}
    true_positives, false_positives = np.cumsum(p), np.cumsum(1 - p)
    last_of_tie = np.append(p[1:] != p[:-1], True)
    positives, negatives = true_positives[-1], false_positives[-1]
    auc = None
    if positives > 0 and negatives > 0:
        tpr = np.concatenate(([0.0], true_positives[last_of_tie] / positives))
        fpr = np.concatenate(([0.0], false_positives[last_of_tie] / negatives))
        auc = float(np.trapezoid(tpr, fpr))
    return {"n": int(p.size), "expected_roc_auc": auc, "expected_positive_rate": float(positives / p.size),
            "expected_brier": float(np.mean(p * (1 - p)))}


def realized_performance(y: np.ndarray, p: np.ndarray) -> dict:
    """ROC AUC, Brier score, expected calibration error and calibration slope on matured labels, with the release gates'
    own metric functions; a metric undefined on the rows given is None."""
    y, p = np.asarray(y, dtype=np.float64), np.asarray(p, dtype=np.float64)
    if y.size != p.size:
        raise ValueError(f"y ({y.size}) and p ({p.size}) must have one entry per row")
    return {
        "n": int(y.size),
        "prevalence": float(y.mean()) if y.size else None,
        "roc_auc": roc_auc(y, p),
        "brier": float(brier_score_loss(y, p)) if y.size else None,
        "ece": expected_calibration_error(y, p) if y.size else None,
        "calibration_slope": calibration_slope(y, p),
    }
