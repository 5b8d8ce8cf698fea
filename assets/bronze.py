"""Bronze: every delivery landed as-is (text, all columns, identifiers included), encrypted, one partition per arrival day.

Bronze is immutable: a partition is written once; new data for a landed arrival date is refused, not merged,
so the raw layer always shows exactly what arrived and when.
"""

from dataclasses import dataclass, field
from datetime import date
from itertools import groupby

import dagster as dg
import polars as pl

from assets.partitions import arrival_partitions
from assets.policy import OWNERS, PHI_DIRECT, raw_column_schema, tags
from checks.bronze import SCHEMA_CONTRACT, SchemaChange, schema_changes, schema_contract_result
from resources.bronze_store import BronzeStore, ImmutablePartitionError, PartitionManifest
from resources.feeds import FeedSource
from resources.feeds.contract import ARRIVAL_DATE, FEEDS, SOURCE_FILE, contract
from resources.vault import KeyVault

MAX_LISTED = 20


@dataclass
class Landing:
    written: list[PartitionManifest] = field(default_factory=list)
    already_landed: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)
    schema_changes: list[SchemaChange] = field(default_factory=list)


def months_of(dates: list[date]) -> list[list[date]]:
    """The requested arrival dates in calendar-month batches: a run holds one month of a feed's deliveries at a time."""
    return [list(days) for _, days in groupby(sorted(dates), key=lambda d: (d.year, d.month))]


def land(feed: str, rows: pl.DataFrame, dates: list[date], store: BronzeStore, key: bytes) -> Landing:
    """Write each requested arrival date not yet landed; refuse new files for a landed date."""
    landed = {m.arrival_date: m for m in store.manifests(feed, {d.isoformat() for d in dates})}
    parts = {d: p for (d,), p in rows.partition_by(ARRIVAL_DATE, as_dict=True).items()} if rows.height else {}
    landing = Landing()
    for day in dates:
        part = parts.get(day, rows.clear())
        if (known := landed.get(day.isoformat())) is not None:
            unseen = sorted(set(part[SOURCE_FILE].unique()) - set(known.source_files)) if part.height else []
            if unseen:
                raise ImmutablePartitionError(
                    f"bronze/{feed} {day} has already landed and is immutable; new file(s) {', '.join(unseen)} "
                    "must be delivered with a new arrival date"
                )
            landing.already_landed.append(day.isoformat())
            continue
        landing.written.append(store.write(feed, day, part, key))
    return landing


def land_by_month(context: dg.AssetExecutionContext, feed: str, source: FeedSource, store: BronzeStore, key: bytes) -> Landing:
    """Ask the source for one month of arrival dates at a time and land it, so memory holds a month, not the history."""
    landing, batches = Landing(), months_of([date.fromisoformat(k) for k in context.partition_keys])
    for done, batch in enumerate(batches, start=1):
        delivery = source.deliver(feed, set(batch))
        month = land(feed, delivery.rows, batch, store, key)
        landed = [date.fromisoformat(m.arrival_date) for m in month.written]
        landing.written += month.written
        landing.already_landed += month.already_landed
        landing.rejected += delivery.rejected
        landing.notes |= delivery.notes
        landing.schema_changes += schema_changes(delivery.rows.filter(pl.col(ARRIVAL_DATE).is_in(landed)), contract(feed))
        if len(batches) > 1:
            context.log.info(f"{feed}: month {done} of {len(batches)} ({batch[0]:%Y-%m}): {sum(m.rows for m in month.written):,} rows landed")
    return landing


def landing_metadata(landing: Landing) -> dict[str, object]:
    rows = sum(m.rows for m in landing.written)
    meta: dict[str, object] = {
        "partitions_written": len(landing.written),
        "partitions_already_landed": len(landing.already_landed),
        "rows_landed": rows,
        "source_files": sum(len(m.source_files) for m in landing.written),
        "rejected_files": dg.MetadataValue.md("\n".join(f"- {r}" for r in landing.rejected) or "none"),
    }
    if landing.written:
        meta["arrival_dates"] = f"{landing.written[0].arrival_date} .. {landing.written[-1].arrival_date}"
        meta["landed_at"] = landing.written[-1].landed_at
        files = [f for m in landing.written for f in m.source_files]
        meta["source_file_names"] = dg.MetadataValue.json(files[:MAX_LISTED] + ([f"... {len(files) - MAX_LISTED} more"] if len(files) > MAX_LISTED else []))
    if len(landing.written) == 1:
        meta["content_sha256"] = landing.written[0].sha256 or "empty"
    return meta | landing.notes


def bronze_feed(feed: str) -> dg.AssetsDefinition:
    spec = contract(feed)

    @dg.asset(
        key=["bronze", feed],
        deps=[["raw", feed]],
        description=(
            f"Every {feed.replace('_', ' ')} delivery exactly as it arrived, one encrypted Parquet file per arrival day "
            "with a plaintext manifest (rows, content SHA-256, source files). Holds direct identifiers: read only "
            "through the key vault. Immutable once landed."
        ),
        partitions_def=arrival_partitions(),
        backfill_policy=dg.BackfillPolicy.single_run(),
        group_name="bronze",
        owners=OWNERS["bronze"],
        kinds={"parquet", "polars"},
        tags=tags("bronze", PHI_DIRECT),
        metadata={"dagster/column_schema": raw_column_schema(spec), "encryption": "AES-256-GCM per file"},
        check_specs=[dg.AssetCheckSpec(SCHEMA_CONTRACT, asset=["bronze", feed], description="Delivered columns and types match the feed contract; names any change.")],
    )
    def _bronze(context: dg.AssetExecutionContext, feed_source: FeedSource, bronze_store: BronzeStore, vault: KeyVault):
        landing = land_by_month(context, feed, feed_source, bronze_store, vault.raw_key())
        for reason in landing.rejected:
            context.log.warning(f"rejected file left in place: {reason}")
        context.log.info(f"{feed}: {len(landing.written)} partitions landed, {len(landing.already_landed)} already present")
        yield dg.MaterializeResult(metadata=landing_metadata(landing))
        yield schema_contract_result(landing.schema_changes)

    return _bronze


BRONZE_FEEDS = [bronze_feed(feed) for feed in FEEDS]
