"""The medical_claims feed: Claim/EOB items, else Encounter and Procedure lines, with place of service and diagnoses."""

from __future__ import annotations

import polars as pl

from resources.feeds.contract import SOURCE_FILE, SOURCE_LINE
from resources.feeds.fhir.codes import PROCEDURE, map_codes
from resources.feeds.fhir.diagnoses import _diagnosis_candidates, _diagnosis_columns, _inherited_diagnoses, pick_diagnoses
from resources.feeds.fhir.report import FhirReport
from resources.feeds.fhir.tables import _day, _members


def _encounter_lines(encounters: pl.DataFrame) -> pl.DataFrame:
    """Line 1 of each encounter's claim: the visit, coded from the encounter type, at the place its class implies."""
    return encounters.select(
        pl.col("encounter_id").alias("claim_id"), pl.lit("1").alias("claim_line"), "patient_id", "start", "end",
        pl.lit("ACTCODE").alias("pos_system"), pl.col("class_code").alias("pos_code"), "npi",
        pl.col("type_system").alias("px_system"), pl.col("type_code").alias("px_code"),
        (pl.lit("Encounter/") + pl.col("encounter_id")).alias("dx_key"), SOURCE_FILE, SOURCE_LINE,
    )


def _procedure_lines(procedures: pl.DataFrame, encounters: pl.DataFrame) -> pl.DataFrame:
    """Lines 2..n of the encounter's claim in order performed; a procedure without an encounter is its own claim's line 1."""
    ordered = procedures.join(encounters.select("encounter_id", "class_code"), on="encounter_id", how="left").sort("start", SOURCE_LINE)
    line = pl.when(pl.col("encounter_id").is_null()).then(1).otherwise(pl.int_range(pl.len()).over("encounter_id") + 2)
    return ordered.select(
        pl.coalesce("encounter_id", "procedure_id").alias("claim_id"), line.cast(pl.String).alias("claim_line"), "patient_id", "start", "end",
        pl.lit("ACTCODE").alias("pos_system"), pl.col("class_code").alias("pos_code"), "npi",
        pl.col("system").alias("px_system"), pl.col("code").alias("px_code"),
        (pl.lit("Procedure/") + pl.col("procedure_id")).alias("dx_key"), SOURCE_FILE, SOURCE_LINE,
    )


def _claim_lines(items: pl.DataFrame, encounters: pl.DataFrame) -> pl.DataFrame:
    """Claim / EOB items, an EOB replacing the Claim it adjudicates; place of service from the item, else the encounter."""
    current = items.filter(~pl.col("claim_id").is_in(items["replaces_claim"].drop_nulls().implode()))
    settings = current.join(encounters.select("encounter_id", "class_code"), on="encounter_id", how="left")
    return settings.select(
        "claim_id", "claim_line", "patient_id", "start", "end", "paid",
        pl.when(pl.col("pos").is_not_null()).then(pl.lit("POS")).otherwise(pl.lit("ACTCODE")).alias("pos_system"),
        pl.coalesce("pos", "class_code").alias("pos_code"), "npi", pl.col("system").alias("px_system"), pl.col("code").alias("px_code"),
        "encounter_id", "dx_key", "billed_amount", "paid_amount", SOURCE_FILE, SOURCE_LINE,
    )


def medical_claims(tables: dict[str, pl.DataFrame], report: FhirReport) -> pl.DataFrame:
    """Claim lines from Claim/EOB items where present, else from Encounter (the visit) and Procedure (further lines)."""
    claim_lines = _claim_lines(tables["claim_item"], tables["encounter"])
    billed = claim_lines["encounter_id"].drop_nulls().implode()
    encounters = tables["encounter"].filter(~pl.col("encounter_id").is_in(billed))
    procedures = tables["procedure"].filter(~pl.col("encounter_id").is_in(billed).fill_null(False))
    replaced = tables["encounter"].height - encounters.height + tables["procedure"].height - procedures.height
    if replaced:
        report.skipped["Encounter/Procedure billed by a Claim or ExplanationOfBenefit"] += replaced
    clinical = pl.concat([_encounter_lines(encounters), _procedure_lines(procedures, encounters)]).with_columns(
        billed_amount=pl.lit("0"), paid_amount=pl.lit("0")
    )
    if clinical.height:
        report.approximations.append(f"medical_claims: {clinical.height} line(s) built from Encounter/Procedure with billed and paid amounts 0")
    candidates = _diagnosis_candidates(tables)
    picks = pick_diagnoses(pl.concat([candidates, _inherited_diagnoses(procedures, pick_diagnoses(candidates))], how="diagonal"))
    lines = pl.concat([claim_lines, clinical], how="diagonal").join(_diagnosis_columns(picks), left_on="dx_key", right_on="key", how="left")
    lines = map_codes(map_codes(lines, "px_system", "px_code", PROCEDURE, "procedure_code"), "pos_system", "pos_code", ("POS",), "place_of_service")
    for system, code, mapped in (("px_system", "px_code", "procedure_code_mapped"), ("pos_system", "pos_code", "place_of_service_mapped"),
                                 ("dx1_system", "dx1_code", "dx1_mapped"), ("dx2_system", "dx2_code", "dx2_mapped")):
        report.count_unmapped(lines, system, code, mapped)
    return lines.with_columns(
        _members(tables), _day("start").alias("service_date"), pl.coalesce(_day("paid"), _day("end"), _day("start")).alias("paid_date"),
        pl.col("npi").alias("provider_npi"),
    )
