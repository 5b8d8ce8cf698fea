"""Reading an export: its NDJSON files, resource by resource, flattened into the intermediate tables."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import polars as pl

from resources.feeds.contract import SOURCE_FILE, SOURCE_LINE
from resources.feeds.fhir.claim_resources import _claim, _encounter, _procedure
from resources.feeds.fhir.clinical import _condition, _observation
from resources.feeds.fhir.elements import _code
from resources.feeds.fhir.eligibility import _coverage, _patient
from resources.feeds.fhir.pharmacy import _dispense, _medication, _request
from resources.feeds.fhir.report import FhirReport
from resources.feeds.fhir.tables import TABLES, Row
from resources.feeds.landing import BadFeedFile, file_bytes, file_format, json_lines, utf8_text

VOID_STATUSES = {"cancelled", "entered-in-error", "draft", "planned", "not-done", "refuted", "declined"}

MAPPERS: dict[str, Callable[[dict], list[Row]]] = {
    "Patient": _patient, "Coverage": _coverage, "Encounter": _encounter, "Condition": _condition, "Observation": _observation,
    "Procedure": _procedure, "MedicationDispense": _dispense, "MedicationRequest": _request, "Medication": _medication,
    "Claim": _claim, "ExplanationOfBenefit": _claim,
}


def _voided(resource: dict) -> str | None:
    """Why a resource records nothing that happened (cancelled, entered in error, refuted ...), if it does not."""
    status = resource.get("status") or _code(resource.get("verificationStatus"))
    return f"{resource.get('resourceType')} status {status}" if status in VOID_STATUSES else None


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
