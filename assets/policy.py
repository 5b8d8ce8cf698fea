"""Cross-cutting asset policy in one place: owners, PHI tags and column schemas derived from contracts."""

from __future__ import annotations

from collections import Counter, defaultdict
from functools import lru_cache

import dagster as dg
import pandera.polars as pa
import polars as pl

from resources.feeds.contract import FeedContract

OWNERS = {
    "raw": ["team:data-platform"],
    "bronze": ["team:data-platform"],
    "silver": ["team:data-platform"],
    "quarantine": ["team:data-quality"],
}
PHI_DIRECT = "direct_identifiers"
PHI_PSEUDONYMISED = "pseudonymised"
PHI_NONE = "none"
LINEAGE_DESCRIPTIONS = {
    "_source_file": "Delivery file the row came from.",
    "_source_line": "Line of the row in its delivery file (CSV header is line 1).",
    "_arrival_date": "Date the delivery arrived (bronze partition).",
    "_rules": "Rules the row broke, `column:kind` or `record:name`, separated by '; '.",
    "member_key": "Keyed HMAC pseudonym of the member id.",
    "birth_year": "Year of birth (generalised from the date of birth).",
    "zip3": "First three ZIP digits (generalised from the ZIP code).",
}


def markdown_table(frame: pl.DataFrame) -> dg.MetadataValue:
    """A frame as a Markdown table for the Dagster UI (thousands separators, 3-decimal floats; "none" when empty)."""
    if frame.is_empty():
        return dg.MetadataValue.md("none")

    def cell(value: object) -> str:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return str(value)
        return f"{value:,.3f}" if isinstance(value, float) else f"{value:,}"

    header = "| " + " | ".join(frame.columns) + " |\n|" + "---|" * frame.width + "\n"
    return dg.MetadataValue.md(header + "\n".join("| " + " | ".join(cell(v) for v in row) + " |" for row in frame.iter_rows()))


def column_schema(columns: dict[str, pl.DataType | type[pl.DataType]], descriptions: dict[str, str]) -> dg.TableSchema:
    """Column schema metadata for a table built in code: each column's polars type and its description."""
    return dg.TableSchema(columns=[dg.TableColumn(name, str(dtype), description=descriptions.get(name, "")) for name, dtype in columns.items()])


def tags(layer: str, phi: str) -> dict[str, str]:
    return {"layer": layer, "phi": phi}


def raw_column_schema(spec: FeedContract) -> dg.TableSchema:
    """The delivered columns of a raw feed with their descriptions and classification."""
    return dg.TableSchema(columns=[
        dg.TableColumn(c.name, c.type, description=c.description, tags={"classification": c.classification})
        for c in spec.columns.values()
    ])


def table_schema(columns: dict[str, pa.Column], spec: FeedContract) -> dg.TableSchema:
    """Column schema metadata for a stored table, described from the contract where it can be."""
    def describe(name: str) -> tuple[str, str]:
        if name in spec.columns:
            return spec.columns[name].description, spec.columns[name].classification
        return LINEAGE_DESCRIPTIONS.get(name, ""), "quasi_identifier" if name in ("member_key", "birth_year", "zip3") else "operational"

    return dg.TableSchema(columns=[
        dg.TableColumn(
            name,
            str(col.dtype),
            description=describe(name)[0],
            tags={"classification": describe(name)[1]},
            constraints=dg.TableColumnConstraints(nullable=col.nullable),
        )
        for name, col in columns.items()
    ])


PRINCIPAL_TAG = "workbench/principal"
AUDITED_EVENTS = {dg.DagsterEventType.ASSET_MATERIALIZATION, dg.DagsterEventType.ASSET_CHECK_EVALUATION}


class _RunEvents:
    """A run's materializations and check evaluations, read once each and handed to the step that emitted them.

    Reading the whole run's log in every step's hook cost seconds per step on a daily-partitioned backfill (each
    partition is an event); a cursor reads only what is new, and steps take their own events by step key.
    """

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.cursor: str | None = None
        self.by_step: dict[str, list[dg.DagsterEvent]] = defaultdict(list)

    def take(self, instance: dg.DagsterInstance, step_key: str) -> list[dg.DagsterEvent]:
        """The audited events of `step_key` not handed out yet."""
        while True:
            page = instance.get_records_for_run(self.run_id, cursor=self.cursor, of_type=AUDITED_EVENTS, limit=10_000)
            for record in page.records:
                event = record.event_log_entry.dagster_event
                self.by_step[event.step_key].append(event)
            self.cursor = page.cursor
            if not page.has_more:
                return self.by_step.pop(step_key, [])


@lru_cache(maxsize=4)
def _run_events(run_id: str) -> _RunEvents:
    return _RunEvents(run_id)


def _audit_step(context: dg.HookContext, outcome: str) -> None:
    """Record what one step materialized and which checks it evaluated, under the run's principal."""
    from resources.audit import current_principal

    principal = context.instance.get_run_by_id(context.run_id).tags.get(PRINCIPAL_TAG) or current_principal()
    materialized: Counter[str] = Counter()
    for event in _run_events(context.run_id).take(context.instance, context.step_key):
        if event.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION:
            materialized[event.asset_key.to_user_string()] += 1
        else:
            check = event.event_specific_data
            context.resources.audit.record(principal, "check", f"{check.asset_key.to_user_string()}:{check.check_name}",
                                           "passed" if check.passed else f"failed ({check.severity.value})", {"run_id": context.run_id})
    for key, partitions in materialized.items():
        context.resources.audit.record(principal, "materialize", key, outcome, {"run_id": context.run_id, "partitions": partitions})
    if outcome == "failed":
        context.resources.audit.record(principal, "step_failed", context.step_key, "step failed", {"run_id": context.run_id})


@dg.success_hook(required_resource_keys={"audit"})
def audit_success(context: dg.HookContext) -> None:
    _audit_step(context, "succeeded")


@dg.failure_hook(required_resource_keys={"audit"})
def audit_failure(context: dg.HookContext) -> None:
    _audit_step(context, "failed")


AUDIT_HOOKS = {audit_success, audit_failure}
