"""Hand-built silver tables (typed, pseudonymised, bitemporal) for measure, feature and label tests."""

from datetime import date, timedelta
from itertools import count

import polars as pl

from assets.events import Silver
from checks.schemas import silver_columns
from resources.feeds.contract import FEEDS

LAG = timedelta(days=20)
_ids = count(1)


def _next(prefix: str) -> str:
    return f"{prefix}{next(_ids):010d}"


class SilverBuilder:
    """Rows per feed; every row arrives `LAG` after its service date unless `arrival` is given."""

    def __init__(self) -> None:
        self.rows: dict[str, list[dict]] = {feed: [] for feed in FEEDS}

    def _add(self, feed: str, row: dict, service: date, arrival: date | None) -> "SilverBuilder":
        lineage = {"_source_file": f"{feed}.csv", "_source_line": len(self.rows[feed]) + 2, "_arrival_date": arrival or service + LAG, "_valid_to_arrival": None}
        self.rows[feed].append(row | lineage)
        return self

    def member(self, key: str, sex: str, birth_year: int, start: date = date(2020, 1, 1), end: date | None = None, lob: str = "commercial") -> "SilverBuilder":
        row = {"member_key": key, "birth_year": birth_year, "zip3": "100", "sex": sex, "line_of_business": lob, "plan_id": "P1", "coverage_start": start, "coverage_end": end}
        return self._add("eligibility", row, start, start)

    def claim(self, key: str, day: date, procedure: str = "99213", dx: str = "Z00.00", pos: str = "11", arrival: date | None = None, dx2: str | None = None) -> "SilverBuilder":
        row = {"member_key": key, "claim_id": _next("C"), "claim_line": 1, "service_date": day, "paid_date": day + LAG, "place_of_service": pos,
               "provider_npi": "1234567890", "diagnosis_code_1": dx, "diagnosis_code_2": dx2, "procedure_code": procedure, "billed_amount": 100.0, "paid_amount": 80.0}
        return self._add("medical_claims", row, day, arrival)

    def fill(self, key: str, day: date, days_supply: int = 30, therapeutic_class: str = "statin", arrival: date | None = None) -> "SilverBuilder":
        row = {"member_key": key, "fill_id": _next("R"), "fill_date": day, "ndc": "00071015723", "drug_name": "atorvastatin 40 mg tablet",
               "therapeutic_class": therapeutic_class, "strength_mg": 40.0, "days_supply": days_supply, "quantity": float(days_supply), "paid_amount": 10.0}
        return self._add("pharmacy_fills", row, day, arrival or day + timedelta(days=1))

    def lab(self, key: str, day: date, loinc: str = "4548-4", value: float = 7.2, arrival: date | None = None) -> "SilverBuilder":
        row = {"member_key": key, "result_id": _next("L"), "collection_date": day, "result_date": day + timedelta(days=1), "loinc_code": loinc,
               "test_name": "test", "value": value, "unit": "%", "reference_low": 4.0, "reference_high": 5.6, "performing_lab": "Lab"}
        return self._add("lab_results", row, day, arrival)

    def problem(self, key: str, day: date, code: str, arrival: date | None = None) -> "SilverBuilder":
        row = {"member_key": key, "record_id": _next("K"), "encounter_date": day, "record_type": "problem", "code": code, "value": None, "unit": None, "source_system": "Epic"}
        return self._add("clinical_records", row, day, arrival)

    def build(self) -> Silver:
        frames = {}
        for feed in FEEDS:
            schema = {name: col.dtype.type for name, col in silver_columns(feed).items()}
            frames[feed] = pl.DataFrame(self.rows[feed], schema=schema, orient="row") if self.rows[feed] else pl.DataFrame(schema=schema)
        return Silver.of(frames)
