"""FHIR R4 Bulk Data export (one NDJSON file per resource type) mapped onto the five raw feeds.

Two steps keep this readable and table-driven: small per-resource functions flatten each JSON resource into
rows of intermediate tables (patient, encounter, procedure, ...), then polars assembles each feed from those
tables and translates codes through `fhir_code_map.csv` (SNOMED CT / RxNorm to ICD-10-CM, CPT/HCPCS, NDC).
Every output row keeps the file name and line of the resource it came from. An unmapped code keeps its source
code (silver then quarantines the row for an invalid code instead of it vanishing) and is counted in the report.

Where FHIR lacks what a feed needs, the choice is documented and listed in `FhirReport.approximations`:
- no Claim/ExplanationOfBenefit: claim lines come from Encounter (line 1: visit code from the encounter type) and
  Procedure (lines 2..n of the encounter's claim), with billed and paid amounts 0;
- Claim/ExplanationOfBenefit present: their items are the claim lines and replace the lines of the encounters
  they bill (an EOB replaces the Claim it adjudicates); pharmacy claims are left to the medication resources;
- no Coverage for a patient: one open enrollment span in `default_line_of_business`, plan `FHIR-DEFAULT`, from the
  first encounter (not before the contract's earliest coverage_start) to death;
- MedicationRequest stands in for a dispensing: fill_date = authoredOn, days supply from
  dispenseRequest.expectedSupplyDuration (else 30), quantity from dispenseRequest.quantity (else the days supply).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, FEEDS, SOURCE_FILE, SOURCE_LINE, contract
from resources.feeds.landing import BadFeedFile, file_bytes, file_format, json_lines, utf8_text

CODE_MAP_FILE = Path(__file__).with_name("fhir_code_map.csv")
SYSTEMS = {
    "http://snomed.info/sct": "SNOMED",
    "http://www.nlm.nih.gov/research/umls/rxnorm": "RXNORM",
    "http://loinc.org": "LOINC",
    "http://hl7.org/fhir/sid/icd-10-cm": "ICD10CM",
    "http://www.ama-assn.org/go/cpt": "CPT",
    "https://www.cms.gov/Medicare/Coding/HCPCSReleaseCodeSets": "HCPCS",
    "http://hl7.org/fhir/sid/ndc": "NDC",
    "http://terminology.hl7.org/CodeSystem/v3-ActCode": "ACTCODE",
    "https://nahdo.org/sopt": "SOPT",
    "urn:oid:2.16.840.1.113883.3.221.5": "SOPT",
    "https://www.cms.gov/Medicare/Coding/place-of-service-codes/Place_of_Service_Code_Set": "POS",
    "https://bluebutton.cms.gov/resources/variables/line_place_of_srvc_cd": "POS",
}
DIAGNOSIS, PROCEDURE, DRUG = ("ICD10CM",), ("CPT", "HCPCS"), ("NDC",)
VOID_STATUSES = {"cancelled", "entered-in-error", "draft", "planned", "not-done", "refuted", "declined"}
DAYS_PER_UNIT = {"d": 1, "day": 1, "days": 1, "wk": 7, "mo": 30, "a": 365}
PAYOR_KEYWORDS = (("medicare", "medicare"), ("medicaid", "medicaid"))
DEFAULT_PLAN_ID = "FHIR-DEFAULT"
DEFAULT_DAYS_SUPPLY = "30"
SOURCE_SYSTEM = "fhir-bulk"
BLUE_BUTTON = "https://bluebutton.cms.gov/resources/variables/"
BILLED_CATEGORIES = {"submitted", BLUE_BUTTON + "line_sbmtd_chrg_amt"}
PAID_CATEGORIES = {"benefit", BLUE_BUTTON + "line_prvdr_pmt_amt"}
# Diagnosis candidates for a claim line, best first: coded reasons, referenced conditions, a preventive visit's
# Z-code, conditions recorded at the encounter, then (for a procedure) its encounter's diagnoses.
REASON, REASON_LINK, VISIT_TYPE, AT_ENCOUNTER, OF_ENCOUNTER = range(5)

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


@dataclass
class FhirReport:
    """What an export delivered and how it was mapped: the counts a reviewer needs to trust (or doubt) the feeds."""

    resources_read: dict[str, int] = field(default_factory=dict)
    rows_per_feed: dict[str, int] = field(default_factory=dict)
    unknown_resource_types: dict[str, int] = field(default_factory=dict)
    unmapped_codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    approximations: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    def count_unmapped(self, frame: pl.DataFrame, system: str, code: str, mapped: str) -> None:
        """Count each output occurrence of a source code the code map does not translate, by (system, code)."""
        missing = frame.filter(pl.col(code).is_not_null() & ~pl.col(mapped).fill_null(True)).group_by(system, code).len()
        self.unmapped_codes.update({(s or "", c): n for s, c, n in missing.iter_rows()})


# --- reading one resource ----------------------------------------------------------------------------------------

def _system(uri: str | None) -> str | None:
    return SYSTEMS.get(uri, uri) if uri else None


def _coding(concept: dict | None, prefer: tuple[str, ...] = ()) -> tuple[str | None, str | None, str | None]:
    """(system, code, display) of a CodeableConcept, taking a coding already in a preferred system when there is one."""
    concept = concept or {}
    codings = concept.get("coding") or [{}]
    chosen = next((c for c in codings if _system(c.get("system")) in prefer), codings[0])
    return _system(chosen.get("system")), chosen.get("code"), chosen.get("display") or concept.get("text")


def _code(concept: dict | None) -> str | None:
    return _coding(concept)[1]


def _ref_id(reference: dict | None) -> str | None:
    """`Patient/abc`, `urn:uuid:abc` or `#abc` -> `abc`."""
    text = (reference or {}).get("reference") or ""
    return text.rsplit("/", 1)[-1].removeprefix("urn:uuid:").removeprefix("#") or None


def _first(items: list | None) -> dict:
    return (items or [{}])[0]


def _when(resource: dict, *names: str) -> str | None:
    """The first present dateTime among `names`, reading a Period's start."""
    for name in names:
        value = resource.get(name)
        if value:
            return value.get("start") if isinstance(value, dict) else value
    return None


