"""The landing-directory and FHIR sources go through the same bronze and silver assets as the synthetic plan."""

from pathlib import Path

import dagster as dg
import polars as pl

from assets.bronze import bronze_feed
from assets.silver import silver_feed
from resources import build_resources
from resources.bronze_store import BronzeStore
from resources.feeds import FhirBulkFeedSource, LandingFeedSource, SyntheticFeedSource
from resources.io_manager import WarehouseIOManager
from resources.warehouse import Warehouse
from tests.rows import fill

ARRIVAL = "2026-06-01"


def materialize_feed(feed: str, source, home: Path) -> tuple[dg.ExecuteInProcessResult, Warehouse]:
    warehouse = Warehouse(path=str(home / "warehouse.duckdb"))
    resources = build_resources() | {
        "feed_source": source,
        "bronze_store": BronzeStore(root=str(home / "raw")),
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
    }
    result = dg.materialize([bronze_feed(feed), silver_feed(feed)], partition_key=ARRIVAL, resources=resources, instance=dg.DagsterInstance.ephemeral())
    return result, warehouse


def bronze_metadata(result: dg.ExecuteInProcessResult, feed: str) -> dict:
    mats = [e.event_specific_data.materialization for e in result.all_events if e.is_step_materialization]
    return next({k: v.value for k, v in m.metadata.items()} for m in mats if m.asset_key == dg.AssetKey(["bronze", feed]))


def test_landing_inbox_lands_good_files_and_leaves_a_bad_one_in_place(tmp_path):
    folder = tmp_path / "inbox" / "pharmacy_fills"
    folder.mkdir(parents=True)
    rows = [fill(fill_id=f"R{i:010d}", member_id=f"M{i:08d}") for i in range(3)] + [fill(fill_id="R0000000009", ndc="bad")]
    pl.DataFrame(rows).write_csv(folder / f"pharmacy_fills_{ARRIVAL}.csv")
    bad = folder / f"pharmacy_fills_{ARRIVAL}_resend.csv"
    bad.write_bytes("fill_id,member_id\nR0000000001,M\xe9\n".encode("latin-1"))

    result, warehouse = materialize_feed("pharmacy_fills", LandingFeedSource(inbox=str(tmp_path / "inbox")), tmp_path)

    assert result.success
    meta = bronze_metadata(result, "pharmacy_fills")
    assert meta["rows_landed"] == 4 and meta["source_files"] == 1
    assert bad.name in meta["rejected_files"] and "UTF-8" in meta["rejected_files"]
    assert bad.exists()
    assert warehouse.read_table("silver", "pharmacy_fills").height == 3
    assert warehouse.read_table("quarantine", "pharmacy_fills")["_rules"].to_list() == ["ndc:pattern"]


def test_fhir_bulk_export_maps_onto_the_feeds_and_reports_what_it_could_not(tmp_path, shared_fixtures):
    export = shared_fixtures / "synthea" / "smart-bulk-10pt-fhir-r4"
    result, warehouse = materialize_feed("eligibility", FhirBulkFeedSource(directory=str(export), arrival_date=ARRIVAL), tmp_path)

    assert result.success
    meta = bronze_metadata(result, "eligibility")
    assert "Immunization" in meta["fhir_unknown_resource_types"] and meta["fhir_unmapped_codes"] != "none"
    accepted, quarantined = warehouse.read_table("silver", "eligibility"), warehouse.read_table("quarantine", "eligibility")
    assert accepted.height + quarantined.height == meta["rows_landed"] == 13
    assert accepted.height >= 10


def test_a_run_on_the_synthetic_plan_releases_the_plan_and_deletes_its_spool_when_it_ends(tmp_path, monkeypatch):
    import tempfile

    from resources.feeds.synthetic import _care, _population

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "spool"))
    (tmp_path / "spool").mkdir()
    source = SyntheticFeedSource(members=300, months=12, end_date="2026-06-30")
    result, warehouse = materialize_feed("medical_claims", source, tmp_path)
    assert result.success and warehouse.read_table("silver", "medical_claims").height > 0, "the run read the generated plan"
    assert (_care.cache_info().currsize, _population.cache_info().currsize) == (0, 0)
    assert list((tmp_path / "spool").iterdir()) == []
