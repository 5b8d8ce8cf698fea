"""Assembles the workbench's code location; it computes nothing.

Assets, checks and sensors come from their packages; resources come from the environment in force.
"""

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)

from assets.bronze import BRONZE_FEEDS  # noqa: E402
from assets.gold import GOLD  # noqa: E402
from assets.lineage import lineage_export  # noqa: E402
from assets.policy import AUDIT_HOOKS  # noqa: E402
from assets.raw import RAW_FEEDS  # noqa: E402
from assets.silver import SILVER_FEEDS  # noqa: E402
from checks.bronze import FRESHNESS_CHECKS  # noqa: E402
from checks.gold import GOLD_CHECKS  # noqa: E402
from checks.silver import SILVER_CHECKS  # noqa: E402
from resources import build_resources  # noqa: E402
from sensors import SENSORS  # noqa: E402

INGEST = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("bronze", "silver"),
    description="Land every feed's arrival days in bronze, rebuild silver and quarantine, evaluate their checks.",
    hooks=AUDIT_HOOKS,
)
GOLD_MONTHS = dg.define_asset_job(
    "gold",
    selection=dg.AssetSelection.groups("gold", "governance"),
    description="Measure status, point-in-time features and labels for as-of months (with the leakage check), then the lineage export.",
    hooks=AUDIT_HOOKS,
)

defs = dg.Definitions(
    assets=[*RAW_FEEDS, *BRONZE_FEEDS, *SILVER_FEEDS, *GOLD, lineage_export],
    asset_checks=[*FRESHNESS_CHECKS, *SILVER_CHECKS, *GOLD_CHECKS],
    jobs=[INGEST, GOLD_MONTHS],
    sensors=SENSORS,
    resources=build_resources(),
)
