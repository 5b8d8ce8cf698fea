"""Everything that touches the outside world, chosen per environment in one function."""

from __future__ import annotations

from typing import Any

from resources.audit import audit_trail
from resources.bronze_store import BronzeStore
from resources.environment import Settings, settings
from resources.feeds import FeedSource, FhirBulkFeedSource, LandingFeedSource, SyntheticFeedSource
from resources.io_manager import WarehouseIOManager
from resources.model_registry import ModelRegistry
from resources.vault import KeyVault
from resources.warehouse import Warehouse


def feed_source(s: Settings) -> FeedSource:
    if s.feed_source == "landing":
        return LandingFeedSource(inbox=s.inbox, s3_endpoint_url=s.s3_endpoint_url)
    if s.feed_source == "fhir":
        return FhirBulkFeedSource(directory=str(s.inbox_dir / "fhir"), arrival_date=s.end_date.isoformat())
    return SyntheticFeedSource(seed=s.seed, members=s.members, months=s.months, end_date=s.end_date.isoformat(), faults=s.faults,
                               claims_outage_since=s.demo_outage_start.isoformat() if s.demo_drift else None, block_members=s.block_members)


def build_resources(s: Settings | None = None) -> dict[str, Any]:
    """The resources for the environment in force: local files by default (bronze, warehouse and model artifacts under
    WORKBENCH_STORAGE_ROOT, which may be an s3:// prefix), keys never created in production."""
    s = s or settings()
    warehouse = Warehouse(path=s.warehouse_location, s3_endpoint_url=s.s3_endpoint_url)
    return {
        "feed_source": feed_source(s),
        "bronze_store": BronzeStore(root=s.stored("raw"), s3_endpoint_url=s.s3_endpoint_url),
        "vault": KeyVault(keys_dir=str(s.keys_dir), create_missing=s.environment == "local"),
        "warehouse": warehouse,
        "io_manager": WarehouseIOManager(warehouse=warehouse),
        "audit": audit_trail(s),
        "model_registry": ModelRegistry(tracking_uri=s.mlflow_tracking_uri, artifact_root=s.stored("mlflow", "artifacts"),
                                        s3_endpoint_url=s.s3_endpoint_url, ui_url=s.mlflow_ui_url),
    }
