"""Drift, estimated performance and monitoring thresholds: the statistics react to the change they are meant to see, and
only to it, and match hand-computed and scipy values."""

import math

import numpy as np
import polars as pl
import pytest
from scipy import stats

from assets.features import FEATURES
from assets.modeling.dataset import CATEGORICAL as FEATURE_CATEGORICAL, NUMERIC as FEATURE_NUMERIC
from assets.monitoring.drift import feature_drift, prediction_drift, psi, reference, schema_drift
from assets.monitoring.performance import estimated_performance, realized_performance
from assets.monitoring.thresholds import THRESHOLDS_ENV, THRESHOLDS_FILE, MonitoringThresholds, Threshold

NUMERIC = ["level", "spread", "lab", "visits", "flag"]
CATEGORICAL = ["plan", "region"]
CFG = MonitoringThresholds.load()
THRESHOLDS_FILE_TEXT = THRESHOLDS_FILE.read_text()
ROWS = 20_000


def sample(seed: int, shift: float = 0.0, scale: float = 1.0, lab_nulls: float = 0.02,
           plan_shares: tuple[float, float, float] = (0.6, 0.3, 0.1)) -> pl.DataFrame:
    """A small feature frame; each keyword changes exactly one column."""
    rng = np.random.default_rng(seed)
    lab = pl.Series(rng.normal(7, 1.5, ROWS))
    return pl.DataFrame({
        "level": rng.normal(50 + shift * 10, 10, ROWS),
        "spread": rng.normal(0, scale, ROWS),
        "lab": lab.scatter(np.flatnonzero(rng.random(ROWS) < lab_nulls), None),
        "visits": pl.Series(rng.poisson(3, ROWS)).cast(pl.UInt32),
        "flag": pl.Series(rng.random(ROWS) < 0.3),
        "plan": pl.Series(["HMO", "PPO", "EPO"]).gather(rng.choice(3, ROWS, p=plan_shares)),
        "region": pl.Series([f"R{i:02}" for i in range(20)]).gather(rng.integers(0, 20, ROWS)),
    })


BASE = reference(sample(1), NUMERIC, CATEGORICAL)


def levels(drift: pl.DataFrame) -> dict[str, str]:
    return {f: CFG.psi_threshold(f).level(value) for f, value in zip(drift["feature"], drift["psi"])}


def test_identical_distributions_show_no_drift():
    drift = feature_drift(BASE, sample(2))
    assert drift["psi"].max() < 0.01
    assert set(levels(drift).values()) == {"pass"}
    assert drift["new_categories"].list.len().sum() == 0
    assert drift.select("feature", "kind").rows() == [(c, "numeric") for c in NUMERIC] + [(c, "categorical") for c in CATEGORICAL]


@pytest.mark.parametrize("column, change", [
    ("level", {"shift": 0.8}),                       # mean shift of 0.8 sd
    ("spread", {"scale": 2.0}),                      # variance change
    ("plan", {"plan_shares": (0.2, 0.3, 0.5)}),      # category-mix change
    ("lab", {"lab_nulls": 0.3}),                     # null-rate jump
])
def test_each_kind_of_drift_fails_its_column_and_leaves_the_others_below_warn(column, change):
    drift = feature_drift(BASE, sample(2, **change))
    assert levels(drift) == {f: "fail" if f == column else "pass" for f in NUMERIC + CATEGORICAL}
    row = drift.row(drift["feature"].index_of(column), named=True)
    if column == "lab":
        assert CFG.null_rate_jump.level(row["current_null_rate"] - row["reference_null_rate"]) == "fail"
        assert row["p_value"] > 0.01  # the values that are there did not move: KS reads only non-null values
    else:
        assert row["p_value"] < 1e-12
    untouched = drift.filter(pl.col("feature") != column)
    assert (untouched["current_null_rate"] - untouched["reference_null_rate"]).abs().max() < CFG.null_rate_jump.warn


def test_psi_matches_a_hand_computed_example():
    assert psi(np.array([0.5, 0.3, 0.2]), np.array([0.4, 0.4, 0.2])) == pytest.approx(
        (0.4 - 0.5) * math.log(0.4 / 0.5) + (0.4 - 0.3) * math.log(0.4 / 0.3))
    ref = reference(pl.DataFrame({"x": np.arange(1.0, 11.0)}), ["x"], [])
    assert ref.edges["x"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]  # ten bins (-inf, 1], (1, 2], ..., (9, inf), each 1/10
    current = pl.DataFrame({"x": [1.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, None]})
    eps = 1e-4  # (9, inf] and (8, 9] are empty now, the null bin empty in the reference: clipped to epsilon
    by_hand = (0.2 - 0.1) * math.log(2) + 2 * (eps - 0.1) * math.log(eps / 0.1) + (0.1 - eps) * math.log(0.1 / eps)
    row = feature_drift(ref, current).row(0, named=True)
    assert row["psi"] == pytest.approx(by_hand, rel=1e-12)
    assert (row["reference_null_rate"], row["current_null_rate"]) == (0.0, 0.1)
    as_nan = current.with_columns(pl.col("x").fill_null(float("nan")))
    assert feature_drift(ref, as_nan).row(0, named=True) == row  # NaN counts as missing, like null


