"""A measure whose first model every gate refused has nothing to score with; the others are still scored and called."""

import dagster as dg
import polars as pl

from assets.gold import AS_OF_MONTH
from assets.modeling.scoring import SCORE_SCHEMA
from assets.scores import outreach
from cli import _served_selection
from definitions import defs
from resources.warehouse import Warehouse

MONTH = "2026-05-01"


def scores(measure: str, members: list[str], p: float) -> pl.DataFrame:
    rows = pl.DataFrame({"member_key": members, "measure": measure, "p_gap_persists": p, "model_name": f"caregap_{measure}", "model_version": 1})
    return rows.with_columns(pl.lit(None).alias(c) for c in SCORE_SCHEMA if c not in rows.columns).cast(SCORE_SCHEMA).with_columns(
        pl.lit(MONTH).alias(AS_OF_MONTH))


def test_the_score_run_leaves_out_only_the_unserved_measures_assets():
    job = defs.resolve_job_def("score")
    kept = {key.to_user_string() for key in _served_selection(job, ["statin_adherence"])}
    assert kept == {key.to_user_string() for key in job.asset_layer.selected_asset_keys} - {
        "scores/statin_adherence", "monitoring/statin_adherence", "reports/monitoring/statin_adherence"}
    assert "scores/outreach_list" in kept and _served_selection(job, []) is None


def test_outreach_ranks_the_measures_scored_and_names_the_one_without_a_model(tmp_path):
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    warehouse.write_partitions("scores", "breast_cancer_screening", scores("breast_cancer_screening", ["a" * 16, "b" * 16], 0.9), AS_OF_MONTH, [MONTH])
    warehouse.write_partitions("scores", "colorectal_cancer_screening", scores("colorectal_cancer_screening", ["b" * 16], 0.8), AS_OF_MONTH, [MONTH])
    warehouse.write_partitions("scores", "glycemic_status_testing", scores("glycemic_status_testing", ["c" * 16], 0.1), AS_OF_MONTH, [MONTH])
    result = dg.materialize([outreach], partition_key=MONTH, resources={"warehouse": warehouse, "io_manager": dg.mem_io_manager})
    meta = {k: v.value for k, v in result.asset_materializations_for_node(outreach.node_def.name)[0].metadata.items()}
    assert meta["measures_not_scored"] == "statin_adherence"
    assert meta["measures_scored"] == "breast_cancer_screening, colorectal_cancer_screening, glycemic_status_testing"
    ranked = result.output_for_node(outreach.node_def.name)
    assert ranked["member_key"].to_list() == ["b" * 16, "a" * 16, "c" * 16] and ranked["open_gaps"].to_list() == [2, 1, 1]
