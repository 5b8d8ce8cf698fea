"""Condition and Observation resources, and the lab_results and clinical_records feeds built from them."""

from __future__ import annotations

import polars as pl

from resources.feeds.contract import SOURCE_FILE, SOURCE_LINE
from resources.feeds.fhir.codes import DIAGNOSIS, map_codes
from resources.feeds.fhir.diagnoses import AT_ENCOUNTER
from resources.feeds.fhir.elements import _code, _coding, _first, _ref_id, _when
from resources.feeds.fhir.report import FhirReport
from resources.feeds.fhir.tables import Row, _day, _members

SOURCE_SYSTEM = "fhir-bulk"


def _condition(r: dict) -> list[Row]:
    system, code, _ = _coding(r.get("code"), DIAGNOSIS)
    encounter = _ref_id(r.get("encounter"))
    problem = ("condition", {
        "condition_id": r.get("id"), "patient_id": _ref_id(r.get("subject")), "recorded": _when(r, "recordedDate", "onsetDateTime", "onsetPeriod"),
        "system": system, "code": code, "source_system": (r.get("meta") or {}).get("source"),
    })
    at_visit = ("dx_candidate", {"key": f"Encounter/{encounter}", "rank": AT_ENCOUNTER, "order": 0, "system": system, "code": code})
    return [problem, at_visit] if encounter else [problem]


def _measurement(element: dict, result_id: str) -> dict:
    system, code, display = _coding(element.get("code"), ("LOINC",))
    quantity, limits = element.get("valueQuantity") or {}, _first(element.get("referenceRange"))
    return {
        "result_id": result_id, "system": system, "code": code, "display": display, "value": quantity.get("value"),
        "unit": quantity.get("unit") or quantity.get("code"),
        "reference_low": (limits.get("low") or {}).get("value"), "reference_high": (limits.get("high") or {}).get("value"),
    }


def _observation(r: dict) -> list[Row]:
    """A lab or vital sign; a panel (blood pressure) gives one row per component, keyed `<id>-<component code>`."""
    categories = [_code(c) for c in r.get("category") or []]
    category = next((c for c in categories if c in ("laboratory", "vital-signs")), None)
    if category is None:
        return [("skipped", {"reason": f"Observation category {', '.join(c or '?' for c in categories) or 'missing'}"})]
    common = {
        "patient_id": _ref_id(r.get("subject")), "category": category, "effective": _when(r, "effectiveDateTime", "effectivePeriod"),
        "issued": r.get("issued"), "performer": _first(r.get("performer")).get("display"), "source_system": (r.get("meta") or {}).get("source"),
    }
    components = r.get("component") or []
    parts = [] if components and "valueQuantity" not in r else [_measurement(r, r.get("id"))]
    parts += [_measurement(c, f"{r.get('id')}-{_coding(c.get('code'), ('LOINC',))[1]}") for c in components]
    return [("observation", {**common, **part}) for part in parts]


def _loinc_flagged(observations: pl.DataFrame, category: str, report: FhirReport) -> pl.DataFrame:
    """Observations of one category; a code outside LOINC stays as sent and is counted as unmapped."""
    chosen = observations.filter(pl.col("category") == category).with_columns((pl.col("system") == "LOINC").fill_null(False).alias("loinc"))
    report.count_unmapped(chosen, "system", "code", "loinc")
    return chosen


def lab_results(tables: dict[str, pl.DataFrame], report: FhirReport) -> pl.DataFrame:
    """Laboratory observations: LOINC code, numeric value and unit, collection and release dates."""
    return _loinc_flagged(tables["observation"], "laboratory", report).with_columns(
        _members(tables), _day("effective").alias("collection_date"), pl.coalesce(_day("issued"), _day("effective")).alias("result_date"),
        pl.col("code").alias("loinc_code"), pl.col("display").alias("test_name"), pl.col("performer").alias("performing_lab"),
    )


def clinical_records(tables: dict[str, pl.DataFrame], report: FhirReport) -> pl.DataFrame:
    """Problem-list entries (ICD-10-CM through the code map) and vital signs (LOINC, one row per blood-pressure component)."""
    problems = map_codes(tables["condition"], "system", "code", DIAGNOSIS, "icd")
    report.count_unmapped(problems, "system", "code", "icd_mapped")
    problems = problems.select(
        pl.col("condition_id").alias("record_id"), "patient_id", _day("recorded").alias("encounter_date"), pl.lit("problem").alias("record_type"),
        pl.col("icd").alias("code"), pl.lit(None, pl.String).alias("value"), pl.lit(None, pl.String).alias("unit"), "source_system", SOURCE_FILE, SOURCE_LINE,
    )
    vitals = _loinc_flagged(tables["observation"], "vital-signs", report).select(
        pl.col("result_id").alias("record_id"), "patient_id", _day("effective").alias("encounter_date"), pl.lit("vital").alias("record_type"),
        "code", "value", "unit", "source_system", SOURCE_FILE, SOURCE_LINE,
    )
    return pl.concat([problems, vitals]).with_columns(_members(tables), pl.col("source_system").fill_null(SOURCE_SYSTEM))