def _npi(participants: list | None) -> str | None:
    """The first participant NPI, given as an identifier or inside a conditional reference (`...us-npi|123`)."""
    for participant in participants or []:
        actor = participant.get("individual") or participant.get("actor") or participant.get("provider") or {}
        identifier = actor.get("identifier") or {}
        if "us-npi" in (identifier.get("system") or ""):
            return identifier.get("value")
        if "us-npi|" in (actor.get("reference") or ""):
            return actor["reference"].rsplit("|", 1)[1]
    return None


def _integer_text(value: str | None) -> str | None:
    """`30.0` -> `30` so an integer column casts; other values stay as written."""
    return str(int(float(value))) if value is not None and float(value).is_integer() else value


def _adjudicated(item: dict, categories: set[str]) -> str | None:
    return next((a.get("amount", {}).get("value") for a in item.get("adjudication") or [] if _code(a.get("category")) in categories), None)


def _voided(resource: dict) -> str | None:
    """Why a resource records nothing that happened (cancelled, entered in error, refuted ...), if it does not."""
    status = resource.get("status") or _code(resource.get("verificationStatus"))
    return f"{resource.get('resourceType')} status {status}" if status in VOID_STATUSES else None


def _diagnosis_rows(key: str, reasons: list | None, links: list | None) -> list[Row]:
    """Diagnosis candidates of a claim line: coded reasons, then conditions referenced by id."""
    coded = [("dx_candidate", {"key": key, "rank": REASON, "order": i, **dict(zip(("system", "code"), _coding(c, DIAGNOSIS)))})
             for i, c in enumerate(reasons or [])]
    linked = [("dx_reference", {"key": key, "rank": REASON_LINK, "order": i, "condition_id": _ref_id(r)}) for i, r in enumerate(links or [])]
    return coded + linked


# --- one small function per resource type: resource -> rows of intermediate tables ------------------------------

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


def _encounter(r: dict) -> list[Row]:
    key, period = f"Encounter/{r.get('id')}", r.get("period") or {}
    type_system, type_code, _ = _coding(_first(r.get("type")), PROCEDURE)
    return [("encounter", {
        "encounter_id": r.get("id"), "patient_id": _ref_id(r.get("subject")), "start": period.get("start"), "end": period.get("end"),
        "class_code": (r.get("class") or {}).get("code"), "type_system": type_system, "type_code": type_code, "npi": _npi(r.get("participant")),
    }), ("dx_candidate", {"key": key, "rank": VISIT_TYPE, "order": 0, "system": type_system, "code": type_code}),
        *_diagnosis_rows(key, r.get("reasonCode"), r.get("reasonReference"))]


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


