"""Model health end to end through a real Dagster instance: monitoring checks, then the sensors that read them.

One planted world in its own state folder, taken through three months in order: a clean month triggers nothing, a
month with injected drift requests retraining once, and a degraded champion is rolled back and the month re-scored
with the previous version.
"""

from datetime import date

import dagster as dg
import numpy as np
import polars as pl
import pytest

from assets.gold import AS_OF_MONTH
from assets.labels import CLOSED, OPEN
from assets.measures import measures
from assets.modeling.dataset import FEATURE_COLUMNS, KEYS
from assets.modeling.gates import Decision, GateConfig
from assets.modeling.promotion import ledger
from assets.modeling.release import release
from assets.modeling.scoring import SCORE_SCHEMA
from assets.partitions import as_of_partitions
from assets.pit import month_end
from resources.model_registry import CHAMPION
from sensors.model_health import REASON_TAG, degradation_rollback, drift_retrain, rescore_on_champion_change
from tests.test_modeling import planted

MEASURE = "breast_cancer_screening"
MONTH = as_of_partitions().get_last_partition_key()
MONITORED = [dg.AssetKey(["scores", MEASURE]), dg.AssetKey(["monitoring", MEASURE])]


def labels_of(rows: pl.DataFrame) -> pl.DataFrame:
    return rows.select(*KEYS, pl.lit(MEASURE).alias("measure"), pl.when(pl.col("label") == 1).then(pl.lit(OPEN)).otherwise(pl.lit(CLOSED)).alias("label_status"),
                       pl.col("label").cast(pl.Boolean).alias("gap_open_at_horizon"), pl.col("as_of").alias("horizon_date"),
                       pl.col("as_of").dt.strftime("%Y-%m-01").alias(AS_OF_MONTH))


def month_rows(seed: int) -> pl.DataFrame:
    """A fresh month drawn like the training rows, as of the latest partition."""
    return planted(n=3000, seed=seed).with_columns(pl.lit(month_end(MONTH)).alias("as_of"), ("c" + pl.col("member_key")).alias("member_key"))


class World:
    """The planted history, its warehouse and registry, a Dagster instance, and the sensors' cursors."""

    def __init__(self, defs: dg.Definitions, instance: dg.DagsterInstance):
        self.defs, self.instance = defs, instance
        self.registry, self.warehouse, self.audit = (defs.resources[name] for name in ("model_registry", "warehouse", "audit"))
        self.history = planted(n=6000, seed=5).with_columns(pl.col("as_of").alias("horizon_date"))
        self.cursors: dict[str, str | None] = {}

    def publish_month(self, rows: pl.DataFrame) -> None:
        """Gold for the training months plus `rows` as the latest month, with every row an open gap."""
        everything = pl.concat([self.history, rows.with_columns(pl.col("as_of").alias("horizon_date"))], how="vertical_relaxed")
        month = pl.col("as_of").dt.strftime("%Y-%m-01").alias(AS_OF_MONTH)
        self.warehouse.write_table("gold", "features", everything.select(*KEYS, *FEATURE_COLUMNS, month))
        self.warehouse.write_table("gold", "labels", labels_of(everything))
        self.warehouse.write_table("gold", "measure_status", everything.select("member_key", pl.lit(MEASURE).alias("measure"),
                                                                                pl.lit(True).alias("gap_open"), month))

    def release(self, rows: pl.DataFrame, decision: Decision | None = None) -> int:
        return release(MEASURE, rows, GateConfig.load(), self.registry, self.warehouse, self.audit, "tester", "test", ("gbt",), decision).version

    def score_and_monitor(self, selection: list[dg.AssetKey] = MONITORED) -> dg.ExecuteInProcessResult:
        result = self.defs.resolve_job_def("score").execute_in_process(partition_key=MONTH, asset_selection=selection, instance=self.instance)
        assert result.success
        return result

    def tick(self, sensor: dg.SensorDefinition):
        """One evaluation of `sensor`, carrying its cursor to the next, as the daemon does."""
        context = dg.build_sensor_context(instance=self.instance, cursor=self.cursors.get(sensor.name), definitions=self.defs,
                                          resources={"model_registry": self.registry})
        outcome = sensor(context)
        self.cursors[sensor.name] = context.cursor
        return outcome


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("WORKBENCH_HOME", str(tmp_path_factory.mktemp("health")))
        from definitions import build_definitions

        with dg.instance_for_test() as instance:
            w = World(build_definitions(), instance)
            for other in measures():
                if other != MEASURE:
                    w.warehouse.write_table("scores", other, pl.DataFrame(schema=SCORE_SCHEMA | {AS_OF_MONTH: pl.String}))
            w.publish_month(month_rows(seed=21))
            w.v1 = w.release(w.history)
            yield w


