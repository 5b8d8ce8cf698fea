"""Every fault the synthetic plan injects ends in quarantine with its reason, or is accepted when it is not a fault of
the row (a late arrival, a correction); nothing is lost."""

import os
from datetime import date

import polars as pl
import pytest

from assets.silver_build import SilverBuild, arrival_batches, split_feed
from checks.schemas import DUPLICATE, RULES, VALID_TO, silver_key
from resources.feeds.contract import ARRIVAL_DATE, FEEDS, SOURCE_FILE, SOURCE_LINE, contract
from resources.feeds.faults import FaultConfig, inject_faults
from resources.feeds.synthetic import SyntheticConfig, generate_feed

CFG = SyntheticConfig(seed=5, members=1500, months=12, end_date=date(2026, 6, 30))
KEY = os.urandom(32)


@pytest.fixture(scope="module", params=FEEDS)
def judged(request):
    feed = request.param
    raw, log = inject_faults(generate_feed(CFG, feed), feed, FaultConfig(), CFG.seed)
    split = split_feed(raw, contract(feed), KEY)
    where = pl.concat([
        split.accepted.select(SOURCE_FILE, SOURCE_LINE, pl.lit(None, pl.String).alias("_rules")),
        split.quarantined.select(SOURCE_FILE, SOURCE_LINE, "_rules"),
    ])
    return feed, raw, log.join(where, on=[SOURCE_FILE, SOURCE_LINE], how="left"), split


def _month(column: str) -> pl.Expr:
    return pl.col(column).dt.truncate("1mo")


def test_silver_built_a_month_at_a_time_is_silver_built_at_once(judged, tmp_path):
    """Re-sends and corrections whose first arrival is in an earlier batch are settled exactly as in one batch."""
    feed, raw, _, split = judged
    with SilverBuild(contract(feed), KEY, tmp_path) as build:
        for days in arrival_batches(dict(raw.group_by(ARRIVAL_DATE).len().iter_rows()), rows=1):
            build.add(raw.filter(pl.col(ARRIVAL_DATE).is_in(days)))
        monthly = build.finish()
        accepted, quarantined = monthly.accepted.collect(), monthly.quarantined.collect()
    lineage = [SOURCE_FILE, SOURCE_LINE]
    assert accepted.sort(lineage).equals(split.accepted.sort(lineage))
    assert quarantined.sort(lineage).equals(split.quarantined.sort(lineage))
    key = silver_key(feed)
    first_arrivals = accepted.group_by(key).agg(pl.col(ARRIVAL_DATE).min().alias("first")).with_columns(pl.col(key).cast(pl.String))
    resent_later = quarantined.filter(pl.col(RULES) == DUPLICATE).join(first_arrivals, on=key).filter(_month(ARRIVAL_DATE) > _month("first"))
    closed_later = accepted.filter(_month(VALID_TO) > _month(ARRIVAL_DATE))
    assert resent_later.height + closed_later.height, f"no {feed} re-send or correction crossed a month"


def test_arrival_batches_are_whole_months_in_order_up_to_the_row_budget():
    days = {date(2026, 1, 5): 40, date(2026, 1, 20): 30, date(2026, 2, 2): 20, date(2026, 3, 9): 200, date(2026, 4, 1): 10}
    assert arrival_batches(days, rows=100) == [
        [date(2026, 1, 5), date(2026, 1, 20), date(2026, 2, 2)], [date(2026, 3, 9)], [date(2026, 4, 1)],
    ]
    assert arrival_batches({}, rows=100) == []


def test_counts_reconcile(judged):
    _, raw, _, split = judged
    assert raw.height == split.accepted.height + split.quarantined.height


def test_row_faults_are_quarantined_with_their_rule(judged):
    feed, _, log, _ = judged
    rows = log.filter(pl.col("fault").is_in(["missing_required", "invalid_code", "out_of_range", "unit_mixup", "exact_duplicate"]))
    assert rows.height, f"no row faults injected into {feed}"
    missed = rows.filter(pl.col("_rules").is_null())
    assert missed.is_empty(), f"{feed}: faults accepted into silver: {missed.group_by('fault', 'column').len().rows()}"
    expected = (
        pl.when(pl.col("fault") == "missing_required").then(pl.col("column") + ":required")
        .when(pl.col("fault") == "invalid_code").then(pl.col("column") + ":pattern")
        .when(pl.col("fault") == "exact_duplicate").then(pl.lit("record:duplicate"))
        .otherwise(None)
    )
    wrong = rows.filter(expected.is_not_null() & ~pl.col("_rules").str.contains(expected, literal=True))
    assert wrong.is_empty(), f"{feed}: wrong reasons {wrong.select('fault', 'column', '_rules').head(5).rows()}"


def test_late_arrivals_and_corrections_are_accepted_as_current_versions(judged):
    feed, _, log, split = judged
    kept = log.filter(pl.col("fault").is_in(["late_arrival", "near_duplicate"]))
    assert kept.filter(pl.col("_rules").is_not_null()).height <= 0.02 * kept.height, feed
    corrections = log.filter(pl.col("fault") == "near_duplicate").join(split.accepted, on=[SOURCE_FILE, SOURCE_LINE])
    assert corrections["_valid_to_arrival"].null_count() >= 0.98 * corrections.height
    assert split.accepted["_valid_to_arrival"].is_not_null().sum() >= corrections.height


def test_schema_change_type_is_quarantined_as_a_type_failure(judged):
    feed, _, log, _ = judged
    changed = log.filter((pl.col("fault") == "schema_change") & (pl.col("column") == "paid_amount"))
    if feed != "pharmacy_fills":
        assert changed.is_empty()
        return
    typed = log.filter(pl.col("_rules").str.contains("paid_amount:type", literal=True))
    assert typed.height and changed.height
