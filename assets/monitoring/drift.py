"""Feature, prediction and schema drift of a scored frame against its training reference.

Bins are fixed once on the reference (`reference`), so every later month is judged on the same bins, and one PSI formula
(`psi`) serves features and predictions alike. Counting is vectorised: numeric columns are sorted once (polars, in
parallel across columns) and every bin count and KS step is a binary search into sorted arrays.
"""

from dataclasses import dataclass
from itertools import pairwise

import numpy as np
import polars as pl
from scipy import stats

EPSILON = 1e-4
BINS = 10
KS_GRID = 8192  # reference values where the KS gap is evaluated before refining (see _ks)
QUANTILES = (0.1, 0.25, 0.5, 0.75, 0.9)
DRIFT_SCHEMA = {
    "feature": pl.String, "kind": pl.String, "psi": pl.Float64, "statistic": pl.Float64, "p_value": pl.Float64,
    "reference_null_rate": pl.Float64, "current_null_rate": pl.Float64, "new_categories": pl.List(pl.String),
    "reference_rows": pl.Int64, "current_rows": pl.Int64,
}


@dataclass(frozen=True)
class Reference:
    """A reference (training) frame reduced to what drift needs, so it can be kept beside the model instead of the frame.

    Numeric bins are (-inf, e1], (e1, e2], ..., (ek, inf) on the reference's deduplicated quantile edges, then a null bin;
    categorical bins are the reference categories, one bucket for categories the reference never saw, then a null bin.
    `counts` are the reference rows per bin. `ecdf` holds each numeric feature's sorted distinct non-null values and how
    many values are <= each: the raw sample without its row order, which is all the two-sample KS test reads.
    """

    rows: int
    edges: dict[str, np.ndarray]
    categories: dict[str, list[str]]
    counts: dict[str, np.ndarray]
    ecdf: dict[str, tuple[np.ndarray, np.ndarray]]

    @property
    def shares(self) -> dict[str, np.ndarray]:
        """Each feature's share of reference rows per bin, the null bin last."""
        return {name: counts / self.rows for name, counts in self.counts.items()}

    @property
    def null_rates(self) -> dict[str, float]:
        """Each feature's share of null reference rows."""
        return {name: float(counts[-1] / self.rows) for name, counts in self.counts.items()}


def psi(expected: np.ndarray, actual: np.ndarray, epsilon: float = EPSILON) -> float:
    """Population stability index sum((a - e) * ln(a / e)) over bin shares.

    Both share vectors are clipped below at `epsilon` before the log, so a bin empty on one side adds a large but finite
    term instead of infinity (and shares under epsilon on both sides add nothing).
    """
    e = np.clip(np.asarray(expected, dtype=np.float64), epsilon, None)
    a = np.clip(np.asarray(actual, dtype=np.float64), epsilon, None)
    if e.shape != a.shape:
        raise ValueError(f"psi needs share vectors over the same bins; got {e.size} and {a.size}")
    return float(np.sum((a - e) * np.log(a / e)))


def _sorted_values(frame: pl.DataFrame, numeric: list[str]) -> dict[str, np.ndarray]:
    """Each numeric column's non-null, non-NaN values as sorted float64, the columns sorted in parallel in their own types
    (NaN sorts after every number in polars and numpy alike, so it is cut off the end)."""
    if not numeric:
        return {}
    ordered = frame.select(pl.col(numeric).sort(nulls_last=True))
    values = {c: ordered[c].head(ordered.height - ordered[c].null_count()).cast(pl.Float64).to_numpy() for c in numeric}
    return {c: v[: np.searchsorted(v, np.nan)] for c, v in values.items()}


def _quantile_edges(values: np.ndarray, bins: int) -> np.ndarray:
    """Deduplicated interior quantile edges of sorted values (the 'lower' quantile: an observed value, never interpolated)."""
    if not values.size:
        return values
    return np.unique(values[np.floor(np.arange(1, bins) / bins * (values.size - 1)).astype(np.int64)])


def _bin_counts(values: np.ndarray, edges: np.ndarray, rows: int) -> np.ndarray:
    """Rows per bin (-inf, e1], ..., (ek, inf) of sorted non-null values, then the null rows."""
    at_or_below = np.searchsorted(values, edges, side="right")
    return np.append(np.diff(np.concatenate(([0], at_or_below, [values.size]))), rows - values.size)


