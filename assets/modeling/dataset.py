"""Model datasets: labelled feature rows per measure, a time-ordered split, recency weights and the model input frame."""

import numpy as np
import pandas as pd
import polars as pl

from assets.features import FEATURES, KEYS
from assets.labels import CLOSED, OPEN

FEATURE_COLUMNS = [f.name for f in FEATURES]
CATEGORICAL = [f.name for f in FEATURES if f.dtype == pl.String]
NUMERIC = [name for name in FEATURE_COLUMNS if name not in CATEGORICAL]
MISSING = "missing"


def training_frame(features: pl.DataFrame, labels: pl.DataFrame, measure: str) -> pl.DataFrame:
    """Feature rows of members with an open gap whose outcome is known: `label` 1 if still open at the horizon, 0 if closed.

    `horizon_date` is kept: it is the day the label became knowable, which `time_split` needs to keep the future out of training.
    Rows are ordered by what a model sees, not by pseudonym: every installation draws its own pseudonym key, and the
    early-stopping hold-outs of boosting and the network number members by their first row, so the same data must come in
    the same order to train the same model everywhere (rows that tie on every model column are interchangeable).
    """
    known = labels.filter((pl.col("measure") == measure) & pl.col("label_status").is_in([OPEN, CLOSED]))
    target = known.select(*KEYS, "horizon_date", pl.col("gap_open_at_horizon").cast(pl.Int8).alias("label"))
    rows = features.select(*KEYS, *FEATURE_COLUMNS).join(target, on=KEYS, how="inner")
    return rows.sort("as_of", *FEATURE_COLUMNS, "label", "member_key", nulls_last=True)


def _month_index(as_of: pl.Expr) -> pl.Expr:
    return as_of.dt.year().cast(pl.Int32) * 12 + as_of.dt.month().cast(pl.Int32)


def time_split(frame: pl.DataFrame, validation_months: int = 3) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Validate on the latest `validation_months` as-of months; train only on labels already knowable on the first of them.

    A training row whose horizon falls after the first validation as-of date was labelled with outcomes from the validation
    window itself (the same member, still open a month later), so it is left out: production never has those labels either.
    """
    months = frame.select(_month_index(pl.col("as_of")).unique().sort()).to_series()
    if 0 < validation_months < months.len():
        in_validation = _month_index(pl.col("as_of")) >= months[-validation_months]
        validation = frame.filter(in_validation)
        train = frame.filter(~in_validation & (pl.col("horizon_date") <= validation["as_of"].min()))
        if train.height:
            return train, validation
    named = ", ".join(frame["as_of"].dt.strftime("%Y-%m").unique().sort())
    raise ValueError(f"time_split with validation_months={validation_months} leaves training or validation empty (training labels "
                     f"must be knowable by the first validation as-of date); labelled as-of months: [{named}]")


def decay_weights(as_of: pl.Series, half_life_months: float) -> np.ndarray:
    """Sample weights halving every `half_life_months` back from the latest month, so recent behaviour counts most."""
    months = as_of.to_frame("as_of").select(_month_index(pl.col("as_of"))).to_series().to_numpy()
    return np.power(0.5, (months.max() - months) / half_life_months)


def model_input(X: pl.DataFrame | pd.DataFrame) -> pd.DataFrame:
    """The feature columns as every family reads them: categoricals as text (nulls as "missing"), the rest as float with NaN."""
    frame = pl.from_pandas(X[FEATURE_COLUMNS]) if isinstance(X, pd.DataFrame) else X.select(FEATURE_COLUMNS)
    columns = {c: frame[c].cast(pl.String).fill_null(MISSING).to_numpy() for c in CATEGORICAL}
    columns |= {c: frame[c].cast(pl.Float64).to_numpy() for c in NUMERIC}
    return pd.DataFrame(columns, columns=FEATURE_COLUMNS)


def reference_values(X: pd.DataFrame) -> dict[str, object]:
    """A typical training member: each numeric feature's median and each categorical's commonest value."""
    numeric = X[NUMERIC].median(skipna=True).to_dict()
    categorical = {c: X[c].value_counts(sort=False).sort_index().idxmax() for c in CATEGORICAL}
    return {name: (categorical | numeric)[name] for name in FEATURE_COLUMNS}
