"""The least state a model report needs, built once per test session in its own state folder: planted gold features and
labels for eleven as-of months and one logistic version registered, gated and ledgered by the real release code; for the
monitoring report, two of those months scored by it and monitored by the score job.

Members carry 16-hex pseudonyms like the warehouse's, so report tests can check that none is ever printed.
"""

import hashlib
import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import dagster as dg
import polars as pl

from assets.features import KEYS
from assets.modeling.dataset import FEATURE_COLUMNS, training_frame
from assets.modeling.gates import GateConfig
from assets.modeling.release import release
from resources import build_resources
from resources.environment import settings
from tests.test_modeling import planted

MEASURE = "breast_cancer_screening"
ROWS = 4000
SCORED_MONTHS = ("2025-10-01", "2025-11-01")


@contextmanager
def state_folder(home: Path) -> Iterator[None]:
    """WORKBENCH_HOME pointed at `home` for the block (the settings, and any kernel started in it, read it from there)."""
    prior = os.environ.get("WORKBENCH_HOME")
    os.environ["WORKBENCH_HOME"] = str(home)
    try:
        yield
    finally:
        if prior is None:
            os.environ.pop("WORKBENCH_HOME")
        else:
            os.environ["WORKBENCH_HOME"] = prior


def gold_tables() -> tuple[pl.DataFrame, pl.DataFrame]:
    """Planted rows as gold/features and gold/labels partitions; labels are known at once (horizon = as-of)."""
    data = planted(n=ROWS, seed=5).with_columns(
        pl.Series("member_key", [hashlib.sha256(f"report-{i}".encode()).hexdigest()[:16] for i in range(ROWS)]),
        pl.col("as_of").dt.strftime("%Y-%m-01").alias("as_of_month"))
    labels = data.select(
        *KEYS, pl.lit(MEASURE).alias("measure"), pl.col("as_of").alias("horizon_date"),
        pl.when(pl.col("label") == 1).then(pl.lit("open")).otherwise(pl.lit("closed")).alias("label_status"),
        (pl.col("label") == 1).alias("gap_open_at_horizon"), pl.lit(None, pl.String).alias("closed_by"), "as_of_month")
    return data.select(*KEYS, *FEATURE_COLUMNS, "as_of_month"), labels


@cache
def reviewed_model() -> tuple[Path, dict[str, dg.ConfigurableResource]]:
    """A state folder holding the gold tables and version 1 of caregap_<MEASURE>, and the resources that read it."""
    home = Path(tempfile.mkdtemp(prefix="workbench-report-"))
    with state_folder(home):
        resources = build_resources(settings())
        features, labels = gold_tables()
        resources["warehouse"].write_table("gold", "features", features)
        resources["warehouse"].write_table("gold", "labels", labels)
        release(MEASURE, training_frame(features, labels, MEASURE), GateConfig.configured(), resources["model_registry"], resources["warehouse"],
                resources["audit"], "tester", "test-run", ("logistic",))
    return home, resources


@cache
def validation_report() -> dict:
    """The report asset materialized once for version 1; its materialization metadata as plain values."""
    from assets.reports import VALIDATION_REPORTS

    home, resources = reviewed_model()
    asset = next(a for a in VALIDATION_REPORTS if a.key.path[-1] == MEASURE)
    with state_folder(home):
        result = dg.materialize([asset], resources={"model_registry": resources["model_registry"]}, instance=dg.DagsterInstance.ephemeral())
    return {k: v.value for k, v in result.asset_materializations_for_node(asset.node_def.name)[0].metadata.items()}


def write_scores(resources: dict, months: tuple[str, ...]) -> None:
    """scores.<MEASURE> for `months`: every member-month scored by version 1 with the pipeline's scoring function."""
    from assets.modeling.scoring import score
    from resources.model_registry import model_name

    features, loaded = gold_tables()[0], resources["model_registry"].load(MEASURE, 1)
    scored = [score(loaded, rows.drop("as_of_month"), rows.select("member_key"), MEASURE, model_name(MEASURE), 1)
              .with_columns(pl.lit(month).alias("as_of_month")) for month in months
              for rows in [features.filter(pl.col("as_of_month") == month)]]
    resources["warehouse"].write_partitions("scores", MEASURE, pl.concat(scored), "as_of_month", list(months))


@cache
def monitoring_reports() -> dict[str, dict]:
    """Each scored month monitored and its report rendered by the score job; the report's materialization metadata per month."""
    import definitions

    home, resources = reviewed_model()
    selection = [dg.AssetKey(["monitoring", MEASURE]), dg.AssetKey(["reports", "monitoring", MEASURE])]
    found = {}
    with state_folder(home):
        write_scores(resources, SCORED_MONTHS)
        job = definitions.build_definitions().resolve_job_def("score")
        for month in SCORED_MONTHS:
            result = job.execute_in_process(partition_key=month, asset_selection=selection, instance=dg.DagsterInstance.ephemeral())
            [materialization] = [e.event_specific_data.materialization for e in result.get_asset_materialization_events() if e.asset_key == selection[1]]
            found[month] = {k: v.value for k, v in materialization.metadata.items()}
    return found
