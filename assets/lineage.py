"""The lineage graph for governance: every asset as an OpenLineage run event, with schema, column lineage,
PHI tags, owners and checks as facets, so any score can be traced back to the raw feeds in standard tooling.
"""

import json
from datetime import datetime, timezone
from pathlib import Path

import dagster as dg

from assets.policy import PHI_NONE, tags
from resources.environment import settings

NAMESPACE = "caregap-workbench"
PRODUCER = "https://github.com/caregap-workbench/caregap-workbench"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/definitions/RunEvent"


def _dataset(key: dg.AssetKey) -> dict:
    return {"namespace": NAMESPACE, "name": key.to_user_string()}


def _schema_facet(metadata: dict) -> dict | None:
    schema = metadata.get("dagster/column_schema")
    if schema is None:
        return None
    fields = [{"name": c.name, "type": c.type, "description": c.description or "", "tags": dict(c.tags or {})} for c in schema.columns]
    return {"_producer": PRODUCER, "fields": fields}


def _column_lineage_facet(metadata: dict) -> dict | None:
    lineage = metadata.get("dagster/column_lineage")
    if lineage is None:
        return None
    fields = {column: {"inputFields": [{"namespace": NAMESPACE, "name": dep.asset_key.to_user_string(), "field": dep.column_name} for dep in deps]}
              for column, deps in lineage.deps_by_column.items()}
    return {"_producer": PRODUCER, "fields": fields}


def lineage_events(graph, event_time: datetime) -> list[dict]:
    """One COMPLETE run event per asset: its inputs (upstream assets) and its output with facets."""
    events = []
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        facets = {name: facet for name, facet in (("schema", _schema_facet(node.metadata)), ("columnLineage", _column_lineage_facet(node.metadata))) if facet}
        facets["workbench"] = {
            "_producer": PRODUCER, "group": node.group_name, "owners": list(node.owners), "phi": node.tags.get("phi"),
            "kinds": sorted(node.kinds), "description": node.description or "", "checks": sorted(k.name for k in node.check_keys),
        }
        events.append({
            "eventType": "COMPLETE", "eventTime": event_time.isoformat(), "producer": PRODUCER, "schemaURL": SCHEMA_URL,
            "job": {"namespace": NAMESPACE, "name": key.to_user_string()},
            "run": {"runId": f"{NAMESPACE}:{key.to_user_string()}"},
            "inputs": [_dataset(parent) for parent in sorted(node.parent_keys, key=lambda k: k.to_user_string())],
            "outputs": [_dataset(key) | {"facets": facets}],
        })
    return events


def export_path() -> Path:
    return settings().home / "governance" / "lineage.openlineage.json"


@dg.asset(
    key=["governance", "lineage_export"], group_name="governance", owners=["team:governance"], kinds={"json", "openlineage"},
    tags=tags("governance", PHI_NONE),
    description="The whole asset graph (assets, dependencies, checks, column schemas, column lineage, PHI tags, owners) "
                "as OpenLineage run events, for governance tooling; regenerated on every run.",
)
def lineage_export() -> dg.MaterializeResult:
    from definitions import defs  # the code location this asset belongs to; imported at run time, not at load

    events = lineage_events(defs.resolve_asset_graph(), datetime.now(timezone.utc))
    path = export_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(events, indent=1))
    phi = sorted({e["outputs"][0]["facets"]["workbench"]["phi"] for e in events})
    return dg.MaterializeResult(metadata={"events": len(events), "path": dg.MetadataValue.path(str(path)), "phi_tags": dg.MetadataValue.json(phi)})