def checks(result: dg.ExecuteInProcessResult) -> dict[str, dg.AssetCheckEvaluation]:
    return {e.check_name: e for e in result.get_asset_check_evaluations() if e.asset_key.path[0] == "monitoring"}


def test_a_clean_month_passes_every_check_and_triggers_nothing(world):
    evaluated = checks(world.score_and_monitor())
    assert {name: e.passed for name, e in evaluated.items()} == dict.fromkeys(
        ("feature_drift", "prediction_drift", "estimated_performance", "realized_performance"), True)
    assert "realized ROC AUC" in evaluated["realized_performance"].metadata["reason"].value
    for sensor in (drift_retrain, degradation_rollback, rescore_on_champion_change):
        assert isinstance(world.tick(sensor), dg.SkipReason), sensor.name


def test_a_month_with_injected_drift_requests_retraining_once(world):
    # the label depends on visits_365d and line_of_business only, so this drift leaves realized performance alone
    drifted = month_rows(seed=22).with_columns(pl.col("preventive_visits_24m") + 6, pl.lit(None, pl.Float64).alias("last_hba1c"))
    world.publish_month(drifted)
    evaluated = checks(world.score_and_monitor())
    feature = evaluated["feature_drift"]
    assert not feature.passed and feature.severity == dg.AssetCheckSeverity.ERROR
    assert "preventive_visits_24m" in feature.metadata["reason"].value and "last_hba1c" in feature.metadata["reason"].value
    drift = world.warehouse.read_table("monitoring", MEASURE).filter(pl.col(AS_OF_MONTH) == MONTH)
    assert drift.filter(pl.col("feature") == "preventive_visits_24m")["psi"].item() > 0.25
    assert drift.filter(pl.col("feature") == "sex")["level"].item() == "pass"
    [request] = world.tick(drift_retrain)
    assert request.job_name is None or request.job_name == "train"
    assert set(request.asset_selection) == {dg.AssetKey(["models", MEASURE]), dg.AssetKey(["governance", "promotion_ledger"])}
    assert "feature_drift failed" in request.tags[REASON_TAG] and "preventive_visits_24m" in request.tags[REASON_TAG]
    assert isinstance(world.tick(drift_retrain), dg.SkipReason)
    assert isinstance(world.tick(degradation_rollback), dg.SkipReason)


def test_a_degraded_champion_is_rolled_back_and_the_month_rescored_with_the_previous_version(world):
    recent = world.history.filter(pl.col("as_of") >= date(2025, 4, 1))
    v2 = world.release(recent, Decision(True, "promoted by the test to have something to roll back"))
    assert int(world.registry.version(MEASURE, CHAMPION).version) == v2
    turned = month_rows(seed=23)
    world.publish_month(turned.with_columns((1 - pl.col("label")).alias("label")))  # the outcome turned against what every model learned
    evaluated = checks(world.score_and_monitor())
    assert not evaluated["realized_performance"].passed and evaluated["realized_performance"].severity == dg.AssetCheckSeverity.ERROR

    [request] = world.tick(degradation_rollback)
    rolled = world.defs.resolve_job_def("rollback").execute_in_process(run_config=request.run_config, instance=world.instance,
                                                                   tags={**request.tags, "dagster/sensor_name": degradation_rollback.name})
    assert rolled.success and int(world.registry.version(MEASURE, CHAMPION).version) == world.v1
    entry = ledger(world.warehouse, MEASURE).row(-1, named=True)
    assert (entry["action"], entry["from_version"], entry["to_version"]) == ("rollback", v2, world.v1)
    assert entry["triggered_by"] == "degradation_rollback" and "realized_performance failed" in entry["reason"]
    assert isinstance(world.tick(degradation_rollback), dg.SkipReason)

    [rescore] = world.tick(rescore_on_champion_change)
    assert rescore.partition_key == MONTH and f"champion is v{world.v1}" in rescore.tags[REASON_TAG]
    world.score_and_monitor(list(rescore.asset_selection))
    scores = world.warehouse.read_table("scores", MEASURE).filter(pl.col(AS_OF_MONTH) == MONTH)
    assert set(scores["model_version"]) == {world.v1} and scores.height == turned.height
    assert isinstance(world.tick(rescore_on_champion_change), dg.SkipReason)
    assert np.isfinite(scores["p_gap_persists"].to_numpy()).all()
