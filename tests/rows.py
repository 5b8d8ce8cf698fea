"""Hand-built raw rows in the delivered shape, for tests that need exact control of every value."""

from datetime import date

import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE


def raw_rows(records: list[dict[str, str | None]], arrival: date = date(2025, 3, 3), source: str = "delivery.csv") -> pl.DataFrame:
    """Text rows as a sender delivers them, numbered from line 2 of one file."""
    frame = pl.DataFrame(records, schema={k: pl.String for k in records[0]})
    return frame.with_columns(
        pl.lit(source).alias(SOURCE_FILE),
        pl.int_range(2, frame.height + 2, dtype=pl.Int64).alias(SOURCE_LINE),
        pl.lit(arrival).alias(ARRIVAL_DATE),
    )


def fill(**overrides: str | None) -> dict[str, str | None]:
    """A valid pharmacy fill; override any field to make it faulty."""
    base = {
        "fill_id": "R0000000001", "member_id": "M00000001", "fill_date": "2025-03-01", "ndc": "00093505698",
        "drug_name": "atorvastatin 40 mg", "therapeutic_class": "statin", "strength_mg": "40", "days_supply": "30",
        "quantity": "30", "paid_amount": "12.50",
    }
    return {**base, **overrides}


def lab(**overrides: str | None) -> dict[str, str | None]:
    """A valid HbA1c result; override any field to make it faulty."""
    base = {
        "result_id": "L0000000001", "member_id": "M00000001", "collection_date": "2025-03-01", "result_date": "2025-03-02",
        "loinc_code": "4548-4", "test_name": "Hemoglobin A1c", "value": "7.1", "unit": "%", "reference_low": "4.0",
        "reference_high": "5.6", "performing_lab": "Acme Labs",
    }
    return {**base, **overrides}
