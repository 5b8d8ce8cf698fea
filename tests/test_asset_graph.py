"""Snapshot of the asset graph: every change to lineage, ownership, tags or checks shows in review.

Regenerate after an intended change with `UPDATE_SNAPSHOTS=1 make test` and commit the diff.
"""

import json
import os
from pathlib import Path


from definitions import defs

SNAPSHOT = Path(__file__).with_name("snapshots") / "asset_graph.json"


def graph_snapshot() -> dict:
    graph = defs.resolve_asset_graph()
    checks_by_asset: dict[str, list] = {}
    for check_key in sorted(graph.asset_check_keys, key=lambda k: (k.asset_key.to_user_string(), k.name)):
        node = graph.get_check_spec(check_key)
        checks_by_asset.setdefault(check_key.asset_key.to_user_string(), []).append({"name": check_key.name, "blocking": node.blocking})
    assets = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "group": node.group_name,
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "owners": sorted(node.owners),
            "tags": {k: v for k, v in sorted(node.tags.items()) if not k.startswith("dagster/kind/")},
            "kinds": sorted(node.kinds),
            "partitions": type(node.partitions_def).__name__ if node.partitions_def else None,
            "has_description": bool(node.description),
            "has_column_schema": "dagster/column_schema" in node.metadata,
            "checks": checks_by_asset.get(key.to_user_string(), []),
        }
    return assets


def test_asset_graph_matches_snapshot():
    current = graph_snapshot()
    if os.environ.get("UPDATE_SNAPSHOTS") == "1":
        SNAPSHOT.write_text(json.dumps(current, indent=2) + "\n")
    assert current == json.loads(SNAPSHOT.read_text()), "asset graph changed: review, then UPDATE_SNAPSHOTS=1 to accept"


def test_every_asset_is_described_owned_tagged_for_phi_and_kinded():
    for key, node in graph_snapshot().items():
        assert node["has_description"] and node["owners"] and node["kinds"], key
        assert node["tags"].get("phi") in {"direct_identifiers", "pseudonymised", "none"}, key


def test_jobs_cover_every_materializable_asset_once():
    selected = [key for name in ("ingest", "gold", "train", "score") for key in defs.resolve_job_def(name).asset_layer.selected_asset_keys]
    materializable = {key for key in defs.resolve_all_asset_keys() if key.path[0] != "raw"}
    assert sorted(selected) == sorted(materializable)
