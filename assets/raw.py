"""The raw feeds as external assets: what the health plan's senders deliver, before the workbench touches it."""

from __future__ import annotations

import dagster as dg

from assets.policy import OWNERS, PHI_DIRECT, raw_column_schema, tags
from resources.feeds.contract import FEEDS, contract


def raw_feed(feed: str) -> dg.AssetSpec:
    spec = contract(feed)
    return dg.AssetSpec(
        key=["raw", feed],
        description=(
            f"{spec.description} Delivered by the feed source (synthetic generator, landing directory or FHIR export); "
            f"expected every {spec.cadence_days} day(s), stale after {spec.cadence_days + spec.grace_days}."
        ),
        group_name="raw",
        owners=OWNERS["raw"],
        kinds={"csv", "fhir"},
        tags=tags("raw", PHI_DIRECT),
        metadata={"dagster/column_schema": raw_column_schema(spec), "natural_key": ", ".join(spec.key)},
    )


RAW_FEEDS = [raw_feed(feed) for feed in FEEDS]
