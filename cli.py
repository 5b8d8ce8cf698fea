"""The `workbench` command: set up local state and materialize the asset graph with a readable summary.

Errors a user can fix (a bad setting, a missing key, an unknown feed) print one line and exit 2.
"""

import argparse
import json
import os
import re
import resource
import sys
import time
import warnings
from collections import Counter, defaultdict

from assets.measures import measures
from assets.policy import PRINCIPAL_TAG
from resources.access import AccessDenied
from resources.audit import current_principal, default_path, verify_command
from resources.environment import ConfigError, Settings, settings
from resources.vault import KeyUnavailable


def instance_yaml(s: Settings) -> str:
    """The local Dagster instance: no telemetry; at most WORKBENCH_MAX_CONCURRENT_RUNS runs in progress (the other runs of a
    backfill queue), and each concurrency pool (the MLflow registry's is the only one) runs one step at a time."""
    return ("telemetry:\n  enabled: false\n"
            f"concurrency:\n  runs:\n    max_concurrent_runs: {s.max_concurrent_runs}\n  pools:\n    default_limit: 1\n")


# Dagster's switch for one planned event per asset in a ranged run instead of one per partition: a backfill of every
# arrival day logged ~9,000 of them (80 s at 50,000 members) before its first step. The price: partitions of a failed
# ranged run show as missing, not failed, in the UI. The Makefile exports it too, for `make ui`'s webserver and daemon.
PLANNED_EVENTS_AS_SUBSETS = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def prepare_state(s: Settings) -> None:
    """Create the state folder and point every tool that writes under $HOME at it."""
    s.dagster_home.mkdir(parents=True, exist_ok=True)
    (s.dagster_home / "dagster.yaml").write_text(instance_yaml(s))
    os.environ.setdefault("DAGSTER_HOME", str(s.dagster_home))
    os.environ.setdefault("MPLCONFIGDIR", str(s.home / "matplotlib"))
    os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
    os.environ.setdefault(PLANNED_EVENTS_AS_SUBSETS, "true")


def _events(results: list) -> list:
    return [event for result in results for event in result.all_events]


def _latest_metadata(results: list) -> tuple[dict, Counter]:
    """The metadata of each materialized asset (a ranged run repeats it per partition; keep one)."""
    latest: dict = {}
    partitions: Counter = Counter()
    for event in _events(results):
        if event.is_step_materialization:
            mat = event.event_specific_data.materialization
            key = "/".join(mat.asset_key.path)
            latest[key] = {k: v.value for k, v in mat.metadata.items()}
            partitions[key] += 1
    return latest, partitions


def _rows_table(latest: dict) -> list[str]:
    feeds = sorted({k.split("/", 1)[1] for k in latest if k.startswith("bronze/")} | {k.split("/", 1)[1] for k in latest if k.startswith("silver/")})
    lines = [f"    {'feed':<18}{'landed':>12}{'silver':>12}{'quarantine':>12}"]
    for feed in feeds:
        landed = latest.get(f"bronze/{feed}", {}).get("rows_landed", 0)
        silver = latest.get(f"silver/{feed}", {}).get("dagster/row_count", 0)
        quarantine = latest.get(f"quarantine/{feed}", {}).get("dagster/row_count", 0)
        lines.append(f"    {feed:<18}{landed:>12,}{silver:>12,}{quarantine:>12,}")
    return lines


def _sensor_lines(instance, defs) -> list[str]:
    """What the model-health sensors will request on their first tick under `make ui` (evaluated here without acting)."""
    import dagster as dg

    from sensors.model_health import MEASURE_TAG, REASON_TAG, degradation_rollback, drift_retrain

    lines = []
    for sensor in (drift_retrain, degradation_rollback):
        outcome = sensor(dg.build_sensor_context(instance=instance, definitions=defs))
        for request in outcome if isinstance(outcome, list) else []:
            lines.append(f"    {sensor.name} will request {sensor.job_name} for {request.tags[MEASURE_TAG]}: {request.tags[REASON_TAG]}"[:200])
    return ["  sensors   " + ("model health: nothing to act on" if not lines else "model health (they run under make ui):"), *lines]


def _model_lines(latest: dict) -> list[str]:
    """Per measure: the version trained, what the gates decided, and the serving champion's AUC against the truth's best."""
    def auc(value: object) -> str:
        return f"{value:.3f}" if isinstance(value, float) else "n/a"

    lines = []
    for key, meta in sorted(latest.items()):
        if key.startswith("models/"):
            scored = latest.get(key.replace("models/", "scores/", 1), {}).get("dagster/row_count")
            champion = f"champion v{meta['champion_version']}" if meta["champion_version"] is not None else "no champion"
            lines.append(f"    {key.split('/', 1)[1]:<30} v{meta['version']} {meta['family']:<9} {meta['decision']:<8} {champion} "
                         f"ROC AUC {auc(meta['champion_roc_auc'])} (best achievable {auc(meta['best_achievable_roc_auc'])})"
                         + (f", {scored:,} open gaps scored" if scored is not None else ""))
    return ["  models", *lines] if lines else []


