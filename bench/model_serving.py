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
from assets.modeling.training import fit_candidate, split
from assets.pit import add_months, month_end
from bench.feature_build import silver_plan, timed
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


def latency(predict, rows: pl.DataFrame) -> list[float]:
    """Wall time of one-member predictions, each on its own row."""
    out = []
    for i in range(LATENCY_CALLS):
        start = time.perf_counter()
        predict(rows[i % rows.height])
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=20_000)
    parser.add_argument("--months", type=int, default=42)
    parser.add_argument("--as-of-months", type=int, default=24)
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 6, 30))
    args = parser.parse_args()
    (features, labels), build_s = timed(plan_frames, args.members, args.months, args.as_of_months, args.end)
    cfg = GateConfig.load()
    data = split(training_frame(features, labels, MEASURE), cfg)
    batch = features.select(FEATURE_COLUMNS)
    print(f"plan: {args.members:,} members, {args.months} months; {features.height:,} feature rows built in {build_s:.0f} s; "
          f"{MEASURE}: {data.train.height:,} training / {data.validation.height:,} validation rows; batch of {batch.height:,} members\n")
    print("| family | fit s | training rows/s | MLflow batch scores/s | bare batch scores/s | time MLflow / bare | "
          "MLflow 1-member ms p50/p95/p99 | bare 1-member ms p50/p95/p99 |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as store:
        registry = ModelRegistry(tracking_uri=f"sqlite:///{store}/mlflow.db", artifact_root=f"{store}/artifacts")
        for family in FAMILIES:
            candidate = fit_candidate(family, data, cfg)
            with registry.session() as mlflow, mlflow.start_run(experiment_id=registry.experiment_id()):
                info = log_care_gap_model(candidate.model)
                served = mlflow.pyfunc.load_model(info.model_uri)
            _, served_s = timed(lambda: served.predict(model_input(batch)))
            _, bare_s = timed(lambda: candidate.model.predict_proba(batch))
            served_latency = latency(lambda row: served.predict(model_input(row)), batch)
            bare_latency = latency(candidate.model.predict_proba, batch)
            print(f"| {family} | {candidate.fit_seconds:.1f} | {data.train.height / candidate.fit_seconds:,.0f} | {batch.height / served_s:,.0f} | "
                  f"{batch.height / bare_s:,.0f} | {served_s / bare_s:.2f} | {percentiles(served_latency)} | {percentiles(bare_latency)} |", flush=True)


if __name__ == "__main__":
    main()