def _ecdf(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted distinct values and the count of values <= each."""
    if not values.size:
        return values, np.empty(0, dtype=np.int64)
    last = np.flatnonzero(np.append(values[1:] != values[:-1], True))
    return values[last], last + 1


def _ks_gaps(ecdf: tuple[np.ndarray, np.ndarray], current: np.ndarray, k: np.ndarray) -> tuple[np.ndarray, ...]:
    """The larger CDF gap at and just below reference values distinct[k], and the four CDF values it came from."""
    distinct, at_or_below = ecdf
    ref_at = at_or_below[k] / at_or_below[-1]
    ref_below = np.where(k > 0, at_or_below[k - 1], 0) / at_or_below[-1]
    cur_at = np.searchsorted(current, distinct[k], side="right") / current.size
    cur_below = np.searchsorted(current, distinct[k], side="left") / current.size
    return np.maximum(np.abs(ref_at - cur_at), np.abs(ref_below - cur_below)), ref_at, ref_below, cur_at, cur_below


def _ks(ecdf: tuple[np.ndarray, np.ndarray], current: np.ndarray) -> tuple[float | None, float | None]:
    """Exact two-sample KS D between the reference ECDF and sorted current values, and its asymptotic p-value.

    The reference CDF is flat between reference values, so the supremum is reached at some reference value r or just
    below it, and the gaps there give D exactly (as ks_2samp finds it). They are first evaluated on a grid of KS_GRID
    reference values; a stretch between two grid points, where both CDFs are bounded by their values at its ends, is
    evaluated value by value only if those bounds could beat the best gap so far. That spares most binary searches.
    The p-value is scipy's limiting Kolmogorov distribution (kstwobign): within a few percent of ks_2samp's asymptotic
    p-value from 500 rows on (slightly conservative), and it never takes the half second kstwo.sf can take in the tail.
    """
    distinct, at_or_below = ecdf
    if not (distinct.size and current.size):
        return None, None
    grid = np.unique(np.linspace(0, distinct.size - 1, KS_GRID).astype(np.int64))
    gaps, ref_at, ref_below, cur_at, cur_below = _ks_gaps(ecdf, current, grid)
    cells = np.flatnonzero(np.maximum(ref_below[1:] - cur_at[:-1], cur_below[1:] - ref_at[:-1]) > gaps.max())
    lengths = grid[cells + 1] - grid[cells] - 1
    inside = np.repeat(grid[cells] + 1 - np.cumsum(lengths) + lengths, lengths) + np.arange(lengths.sum())
    d = float(max(gaps.max(), _ks_gaps(ecdf, current, inside)[0].max(initial=0.0)))
    n_ref, n_cur = int(at_or_below[-1]), current.size
    return d, float(stats.kstwobign.sf(d * np.sqrt(n_ref * n_cur / (n_ref + n_cur))))


def _category_counts(frame: pl.DataFrame, categorical: list[str]) -> dict[str, pl.DataFrame]:
    """Rows per value (null included) of each categorical column, counted in parallel across columns."""
    counted = pl.collect_all([frame.lazy().group_by(pl.col(c).cast(pl.String).alias("value")).agg(pl.len().alias("rows"))
                              for c in categorical])
    return dict(zip(categorical, counted))


def _bucket_counts(counted: pl.DataFrame, categories: list[str]) -> tuple[np.ndarray, list[str]]:
    """Rows per reference category, then one bucket for every category the reference never saw, then nulls; and those names."""
    known = pl.DataFrame({"value": categories}, schema={"value": pl.String}).join(counted, on="value", how="left",
                                                                                   maintain_order="left")
    unseen = counted.filter(pl.col("value").is_not_null() & ~pl.col("value").is_in(categories))
    nulls = counted.filter(pl.col("value").is_null())["rows"].sum()
    counts = np.concatenate((known["rows"].fill_null(0).to_numpy(), [unseen["rows"].sum(), nulls])).astype(np.int64)
    return counts, unseen["value"].sort().to_list()


def _chi_square(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float | None, float | None]:
    """Chi-square test of homogeneity of two count vectors over the same buckets (buckets empty on both sides left out)."""
    table = np.vstack((reference_counts, current_counts))
    table = table[:, table.sum(axis=0) > 0]
    if not table[1].sum():
        return None, None
    if table.shape[1] < 2:
        return 0.0, 1.0
    result = stats.chi2_contingency(table, correction=False)
    return float(result.statistic), float(result.pvalue)


def reference(frame: pl.DataFrame, numeric: list[str], categorical: list[str], bins: int = BINS) -> Reference:
    """Fix the bins on a reference frame: `bins` quantile bins per numeric feature, the category set per categorical one."""
    if not frame.height:
        raise ValueError("the reference frame has no rows: drift needs a reference to compare against")
    values = _sorted_values(frame, numeric)
    counted = _category_counts(frame, categorical)
    edges = {c: _quantile_edges(values[c], bins) for c in numeric}
    categories = {c: counted[c]["value"].drop_nulls().sort().to_list() for c in categorical}
    counts = {c: _bin_counts(values[c], edges[c], frame.height) for c in numeric}
    counts |= {c: _bucket_counts(counted[c], categories[c])[0] for c in categorical}
    return Reference(rows=frame.height, edges=edges, categories=categories, counts=counts,
                     ecdf={c: _ecdf(values[c]) for c in numeric})


def feature_drift(ref: Reference, current: pl.DataFrame, epsilon: float = EPSILON) -> pl.DataFrame:
    """One row per feature: PSI over the reference bins (null bin included), a two-sample test and the null rates.

    `statistic` is the KS D of the non-null values for numeric features and, for categorical ones, the chi-square statistic
    of reference vs current counts over the reference categories, one bucket of unseen categories (named in
    `new_categories`) and a null bucket. PSI clips both share vectors at `epsilon` before the log (see `psi`). Values
    outside the reference range fall in the open-ended edge bins. With no current rows, PSI and the tests are null.
    """
    numeric, categorical = list(ref.edges), list(ref.categories)
    missing = [c for c in numeric + categorical if c not in current.columns]
    if missing:
        raise ValueError(f"current frame lacks reference features: {', '.join(missing)}")
    rows = current.height
    values = _sorted_values(current, numeric)
    counted = _category_counts(current, categorical)
    measured = {c: ("numeric", _bin_counts(values[c], ref.edges[c], rows), *_ks(ref.ecdf[c], values[c]), []) for c in numeric}
    for c in categorical:
        counts, new = _bucket_counts(counted[c], ref.categories[c])
        measured[c] = ("categorical", counts, *_chi_square(ref.counts[c], counts), new)
    shares, null_rates = ref.shares, ref.null_rates
    return pl.DataFrame([
        {"feature": feature, "kind": kind, "psi": psi(shares[feature], counts / rows, epsilon) if rows else None,
         "statistic": statistic, "p_value": p_value, "reference_null_rate": null_rates[feature],
         "current_null_rate": float(counts[-1] / rows) if rows else None, "new_categories": new,
         "reference_rows": ref.rows, "current_rows": rows}
        for feature, (kind, counts, statistic, p_value, new) in measured.items()
    ], schema=DRIFT_SCHEMA)


def bin_shares(ref: Reference, current: pl.DataFrame, feature: str) -> pl.DataFrame:
    """A numeric feature's reference and current shares over the reference bins, null bin last: the two vectors its PSI
    compares, labelled by the bin edges so a report can draw them as histograms."""
    edges = ref.edges[feature]
    values = _sorted_values(current.select(feature), [feature])[feature]
    counts = _bin_counts(values, edges, current.height)
    bounds = [f"{e:.3g}" for e in edges]
    labels = ([f"<= {bounds[0]}", *[f"{a} - {b}" for a, b in pairwise(bounds)], f"> {bounds[-1]}"] if bounds else ["any"]) + ["null"]
    return pl.DataFrame({"bin": labels, "reference": ref.shares[feature], "current": counts / max(current.height, 1)})


def _score_summary(prefix: str, scores: np.ndarray) -> dict:
    """Mean and quantiles of a score vector, to follow the model's confidence month to month."""
    if not scores.size:
        return {f"{prefix}_mean": None} | {f"{prefix}_p{round(q * 100)}": None for q in QUANTILES}
    return {f"{prefix}_mean": float(scores.mean())} | dict(zip([f"{prefix}_p{round(q * 100)}" for q in QUANTILES],
                                                               np.quantile(scores, QUANTILES).tolist()))


def prediction_drift(reference_scores: np.ndarray, current_scores: np.ndarray, epsilon: float = EPSILON) -> dict:
    """Drift of the model's scores: PSI over 10 reference-quantile bins and KS (as `feature_drift` does for one numeric
    feature), with both months' mean and quantiles."""
    reference_scores = np.asarray(reference_scores, dtype=np.float64)
    current_scores = np.asarray(current_scores, dtype=np.float64)
    ref = reference(pl.DataFrame({"score": reference_scores}), ["score"], [])
    row = feature_drift(ref, pl.DataFrame({"score": current_scores}), epsilon).row(0, named=True)
    return {"psi": row["psi"], "ks_statistic": row["statistic"], "ks_p_value": row["p_value"],
            "reference_rows": row["reference_rows"], "current_rows": row["current_rows"],
            **_score_summary("reference", reference_scores), **_score_summary("current", current_scores)}


def schema_drift(reference_columns: dict[str, str], current_columns: dict[str, str]) -> dict:
    """Columns added, removed and retyped between two {column: type} schemas, in the order each schema lists them."""
    return {
        "added": [c for c in current_columns if c not in reference_columns],
        "removed": [c for c in reference_columns if c not in current_columns],
        "retyped": [{"column": c, "reference": t, "current": current_columns[c]}
                    for c, t in reference_columns.items() if c in current_columns and current_columns[c] != t],
    }
