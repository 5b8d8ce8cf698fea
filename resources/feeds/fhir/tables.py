"""The intermediate tables resources are flattened into, and the lookups every feed makes on them."""

from __future__ import annotations

import polars as pl

TABLES: dict[str, tuple[str, ...]] = {
    "patient": ("patient_id", "member_id", "first_name", "last_name", "birth_date", "gender", "address_line", "postal_code", "phone", "deceased"),
    "coverage": ("patient_id", "lob_system", "lob_code", "payor", "plan_id", "start", "end"),
    "encounter": ("encounter_id", "patient_id", "start", "end", "class_code", "type_system", "type_code", "npi"),
    "condition": ("condition_id", "patient_id", "recorded", "system", "code", "source_system"),
    "observation": ("result_id", "patient_id", "category", "effective", "issued", "system", "code", "display", "value", "unit",
                    "reference_low", "reference_high", "performer", "source_system"),
    "procedure": ("procedure_id", "patient_id", "encounter_id", "start", "end", "system", "code", "npi"),
    "fill": ("fill_id", "origin", "patient_id", "fill_date", "medication_id", "system", "code", "display", "days_supply", "quantity"),
    "medication": ("medication_id", "system", "code", "display"),
    "claim_item": ("claim_id", "replaces_claim", "patient_id", "claim_line", "start", "end", "paid", "pos", "encounter_id",
                   "system", "code", "npi", "billed_amount", "paid_amount", "dx_key"),
    "dx_candidate": ("key", "rank", "order", "system", "code"),
    "dx_reference": ("key", "rank", "order", "condition_id"),
    "skipped": ("reason",),
}
Row = tuple[str, dict]


def _day(column: str) -> pl.Expr:
    """The calendar date as written in a FHIR dateTime (the sender's local date, no time-zone shift)."""
    return pl.col(column).str.slice(0, 10)


def _members(tables: dict[str, pl.DataFrame]) -> pl.Expr:
    """Patient id -> member id (the member identifier when the export carries one)."""
    patients = tables["patient"].unique("patient_id", keep="last")  # an export may repeat a resource
    return pl.col("patient_id").replace(patients["patient_id"], patients["member_id"]).alias("member_id")
