"""Encounter, Procedure, Claim and ExplanationOfBenefit resources: the rows medical claim lines are built from."""

from __future__ import annotations

from resources.feeds.fhir.codes import PROCEDURE
from resources.feeds.fhir.diagnoses import VISIT_TYPE, _diagnosis_rows
from resources.feeds.fhir.elements import _code, _coding, _first, _npi, _ref_id, _when
from resources.feeds.fhir.tables import Row

BLUE_BUTTON = "https://bluebutton.cms.gov/resources/variables/"
BILLED_CATEGORIES = {"submitted", BLUE_BUTTON + "line_sbmtd_chrg_amt"}
PAID_CATEGORIES = {"benefit", BLUE_BUTTON + "line_prvdr_pmt_amt"}


def _adjudicated(item: dict, categories: set[str]) -> str | None:
    return next((a.get("amount", {}).get("value") for a in item.get("adjudication") or [] if _code(a.get("category")) in categories), None)


def _encounter(r: dict) -> list[Row]:
    key, period = f"Encounter/{r.get('id')}", r.get("period") or {}
    type_system, type_code, _ = _coding(_first(r.get("type")), PROCEDURE)
    return [("encounter", {
        "encounter_id": r.get("id"), "patient_id": _ref_id(r.get("subject")), "start": period.get("start"), "end": period.get("end"),
        "class_code": (r.get("class") or {}).get("code"), "type_system": type_system, "type_code": type_code, "npi": _npi(r.get("participant")),
    }), ("dx_candidate", {"key": key, "rank": VISIT_TYPE, "order": 0, "system": type_system, "code": type_code}),
        *_diagnosis_rows(key, r.get("reasonCode"), r.get("reasonReference"))]


def _procedure(r: dict) -> list[Row]:
    system, code, _ = _coding(r.get("code"), PROCEDURE)
    performed = r.get("performedPeriod") or {}
    return [("procedure", {
        "procedure_id": r.get("id"), "patient_id": _ref_id(r.get("subject")), "encounter_id": _ref_id(r.get("encounter")),
        "start": performed.get("start") or r.get("performedDateTime"), "end": performed.get("end"), "system": system, "code": code,
        "npi": _npi(r.get("performer")),
    }), *_diagnosis_rows(f"Procedure/{r.get('id')}", r.get("reasonCode"), r.get("reasonReference"))]


def _claim(r: dict) -> list[Row]:
    """A Claim or ExplanationOfBenefit: one line per item, diagnoses in sequence order."""
    if _code(r.get("type")) == "pharmacy":
        return [("skipped", {"reason": f"{r.get('resourceType')} type pharmacy (fills come from the medication resources)"})]
    key, billable = f"{r.get('resourceType')}/{r.get('id')}", r.get("billablePeriod") or {}
    common = {
        "claim_id": r.get("id"), "replaces_claim": _ref_id(r.get("claim")), "patient_id": _ref_id(r.get("patient")),
        "paid": (r.get("payment") or {}).get("date") or r.get("created"), "npi": _npi(r.get("careTeam")), "dx_key": key,
    }
    lines = [("claim_item", {
        **common, "claim_line": item.get("sequence"), "start": _when(item, "servicedDate", "servicedPeriod") or billable.get("start"),
        "end": (item.get("servicedPeriod") or {}).get("end") or billable.get("end"),
        "pos": _coding(item.get("locationCodeableConcept"), ("POS",))[1], "encounter_id": _ref_id(_first(item.get("encounter"))),
        **dict(zip(("system", "code"), _coding(item.get("productOrService"), PROCEDURE))),
        "billed_amount": (item.get("net") or {}).get("value") or _adjudicated(item, BILLED_CATEGORIES),
        "paid_amount": _adjudicated(item, PAID_CATEGORIES),
    }) for item in r.get("item") or []]
    ordered = sorted(r.get("diagnosis") or [], key=lambda d: int(d.get("sequence") or 0))
    coded = [d["diagnosisCodeableConcept"] for d in ordered if "diagnosisCodeableConcept" in d]
    return lines + _diagnosis_rows(key, coded, [d["diagnosisReference"] for d in ordered if "diagnosisReference" in d])
