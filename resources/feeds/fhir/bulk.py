"""One FHIR bulk export in, every feed out in the raw shape, with the report of how it was mapped."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, FEEDS, SOURCE_FILE, SOURCE_LINE, contract
from resources.feeds.fhir.claims import medical_claims
from resources.feeds.fhir.clinical import clinical_records, lab_results
from resources.feeds.fhir.eligibility import eligibility
from resources.feeds.fhir.pharmacy import pharmacy_fills
from resources.feeds.fhir.reading import read_tables
from resources.feeds.fhir.report import FhirReport


def _raw(frame: pl.DataFrame, feed: str, arrival_date: date) -> pl.DataFrame:
    """The feed's contract columns as text plus lineage: the raw shape every feed source delivers."""
    return frame.select(
        *[pl.col(c).cast(pl.String) for c in contract(feed).column_names],
        pl.col(SOURCE_FILE), pl.col(SOURCE_LINE).cast(pl.Int64), pl.lit(arrival_date, pl.Date).alias(ARRIVAL_DATE),
    ).sort(SOURCE_FILE, SOURCE_LINE, maintain_order=True)


def read_fhir_bulk(directory: Path, arrival_date: date, default_line_of_business: str = "commercial") -> tuple[dict[str, pl.DataFrame], FhirReport]:
    """Every feed (possibly empty) in the raw shape from one FHIR R4 bulk export, and the report of how it was mapped.

    A damaged NDJSON line raises BadFeedFile naming the file and line: resources reference each other, so a
    partly read export would map into orphaned rows.
    """
    allowed = contract("eligibility").columns["line_of_business"].allowed or ()
    if default_line_of_business not in allowed:
        raise ValueError(f"default_line_of_business {default_line_of_business!r} is not one of: {', '.join(allowed)}")
    report = FhirReport()
    tables = read_tables(directory, report)
    built = {
        "eligibility": eligibility(tables, default_line_of_business, report),
        "medical_claims": medical_claims(tables, report),
        "pharmacy_fills": pharmacy_fills(tables, report),
        "lab_results": lab_results(tables, report),
        "clinical_records": clinical_records(tables, report),
    }
    frames = {feed: _raw(built[feed], feed, arrival_date) for feed in FEEDS}
    report.rows_per_feed = {feed: frame.height for feed, frame in frames.items()}
    return frames, report
