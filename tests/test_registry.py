"""The MLflow registry, the promotion ledger, rollback and scoring, against a real SQLite tracking store."""

import json
import os
import subprocess
import sys
from datetime import date

import numpy as np
import polars as pl
import pytest

from assets.modeling.dataset import FEATURE_COLUMNS
from assets.modeling.gates import Decision, GateConfig
from assets.modeling.promotion import NoPreviousVersion, champion_stack, ledger, rollback
from assets.modeling.pyfunc import SignatureMismatch
from assets.modeling.release import release
from assets.modeling.scoring import TOP_K, outreach_list, score
from assets.modeling.training import Split
from resources.audit import AuditTrail
from resources.model_registry import CHALLENGER, CHAMPION, ModelRegistry, model_name
from resources.warehouse import Warehouse
from tests.test_modeling import planted

MEASURE = "breast_cancer_screening"
GATES = GateConfig.load()
SPLIT_DAY = date(2025, 9, 1)


@pytest.fixture(scope="module")
def plant() -> Split:
    """Planted rows whose labels are known at once (horizon = as-of), so the time split validates on Sep-Nov 2025."""
    data = planted(n=6000, seed=5).with_columns(pl.col("as_of").alias("horizon_date"))
    return Split(data.filter(pl.col("as_of") < SPLIT_DAY), data.filter(pl.col("as_of") >= SPLIT_DAY))


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    root = tmp_path_factory.mktemp("registry")
    return (ModelRegistry(tracking_uri=f"sqlite:///{root / 'mlflow.db'}", artifact_root=str(root / "artifacts")),
            Warehouse(path=str(root / "warehouse.duckdb")), AuditTrail(path=str(root / "audit.jsonl")))


def register(store, data: Split, decision: Decision | None = None) -> tuple[str, int, dict]:
    """Release gradient boosting trained on `data` as the training asset does (the gate decides unless `decision` is given)."""
    registry, warehouse, audit = store
    frame = pl.concat([data.train, data.validation])
    r = release(MEASURE, frame, GATES, registry, warehouse, audit, "tester", "test-run", ("gbt",), decision)
    return r.run_id, r.version, r.entry


@pytest.fixture(scope="module")
def history(store, plant):
    """v1 promoted on merit, v2 (shuffled labels) refused, v3 (recent months only) promoted by decree, then one rollback."""
    first = register(store, plant)
    shuffled = plant.train.with_columns(pl.Series("label", np.random.default_rng(1).permutation(plant.train["label"].to_numpy())))
    second = register(store, Split(shuffled, plant.validation))
    recent = Split(plant.train.filter(pl.col("as_of") >= date(2025, 4, 1)), plant.validation)  # a different fit, so scores differ
    third = register(store, recent, Decision(True, "promoted by the test to have something to roll back"))
    before = score_with_champion(store, plant)
    back = rollback(store[0], store[1], store[2], MEASURE, "test: realized AUC fell", "tester")
    return first, second, third, back, before


def score_with_champion(store, plant: Split) -> pl.DataFrame:
    registry = store[0]
    champion = registry.version(MEASURE, CHAMPION)
    features = plant.validation.select("member_key", "as_of", *FEATURE_COLUMNS)
    return score(registry.load(MEASURE), features, features.select("member_key"), MEASURE, model_name(MEASURE), int(champion.version))


def test_a_passing_candidate_is_promoted_and_a_worse_one_kept_as_challenger(store, history):
    registry, warehouse, _ = store
    (_, v1, promoted), (_, v2, refused), *_ = history
    assert promoted["action"] == "promote" and promoted["from_version"] is None and promoted["to_version"] == v1
    assert refused["action"] == "refuse" and refused["to_version"] == v1 and refused["candidate_version"] == v2
    assert "candidate failed the gate: discrimination: roc_auc" in refused["reason"]
    assert json.loads(refused["checks"])["roc_auc"]["passed"] is False
    assert int(registry.version(MEASURE, CHALLENGER).version) == v2


def test_rollback_restores_the_previous_approved_version_and_the_scores_follow(store, plant, history):
    registry, warehouse, audit = store
    (_, v1, _), _, (_, v3, _), back, before = history
    assert (back["action"], back["from_version"], back["to_version"]) == ("rollback", v3, v1)
    assert int(registry.version(MEASURE, CHAMPION).version) == v1
    after = score_with_champion(store, plant)
    assert set(before["model_version"]) == {v3} and set(after["model_version"]) == {v1}
    assert not np.allclose(before["p_gap_persists"].to_numpy(), after["p_gap_persists"].to_numpy())
    entries = ledger(warehouse, MEASURE)
    assert entries["seq"].to_list() == [1, 2, 3, 4] and entries["action"].to_list() == ["promote", "refuse", "promote", "rollback"]
    assert champion_stack(entries) == [v1]
    assert [e["action"] for e in audit.entries()][-4:] == ["model.promote", "model.refuse", "model.promote", "model.rollback"]
    with pytest.raises(NoPreviousVersion, match=rf"champion is version {v1}, approved versions in the ledger: {v1}"):
        rollback(registry, warehouse, audit, MEASURE, "again", "tester")


