"""Assembles the workbench's code location; it computes nothing.

Assets, checks and sensors come from their packages; resources come from the environment in force.
"""

import dagster as dg

from assets import ASSETS
from checks import CHECKS
from resources import build_resources
from sensors import SENSORS

MATERIALIZE_ALL = dg.define_asset_job(
    "materialize_all",
    selection=dg.AssetSelection.all(),
    description="Land every feed, build silver and quarantine, and evaluate every check.",
)

defs = dg.Definitions(
    assets=ASSETS,
    asset_checks=CHECKS,
    jobs=[MATERIALIZE_ALL],
    sensors=SENSORS,
    resources=build_resources(),
)
