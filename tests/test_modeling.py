"""Modeling: dataset and time split on a synthetic plan, the three families on a planted signal, metrics, gates, explanations."""

import json
from datetime import date

import cloudpickle
import numpy as np
import polars as pl
import pytest
from sklearn.metrics import roc_auc_score

from assets.silver_build import split_feed
from assets.events import Silver, tagged_events
from assets.features import FEATURES, build_features
from assets.labels import build_labels
from assets.measures import measure_settings
from assets.modeling.dataset import CATEGORICAL, FEATURE_COLUMNS, NUMERIC, decay_weights, model_input, time_split, training_frame
from assets.modeling.evaluation import evaluate, expected_calibration_error
from assets.modeling.explain import contributions, top_contributions
from assets.modeling.families import FAMILIES, CareGapModel, MemberFoldBoosting, build_model, member_ranks
from assets.modeling.gates import GATES_FILE, GateConfig, gate, promotion_decision
from assets.modeling.training import Split, best_achievable_auc, fit_candidate
from assets.pit import month_end
from resources.feeds.contract import FEEDS, contract
from resources.feeds.synthetic import SyntheticConfig, generate_feed

GATES = GateConfig.load()
MEASURE = "colorectal_cancer_screening"
PLAN = SyntheticConfig(end_date=date(2026, 6, 30), members=4000, months=24, seed=3)
KEY = b"modeling-test-pseudonym-key-32b!"
AS_OFS = [month_end(f"2025-{m:02d}-01") for m in range(1, 12)]
SIGNAL = {"visits_365d", "line_of_business"}