def test_scores_carry_the_version_and_top_contributions_of_real_features(store, plant, history):
    scores = score_with_champion(store, plant)
    assert scores.height == plant.validation.height and scores["p_gap_persists"].is_between(0, 1).all()
    assert scores["model_name"].unique().to_list() == [model_name(MEASURE)]
    for i in range(1, TOP_K + 1):
        assert scores[f"top{i}_feature"].is_in(FEATURE_COLUMNS).all()
    assert (scores["top1_contribution"].abs() >= scores["top2_contribution"].abs()).all()
    assert scores["top1_feature"].value_counts().sort("count")["top1_feature"][-1] in {"visits_365d", "line_of_business"}


def test_scoring_refuses_features_that_do_not_match_the_signature(store, plant, history):
    registry = store[0]
    features = plant.validation.select("member_key", "as_of", *FEATURE_COLUMNS)
    loaded = registry.load(MEASURE)
    with pytest.raises(SignatureMismatch, match=r"missing \['visits_365d'\], unexpected none"):
        score(loaded, features.drop("visits_365d"), features.select("member_key"), MEASURE, "m", 1)
    with pytest.raises(SignatureMismatch, match=r"missing none, unexpected \['shoe_size'\]"):
        score(loaded, features.with_columns(pl.lit(1).alias("shoe_size")), features.select("member_key"), MEASURE, "m", 1)


def test_the_outreach_list_ranks_members_by_expected_closures():
    scores = pl.DataFrame({"member_key": ["a", "a", "b", "c"], "measure": ["x", "y", "x", "y"], "p_gap_persists": [0.5, 0.4, 0.8, 0.2]})
    top = outreach_list(scores, 0.25, 2)
    assert top["member_key"].to_list() == ["a", "b"] and top["rank"].to_list() == [1, 2]
    assert top["expected_gaps_closed"].to_list() == pytest.approx([0.225, 0.2]) and top["open_gaps"].to_list() == [2, 1]


def test_the_stock_mlflow_client_reads_runs_versions_aliases_and_provenance(store, history):
    (run_id, v1, _), *_ = history
    program = (
        "import json, sys; from mlflow import MlflowClient\n"
        f"c = MlflowClient(tracking_uri={store[0].tracking_uri!r}, registry_uri={store[0].tracking_uri!r})\n"
        f"v = c.get_model_version_by_alias({model_name(MEASURE)!r}, 'champion'); r = c.get_run({run_id!r})\n"
        "d = r.inputs.dataset_inputs[0].dataset\n"
        "print(json.dumps({'version': v.version, 'card': v.description, 'params': r.data.params, 'metrics': r.data.metrics, 'tags': r.data.tags,\n"
        "  'dataset': [d.name, d.digest], 'artifacts': sorted(a.path for a in c.list_artifacts(r.info.run_id))}))\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WORKBENCH_")}
    done = subprocess.run([sys.executable, "-c", program], capture_output=True, text=True, env=env, cwd="/", check=True)
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert int(seen["version"]) == v1
    assert seen["params"]["family"] == "gbt" and float(seen["params"]["half_life_months"]) == GATES.half_life_months
    assert 0.5 < seen["metrics"]["roc_auc"] <= 1 and "max_subgroup_auc_gap" in seen["metrics"]
    assert seen["tags"]["dagster_run_id"] == "test-run" and len(seen["tags"]["training_snapshot_sha256"]) == 64
    assert seen["dataset"][0] == f"{MEASURE}_training" and seen["tags"]["training_snapshot_sha256"].startswith(seen["dataset"][1])
    assert {"feature_list.json", "validation_metrics.json", "model_card.md"} <= set(seen["artifacts"])
    assert seen["card"].startswith(f"# Model card: {model_name(MEASURE)} version {v1}") and "Promoted to champion" in seen["card"]
    assert "## Subgroup ROC AUC" in seen["card"] and "| sex | F |" in seen["card"] and "## Known limitations" in seen["card"]


def test_a_refused_gate_blocks_scoring_only_when_no_champion_serves():
    import dagster as dg

    from assets.modeling.gates import gate
    from checks.gates import gate_check_results

    metrics = {"roc_auc": 0.5, "pr_auc_lift": 1.0, "brier": 0.3, "ece": 0.2, "calibration_slope": 0.1, "max_subgroup_auc_gap": None}
    result = gate(metrics, GATES)
    key = dg.AssetKey(["models", MEASURE])
    alone = gate_check_results(key, result, champion_serving=False)
    covered = gate_check_results(key, result, champion_serving=True)
    assert [r.check_name for r in alone] == ["discrimination_gate", "calibration_gate", "fairness_gate"]
    assert not any(r.passed for r in alone) and {r.severity for r in alone} == {dg.AssetCheckSeverity.ERROR}
    assert {r.severity for r in covered} == {dg.AssetCheckSeverity.WARN}
    assert alone[0].description.startswith("discrimination: roc_auc = 0.5000 below minimum")


def test_a_registry_session_leaves_no_mlflow_uri_behind(store, monkeypatch):
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setenv("MLFLOW_REGISTRY_URI", "sqlite:///elsewhere.db")
    with store[0].session() as mlflow:
        assert mlflow.get_tracking_uri() == store[0].tracking_uri and os.environ["MLFLOW_TRACKING_URI"] == store[0].tracking_uri
    assert "MLFLOW_TRACKING_URI" not in os.environ and os.environ["MLFLOW_REGISTRY_URI"] == "sqlite:///elsewhere.db"
