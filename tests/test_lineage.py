"""The OpenLineage export covers every asset with its dependencies, PHI tag, checks and column lineage."""

import json
from datetime import datetime, timezone

from assets.lineage import lineage_events
from definitions import defs


def events_by_asset() -> dict[str, dict]:
    events = lineage_events(defs.resolve_asset_graph(), datetime(2026, 1, 1, tzinfo=timezone.utc))
    json.dumps(events)
    return {e["job"]["name"]: e for e in events}


def test_every_asset_is_an_event_with_its_inputs():
    events = events_by_asset()
    assert set(events) == {k.to_user_string() for k in defs.resolve_all_asset_keys()}
    assert [i["name"] for i in events["silver/lab_results"]["inputs"]] == ["bronze/lab_results"]
    assert {i["name"] for i in events["gold/features"]["inputs"]} == {f"silver/{f}" for f in ("clinical_records", "eligibility", "lab_results", "medical_claims", "pharmacy_fills")}


def test_facets_carry_phi_tags_checks_and_column_lineage():
    events = events_by_asset()
    bronze = events["bronze/eligibility"]["outputs"][0]["facets"]
    assert bronze["workbench"]["phi"] == "direct_identifiers" and "freshness" in bronze["workbench"]["checks"]
    assert {f["tags"]["classification"] for f in bronze["schema"]["fields"] if f["name"] == "member_id"} == {"direct_identifier"}
    columns = events["gold/features"]["outputs"][0]["facets"]["columnLineage"]["fields"]
    assert {"name": "silver/lab_results", "field": "value", "namespace": "caregap-workbench"} in columns["last_hba1c"]["inputFields"]
    assert events["gold/features"]["outputs"][0]["facets"]["workbench"]["checks"] == ["no_lookahead_leakage", "schema"]