def _checks_lines(results: list) -> list[str]:
    outcome: Counter = Counter()
    notes = []
    for ev in (ev for result in results for ev in result.get_asset_check_evaluations()):
        state = "passed" if ev.passed else ("warned" if ev.severity.value == "WARN" else "failed")
        outcome[state] += 1
        if not ev.passed:
            notes.append(f"    {state.upper():<7}{'/'.join(ev.asset_key.path)} {ev.check_name}: {ev.description or ''}"[:160])
    return [f"  checks    {outcome['passed']} passed, {outcome['warned']} warned, {outcome['failed']} failed", *notes]


# Each job with the partitions `make run` gives it: every arrival day and as-of month, no partitions, the latest month.
JOBS = (("ingest", "arrival days", "all"), ("gold", "as-of months", "all"), ("train", "", None), ("score", "as-of month", "latest"))


def _partition_tags(job, which: str | None) -> tuple[dict, str]:
    """Run tags selecting the partitions (a single-run range) and a phrase saying which."""
    if which is None:
        return {}, "unpartitioned"
    keys = job.partitions_def.get_partition_keys()
    keys = keys[-1:] if which == "latest" else keys
    return {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}, f"{len(keys):,} ({keys[0]} .. {keys[-1]})"


def unserved_measures(defs) -> list[str]:
    """Measures no approved model serves: their first candidate was refused by a gate, so there is nothing to score with."""
    from resources.model_registry import CHAMPION

    return [m for m in measures() if defs.resources["model_registry"].version(m, CHAMPION) is None]


def _served_selection(job, unserved: list[str]) -> list | None:
    """The job's assets minus those of measures without a model (None: all of them)."""
    if not unserved:
        return None
    return [key for key in job.asset_layer.selected_asset_keys if not set(key.path) & set(unserved)]


def materialize_all(instance, defs, announce: bool = False) -> list:
    """The whole graph in order, each job as one in-process run (partitioned jobs as single-run backfills).

    A failed run stops the chain, except a `train` run that failed only for some measures: the others are still scored."""
    results, unserved = [], []
    for name, unit, which in JOBS:
        job = defs.resolve_job_def(name)
        partition_tags, phrase = _partition_tags(job, which)
        if announce:
            print(f"{name}: {' '.join(filter(None, (phrase, unit)))}{' without ' + ', '.join(unserved) if unserved else ''} ...", flush=True)
        results.append(job.execute_in_process(
            instance=instance,
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            tags={**partition_tags, PRINCIPAL_TAG: current_principal()},
            asset_selection=_served_selection(job, unserved),
            raise_on_error=False,
        ))
        if not results[-1].success:
            unserved = unserved_measures(defs) if name == "train" else []
            if not unserved or set(unserved) == set(measures()):
                break
    return results


def root_cause(error) -> str:
    """The innermost error's last line: Dagster wraps what the step raised in errors that only say a step failed."""
    while error.cause is not None:
        error = error.cause
    return error.message.strip().splitlines()[-1]


def run(_: argparse.Namespace) -> int:
    s = settings()
    prepare_state(s)
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from definitions import defs

    started = time.perf_counter()
    instance = dg.DagsterInstance.get()
    results = materialize_all(instance, defs, announce=True)
    success = all(r.success for r in results) and len(results) == len(JOBS)
    latest, partitions = _latest_metadata(results)
    peak_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    layers = defaultdict(int)
    for key in latest:
        layers[key.split("/", 1)[0]] += 1
    gold = ", ".join(f"{key.split('/')[1]} {meta.get('dagster/row_count', 0):,}" for key, meta in sorted(latest.items()) if key.startswith("gold/"))
    unserved = [] if success else unserved_measures(defs)
    outcome = "runs succeeded" if success else (f"{', '.join(unserved)} NOT SCORED (no model passed its gates)"
                                                  if len(results) == len(JOBS) and results[-1].success and unserved else "RUN FAILED")
    print(f"\nCare-gap workbench: {outcome} in {time.perf_counter() - started:.1f} s, peak memory {peak_gib:.2f} GiB")
    print(f"  source    {defs.resources['feed_source'].describe()}")
    print(f"  assets    {len(latest)} materialized ({', '.join(f'{n} {layer}' for layer, n in sorted(layers.items()))}); {sum(partitions.values()):,} partition materializations")
    print("  rows", *_rows_table(latest), sep="\n")
    print(f"  gold      {gold or 'not built'} rows")
    print(*_model_lines(latest), sep="\n")
    print(*_checks_lines(results), sep="\n")
    print(*_sensor_lines(instance, defs), sep="\n")
    print(f"  state     {s.home} (dagster/, raw/ encrypted bronze, warehouse.duckdb, keys/)")
    print("  next      make ui  ->  http://127.0.0.1:3000   |   make lab  ->  JupyterLab")
    for event in _events(results):
        if event.event_type_value == "STEP_FAILURE":
            print(f"  FAILED    {event.step_key}: {root_cause(event.event_specific_data.error)}")
    return 0 if success else 1


