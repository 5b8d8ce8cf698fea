"""Arrival -> ingest: files dropped in the landing directory request ingestion of their arrival day.

The run key is the day plus the content hashes of its new files, so each delivery is ingested once; a
file for a day that has already landed is left for bronze to refuse loudly (bronze is immutable).
The inbox (WORKBENCH_INBOX) may be an `s3://` prefix: its objects are listed and read through dagster-aws's
S3Resource into a temporary copy, and judged by exactly the same rules.
"""

import hashlib
from collections import defaultdict

import dagster as dg

from resources.bronze_store import BronzeStore
from resources.environment import settings
from resources.feeds.landing import LandingFile, StrayFiles, scan_inbox, staged_inbox

REASON_TAG = "workbench/reason"


def new_files(files: list[LandingFile], store: BronzeStore) -> dict[str, list[LandingFile]]:
    """Files whose name is not yet in the bronze manifest of their feed and arrival day, by arrival day."""
    days: dict[str, set[str]] = defaultdict(set)
    for f in files:
        days[f.feed].add(f.arrival_date.isoformat())
    landed = {(m.feed, m.arrival_date): set(m.source_files) for feed, dates in days.items() for m in store.manifests(feed, dates)}
    by_day: dict[str, list[LandingFile]] = defaultdict(list)
    for f in files:
        if f.path.name not in landed.get((f.feed, f.arrival_date.isoformat()), set()):
            by_day[f.arrival_date.isoformat()].append(f)
    return dict(by_day)


def run_key(day: str, files: list[LandingFile]) -> str:
    digest = hashlib.sha256("".join(sorted(f.sha256 for f in files)).encode()).hexdigest()[:16]
    return f"{day}:{digest}"


@dg.sensor(job_name="ingest", minimum_interval_seconds=60, default_status=dg.DefaultSensorStatus.STOPPED,
           description="Requests ingestion of an arrival day when new files appear in the landing directory (WORKBENCH_FEED_SOURCE=landing).")
def landing_arrivals(context: dg.SensorEvaluationContext, bronze_store: BronzeStore):
    s = settings()
    if s.feed_source != "landing":
        return dg.SkipReason(f"feed source is {s.feed_source}; this sensor watches {s.inbox} when WORKBENCH_FEED_SOURCE=landing")
    try:
        with staged_inbox(s.inbox, s.s3_endpoint_url) as folder:
            files = scan_inbox(folder, shown_as=s.inbox)
    except StrayFiles as stray:
        return dg.SkipReason(str(stray))
    pending = new_files(files, bronze_store)
    if not pending:
        return dg.SkipReason(f"no new files in {s.inbox} ({len(files)} already landed)")
    valid_days = set(context.repository_def.get_job("ingest").partitions_def.get_partition_keys()) if context.repository_def else None
    requests, skipped = [], []
    for day, day_files in sorted(pending.items()):
        if valid_days is not None and day not in valid_days:
            skipped.append(day)
            continue
        feeds = sorted({f.feed for f in day_files})
        requests.append(dg.RunRequest(run_key=run_key(day, day_files), partition_key=day,
                                      tags={REASON_TAG: f"{len(day_files)} new file(s) for {', '.join(feeds)}"}))
    if skipped:
        context.log.warning(f"arrival days outside the partitions: {', '.join(skipped)}")
    return requests or dg.SkipReason(f"new files only for days outside the partitions: {', '.join(skipped)}")
