"""Patient and Coverage resources, and the eligibility feed built from them (an assumed span where Coverage is missing)."""

from __future__ import annotations

import polars as pl

from resources.feeds.contract import SOURCE_FILE, SOURCE_LINE, contract
from resources.feeds.fhir.codes import map_codes
from resources.feeds.fhir.elements import _code, _coding, _first, _ref_id
from resources.feeds.fhir.report import FhirReport
from resources.feeds.fhir.tables import Row, _day, _members

PAYOR_KEYWORDS = (("medicare", "medicare"), ("medicaid", "medicaid"))
DEFAULT_PLAN_ID = "FHIR-DEFAULT"


def _patient(r: dict) -> list[Row]:
    name = next((n for n in r.get("name") or [] if n.get("use") == "official"), _first(r.get("name")))
    address = _first(r.get("address"))
    member = next((i.get("value") for i in r.get("identifier") or [] if _code(i.get("type")) == "MB"), None)
    return [("patient", {
        "patient_id": r.get("id"), "member_id": member or r.get("id"), "first_name": (name.get("given") or [None])[0],
        "last_name": name.get("family"), "birth_date": r.get("birthDate"), "gender": r.get("gender"),
        "address_line": ", ".join(address.get("line") or []) or None, "postal_code": address.get("postalCode"),
        "phone": next((t.get("value") for t in r.get("telecom") or [] if t.get("system") == "phone"), None),
        "deceased": r.get("deceasedDateTime"),
    })]


def _coverage(r: dict) -> list[Row]:
    lob_system, lob_code, _ = _coding(r.get("type"), ("SOPT",))
    plan = next((c.get("value") for c in r.get("class") or [] if _code(c.get("type")) == "plan"), None)
    payor, period = _first(r.get("payor")), r.get("period") or {}
    return [("coverage", {
        "patient_id": _ref_id(r.get("beneficiary")), "lob_system": lob_system, "lob_code": lob_code,
        "payor": payor.get("display") or payor.get("reference"), "plan_id": plan or r.get("id"),
        "start": period.get("start"), "end": period.get("end"),
    })]


def eligibility(tables: dict[str, pl.DataFrame], default_lob: str, report: FhirReport) -> pl.DataFrame:
    """One enrollment span per Coverage, and an assumed open span for each patient without one."""
    patients = map_codes(tables["patient"].with_columns(pl.lit("GENDER").alias("gender_system")), "gender_system", "gender", ("SEX",), "sex")
    report.count_unmapped(patients, "gender_system", "gender", "sex_mapped")
    demographics = patients.select(
        "patient_id", "first_name", "last_name", "birth_date", "sex", "address_line", pl.col("postal_code").str.slice(0, 5).alias("zip"),
        "phone", _day("deceased").alias("death"), SOURCE_FILE, SOURCE_LINE,
    )
    covered = _coverage_spans(tables["coverage"], default_lob, report)
    with_coverage = covered.join(demographics.drop(SOURCE_FILE, SOURCE_LINE, "death"), on="patient_id", how="left")
    without = _default_spans(tables["encounter"], demographics.join(covered, on="patient_id", how="anti"), default_lob, report)
    return pl.concat([with_coverage, without], how="diagonal").with_columns(_members(tables))


def _coverage_spans(coverage: pl.DataFrame, default_lob: str, report: FhirReport) -> pl.DataFrame:
    """Line of business from the coverage type (source-of-payment typology), else the payor's name, else the default."""
    spans = map_codes(coverage, "lob_system", "lob_code", ("LOB",), "lob")
    report.count_unmapped(spans, "lob_system", "lob_code", "lob_mapped")
    payor = pl.col("payor").str.to_lowercase()
    by_payor = pl.coalesce([pl.when(payor.str.contains(word)).then(pl.lit(lob)) for word, lob in PAYOR_KEYWORDS] + [pl.lit(default_lob)])
    return spans.select(
        "patient_id", pl.when(pl.col("lob_mapped")).then("lob").otherwise(by_payor).alias("line_of_business"), "plan_id",
        _day("start").alias("coverage_start"), _day("end").alias("coverage_end"), SOURCE_FILE, SOURCE_LINE,
    )


def _default_spans(encounters: pl.DataFrame, patients: pl.DataFrame, default_lob: str, report: FhirReport) -> pl.DataFrame:
    """From the first encounter (raised to the contract's earliest coverage_start unless death came before it) to death."""
    floor = contract("eligibility").columns["coverage_start"].min.isoformat()
    first_visit = encounters.group_by("patient_id").agg(_day("start").min().alias("first_visit"))
    start, death = pl.coalesce("first_visit", "birth_date"), pl.col("death")
    spans = patients.join(first_visit, on="patient_id", how="left").with_columns(
        pl.when((start < floor) & ~(death < floor).fill_null(False)).then(pl.lit(floor)).otherwise(start).alias("coverage_start"),
        death.alias("coverage_end"), pl.lit(default_lob).alias("line_of_business"), pl.lit(DEFAULT_PLAN_ID).alias("plan_id"),
    )
    if spans.height:
        report.approximations.append(
            f"eligibility: {spans.height} patient(s) without Coverage enrolled as {default_lob}, plan {DEFAULT_PLAN_ID}, "
            f"from the first encounter (not before {floor}) to death or open"
        )
    return spans.drop("first_visit", "death")