def _procedure(r: dict) -> list[Row]:
    system, code, _ = _coding(r.get("code"), PROCEDURE)
    performed = r.get("performedPeriod") or {}
    return [("procedure", {
        "procedure_id": r.get("id"), "patient_id": _ref_id(r.get("subject")), "encounter_id": _ref_id(r.get("encounter")),
        "start": performed.get("start") or r.get("performedDateTime"), "end": performed.get("end"), "system": system, "code": code,
        "npi": _npi(r.get("performer")),
    }), *_diagnosis_rows(f"Procedure/{r.get('id')}", r.get("reasonCode"), r.get("reasonReference"))]


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


MAPPERS: dict[str, Callable[[dict], list[Row]]] = {
    "Patient": _patient, "Coverage": _coverage, "Encounter": _encounter, "Condition": _condition, "Observation": _observation,
    "Procedure": _procedure, "MedicationDispense": _dispense, "MedicationRequest": _request, "Medication": _medication,
    "Claim": _claim, "ExplanationOfBenefit": _claim,
}


# --- reading an export -------------------------------------------------------------------------------------------

def _ndjson_files(directory: Path, report: FhirReport) -> list[tuple[Path, bool]]:
    """(file, gzipped) for the export's NDJSON files; anything else (manifest, licence) is listed in the report, not read."""
    files = []
    for path in sorted(p for p in directory.iterdir() if p.is_file()):
        try:
            kind, gzipped = file_format(path)
        except BadFeedFile:
            kind, gzipped = None, False
        (files.append((path, gzipped)) if kind == "ndjson" else report.ignored_files.append(path.name))
    return files


def _resources(directory: Path, report: FhirReport) -> Iterable[tuple[str, int, dict]]:
    for path, gzipped in _ndjson_files(directory, report):
        for line, resource in json_lines(path.name, utf8_text(path.name, file_bytes(path, gzipped))):
            yield path.name, line, resource


def _table_schema(name: str) -> dict[str, pl.DataType]:
    return {**{c: pl.Int64 if c in ("rank", "order") else pl.String for c in TABLES[name]}, SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64}


def read_tables(directory: Path, report: FhirReport) -> dict[str, pl.DataFrame]:
    """Every resource flattened into the intermediate tables, each row carrying its file and line."""
    if not directory.is_dir():
        raise FileNotFoundError(f"FHIR bulk export folder {directory} does not exist")
    rows: dict[str, list[dict]] = {name: [] for name in TABLES}
    read, unknown = Counter(), Counter()
    for source_file, line, resource in _resources(directory, report):
        kind = resource.get("resourceType") or "(no resourceType)"
        read[kind] += 1
        if kind not in MAPPERS:
            unknown[kind] += 1
            continue
        voided = _voided(resource)
        for table, row in [("skipped", {"reason": voided})] if voided else MAPPERS[kind](resource):
            rows[table].append({**row, SOURCE_FILE: source_file, SOURCE_LINE: line})
    report.resources_read, report.unknown_resource_types = dict(sorted(read.items())), dict(sorted(unknown.items()))
    tables = {name: pl.from_dicts(rows[name], schema=_table_schema(name)) for name in TABLES}
    report.skipped.update(dict(tables["skipped"].group_by("reason").len().iter_rows()))
    return tables


# --- code mapping ------------------------------------------------------------------------------------------------

@cache
def code_map() -> pl.DataFrame:
    """The crosswalk table; a (system, code, target_system) given twice is an error, not a silent pick."""
    table = pl.read_csv(CODE_MAP_FILE, comment_prefix="#", infer_schema=False)
    repeated = table.filter(pl.struct("system", "code", "target_system").is_duplicated())
    if repeated.height:
        raise ValueError(f"{CODE_MAP_FILE.name}: repeated mappings {repeated.select('system', 'code', 'target_system').rows()}")
    return table


