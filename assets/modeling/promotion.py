"""Promotions, refusals and rollbacks of the `champion` alias, each written to the append-only promotion ledger.

MLflow aliases keep no history, so the ledger is the record of which version served when and why; rollback reads it
to find the previous approved version. Every ledger entry is also written to the tamper-evident audit trail.
"""

import json
from datetime import datetime, timezone

import polars as pl

from assets.modeling.gates import Decision, GateResult
from resources.audit import AuditTrail
from resources.model_registry import CHALLENGER, CHAMPION, ModelRegistry, model_name
from resources.warehouse import Warehouse

LEDGER = ("governance", "promotion_ledger")
PROMOTE, REFUSE, ROLLBACK = "promote", "refuse", "rollback"
LEDGER_SCHEMA = {
    "seq": pl.Int64, "recorded_at": pl.Datetime("us", "UTC"), "measure": pl.String, "model": pl.String, "action": pl.String,
    "from_version": pl.Int64, "to_version": pl.Int64, "candidate_version": pl.Int64, "reason": pl.String, "checks": pl.String,
    "triggered_by": pl.String, "dagster_run_id": pl.String,
}
LEDGER_DESCRIPTIONS = {
    "seq": "Position in the ledger (1 = first entry).",
    "action": "promote (candidate became champion), refuse (candidate kept as challenger) or rollback (champion moved back).",
    "from_version": "Champion version before the entry (null: none).",
    "to_version": "Champion version after the entry (null: none).",
    "candidate_version": "Version that was judged (promote/refuse) or retired (rollback).",
    "checks": "Gate check results as JSON: group, rule, value, threshold, passed.",
    "triggered_by": "Principal, sensor or job that caused the entry.",
}


class NoPreviousVersion(LookupError):
    """Rollback asked for, but the ledger holds no earlier approved version to return to."""


def ledger(warehouse: Warehouse, measure: str | None = None) -> pl.DataFrame:
    """The ledger in order (empty with its schema before the first entry), optionally for one measure."""
    if ".".join(LEDGER) not in warehouse.tables():
        return pl.DataFrame(schema=LEDGER_SCHEMA)
    frame = warehouse.read_table(*LEDGER).sort("seq")
    return frame.filter(pl.col("measure") == measure) if measure else frame


def _version(v: object) -> int | None:
    return int(v.version) if v is not None else None


def _append(warehouse: Warehouse, audit: AuditTrail, entry: dict) -> dict:
    """Store one entry (numbered by the warehouse) and mirror it into the audit trail."""
    row = {"recorded_at": datetime.now(timezone.utc), **entry}
    stored = warehouse.append(*LEDGER, pl.DataFrame([row], schema={k: v for k, v in LEDGER_SCHEMA.items() if k != "seq"}), "seq").row(0, named=True)
    audit.record(entry["triggered_by"], f"model.{entry['action']}", entry["model"], entry["reason"],
                 {k: stored[k] for k in ("seq", "from_version", "to_version", "candidate_version", "dagster_run_id")})
    return stored


def record_decision(registry: ModelRegistry, warehouse: Warehouse, audit: AuditTrail, measure: str, candidate_version: int,
                    decision: Decision, gate_result: GateResult, triggered_by: str, run_id: str | None) -> dict:
    """Apply a gate decision to the aliases (champion on promotion, challenger otherwise) and ledger it."""
    current = _version(registry.version(measure, CHAMPION))
    registry.set_alias(measure, CHAMPION if decision.promote else CHALLENGER, candidate_version)
    return _append(warehouse, audit, {
        "measure": measure, "model": model_name(measure), "action": PROMOTE if decision.promote else REFUSE,
        "from_version": current, "to_version": candidate_version if decision.promote else current, "candidate_version": candidate_version,
        "reason": decision.reason, "checks": json.dumps(gate_result.checks, sort_keys=True), "triggered_by": triggered_by, "dagster_run_id": run_id,
    })


def champion_stack(entries: pl.DataFrame) -> list[int]:
    """The approved versions still standing, oldest first: promotions push, rollbacks pop the retired champion."""
    stack: list[int] = []
    for action, to_version in entries.filter(pl.col("action") != REFUSE).select("action", "to_version").iter_rows():
        if action == PROMOTE:
            stack.append(to_version)
        elif stack:
            stack.pop()
    return stack


def rollback(registry: ModelRegistry, warehouse: Warehouse, audit: AuditTrail, measure: str, reason: str, triggered_by: str,
             run_id: str | None = None) -> dict:
    """Move `champion` back to the previous approved version (by the ledger) and record why."""
    stack = champion_stack(ledger(warehouse, measure))
    current = _version(registry.version(measure, CHAMPION))
    if len(stack) < 2 or stack[-1] != current:
        known = ", ".join(map(str, stack)) or "none"
        serving = "it has no champion" if current is None else f"champion is version {current}"
        raise NoPreviousVersion(f"cannot roll back {model_name(measure)}: {serving}, approved versions in the ledger: {known}")
    target = stack[-2]
    registry.set_alias(measure, CHAMPION, target)
    return _append(warehouse, audit, {
        "measure": measure, "model": model_name(measure), "action": ROLLBACK, "from_version": current, "to_version": target,
        "candidate_version": current, "reason": reason, "checks": "{}", "triggered_by": triggered_by, "dagster_run_id": run_id,
    })
