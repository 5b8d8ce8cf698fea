"""Batch scoring and outreach: which open gaps will stay open without help, why, and whom to call first.

A score is the champion's probability that a member's open gap is still open at the label horizon; the population is
exactly the one the model was trained on (members with an open gap at the as-of date). MLflow and torch are imported
when scoring runs, so the code location loads without them.
"""

from typing import Any

import polars as pl

from assets.features import KEYS
from assets.modeling.dataset import model_input

TOP_K = 3
SCORE_SCHEMA = {
    "member_key": pl.String, "as_of": pl.Date, "measure": pl.String, "p_gap_persists": pl.Float64,
    "model_name": pl.String, "model_version": pl.Int32,
    **{f"top{i}_{part}": dtype for i in range(1, TOP_K + 1) for part, dtype in (("feature", pl.String), ("contribution", pl.Float64))},
}


def open_gaps(measure_status: pl.DataFrame, measure: str) -> pl.DataFrame:
    """Members whose gap for `measure` is open at the as-of date (the labels' population)."""
    return measure_status.filter((pl.col("measure") == measure) & pl.col("gap_open").fill_null(False)).select("member_key")


def _wide_contributions(model: Any, inputs: pl.DataFrame) -> pl.DataFrame:
    """The top-k contributions of each row as top1_feature, top1_contribution, ... in row order."""
    from assets.modeling.explain import top_contributions

    top = top_contributions(model, inputs, k=TOP_K)
    wide = top.pivot(on="rank", index="row", values=["feature", "contribution"]).sort("row")
    return wide.select([pl.col(f"{part}_{i}").alias(f"top{i}_{part}") for i in range(1, TOP_K + 1) for part in ("feature", "contribution")])


def score(loaded: Any, features: pl.DataFrame, population: pl.DataFrame, measure: str, name: str, version: int) -> pl.DataFrame:
    """Score every member of `population` from their feature row; refuse features that do not match the model signature."""
    from assets.modeling.pyfunc import check_signature, unwrap

    rows = features.join(population, on="member_key", how="semi").sort("member_key")
    inputs = rows.drop(KEYS)
    check_signature(loaded, inputs.columns)
    if rows.is_empty():
        return pl.DataFrame(schema=SCORE_SCHEMA)
    p = loaded.predict(model_input(inputs))
    base = rows.select(*KEYS, pl.lit(measure).alias("measure"), pl.Series("p_gap_persists", p, pl.Float64),
                       pl.lit(name).alias("model_name"), pl.lit(version, pl.Int32).alias("model_version"))
    return pl.concat([base, _wide_contributions(unwrap(loaded), inputs)], how="horizontal").cast(SCORE_SCHEMA)


def outreach_list(scores: pl.DataFrame, response_rate: float, size: int) -> pl.DataFrame:
    """The `size` members with the most gaps an outreach call would be expected to close.

    Expected closures = response_rate x sum over the member's open gaps of P(gap persists without outreach): a gap that
    would close anyway gains nothing from a call. With one response rate this ranks by the summed probabilities.
    """
    per_member = scores.group_by("member_key").agg(
        (pl.col("p_gap_persists").sum() * response_rate).alias("expected_gaps_closed"),
        pl.len().cast(pl.Int32).alias("open_gaps"),
        pl.col("measure").sort().str.join(", ").alias("measures"),
    )
    ranked = per_member.sort(["expected_gaps_closed", "member_key"], descending=[True, False]).head(size)
    return ranked.with_row_index("rank", offset=1).with_columns(pl.col("rank").cast(pl.Int32))
