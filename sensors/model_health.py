"""Model health: drift -> retrain, degradation -> rollback, champion change -> re-score.

A failed asset check does not fail its run, so these sensors read check evaluations from the instance. Each acts once
per evaluation: the cursor keeps the last evaluation id handled per check, and the run key carries the evaluation id, so
a request repeated by another evaluation (a restarted daemon without its cursor) is deduplicated by Dagster too. Only checks
that failed at the `fail` level (severity ERROR) act; warnings are left to people.
"""

import json
from collections.abc import Callable

import dagster as dg

from assets.measures import measures
from assets.modeling.promotion import LEDGER
from assets.monitoring import ESTIMATED_PERFORMANCE, FEATURE_DRIFT, PREDICTION_DRIFT, REALIZED_PERFORMANCE
from assets.partitions import as_of_partitions
from resources.model_registry import CHAMPION, ModelRegistry

REASON_TAG, MEASURE_TAG, EVALUATION_TAG = "workbench/reason", "workbench/measure", "workbench/check_evaluation"
RETRAIN_ON = (FEATURE_DRIFT, PREDICTION_DRIFT, ESTIMATED_PERFORMANCE)
ROLLBACK_ON = (REALIZED_PERFORMANCE,)


def _check_key(measure: str, check: str) -> dg.AssetCheckKey:
    return dg.AssetCheckKey(dg.AssetKey(["monitoring", measure]), check)


def failing_evaluations(instance: dg.DagsterInstance, checks: tuple[str, ...], cursor: dict[str, int]) -> tuple[dict[str, list], dict[str, int]]:
    """New failed ERROR-severity evaluations of `checks` per measure since `cursor`, and the advanced cursor."""
    found: dict[str, list] = {}
    advanced = dict(cursor)
    for measure in measures():
        for check in checks:
            key = _check_key(measure, check)
            record = instance.get_latest_asset_check_evaluation_record(key)
            evaluation = record.evaluation if record is not None else None
            if evaluation is None or record.id <= cursor.get(key.to_user_string(), 0):
                continue
            advanced[key.to_user_string()] = record.id
            if not evaluation.passed and evaluation.severity == dg.AssetCheckSeverity.ERROR:
                found.setdefault(measure, []).append((check, record, evaluation))
    return found, advanced


def _why(failures: list) -> str:
    return "; ".join(f"{check} failed on {record.partition or 'the latest month'}: {evaluation.metadata['reason'].value}"
                     for check, record, evaluation in failures)[:1000]


def act_on_failures(context: dg.SensorEvaluationContext, checks: tuple[str, ...], kind: str,
                    request: Callable[[str, str], dict]) -> list[dg.RunRequest] | dg.SkipReason:
    """One run request per measure with new failing evaluations of `checks`; `request(measure, why)` gives its target."""
    found, cursor = failing_evaluations(context.instance, checks, json.loads(context.cursor or "{}"))
    context.update_cursor(json.dumps(cursor))
    if not found:
        return dg.SkipReason(f"no new failing evaluation of {', '.join(checks)}")
    requests = []
    for measure, failures in sorted(found.items()):
        ids, why = ",".join(str(record.id) for _, record, _ in failures), _why(failures)
        requests.append(dg.RunRequest(run_key=f"{kind}:{measure}:{ids}", tags={REASON_TAG: why, MEASURE_TAG: measure, EVALUATION_TAG: ids},
                                      **request(measure, why)))
    return requests


@dg.sensor(job_name="train", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Drift -> retrain: a monitoring check failing at the fail level (feature or prediction drift, estimated "
                       "performance) requests retraining of that measure (train, gate, maybe promote); once per evaluation.")
def drift_retrain(context: dg.SensorEvaluationContext):
    return act_on_failures(context, RETRAIN_ON, "retrain", lambda measure, _: {
        "asset_selection": [dg.AssetKey(["models", measure]), dg.AssetKey(list(LEDGER))]})


@dg.sensor(job_name="rollback", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Degradation -> rollback: realized performance failing at the fail level moves `champion` back to the "
                       "previous approved version through the promotion ledger; the re-score sensor then re-scores the month.")
def degradation_rollback(context: dg.SensorEvaluationContext):
    return act_on_failures(context, ROLLBACK_ON, "rollback", lambda measure, why: {
        "run_config": {"ops": {"roll_back_champion": {"config": {"measure": measure, "reason": why}}}}})


def served_version(instance: dg.DagsterInstance, measure: str, month: str) -> int | None:
    """The model version recorded on the latest materialization of `scores/<measure>` for `month`."""
    records = instance.fetch_materializations(dg.AssetRecordsFilter(asset_key=dg.AssetKey(["scores", measure]), asset_partitions=[month]),
                                              limit=1).records
    if not records:
        return None
    uri = records[0].asset_materialization.metadata["model_uri"].value
    return int(uri.rsplit("/", 1)[-1])


@dg.sensor(job_name="score", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.RUNNING,
           description="Champion change -> re-score: when a measure's champion (after a promotion or a rollback) is not the version "
                       "that scored the latest month, re-score that month and monitor it again.")
def rescore_on_champion_change(context: dg.SensorEvaluationContext, model_registry: ModelRegistry):
    month = as_of_partitions().get_last_partition_key()
    requests = []
    for measure in measures():
        champion, served = model_registry.version(measure, CHAMPION), served_version(context.instance, measure, month)
        if champion is None or served is None or int(champion.version) == served:
            continue
        requests.append(dg.RunRequest(
            run_key=f"rescore:{measure}:{month}:v{champion.version}", partition_key=month,
            asset_selection=[dg.AssetKey(["scores", measure]), dg.AssetKey(["monitoring", measure]), dg.AssetKey(["reports", "monitoring", measure]),
                             dg.AssetKey(["scores", "outreach_list"])],
            tags={REASON_TAG: f"champion is v{champion.version}, {month} was scored with v{served}", MEASURE_TAG: measure}))
    return requests or dg.SkipReason(f"every scored measure's {month} scores come from its champion")