def test_bins_stay_fixed_on_the_reference_and_outliers_fall_in_the_edge_bins():
    ref = reference(pl.DataFrame({"x": np.arange(1.0, 11.0)}), ["x"], [])
    edge_bin_only = 9 * (1e-4 - 0.1) * math.log(1e-4 / 0.1) + (1 - 0.1) * math.log(1 / 0.1)
    for far in (-1e6, 1e6):
        drift = feature_drift(ref, pl.DataFrame({"x": np.full(50, far)}))
        assert drift["psi"][0] == pytest.approx(edge_bin_only, rel=1e-12)
    assert ref.edges["x"].tolist() == [1, 2, 3, 4, 5, 6, 7, 8, 9]


def test_new_categories_are_named_and_counted_in_their_own_bucket():
    row = pl.int_range(pl.len())
    current = sample(2).with_columns(pl.when(row < 2000).then(pl.lit("POS")).otherwise(pl.col("plan")).alias("plan"),
                                     pl.when(row == 0).then(pl.lit("R99")).alias("region"))
    drift = feature_drift(BASE, current).filter(pl.col("kind") == "categorical")
    assert drift["new_categories"].to_list() == [["POS"], ["R99"]]
    plan = drift.row(0, named=True)
    counts = current["plan"].value_counts()
    table = [[BASE.counts["plan"][BASE.categories["plan"].index(c)] for c in ("EPO", "HMO", "PPO")] + [0],
             [counts.filter(pl.col("plan") == c)["count"].item() for c in ("EPO", "HMO", "PPO", "POS")]]
    assert plan["statistic"] == pytest.approx(stats.chi2_contingency(np.array(table), correction=False).statistic)
    assert drift.row(1, named=True)["current_null_rate"] == pytest.approx(1 - 1 / ROWS)


@pytest.mark.parametrize("shift", [0.0, 0.05])
def test_ks_statistic_is_scipys_exactly_with_ties_nulls_and_many_distinct_values(shift):
    rng = np.random.default_rng(5)
    frames = [pl.DataFrame({"c": rng.normal(shift * i, 1, 30_000),  # more distinct values than the KS grid holds
                            "n": rng.poisson(4 + 10 * shift * i, 30_000)}) for i in range(2)]
    every = pl.int_range(pl.len())
    frames = [frames[0].with_columns(pl.when(every % 11 > 0).then(pl.col("c")).alias("c")),
              frames[1].with_columns(pl.when(every % 7 > 0).then(pl.col("n")).alias("n"))]
    drift = feature_drift(reference(frames[0], ["c", "n"], []), frames[1])
    for column, row in zip(["c", "n"], drift.iter_rows(named=True)):
        expected = stats.ks_2samp(frames[0][column].drop_nulls(), frames[1][column].drop_nulls(), method="asymp")
        assert row["statistic"] == pytest.approx(expected.statistic, abs=1e-12)
        assert row["p_value"] == pytest.approx(expected.pvalue, rel=0.1, abs=1e-12)


def test_every_workbench_feature_and_its_type_is_handled():
    rng = np.random.default_rng(4)
    frame = pl.DataFrame({f.name: pl.Series(rng.integers(0, 3, 2_000)).cast(f.dtype) for f in FEATURES})
    frame = frame.with_columns(pl.when(pl.int_range(pl.len()) % 5 > 0).then(pl.col(f.name)).alias(f.name) for f in FEATURES)
    drift = feature_drift(reference(frame, FEATURE_NUMERIC, FEATURE_CATEGORICAL), frame)
    assert drift["feature"].to_list() == FEATURE_NUMERIC + FEATURE_CATEGORICAL
    assert drift["psi"].max() == 0 and drift["statistic"].max() == 0
    assert drift["reference_null_rate"].to_list() == pytest.approx([0.2] * drift.height)


def test_a_current_frame_missing_a_feature_is_refused_by_name():
    with pytest.raises(ValueError, match="lacks reference features: lab"):
        feature_drift(BASE, sample(2).drop("lab"))


