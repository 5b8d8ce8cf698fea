"""Training and scoring throughput, with the bare scikit-learn/torch pipeline as the side-by-side peer of MLflow serving.

Builds a synthetic plan in memory, its features and labels for the latest as-of months, then per family: fit time
(training rows per second), batch scoring through `models:/...` as `make run` scores (member-scores per second)
against the same model's own `predict_proba`, and single-member latency (p50 / p95 / p99) both ways.

    python -m bench.model_serving --members 20000 --months 42 --as-of-months 24
"""

import argparse
import tempfile
import time
from datetime import date

import numpy as np
import polars as pl

from assets.events import tagged_events
from assets.features import build_features
from assets.labels import build_labels
from assets.measures import measure_settings
from assets.modeling.dataset import FEATURE_COLUMNS, model_input, training_frame
from assets.modeling.families import FAMILIES
from assets.modeling.gates import GateConfig
from assets.modeling.pyfunc import log_care_gap_model
from assets.modeling.training import Split, fit_candidate, split
from assets.pit import add_months, month_end
from bench.feature_build import silver_plan
from bench.measure import timed
from bench.table import Row, load_average, markdown, times
from resources.model_registry import ModelRegistry

MEASURE = "colorectal_cancer_screening"
LATENCY_CALLS = 200


def plan_frames(members: int, months: int, as_of_months: int, end: date) -> tuple[pl.DataFrame, pl.DataFrame]:
    silver = silver_plan(members, months, end)
    events = tagged_events(silver).collect().lazy()
    last = month_end(end.replace(day=1).isoformat())
    as_ofs = [add_months(last, -i) for i in range(1, as_of_months + 1)]
    horizon = measure_settings()["horizon_months"]
    features = pl.concat([build_features(silver, events, t) for t in as_ofs])
    labels = pl.concat([build_labels(silver, events, t, horizon, end) for t in as_ofs])
    return features, labels


def percentiles(seconds: list[float]) -> str:
    p50, p95, p99 = np.percentile(np.array(seconds) * 1000, [50, 95, 99])
    return f"{p50:.1f} / {p95:.1f} / {p99:.1f}"


def latency(predict, frame: pl.DataFrame) -> list[float]:
    """Wall time of one-member predictions, each on its own row."""
    out = []
    for i in range(LATENCY_CALLS):
        start = time.perf_counter()
        predict(frame[i % frame.height])
        out.append(time.perf_counter() - start)
    return out


def family_rows(family: str, data: Split, cfg: GateConfig, batch: pl.DataFrame, registry: ModelRegistry) -> list[Row]:
    """Fit one family, log it as `make run` does, then score the batch and single members both through MLflow and bare."""
    load = load_average()
    candidate = fit_candidate(family, data, cfg)
    with registry.session() as mlflow, mlflow.start_run(experiment_id=registry.experiment_id()):
        served = mlflow.pyfunc.load_model(log_care_gap_model(candidate.model).model_uri)
    _, served_s = timed(lambda: served.predict(model_input(batch)))
    _, bare_s = timed(lambda: candidate.model.predict_proba(batch))
    served_latency = latency(lambda row: served.predict(model_input(row)), batch)
    bare_latency = latency(candidate.model.predict_proba, batch)
    return [
        Row(f"{family}: fit, training rows/s ({data.train.height:,} rows)", f"{data.train.height / candidate.fit_seconds:,.0f} "
            f"({candidate.fit_seconds:.1f} s)", load=load),
        Row(f"{family}: batch scoring, member-scores/s ({batch.height:,} members) through MLflow `models:/` as `make run` scores, "
            "against the same model called bare", f"{batch.height / served_s:,.0f}", f"{batch.height / bare_s:,.0f}",
            times(served_s, bare_s), load=load, peer_load=load),
        Row(f"{family}: single-member scoring latency ms p50 / p95 / p99 ({LATENCY_CALLS} calls), MLflow against bare",
            percentiles(served_latency), percentiles(bare_latency), times(np.median(served_latency), np.median(bare_latency)) + " (p50)",
            load=load, peer_load=load),
    ]


def rows(members: int, months: int, as_of_months: int, end: date = date(2026, 6, 30)) -> list[Row]:
    """Every family's fit, batch and single-member figures on one synthetic plan's colorectal screening rows."""
    features, labels = plan_frames(members, months, as_of_months, end)
    cfg = GateConfig.load()
    data = split(training_frame(features, labels, MEASURE), cfg)
    batch = features.select(FEATURE_COLUMNS)
    with tempfile.TemporaryDirectory() as store:
        registry = ModelRegistry(tracking_uri=f"sqlite:///{store}/mlflow.db", artifact_root=f"{store}/artifacts")
        return [row for family in FAMILIES for row in family_rows(family, data, cfg, batch, registry)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=42)
    parser.add_argument("--as-of-months", type=int, default=24)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 6, 30))
    args = parser.parse_args()
    print(markdown(rows(args.members, args.months, args.as_of_months, args.end)))


if __name__ == "__main__":
    main()
