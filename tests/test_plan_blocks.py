"""A large synthetic plan is generated in blocks of members and spooled to disk; bronze lands it a month at a time.

What must hold whatever the block size: a one-block plan is the plan as it always was, blocks never share a member
or a record id, a day's file keeps unique consecutive line numbers, and bronze lands every delivered row.
"""

import tempfile
from datetime import date, timedelta

import dagster as dg
import polars as pl
import pytest

from assets.bronze import bronze_feed, months_of
from resources.bronze_store import BronzeStore
from resources.feeds import SyntheticFeedSource
from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE
from resources.feeds.faults import FaultConfig, inject_faults
from resources.feeds.spool import release_spools
from resources.feeds.synthetic import (
    SyntheticConfig,
    canary_tokens,
    generate_feed,
    generate_members,
    true_propensities,
)
from resources.feeds.synthetic.blocks import blocks
from resources.vault import KeyVault

END = date(2026, 6, 30)
DAYS = {END - timedelta(days=d) for d in range(400)}
KEYS = {"eligibility": "member_id", "medical_claims": "claim_id", "pharmacy_fills": "fill_id", "lab_results": "result_id",
        "clinical_records": "record_id"}


def blocked(members: int = 600, block_members: int = 250) -> SyntheticFeedSource:
    return SyntheticFeedSource(seed=5, members=members, months=12, end_date=END.isoformat(), block_members=block_members)


@pytest.fixture(autouse=True)
def _fresh_spool():
    yield
    release_spools()


def test_blocks_are_near_equal_cover_the_plan_and_plant_canaries_once():
    plan = SyntheticConfig(end_date=END, members=1001, months=12)
    plan_blocks = blocks(plan, 250)
    assert [b.members for b in plan_blocks] == [201, 200, 200, 200, 200] and [b.block for b in plan_blocks] == [0, 1, 2, 3, 4]
    assert [b.canaries for b in plan_blocks] == [plan.canaries, 0, 0, 0, 0]
    assert blocks(plan, 1001) == [plan]
    with pytest.raises(ValueError, match="^block size must be at least 200 members, got 199$"):
        blocks(plan, 199)


def test_a_plan_of_one_block_delivers_exactly_what_was_generated_with_its_faults():
    source = blocked(block_members=600)
    for feed in ("medical_claims", "pharmacy_fills"):
        expected = inject_faults(generate_feed(source.plan(), feed), feed, FaultConfig(), source.seed)[0]
        assert source.deliver(feed, DAYS).rows.equals(expected), feed


def test_blocks_never_share_a_member_or_a_record_and_canaries_are_planted_once():
    source = blocked()
    members = generate_members(source.plan(), source.block_members)
    assert members.height == 600 and members["member_id"].is_unique().all()
    assert members["member_id"].str.len_chars().n_unique() == 2, "block 0 keeps its ids; the others carry their number"
    assert true_propensities(source.plan(), source.block_members).height == 600
    assert len(canary_tokens(source.plan(), source.block_members)) == 3 * source.plan().canaries
    for feed, key in KEYS.items():
        rows = source.deliver(feed, DAYS).rows.drop_nulls([key, "member_id"])
        assert rows["member_id"].is_in(members["member_id"].implode()).all(), feed
        assert rows["member_id"].str.len_chars().n_unique() == 2, f"{feed}: more than one block delivered rows"
        shared = rows.group_by(key).agg(pl.col("member_id").n_unique().alias("members")).filter(pl.col("members") > 1)
        assert shared.is_empty(), f"{feed}: {shared.height} {key}s belong to two members"


def test_a_days_file_gets_unique_consecutive_lines_across_blocks_and_a_partial_read_is_the_same_rows():
    source = blocked()
    rows = source.deliver("pharmacy_fills", DAYS).rows
    lines = rows.group_by(SOURCE_FILE).agg(first=pl.col(SOURCE_LINE).min(), last=pl.col(SOURCE_LINE).max(), n=pl.len(),
                                          distinct=pl.col(SOURCE_LINE).n_unique())
    assert lines.filter((pl.col("first") != 2) | (pl.col("last") != pl.col("n") + 1) | (pl.col("distinct") != pl.col("n"))).is_empty()
    june = {d for d in DAYS if d >= date(2026, 6, 1)}
    assert source.deliver("pharmacy_fills", june).rows.equals(rows.filter(pl.col(ARRIVAL_DATE) >= date(2026, 6, 1)))


def test_the_spool_is_deleted_when_the_run_ends(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    source = blocked()
    source.deliver("lab_results", DAYS)
    assert [p.name.startswith("workbench-synthetic-") for p in tmp_path.iterdir()] == [True]
    source.teardown_after_execution(dg.build_init_resource_context())
    assert list(tmp_path.iterdir()) == []


def test_bronze_lands_a_month_at_a_time_and_keeps_every_delivered_row(tmp_path):
    source, vault = blocked(), KeyVault(keys_dir=str(tmp_path / "keys"), create_missing=True)
    store = BronzeStore(root=str(tmp_path / "raw"))
    tags = {"dagster/asset_partition_range_start": "2026-04-01", "dagster/asset_partition_range_end": "2026-06-30"}
    with dg.DagsterInstance.ephemeral() as instance:
        result = dg.materialize([bronze_feed("pharmacy_fills")], resources={"feed_source": source, "bronze_store": store, "vault": vault},
                                tags=tags, instance=instance)
        messages = [entry.user_message for entry in instance.all_logs(result.run_id)]
    assert result.success
    assert sum(m.startswith("pharmacy_fills: month ") for m in messages) == 3, "one delivery per calendar month"
    wanted = {d for d in DAYS if d >= date(2026, 4, 1)}
    delivered = blocked().deliver("pharmacy_fills", wanted).rows
    landed = store.read("pharmacy_fills", vault.raw_key())
    assert landed.sort(SOURCE_FILE, SOURCE_LINE).equals(delivered.sort(SOURCE_FILE, SOURCE_LINE))


def test_dates_are_batched_by_calendar_month():
    days = [date(2026, 5, 31), date(2026, 4, 30), date(2026, 5, 1), date(2026, 6, 1)]
    assert months_of(days) == [[date(2026, 4, 30)], [date(2026, 5, 1), date(2026, 5, 31)], [date(2026, 6, 1)]]
