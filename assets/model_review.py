"""One registered model version under review: what MLflow and the promotion ledger recorded about it, and the labelled
rows it was judged on.

The validation report and the exploration notebook both start here, so a model is reviewed on exactly the as-of months
its training recorded, read through the workbench's own asset loader (same IO manager and access rules as a run).
Months are selected by partition, not by date, so a researcher's date-shifted view splits the same way.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import polars as pl

from assets.features import KEYS
from assets.modeling.dataset import FEATURE_COLUMNS, model_input, training_frame
from assets.modeling.promotion import PROMOTE, REFUSE
from assets.modeling.training import Split
from assets.workspace import load, load_partitions
from resources.model_registry import ModelRegistry

VALIDATION_METRICS = "validation_metrics.json"


@dataclass(frozen=True)
class VersionRecord:
    """A registered version as its tags describe it: the run that trained it, the family, and the as-of months ("YYYY-MM")."""

    model: str
    version: int
    run_id: str
    family: str
    train_months: list[str]
    validation_months: list[str]


def newest_version(registry: ModelRegistry, model: str) -> int:
    """The latest registered version of `model`: the one a training run has just added."""
    versions = registry.client().search_model_versions(f"name = '{model}'")
    if not versions:
        raise LookupError(f"{model} has no registered version; materialize its models/<measure> asset first")
    return max(int(v.version) for v in versions)


def version_record(registry: ModelRegistry, model: str, version: int | str | None = None) -> VersionRecord:
    """A version of `model`: a number, an alias such as "champion", or None for the newest."""
    client = registry.client()
    if version is None or str(version).isdigit():
        found = client.get_model_version(model, str(version or newest_version(registry, model)))
    else:
        found = client.get_model_version_by_alias(model, str(version))
    return VersionRecord(model, int(found.version), found.run_id, found.tags["family"], found.tags["train_months"].split(","),
                         found.tags["validation_months"].split(","))


def training_evidence(registry: ModelRegistry, record: VersionRecord) -> dict:
    """What the version's training run logged: `params` (rows, settings) and the validation `metrics` and `gate` checks
    (value, threshold, verdict) it was judged by."""
    run = registry.client().get_run(record.run_id)
    with registry.session() as mlflow:
        return {"params": dict(run.data.params), **mlflow.artifacts.load_dict(f"runs:/{record.run_id}/{VALIDATION_METRICS}")}


def load_model(registry: ModelRegistry, record: VersionRecord) -> Any:
    """The version's pyfunc, exactly as scoring would load it."""
    with registry.session() as mlflow:
        return mlflow.pyfunc.load_model(f"models:/{record.model}/{record.version}")


def predictor(loaded: Any) -> Callable[[pl.DataFrame], np.ndarray]:
    """A function from feature rows to the probability that each gap is still open, through the model's own input path."""
    return lambda frame: np.asarray(loaded.predict(model_input(frame.select(FEATURE_COLUMNS))), dtype=np.float64)


def labelled_rows(measure: str, months: list[str]) -> pl.DataFrame:
    """The measure's labelled feature rows at "YYYY-MM" as-of months, read as the acting principal may see them, with
    `as_of_month` ("YYYY-MM", from the partition: never date-shifted). Features are read only for the members the
    measure labelled, so a report kernel never holds every member's features.
    """
    partitions = [f"{month}-01" for month in months]
    labels = load_partitions("gold/labels", partitions).filter(pl.col("measure") == measure)
    features = load_partitions("gold/features", partitions, members=labels["member_key"].unique().sort())
    frame = training_frame(features, labels, measure)
    return frame.join(features.select(*KEYS, pl.col("as_of_month").str.slice(0, 7)), on=KEYS, how="left")


def review_split(measure: str, train_months: list[str], validation_months: list[str]) -> Split:
    """The rows of the recorded months: recorded training months already exclude those whose labels were not yet known."""
    return Split(labelled_rows(measure, train_months), labelled_rows(measure, validation_months))


def ledger_decision(record: VersionRecord) -> dict | None:
    """The promotion ledger's promote/refuse entry for this version: action, reason, when and by whom (None if it holds none)."""
    entries = load("governance/promotion_ledger").filter(
        (pl.col("model") == record.model) & (pl.col("candidate_version") == record.version) & pl.col("action").is_in([PROMOTE, REFUSE]))
    return None if entries.is_empty() else entries.sort("seq").row(-1, named=True)


def gate_table(checks: dict[str, dict]) -> pl.DataFrame:
    """One row per gate check as judged: group, metric, rule, threshold, value and verdict."""
    return pl.DataFrame([{"group": c["group"], "metric": name, "rule": c["rule"], "threshold": str(c["threshold"]), "value": c["value"],
                          "passed": c["passed"]} for name, c in checks.items()], schema_overrides={"value": pl.Float64})


def month_summary(data: Split) -> pl.DataFrame:
    """Rows and the share whose gap stayed open, per as-of month of each side of the split."""
    sides = [frame.group_by("as_of_month").agg(pl.len().alias("rows"), pl.col("label").mean().alias("still_open")).select(
        pl.lit(side).alias("split"), "as_of_month", "rows", "still_open") for side, frame in (("training", data.train), ("validation", data.validation))]
    return pl.concat(sides).sort("split", "as_of_month")
