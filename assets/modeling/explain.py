"""Why a member scored as they did: per-row feature contributions and the top k, for outreach notes and review.

- logistic: exact. Each transformed column's coefficient x value (log-odds), summed back to its feature (one-hot and
  missing-indicator columns included). Inputs are centred, so contributions are relative to the average training member
  and they plus the intercept equal the row's logit.
- gbt, mlp: occlusion. A feature's contribution is the predicted probability minus the probability with that feature set
  to the training median (numeric) or most common value (categorical); one batch prediction per feature. Not additive.
"""

import numpy as np
import pandas as pd
import polars as pl

from assets.modeling.dataset import FEATURE_COLUMNS, model_input
from assets.modeling.families import CareGapModel

METHODS = {"logistic": "exact log-odds (coefficient x transformed value)", "gbt": "occlusion to training median/mode (probability)",
           "mlp": "occlusion to training median/mode (probability)"}


def _owner(column: str) -> str:
    """The feature behind a transformed column: `categorical__region_100` is region, `numeric__missingindicator_last_ldl` last_ldl."""
    name = column.split("__", 1)[1].removeprefix("missingindicator_")
    return max((f for f in FEATURE_COLUMNS if name == f or name.startswith(f"{f}_")), key=len)


def _exact_linear(model: CareGapModel, inputs: pd.DataFrame) -> np.ndarray:
    """Coefficient x transformed value per column, summed into features through a column-to-feature membership matrix."""
    preprocess, logistic = model.pipeline["preprocess"], model.pipeline["model"]
    owners = np.array([_owner(c) for c in preprocess.get_feature_names_out()])
    membership = (owners[:, None] == np.array(FEATURE_COLUMNS)[None, :]).astype(np.float64)
    return (preprocess.transform(inputs) * logistic.coef_[0]) @ membership


def _occlusion(model: CareGapModel, inputs: pd.DataFrame) -> np.ndarray:
    """Probability minus the probability with one feature at its reference value, one batch prediction per feature."""
    base = model.predict_proba(inputs)[:, 1]
    occluded = [model.predict_proba(inputs.assign(**{name: model.reference_[name]}))[:, 1] for name in FEATURE_COLUMNS]
    return base[:, None] - np.column_stack(occluded)


def contributions(model: CareGapModel, X: pd.DataFrame | pl.DataFrame) -> pl.DataFrame:
    """One column per feature, one row per row of X: log-odds for logistic, probability change for the others (see METHODS)."""
    inputs = model_input(X)
    values = _exact_linear(model, inputs) if model.family == "logistic" else _occlusion(model, inputs)
    return pl.DataFrame(values, schema=FEATURE_COLUMNS, orient="row")


def top_contributions(model: CareGapModel, X: pd.DataFrame | pl.DataFrame, k: int = 3) -> pl.DataFrame:
    """The k largest contributions by magnitude per row of X: `row` (position in X), `rank` (1 = largest), `feature`, `contribution`."""
    values = contributions(model, X).to_numpy()
    order = np.argsort(-np.abs(values), axis=1, kind="stable")[:, :k]
    n, kept = order.shape
    return pl.DataFrame({
        "row": np.repeat(np.arange(n, dtype=np.uint32), kept),
        "rank": np.tile(np.arange(1, kept + 1, dtype=np.uint8), n),
        "feature": np.array(FEATURE_COLUMNS)[order].ravel(),
        "contribution": np.take_along_axis(values, order, axis=1).ravel(),
    })
