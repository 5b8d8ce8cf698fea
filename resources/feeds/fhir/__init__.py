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

Layout: `reading` flattens the export into the `tables` (per-resource functions live with the feed they serve:
`eligibility`, `claim_resources`, `pharmacy`, `clinical`), `codes` holds the code map, `diagnoses` picks claim-line
diagnoses, the feed modules (`eligibility`, `claims`, `pharmacy`, `clinical`) assemble the feeds, and `bulk` runs it all.
"""

from resources.feeds.fhir.bulk import read_fhir_bulk
from resources.feeds.fhir.claim_resources import BILLED_CATEGORIES, BLUE_BUTTON, PAID_CATEGORIES
from resources.feeds.fhir.claims import medical_claims
from resources.feeds.fhir.clinical import SOURCE_SYSTEM, clinical_records, lab_results
from resources.feeds.fhir.codes import CODE_MAP_FILE, DIAGNOSIS, DRUG, PROCEDURE, code_map, map_codes
from resources.feeds.fhir.diagnoses import AT_ENCOUNTER, OF_ENCOUNTER, REASON, REASON_LINK, VISIT_TYPE, pick_diagnoses
from resources.feeds.fhir.elements import SYSTEMS
from resources.feeds.fhir.eligibility import DEFAULT_PLAN_ID, PAYOR_KEYWORDS, eligibility
from resources.feeds.fhir.pharmacy import DAYS_PER_UNIT, DEFAULT_DAYS_SUPPLY, pharmacy_fills
from resources.feeds.fhir.reading import MAPPERS, VOID_STATUSES, read_tables
from resources.feeds.fhir.report import FhirReport
from resources.feeds.fhir.tables import TABLES, Row

__all__ = [
    "AT_ENCOUNTER", "BILLED_CATEGORIES", "BLUE_BUTTON", "CODE_MAP_FILE", "DAYS_PER_UNIT", "DEFAULT_DAYS_SUPPLY", "DEFAULT_PLAN_ID",
    "DIAGNOSIS", "DRUG", "MAPPERS", "OF_ENCOUNTER", "PAID_CATEGORIES", "PAYOR_KEYWORDS", "PROCEDURE", "REASON", "REASON_LINK",
    "SOURCE_SYSTEM", "SYSTEMS", "TABLES", "VISIT_TYPE", "VOID_STATUSES",
    "FhirReport", "Row", "clinical_records", "code_map", "eligibility", "lab_results", "map_codes", "medical_claims",
    "pharmacy_fills", "pick_diagnoses", "read_fhir_bulk", "read_tables",
]
