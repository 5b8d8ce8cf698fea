"""Feed sources: interchangeable resources that deliver raw feed rows for a set of arrival dates.

Whatever the source (synthetic generator, landing directory, FHIR bulk export), the rows come in one
raw shape (text columns as delivered plus `_source_file`, `_source_line`, `_arrival_date`), so bronze
ingestion has a single code path.
"""

from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import polars as pl

from resources.feeds.contract import ARRIVAL_DATE

if TYPE_CHECKING:
    from resources.feeds.synthetic import SyntheticConfig


@dataclass(frozen=True)
class FeedDelivery:
    """Rows delivered for some arrival dates, files refused whole (left in place, with the reason),
    and what the source wants a reviewer to see (e.g. unmapped codes), as metadata-ready text."""

    rows: pl.DataFrame
    rejected: list[str] = field(default_factory=list)
    notes: dict[str, str] = field(default_factory=dict)


def _on_dates(rows: pl.DataFrame, arrival_dates: set[date]) -> pl.DataFrame:
    return rows.filter(pl.col(ARRIVAL_DATE).is_in(sorted(arrival_dates))) if rows.height else rows


class FeedSource(dg.ConfigurableResource):
    """Base of every feed source; assets depend on this type, so sources swap by configuration."""

    def describe(self) -> str:
        raise NotImplementedError

    def deliver(self, feed: str, arrival_dates: set[date]) -> FeedDelivery:
        raise NotImplementedError

    def true_propensities(self, pseudonym_key: bytes) -> pl.DataFrame | None:
        """The hidden truth per member (`member_key`, `true_p_*`) when the source knows it; real feeds do not."""
        return None


class SyntheticFeedSource(FeedSource):
    """The embedded default: a deterministic synthetic health plan, with production faults at small rates."""

    seed: int = 7
    members: int = 50_000
    months: int = 36
    end_date: str
    faults: bool = True
    claims_outage_since: str | None = None  # the demo's drift: no medical claim serviced on or after this day is delivered
    block_members: int = 50_000  # members generated per block: generating holds one block's events in memory

    def describe(self) -> str:
        outage = f", medical claims from {self.claims_outage_since} withheld (demo drift)" if self.claims_outage_since else ""
        return (f"synthetic plan: {self.members:,} members, {self.months} months to {self.end_date}, seed {self.seed}, "
                f"faults {'on' if self.faults else 'off'}{outage}")

    def plan(self) -> "SyntheticConfig":
        """The generator's configuration for this source."""
        from resources.feeds.synthetic import SyntheticConfig

        return SyntheticConfig(seed=self.seed, members=self.members, months=self.months, end_date=date.fromisoformat(self.end_date))

    def deliver(self, feed: str, arrival_dates: set[date]) -> FeedDelivery:
        from resources.feeds.faults import FaultConfig, claims_outage
        from resources.feeds.spool import spooled_feed

        faults = FaultConfig() if self.faults else FaultConfig.none()
        rows = spooled_feed(self.plan(), feed, faults, self.block_members).rows(arrival_dates)
        if self.claims_outage_since and feed == "medical_claims":
            rows = claims_outage(rows, date.fromisoformat(self.claims_outage_since))
        return FeedDelivery(rows)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        """Delete the spooled feeds and release the generator's caches when the run ends: `make run` runs every job in
        one process, and the population and care history would otherwise stay resident through gold and training."""
        from resources.feeds.spool import release_spools
        from resources.feeds.synthetic import release_plans

        release_spools()
        release_plans()

    def true_propensities(self, pseudonym_key: bytes) -> pl.DataFrame:
        """The generator's true propensities keyed by pseudonym, so the member id never leaves this call."""
        from assets.privacy import pseudonyms
        from resources.feeds.synthetic import true_propensities

        truths = true_propensities(self.plan(), self.block_members)
        return truths.with_columns(pseudonyms(truths["member_id"], pseudonym_key).alias("member_key")).drop("member_id")


class LandingFeedSource(FeedSource):
    """Files dropped into `<inbox>/<feed>/` (CSV, Parquet, NDJSON), as a production landing zone delivers them; the inbox
    is a local folder or an `s3://` prefix (read through a temporary local copy of the requested days' files)."""

    inbox: str
    s3_endpoint_url: str | None = None

    def describe(self) -> str:
        return f"landing directory {self.inbox}"

    def deliver(self, feed: str, arrival_dates: set[date]) -> FeedDelivery:
        from resources.feeds.landing import read_inbox, staged_inbox

        with staged_inbox(self.inbox, self.s3_endpoint_url, feed, arrival_dates) as folder:
            rows, rejections = read_inbox(folder, feed, arrival_dates)
        return FeedDelivery(rows, [f"{self.inbox}/{r.file.relative_to(folder).as_posix()}: {r.reason}" for r in rejections])


class FhirBulkFeedSource(FeedSource):
    """A FHIR R4 Bulk Data export (one NDJSON file per resource type) mapped onto the raw feeds."""

    directory: str
    arrival_date: str
    default_line_of_business: str = "commercial"

    def describe(self) -> str:
        return f"FHIR bulk export {self.directory} (arrived {self.arrival_date})"

    def deliver(self, feed: str, arrival_dates: set[date]) -> FeedDelivery:
        """The export's rows when its arrival date is asked for (bronze asks a month at a time), else nothing."""
        from resources.feeds.fhir import read_fhir_bulk
        from resources.feeds.landing import empty_raw_frame

        if date.fromisoformat(self.arrival_date) not in arrival_dates:
            return FeedDelivery(empty_raw_frame())
        frames, report = read_fhir_bulk(Path(self.directory), date.fromisoformat(self.arrival_date), self.default_line_of_business)
        unmapped = sorted(report.unmapped_codes.items(), key=lambda item: (-item[1], item[0]))[:20]
        notes = {
            "fhir_resources_read": ", ".join(f"{k} {v:,}" for k, v in sorted(report.resources_read.items())) or "none",
            "fhir_unknown_resource_types": ", ".join(f"{k} {v:,}" for k, v in sorted(report.unknown_resource_types.items())) or "none",
            "fhir_unmapped_codes": "; ".join(f"{s} {c} x{n:,}" for (s, c), n in unmapped) or "none",
            "fhir_approximations": "; ".join(report.approximations) or "none",
        }
        return FeedDelivery(_on_dates(frames.get(feed, empty_raw_frame()), arrival_dates), notes=notes)
