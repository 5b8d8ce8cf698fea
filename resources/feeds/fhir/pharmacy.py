"""MedicationDispense, MedicationRequest and Medication resources, and the pharmacy_fills feed built from them."""

from __future__ import annotations

import polars as pl

from resources.feeds.fhir.codes import DRUG, map_codes
from resources.feeds.fhir.elements import _coding, _ref_id
from resources.feeds.fhir.report import FhirReport
from resources.feeds.fhir.tables import Row, _day, _members

DAYS_PER_UNIT = {"d": 1, "day": 1, "days": 1, "wk": 7, "mo": 30, "a": 365}
DEFAULT_DAYS_SUPPLY = "30"


def _integer_text(value: str | None) -> str | None:
    """`30.0` -> `30` so an integer column casts; other values stay as written."""
    return str(int(float(value))) if value is not None and float(value).is_integer() else value


def _drug(r: dict) -> dict:
    system, code, display = _coding(r.get("medicationCodeableConcept"), DRUG)
    reference = r.get("medicationReference") or {}
    return {"medication_id": _ref_id(reference), "system": system, "code": code, "display": display or reference.get("display")}


def _supply_days(duration: dict | None) -> str | None:
    duration = duration or {}
    per_unit, value = DAYS_PER_UNIT.get(duration.get("code") or duration.get("unit")), duration.get("value")
    return _integer_text(str(float(value) * per_unit)) if value is not None and per_unit else None


def _dispense(r: dict) -> list[Row]:
    return [("fill", {
        "fill_id": r.get("id"), "origin": "MedicationDispense", "patient_id": _ref_id(r.get("subject")),
        "fill_date": r.get("whenHandedOver") or r.get("whenPrepared"), **_drug(r),
        "days_supply": _integer_text((r.get("daysSupply") or {}).get("value")), "quantity": (r.get("quantity") or {}).get("value"),
    })]


def _request(r: dict) -> list[Row]:
    supply = r.get("dispenseRequest") or {}
    return [("fill", {
        "fill_id": r.get("id"), "origin": "MedicationRequest", "patient_id": _ref_id(r.get("subject")), "fill_date": r.get("authoredOn"),
        **_drug(r), "days_supply": _supply_days(supply.get("expectedSupplyDuration")), "quantity": (supply.get("quantity") or {}).get("value"),
    })]


def _medication(r: dict) -> list[Row]:
    system, code, display = _coding(r.get("code"), DRUG)
    return [("medication", {"medication_id": r.get("id"), "system": system, "code": code, "display": display})]


def pharmacy_fills(tables: dict[str, pl.DataFrame], report: FhirReport) -> pl.DataFrame:
    """Dispensings as they are; prescriptions as approximate fills (flagged); NDC and class through the code map."""
    referenced = tables["medication"].select("medication_id", *[pl.col(c).alias(f"med_{c}") for c in ("system", "code", "display")])
    fills = tables["fill"].join(referenced, on="medication_id", how="left").with_columns(
        pl.coalesce(c, f"med_{c}").alias(c) for c in ("system", "code", "display")
    )
    fills = map_codes(fills, "system", "code", DRUG, "ndc", ("therapeutic_class", "strength_mg"))
    report.count_unmapped(fills, "system", "code", "ndc_mapped")
    ordered = pl.col("origin") == "MedicationRequest"
    days = pl.coalesce("days_supply", pl.when(ordered).then(pl.lit(DEFAULT_DAYS_SUPPLY)))
    requests = fills.filter(ordered)
    if requests.height:
        report.approximations.append(
            f"pharmacy_fills: {requests.height} MedicationRequest order(s) used as fills (fill_date = authoredOn; days supply {DEFAULT_DAYS_SUPPLY} "
            f"on {requests['days_supply'].null_count()} without expectedSupplyDuration; quantity = days supply when not ordered): adherence is approximate"
        )
    if fills.height:
        report.approximations.append(f"pharmacy_fills: paid_amount 0 on {fills.height} fill(s) (FHIR medication resources carry no payment)")
    return fills.with_columns(
        _members(tables), _day("fill_date").alias("fill_date"), pl.col("display").alias("drug_name"), days.alias("days_supply"),
        pl.coalesce("quantity", pl.when(ordered).then(days)).alias("quantity"), pl.lit("0").alias("paid_amount"),
    )
