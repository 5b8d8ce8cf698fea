"""Partitions shared by the layers: bronze lands one partition per feed per arrival day."""

from __future__ import annotations

from datetime import timedelta

import dagster as dg

from resources.environment import settings


def arrival_partitions() -> dg.DailyPartitionsDefinition:
    """Daily arrival dates from the start of the history window through the configured end date."""
    s = settings()
    return dg.DailyPartitionsDefinition(
        start_date=s.history_start.isoformat(),
        end_date=(s.end_date + timedelta(days=1)).isoformat(),
    )
