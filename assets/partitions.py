"""Partitions shared by the layers: bronze lands one partition per arrival day; gold has one per as-of month."""

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


def as_of_partitions() -> dg.MonthlyPartitionsDefinition:
    """Monthly as-of dates (each the last day of its month) after the lookback, through the last complete month."""
    s = settings()
    return dg.MonthlyPartitionsDefinition(start_date=s.first_as_of_month.isoformat(), end_date=s.after_last_as_of_month.isoformat())