@pytest.fixture(scope="module")
def plan() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Features and labels for eleven as-of months of a 4,000-member synthetic plan, through the real pipeline functions."""
    silver = Silver.of({feed: split_feed(generate_feed(PLAN, feed), contract(feed), KEY).accepted for feed in FEEDS})
    events, through, horizon = tagged_events(silver).collect().lazy(), PLAN.end_date, measure_settings()["horizon_months"]
    features = pl.concat([build_features(silver, events, t) for t in AS_OFS])
    return features, pl.concat([build_labels(silver, events, t, horizon, through) for t in AS_OFS])


@pytest.fixture(scope="module")
def frame(plan: tuple[pl.DataFrame, pl.DataFrame]) -> pl.DataFrame:
    return training_frame(*plan, MEASURE)


def planted(n: int = 6000, seed: int = 0) -> pl.DataFrame:
    """Random feature rows of the declared dtypes; the label depends only on visits_365d and line_of_business (nonlinearly)."""
    rng = np.random.default_rng(seed)
    vocab = {"sex": ["F", "M"], "age_band": ["35-49", "50-64", "65-74"], "line_of_business": ["commercial", "medicare", "medicaid"],
             "region": ["100", "200", "300", "400"], "plan_id": ["COM-HMO-01", "COM-PPO-02"]}
    columns = {}
    for f in FEATURES:
        if f.dtype == pl.String:
            values = pl.Series(f.name, rng.choice(vocab[f.name], n))
        elif f.dtype == pl.Boolean:
            values = pl.Series(f.name, rng.random(n) < 0.3)
        else:
            values = pl.Series(f.name, rng.poisson(4, n)).cast(f.dtype)
        complete = f.name.startswith(("age", "sex", "line", "has_", "visits"))
        columns[f.name] = values if complete else values.scatter(np.flatnonzero(rng.random(n) < 0.1), None)
    visits = columns["visits_365d"].to_numpy().astype(float)
    logit = 1.4 * (visits - 4) / 2 - 0.4 * ((visits - 4) / 2) ** 2 + 1.5 * (columns["line_of_business"] == "medicaid").to_numpy() - 0.2
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    months = [AS_OFS[i] for i in rng.integers(0, len(AS_OFS), n)]
    return pl.DataFrame({"member_key": [f"m{i:05d}" for i in range(n)], "as_of": months, **columns, "label": label})


@pytest.fixture(scope="module")
def fitted() -> tuple[dict[str, CareGapModel], pl.DataFrame]:
    """Each family fitted on two thirds of the planted frame, plus the held-out third."""
    data = planted()
    train, held = data[:4000], data[4000:]
    return {family: build_model(family, GATES).fit(train, train["label"], np.ones(train.height)) for family in FAMILIES}, held


# Dataset ------------------------------------------------------------------------------------------------------------

def test_feature_columns_follow_the_registry():
    assert FEATURE_COLUMNS == [f.name for f in FEATURES]
    assert set(CATEGORICAL) == {"age_band", "sex", "line_of_business", "region", "plan_id"} and set(NUMERIC) | set(CATEGORICAL) == set(FEATURE_COLUMNS)


def test_training_frame_keeps_only_known_outcomes_of_the_measure(plan, frame):
    labels = plan[1].filter(pl.col("measure") == MEASURE)
    known = labels.filter(pl.col("label_status").is_in(["open", "closed"]))
    assert 0 < frame.height <= known.height and frame.columns == ["member_key", "as_of", *FEATURE_COLUMNS, "horizon_date", "label"]
    assert frame.schema["label"] == pl.Int8 and set(frame["label"]) == {0, 1}
    joined = frame.join(known, on=["member_key", "as_of"])
    assert (joined["label"] == joined["gap_open_at_horizon"].cast(pl.Int8)).all() and joined.height == frame.height


def test_the_same_data_under_another_pseudonym_key_trains_the_same_model(plan, frame):
    features, labels = plan
    rekey = pl.col("member_key").hash(seed=5).cast(pl.String)  # another installation's pseudonyms: the same members, new keys
    rekeyed = training_frame(features.with_columns(rekey), labels.with_columns(rekey), MEASURE)
    assert rekeyed.drop("member_key").equals(frame.drop("member_key"))
    validation = time_split(frame, 3)[1]
    models = [fit_candidate("gbt", Split(*time_split(rows, 3)), GATES).model for rows in (frame, rekeyed)]
    assert np.array_equal(*[model.predict_proba(validation) for model in models])


def test_time_split_validates_on_the_latest_months_and_trains_only_on_labels_known_by_then(frame):
    train, validation = time_split(frame, 3)
    assert validation["as_of"].unique().sort().to_list() == AS_OFS[-3:]
    assert train.height and train["as_of"].max() < validation["as_of"].min()
    assert train["horizon_date"].max() <= validation["as_of"].min()
    assert frame.filter(pl.col("as_of") < validation["as_of"].min()).height > train.height  # the embargo left rows out


def test_time_split_names_the_months_when_a_side_would_be_empty(frame):
    late = frame.filter(pl.col("as_of") >= date(2025, 7, 1))
    with pytest.raises(ValueError, match=r"2025-07, 2025-08, 2025-09, 2025-10, 2025-11"):
        time_split(late, 3)
    with pytest.raises(ValueError, match="validation_months=11"):
        time_split(frame, 11)


def test_decay_weights_halve_every_half_life_back_from_the_latest_month():
    as_of = pl.Series([date(2025, 11, 30), date(2025, 5, 31), date(2024, 11, 30), date(2025, 11, 1), date(2025, 8, 31)])
    assert np.allclose(decay_weights(as_of, 6.0), [1.0, 0.5, 0.25, 1.0, 0.5 ** 0.5])


# Families -----------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("family", FAMILIES)
def test_each_family_is_deterministic_picklable_and_beats_chance(fitted, family):
    models, held = fitted
    train = planted()[:4000]
    again = build_model(family, GATES).fit(train, train["label"], np.ones(train.height))
    p = models[family].predict_proba(held)
    assert p.shape == (held.height, 2) and np.allclose(p.sum(axis=1), 1)
    assert np.array_equal(p, again.predict_proba(held))
    assert np.array_equal(p, cloudpickle.loads(cloudpickle.dumps(models[family])).predict_proba(model_input(held)))
    assert roc_auc_score(held["label"], p[:, 1]) > 0.7


def test_members_are_numbered_by_first_appearance_whatever_their_pseudonyms():
    assert member_ranks(np.array(["zz", "aa", "zz", "mm", "aa"]), 5).tolist() == [0, 1, 0, 2, 1]
    assert member_ranks(np.array(["b", "c", "b", "a", "c"]), 5).tolist() == [0, 1, 0, 2, 1]
    assert member_ranks(None, 3).tolist() == [0, 1, 2]


def test_boosting_stops_early_on_held_out_members_but_not_on_copies_of_training_rows():
    rng = np.random.default_rng(3)
    members, months = 400, 6  # every member repeats with the same features and outcome, as across as-of months
    x, y = rng.normal(size=(members, 3)), (rng.random(members) < 0.5).astype(int)  # the outcome is pure noise
    X, Y, groups = np.repeat(x, months, axis=0), np.repeat(y, months), np.repeat([f"m{i}" for i in range(members)], months)
    boosting = {"max_iter": 60, "n_iter_no_change": 5, "learning_rate": 0.1, "max_leaf_nodes": 15, "min_samples_leaf": 3}
    by_member = MemberFoldBoosting(5, boosting=boosting).fit(X, Y, groups=groups)
    by_row = MemberFoldBoosting(5, boosting=boosting).fit(X, Y)
    assert max(m.n_iter_ for m in by_member.estimators_) < 30
    assert min(m.n_iter_ for m in by_row.estimators_) == 60
    with pytest.raises(ValueError, match="folds must be at least 2"):
        MemberFoldBoosting(1, boosting=boosting).fit(X, Y, groups=groups)


def test_recency_weights_change_the_fit():
    data = planted()
    weights = decay_weights(data["as_of"], GATES.half_life_months)
    plain = build_model("logistic", GATES).fit(data, data["label"]).predict_proba(data)
    assert not np.allclose(plain, build_model("logistic", GATES).fit(data, data["label"], weights).predict_proba(data))


def test_an_unknown_family_names_the_known_ones():
    with pytest.raises(ValueError, match="logistic, gbt, mlp"):
        build_model("svm", GATES)


# Evaluation ---------------------------------------------------------------------------------------------------------

def groups(n: int, seed: int = 1) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"sex": rng.choice(["F", "M"], n), "age_band": rng.choice(["50-64", "65-74"], n),
                         "line_of_business": rng.choice(["commercial", "medicaid"], n)})


def calibrated(n: int = 20000, seed: int = 2) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    p = rng.uniform(0.02, 0.98, n)
    return (rng.random(n) < p).astype(float), p


def test_a_perfect_ranking_scores_one():
    y = np.repeat([0.0, 1.0], 50)
    metrics = evaluate(y, 0.1 + 0.8 * y, groups(100))
    assert metrics["roc_auc"] == 1.0 and metrics["pr_auc"] == 1.0 and metrics["pr_auc_lift"] == 2.0


def test_calibration_error_on_known_inputs():
    y = np.repeat([1.0, 0.0], [100, 300])
    metrics = evaluate(y, np.full(400, 0.25), groups(400))
    assert metrics["ece"] == pytest.approx(0.0, abs=1e-12) and metrics["brier"] == pytest.approx(0.1875)
    assert metrics["calibration_slope"] is None and metrics["roc_auc"] == 0.5
    assert expected_calibration_error(y, np.full(400, 0.8)) == pytest.approx(0.55)


def test_calibration_slope_is_one_for_calibrated_and_below_one_for_overconfident_probabilities():
    y, p = calibrated()
    assert evaluate(y, p, groups(y.size))["calibration_slope"] == pytest.approx(1.0, abs=0.06)
    logit = np.log(p / (1 - p))
    assert evaluate(y, 1 / (1 + np.exp(-2 * logit)), groups(y.size))["calibration_slope"] == pytest.approx(0.5, abs=0.04)


def test_subgroups_skip_small_or_single_class_groups_and_report_gaps():
    y = np.tile([0.0, 1.0], 400)
    p = np.where(np.arange(800) < 400, 0.2 + 0.6 * y, 0.5)
    frame = pl.DataFrame({"sex": ["F"] * 400 + ["M"] * 400, "age_band": ["50-64"] * 620 + ["75+"] * 180,
                          "line_of_business": ["commercial"] * 799 + ["medicaid"]})
    metrics = evaluate(y, p, frame)
    assert metrics["subgroup_auc"]["sex"] == {"F": 1.0, "M": 0.5}
    assert list(metrics["subgroup_auc"]["age_band"]) == ["50-64"] and list(metrics["subgroup_auc"]["line_of_business"]) == ["commercial"]
    assert metrics["subgroup_auc_gap"] == {"sex": 0.5, "age_band": None, "line_of_business": None}
    assert metrics["max_subgroup_auc_gap"] == 0.5
    json.dumps(metrics, allow_nan=False)


# Gates --------------------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def good() -> dict:
    y, p = calibrated()
    return evaluate(y, p, groups(y.size))


def test_a_calibrated_informative_model_passes_every_check_group(good):
    result = gate(good, GATES)
    assert result.passed and result.failures == []
    assert {c["group"] for c in result.checks.values()} == {"discrimination", "calibration", "fairness"}
    assert all(set(c) >= {"passed", "value", "threshold"} for c in result.checks.values())


def test_the_gate_refuses_a_worse_candidate_naming_metric_value_and_threshold(good):
    worse = good | {"roc_auc": GATES.min_roc_auc - 0.01}
    result = gate(worse, GATES)
    shown = f"{GATES.min_roc_auc - 0.01:.4f}"
    assert not result.passed and result.failures == [f"discrimination: roc_auc = {shown} below minimum {GATES.min_roc_auc}"]
    decision = promotion_decision(worse, None, result, GATES)
    assert not decision.promote and f"roc_auc = {shown}" in decision.reason


def test_the_gate_refuses_a_model_that_ranks_one_sex_no_better_than_chance(good):
    y, p = calibrated()
    rng, sex = np.random.default_rng(3), groups(y.size)
    men = (sex["sex"] == "M").to_numpy()
    y[men] = (rng.random(men.sum()) < 0.5).astype(float)
    p[men] = 0.5 + rng.uniform(-0.01, 0.01, men.sum())
    biased = evaluate(y, p, sex)
    result = gate(biased, GATES)
    assert not result.passed and [c for c, check in result.checks.items() if not check["passed"]] == ["max_subgroup_auc_gap"]
    assert biased["subgroup_auc"]["sex"]["M"] == pytest.approx(0.5, abs=0.05)
    assert not promotion_decision(biased, None, result, GATES).promote


def test_a_metric_that_could_not_be_computed_fails_closed(good):
    result = gate(good | {"calibration_slope": None}, GATES)
    assert not result.passed
    assert result.failures == [f"calibration: calibration_slope could not be computed (band {list(GATES.calibration_slope)})"]


def test_promotion_needs_the_margin_over_the_champion(good):
    result = gate(good, GATES)
    champion = good | {"roc_auc": good["roc_auc"] - GATES.promotion_margin / 2}
    assert not promotion_decision(good, champion, result, GATES).promote
    assert "margin" in promotion_decision(good, champion, result, GATES).reason
    better_than = good | {"roc_auc": good["roc_auc"] - 2 * GATES.promotion_margin}
    assert promotion_decision(good, better_than, result, GATES).promote
    assert promotion_decision(good, None, result, GATES).promote


def test_gate_config_rejects_an_unknown_key(tmp_path):
    (tmp_path / "gates.yaml").write_text(GATES_FILE.read_text().replace("max_ece:", "max_eec:"))
    with pytest.raises(TypeError, match="max_eec"):
        GateConfig.load(tmp_path / "gates.yaml")


# Explanations -------------------------------------------------------------------------------------------------------

def test_logistic_contributions_plus_intercept_are_the_logit(fitted):
    models, held = fitted
    logistic = models["logistic"]
    total = contributions(logistic, held).sum_horizontal().to_numpy() + logistic.pipeline["model"].intercept_[0]
    assert np.allclose(total, logistic.pipeline.decision_function(model_input(held)), atol=1e-9)


@pytest.mark.parametrize("family", FAMILIES)
def test_top_contributions_name_real_features_and_find_the_planted_signal(fitted, family):
    models, held = fitted
    top = top_contributions(models[family], held, k=3)
    assert top.height == 3 * held.height and set(top["feature"]) <= set(FEATURE_COLUMNS)
    assert top.group_by("row").agg(pl.col("contribution").abs().diff().max() <= 0).to_series(1).all()
    assert top.filter(pl.col("rank") == 1)["feature"].mode().to_list()[0] in SIGNAL


def test_occlusion_gives_nothing_to_a_feature_already_at_its_reference(fitted):
    models, held = fitted
    gbt = models["gbt"]
    at_reference = held.with_columns(pl.lit(gbt.reference_["region"]).alias("region"))
    assert (contributions(gbt, at_reference)["region"] == 0).all()


# End to end on the synthetic plan -----------------------------------------------------------------------------------

def test_train_judge_and_explain_on_the_synthetic_plan(frame):
    train, validation = time_split(frame, GATES.validation_months)
    model = build_model("logistic", GATES).fit(train, train["label"], decay_weights(train["as_of"], GATES.half_life_months))
    metrics = evaluate(validation["label"], model.predict_proba(validation)[:, 1], validation)
    json.dumps(metrics, allow_nan=False)
    assert metrics["n"] == validation.height and 0 < metrics["roc_auc"] < 1
    assert isinstance(gate(metrics, GATES).passed, bool)
    assert set(top_contributions(model, validation.head(50))["feature"]) <= set(FEATURE_COLUMNS)


def test_the_best_achievable_auc_ranks_members_by_their_true_propensity():
    validation = pl.DataFrame({"member_key": ["a", "b", "c", "d", "e"], "label": [1, 1, 0, 0, 1]})
    truths = pl.DataFrame({"member_key": ["a", "b", "c", "d"], "true_p": [0.01, 0.02, 0.30, 0.20]})
    assert best_achievable_auc(validation, truths, "true_p") == 1.0  # "e" has no truth and is left out
    assert best_achievable_auc(validation, truths.with_columns(pl.col("true_p").reverse()), "true_p") == 0.0