def map_codes(frame: pl.DataFrame, system: str, code: str, targets: tuple[str, ...], out: str, extras: tuple[str, ...] = ()) -> pl.DataFrame:
    """Add `out` (the target code, or the source code when unmapped) and `<out>_mapped`; codes already in a target system pass."""
    lookup = code_map().filter(pl.col("target_system").is_in(targets)).select(
        pl.col("system").alias(system), pl.col("code").alias(code), pl.col("target_code").alias("_target"), *extras
    )
    native = pl.col(system).is_in(targets).fill_null(False)
    return frame.join(lookup, on=[system, code], how="left").with_columns(
        pl.when(native).then(pl.col(code)).otherwise(pl.coalesce("_target", code)).alias(out),
        (native | pl.col("_target").is_not_null()).alias(f"{out}_mapped"),
    ).drop("_target")


def _day(column: str) -> pl.Expr:
    """The calendar date as written in a FHIR dateTime (the sender's local date, no time-zone shift)."""
    return pl.col(column).str.slice(0, 10)


def _members(tables: dict[str, pl.DataFrame]) -> pl.Expr:
    """Patient id -> member id (the member identifier when the export carries one)."""
    patients = tables["patient"].unique("patient_id", keep="last")  # an export may repeat a resource
    return pl.col("patient_id").replace(patients["patient_id"], patients["member_id"]).alias("member_id")


# --- feeds --------------------------------------------------------------------------------------------------------

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


def _diagnosis_candidates(tables: dict[str, pl.DataFrame]) -> pl.DataFrame:
    """Coded diagnosis candidates plus those given by reference to a Condition in the export."""
    conditions = tables["condition"].select("condition_id", "system", "code")
    linked = tables["dx_reference"].join(conditions, on="condition_id", how="inner").drop("condition_id")
    return pl.concat([tables["dx_candidate"], linked], how="diagonal").filter(pl.col("code").is_not_null())


def pick_diagnoses(candidates: pl.DataFrame) -> pl.DataFrame:
    """Up to two distinct diagnoses per claim-line key, long form (slot 1 or 2), mapped before unmapped, then by rank.

    An unmapped code fills only slot 1 (the required diagnosis, so the line is quarantined for it rather than lost);
    the optional second slot takes only a mapped code, so a stray finding cannot spoil an otherwise valid line.
    """
    mapped = map_codes(candidates, "system", "code", DIAGNOSIS, "dx")
    usable = mapped.filter((pl.col("rank") != VISIT_TYPE) | pl.col("dx_mapped"))  # a visit type is a diagnosis only through the map
    ranked = usable.sort(~pl.col("dx_mapped"), "rank", SOURCE_LINE, "order").unique(["key", "dx"], keep="first", maintain_order=True)
    slotted = ranked.with_columns((pl.int_range(pl.len()).over("key") + 1).alias("slot"))
    return slotted.filter((pl.col("slot") == 1) | ((pl.col("slot") == 2) & pl.col("dx_mapped"))).select("key", "slot", "system", "code", "dx", "dx_mapped")


def _in_slot(slot: int, column: str) -> pl.Expr:
    return pl.col(column).filter(pl.col("slot") == slot).first()


def _diagnosis_columns(picked: pl.DataFrame) -> pl.DataFrame:
    """Long picks -> diagnosis_code_1/2 plus their source system, code and mapped flag (for the unmapped count)."""
    return picked.group_by("key").agg(
        *[_in_slot(n, "dx").alias(f"diagnosis_code_{n}") for n in (1, 2)],
        *[_in_slot(n, c).alias(f"dx{n}_{c.removeprefix('dx_')}") for n in (1, 2) for c in ("system", "code", "dx_mapped")],
    )


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


def _inherited_diagnoses(procedures: pl.DataFrame, encounter_picks: pl.DataFrame) -> pl.DataFrame:
    """A procedure line falls back on its encounter's diagnoses."""
    links = procedures.select((pl.lit("Procedure/") + pl.col("procedure_id")).alias("key"), (pl.lit("Encounter/") + pl.col("encounter_id")).alias("visit"))
    return links.join(encounter_picks.rename({"key": "visit"}), on="visit", how="inner").select(
        "key", pl.lit(OF_ENCOUNTER, pl.Int64).alias("rank"), pl.col("slot").cast(pl.Int64).alias("order"), "system", "code",
        pl.lit(None, pl.Int64).alias(SOURCE_LINE),
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