def verify(_: argparse.Namespace) -> int:
    """Check the audit trail's hash chain; exit 1 and name the entry if anything was edited, removed or moved."""
    s = settings()
    return verify_command(default_path(s), s.keys_dir)


def known_measure(name: str) -> None:
    """Refuse a measure name that measures.yaml does not declare, listing those it does."""
    from assets.measures import measures

    if name not in measures():
        raise LookupError(f"unknown measure {name!r}; measures: {', '.join(measures())}")


def rollback(args: argparse.Namespace) -> int:
    """Move a measure's champion back to its previous approved version and ledger why (re-score with `make run` or the UI)."""
    from assets.modeling.promotion import rollback as roll_back
    from resources import build_resources

    known_measure(args.measure)
    r = build_resources()
    entry = roll_back(r["model_registry"], r["warehouse"], r["audit"], args.measure, args.reason, current_principal())
    print(f"{entry['model']}: champion v{entry['from_version']} -> v{entry['to_version']} (ledger entry {entry['seq']}: {entry['reason']})")
    return 0


def month_key(text: str) -> str:
    """An as-of month given as 2026-05 or 2026-05-01, as its partition key."""
    if not re.fullmatch(r"\d{4}-\d{2}(-01)?", text):
        raise argparse.ArgumentTypeError(f"month must look like 2026-05, got {text!r}")
    return text[:7] + "-01"


def trace(args: argparse.Namespace) -> int:
    """Print how one score came to be, from the model version back to the bronze files (JSON with --json)."""
    s = settings()
    prepare_state(s)
    import dagster as dg

    warnings.filterwarnings("ignore", category=dg.BetaWarning)
    from assets.provenance import Sources, readable
    from assets.provenance import trace as provenance
    from resources import build_resources

    known_measure(args.measure)
    r = build_resources(s)
    chain = provenance(Sources(r["warehouse"], r["model_registry"], r["bronze_store"], dg.DagsterInstance.get()), args.member_key, args.measure, args.month)
    print(json.dumps(chain, indent=1, default=str) if args.json else readable(chain))
    return 0


def mlflow_ui(_: argparse.Namespace) -> int:
    """Serve the MLflow UI for the workbench's own store at WORKBENCH_MLFLOW_UI_URL, where the Dagster UI's report links point."""
    from urllib.parse import urlsplit

    s = settings()
    if s.mlflow_tracking_uri.startswith(("http://", "https://")):
        print(f"MLflow is served by the tracking server at {s.mlflow_tracking_uri}; nothing to start")
        return 0
    address = urlsplit(s.mlflow_ui_url)
    if address.hostname is None or address.port is None:
        raise ConfigError(f"WORKBENCH_MLFLOW_UI_URL must look like http://127.0.0.1:5000 to be served here, got {s.mlflow_ui_url!r}")
    artifacts = s.stored("mlflow", "artifacts")
    if s.on_s3:
        os.environ.update({"MLFLOW_S3_ENDPOINT_URL": s.s3_endpoint_url} if s.s3_endpoint_url else {})
    else:
        s.mlflow_artifacts.mkdir(parents=True, exist_ok=True)
        artifacts = s.mlflow_artifacts.as_uri()
    mlflow = os.path.join(os.path.dirname(sys.executable), "mlflow")
    print(f"MLflow UI: {s.mlflow_ui_url}", flush=True)
    os.execv(mlflow, [mlflow, "server", "--backend-store-uri", s.mlflow_tracking_uri, "--default-artifact-root", artifacts,
                      "--no-serve-artifacts", "--host", address.hostname, "--port", str(address.port)])


def init(_: argparse.Namespace) -> int:
    s = settings()
    prepare_state(s)
    print(f"workbench state in {s.home}")
    return 0


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("MLFLOW_LOGGING_LEVEL", "WARNING")  # MLflow's store set-up chatter is not for this console
    parser = argparse.ArgumentParser(prog="workbench", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("init", help="create the state folder and the Dagster home").set_defaults(func=init)
    sub.add_parser("run", help="materialize the whole asset graph on the configured feeds").set_defaults(func=run)
    sub.add_parser("verify", help="verify the tamper-evident audit trail").set_defaults(func=verify)
    sub.add_parser("mlflow-ui", help="serve the MLflow UI for the workbench's store (make ui starts it beside Dagster's)").set_defaults(func=mlflow_ui)
    back = sub.add_parser("rollback", help="move a measure's champion model back to its previous approved version")
    back.add_argument("measure", help="e.g. breast_cancer_screening")
    back.add_argument("--reason", required=True, help="why, for the promotion ledger and the audit trail")
    back.set_defaults(func=rollback)
    chain = sub.add_parser("trace", help="show how one score came to be, back to the raw files")
    chain.add_argument("member_key", help="the member's pseudonym (16 hex characters)")
    chain.add_argument("measure", help="e.g. breast_cancer_screening")
    chain.add_argument("month", type=month_key, help="as-of month, e.g. 2026-05")
    chain.add_argument("--json", action="store_true", help="print the chain as JSON")
    chain.set_defaults(func=trace)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except (ConfigError, KeyUnavailable, AccessDenied, LookupError) as err:
        print(f"workbench: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