def test_prediction_drift_tracks_psi_and_confidence():
    rng = np.random.default_rng(3)
    scores = rng.beta(2, 5, 50_000)
    same, shifted = prediction_drift(scores, rng.beta(2, 5, 50_000)), prediction_drift(scores, rng.beta(4, 4, 50_000))
    assert CFG.prediction_psi.level(same["psi"]) == "pass" and CFG.prediction_psi.level(shifted["psi"]) == "fail"
    assert shifted["current_mean"] - shifted["reference_mean"] == pytest.approx(0.5 - 2 / 7, abs=0.01)
    assert same["reference_p50"] == pytest.approx(np.median(scores))


def test_schema_drift_names_added_removed_and_retyped_columns():
    change = schema_drift({"age": "Int32", "sex": "String", "pdc_statin": "Float64"},
                          {"age": "Int64", "sex": "String", "region": "String"})
    assert change == {"added": ["region"], "removed": ["pdc_statin"],
                      "retyped": [{"column": "age", "reference": "Int32", "current": "Int64"}]}
    assert schema_drift({"age": "Int32"}, {"age": "Int32"}) == {"added": [], "removed": [], "retyped": []}


def test_estimated_auc_matches_realized_when_calibrated_and_diverges_when_not():
    rng = np.random.default_rng(11)
    p = rng.beta(2, 4, 20_000)
    y = (rng.random(p.size) < p).astype(float)
    estimated, realized = estimated_performance(p), realized_performance(y, p)
    assert estimated["expected_roc_auc"] == pytest.approx(realized["roc_auc"], abs=0.02)
    assert estimated["expected_positive_rate"] == pytest.approx(realized["prevalence"], abs=0.01)
    assert estimated["expected_brier"] == pytest.approx(realized["brier"], abs=0.01)
    logit = np.log(p / (1 - p))
    for over_or_under in (3.0, 0.3):  # same ranking, so the realized AUC stays; the estimate trusts the wrong confidence
        skewed = 1 / (1 + np.exp(-over_or_under * logit))
        assert realized_performance(y, skewed)["roc_auc"] == pytest.approx(realized["roc_auc"])
        assert abs(estimated_performance(skewed)["expected_roc_auc"] - realized["roc_auc"]) > 0.1


def test_estimated_performance_of_uninformative_and_empty_scores():
    assert estimated_performance(np.full(100, 0.3))["expected_roc_auc"] == pytest.approx(0.5)
    assert estimated_performance(np.array([]))["expected_roc_auc"] is None


def test_threshold_levels_and_the_packaged_defaults():
    assert CFG.feature_psi == Threshold(0.1, 0.25) and CFG.prediction_psi == Threshold(0.1, 0.25)
    assert [CFG.feature_psi.level(v) for v in (0.0, 0.0999, 0.1, 0.2499, 0.25, 3.0)] == ["pass", "pass", "warn", "warn", "fail", "fail"]
    assert CFG.psi_threshold("month_of_year").level(5.0) == "pass"
    with pytest.raises(ValueError, match="NaN"):
        CFG.feature_psi.level(float("nan"))


def test_thresholds_file_named_by_the_environment_is_used(tmp_path, monkeypatch):
    text = THRESHOLDS_FILE_TEXT.replace("feature_psi: {warn: 0.1, fail: 0.25}", "feature_psi: {warn: 0.2, fail: 0.4}")
    (tmp_path / "monitoring.yaml").write_text(text)
    monkeypatch.setenv(THRESHOLDS_ENV, str(tmp_path / "monitoring.yaml"))
    assert MonitoringThresholds.configured().feature_psi == Threshold(0.2, 0.4)
    monkeypatch.delenv(THRESHOLDS_ENV)
    assert MonitoringThresholds.configured() == CFG


@pytest.mark.parametrize("before, after, key", [
    ("realized_auc_drop: {warn: 0.03, fail: 0.05}", "realized_auc_drop: {warn: 0.08, fail: 0.05}", "realized_auc_drop"),
    ("month_of_year: {warn: .inf, fail: .inf}", "month_of_year: {warn: .inf, fail: 0.5}", "feature_psi_by_feature.month_of_year"),
])
def test_a_warn_level_above_its_fail_level_is_refused_by_key(tmp_path, before, after, key):
    path = tmp_path / "bad.yaml"
    path.write_text(THRESHOLDS_FILE_TEXT.replace(before, after))
    with pytest.raises(ValueError, match=f"{key}: warn .* is above fail") as refused:
        MonitoringThresholds.load(path)
    assert "\n" not in str(refused.value)

