"""Provenance of one score: from the number a care manager saw back to the raw files it came from.

`trace(member_key, measure, month)` follows the chain the pipeline recorded: the score row, the model version and its
MLflow run, its ledger entries and gate results, the training snapshot, the member's feature row, the silver rows
visible at the as-of date (with their silver checks) and the bronze files they arrived in, with content hashes.
Every table read goes through the warehouse's access rules under the acting principal.
"""

import json
from dataclasses import dataclass
from typing import Any

import dagster as dg
import polars as pl

from assets.features import FEATURES
from assets.gold import AS_OF_MONTH
from assets.modeling.promotion import ledger
from assets.pit import month_end, visible
from resources.bronze_store import BronzeStore
from resources.feeds.contract import ARRIVAL_DATE, FEEDS, SOURCE_FILE, contract
from resources.model_registry import ModelRegistry
from resources.warehouse import Warehouse

SILVER_CHECKS = ("schema", "reconciliation")


class ScoreNotFound(LookupError):
    """No score for that member, measure and month."""


@dataclass(frozen=True)
class Sources:
    """Where the pipeline keeps what a trace reads."""

    warehouse: Warehouse
    registry: ModelRegistry
    bronze: BronzeStore
    instance: dg.DagsterInstance


def _score(sources: Sources, member_key: str, measure: str, month: str) -> dict:
    scores = sources.warehouse.read_table("scores", measure, AS_OF_MONTH, [month], members=[member_key])
    if scores.is_empty():
        raise ScoreNotFound(f"no score for member {member_key}, measure {measure}, as-of month {month}")
    return scores.row(0, named=True)


def _model(sources: Sources, name: str, version: int) -> dict:
    client = sources.registry.client()
    mv = client.get_model_version(name, str(version))
    tags = dict(mv.tags)
    return {"name": name, "version": version, "mlflow_run": sources.registry.run_link(mv.run_id), "run_id": mv.run_id,
            "family": tags.get("family"), "training_snapshot_sha256": tags.get("training_snapshot_sha256"),
            "train_months": tags.get("train_months"), "validation_months": tags.get("validation_months"),
            "git_commit": tags.get("mlflow.source.git.commit"), "trained_in_dagster_run": tags.get("dagster_run_id"),
            "model_card": (mv.description or "").splitlines()[0] if mv.description else None}


def _ledger(sources: Sources, measure: str, version: int) -> list[dict]:
    entries = ledger(sources.warehouse, measure).filter((pl.col("to_version") == version) | (pl.col("candidate_version") == version))
    return [{**row, "recorded_at": str(row["recorded_at"]), "checks": json.loads(row["checks"])} for row in entries.iter_rows(named=True)]


def _features(sources: Sources, member_key: str, month: str) -> dict:
    row = sources.warehouse.read_table("gold", "features", AS_OF_MONTH, [month], members=[member_key])
    records = sources.instance.fetch_materializations(dg.AssetRecordsFilter(dg.AssetKey(["gold", "features"]), asset_partitions=[month]), limit=1)
    run = records.records[0].run_id if records.records else None
    values = row.select(f.name for f in FEATURES).row(0, named=True) if row.height else {}
    return {"asset": "gold/features", "partition": month, "materialized_in_dagster_run": run, "values": {k: str(v) for k, v in values.items()}}


def _silver(sources: Sources, member_key: str, month: str) -> list[dict]:
    """Per feed: the member's rows visible at the as-of date, by arrival day and source file, with the feed's checks."""
    as_of, out = month_end(month), []
    for feed in FEEDS:
        rows = visible(sources.warehouse.read_table("silver", feed, members=[member_key]).lazy(), as_of, contract(feed).service_date).collect()
        arrivals = rows.group_by(ARRIVAL_DATE, SOURCE_FILE).len().sort(ARRIVAL_DATE)
        checks = {}
        for name in SILVER_CHECKS:
            record = sources.instance.get_latest_asset_check_evaluation_record(dg.AssetCheckKey(dg.AssetKey(["silver", feed]), name))
            evaluation = record.evaluation if record else None
            checks[name] = None if evaluation is None else {"passed": evaluation.passed, "dagster_run": record.run_id}
        out.append({"asset": f"silver/{feed}", "rows": rows.height, "checks": checks,
                    "arrivals": [{"arrival_date": str(a), "source_file": f, "rows": n} for a, f, n in arrivals.iter_rows()]})
    return out


def _bronze(sources: Sources, silver: list[dict]) -> list[dict]:
    """The encrypted bronze files those rows landed in, with their manifests' content hashes."""
    out = []
    for entry in silver:
        feed = entry["asset"].split("/", 1)[1]
        wanted = {a["arrival_date"] for a in entry["arrivals"]}
        out += [{"feed": feed, "arrival_date": m.arrival_date, "file": m.file, "sha256": m.sha256, "rows": m.rows}
                for m in sources.bronze.manifests(feed, wanted)]
    return out


def trace(sources: Sources, member_key: str, measure: str, month: str) -> dict[str, Any]:
    """The whole chain for one score, as JSON-ready data."""
    score = _score(sources, member_key, measure, month)
    silver = _silver(sources, member_key, month)
    return {
        "score": {k: (str(v) if k == "as_of" else v) for k, v in score.items()},
        "model": _model(sources, score["model_name"], score["model_version"]),
        "ledger": _ledger(sources, measure, score["model_version"]),
        "features": _features(sources, member_key, month),
        "silver": silver,
        "bronze": _bronze(sources, silver),
    }


def readable(chain: dict[str, Any]) -> str:
    """The chain as text for a reviewer, one layer per paragraph."""
    s, m = chain["score"], chain["model"]
    lines = [f"score     {s['measure']} {s[AS_OF_MONTH]} member {s['member_key']}: P(gap persists) = {s['p_gap_persists']:.3f}; "
             f"drivers {s['top1_feature']}, {s['top2_feature']}, {s['top3_feature']}",
             f"model     {m['name']} v{m['version']} ({m['family']}), MLflow {m['mlflow_run']}, git {str(m['git_commit'])[:12]}",
             f"training  as-of months {m['train_months']}; validation {m['validation_months']}; snapshot sha256 {m['training_snapshot_sha256']}"]
    lines += [f"ledger    #{e['seq']} {e['recorded_at']} {e['action']} v{e['from_version']} -> v{e['to_version']} by {e['triggered_by']}: {e['reason']}"
              for e in chain["ledger"]]
    f = chain["features"]
    lines.append(f"features  {f['asset']} {f['partition']} (Dagster run {f['materialized_in_dagster_run']}), {len(f['values'])} values")
    for entry in chain["silver"]:
        checks = ", ".join(f"{k} {'passed' if v and v['passed'] else 'FAILED' if v else 'not run'}" for k, v in entry["checks"].items())
        lines.append(f"silver    {entry['asset']}: {entry['rows']} visible rows from {len(entry['arrivals'])} arrival days ({checks})")
    lines += [f"bronze    {b['feed']} {b['arrival_date']} {b['file']} sha256 {b['sha256']}" for b in chain["bronze"]]
    return "\n".join(lines)
