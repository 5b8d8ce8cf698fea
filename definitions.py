"""Assembles the workbench's code location; it computes nothing.

Assets, checks and sensors come from their packages; resources come from the environment in force.
"""

import warnings

import dagster as dg

warnings.filterwarnings("ignore", category=dg.BetaWarning)

from assets.bronze import BRONZE_FEEDS  # noqa: E402
from assets.gold import GOLD  # noqa: E402
from assets.lineage import lineage_export  # noqa: E402
from assets.models import MODELS, promotion_ledger, rollback_job  # noqa: E402
from assets.monitors import MONITORS  # noqa: E402
from assets.policy import AUDIT_HOOKS  # noqa: E402
from assets.raw import RAW_FEEDS  # noqa: E402
from assets.reports import MONITORING_REPORTS, VALIDATION_REPORTS  # noqa: E402
from assets.scores import SCORES, outreach  # noqa: E402
from assets.silver import SILVER_FEEDS  # noqa: E402
from checks.bronze import FRESHNESS_CHECKS  # noqa: E402
from checks.gold import GOLD_CHECKS  # noqa: E402
from checks.silver import SILVER_CHECKS  # noqa: E402
from resources import build_resources  # noqa: E402
from resources.environment import Settings, settings  # noqa: E402
from sensors import SENSORS  # noqa: E402

INGEST = dg.define_asset_job(
    "ingest",
    selection=dg.AssetSelection.groups("bronze", "silver"),
    description="Land every feed's arrival days in bronze, rebuild silver and quarantine, evaluate their checks.",
    hooks=AUDIT_HOOKS,
)
GOLD_MONTHS = dg.define_asset_job(
    "gold",
    selection=dg.AssetSelection.groups("gold"),
    description="Measure status, point-in-time features and labels for as-of months, with the leakage and maturity checks.",
    hooks=AUDIT_HOOKS,
)
TRAIN = dg.define_asset_job(
    "train",
    selection=dg.AssetSelection.groups("models") | dg.AssetSelection.assets(promotion_ledger, *VALIDATION_REPORTS),
    description="Train every measure's three model families, gate them, register the best in MLflow, ledger the decision and "
                "render each new version's validation report.",
    hooks=AUDIT_HOOKS,
)
SCORE = dg.define_asset_job(
    "score",
    selection=dg.AssetSelection.groups("scores", "monitoring") | dg.AssetSelection.assets(lineage_export) | dg.AssetSelection.assets(*MONITORING_REPORTS),
    description="Score every open gap with each measure's champion for as-of months, build the outreach list, monitor drift and "
                "performance against each model's training reference, render each month's monitoring report, export lineage.",
    hooks=AUDIT_HOOKS,
)


def step_executor(s: Settings) -> dg.ExecutorDefinition:
    """Every step in a process of its own, at most WORKBENCH_MAX_CONCURRENT at once: independent assets and the runs of a
    backfill compute in parallel and wait only for the warehouse file's lock and the MLflow pool. In-process runs
    (`workbench run`, tests) ignore it."""
    return dg.multiprocess_executor.configured({"max_concurrent": s.max_concurrent})


def build_definitions() -> dg.Definitions:
    """The code location with resources for the environment in force now (tests build one per state folder)."""
    s = settings()
    return dg.Definitions(
        assets=[*RAW_FEEDS, *BRONZE_FEEDS, *SILVER_FEEDS, *GOLD, *MODELS, promotion_ledger, *VALIDATION_REPORTS, *SCORES, outreach, *MONITORS, *MONITORING_REPORTS, lineage_export],
        asset_checks=[*FRESHNESS_CHECKS, *SILVER_CHECKS, *GOLD_CHECKS],
        jobs=[INGEST, GOLD_MONTHS, TRAIN, SCORE, rollback_job],
        sensors=SENSORS,
        resources=build_resources(s),
        executor=step_executor(s),
    )


defs = build_definitions()
