"""Role-based access through the warehouse's single read path: tables, rows, de-identification, denials, audit."""

from datetime import date, timedelta

import polars as pl
import pytest

from resources.access import AccessDenied, grant_for, member_shift_days, safe_harbor
from resources.audit import default_path, read_entries
from resources.warehouse import Warehouse

KEYS = ["0a1b2c3d4e5f6071", "1111222233334444", "9f8e7d6c5b4a3928"]


@pytest.fixture
def warehouse_path(tmp_path) -> str:
    path = str(tmp_path / "warehouse.duckdb")
    service = Warehouse(path=path, principal="pipeline-service")
    service.write_table("silver", "eligibility", pl.DataFrame({"member_key": KEYS, "line_of_business": ["commercial", "medicaid", "commercial"],
                                                                "birth_year": [1930, 1980, 1960], "zip3": ["823", "100", "059"]}))
    service.write_table("gold", "features", pl.DataFrame({"member_key": KEYS, "as_of": [date(2026, 3, 31)] * 3, "age": [96, 46, 66],
                                                            "region": ["606", "890", "981"]}))
    service.write_table("quarantine", "eligibility", pl.DataFrame({"member_key": KEYS[:1], "_rules": ["sex:allowed"]}))
    service.write_table("governance", "promotion_ledger", pl.DataFrame({"model": ["m"]}))
    return path


def as_(principal: str, path: str) -> Warehouse:
    return Warehouse(path=path, principal=principal)


def test_pipeline_service_reads_everything(warehouse_path):
    assert as_("pipeline-service", warehouse_path).read_table("gold", "features").height == 3


def test_analyst_sees_only_granted_lines_of_business(warehouse_path):
    assert as_("analyst-commercial", warehouse_path).read_table("gold", "features")["member_key"].to_list() == [KEYS[0], KEYS[2]]
    assert as_("analyst", warehouse_path).read_table("gold", "features").height == 3


def test_a_lazy_table_read_in_batches_holds_every_row_once_keeps_each_member_whole_and_applies_the_row_filter(warehouse_path):
    service = Warehouse(path=warehouse_path, principal="pipeline-service")
    visits = pl.DataFrame({"member_key": [f"{i % 97:016x}" for i in range(2_000)], "visit": range(2_000)})
    service.write_table("silver", "clinical_records", visits.lazy())
    batches = list(service.read_batches("silver", "clinical_records", by=["member_key"], rows=300))
    assert len(batches) == 7 and sum(b.height for b in batches) == 2_000
    assert sorted(pl.concat(batches)["visit"].to_list()) == list(range(2_000))
    members = [set(b["member_key"]) for b in batches]
    assert all(not (a & b) for i, a in enumerate(members) for b in members[i + 1:])
    analyst = as_("analyst-commercial", warehouse_path)
    assert sorted(pl.concat(analyst.read_batches("gold", "features", by=["member_key"], rows=1))["member_key"]) == [KEYS[0], KEYS[2]]


def test_denials_are_named_and_audited(warehouse_path):
    with pytest.raises(AccessDenied, match=r"^analyst-commercial \(analyst\) may not read governance.promotion_ledger$"):
        as_("analyst-commercial", warehouse_path).read_table("governance", "promotion_ledger")
    with pytest.raises(AccessDenied, match="researcher \\(researcher\\) may not read quarantine.eligibility"):
        as_("researcher", warehouse_path).read_table("quarantine", "eligibility")
    denials = [e for e in read_entries(default_path()) if e["action"] == "deny"]
    assert {("analyst-commercial", "governance.promotion_ledger"), ("researcher", "quarantine.eligibility")} <= {(e["principal"], e["target"]) for e in denials}


def test_ad_hoc_sql_is_reserved_to_the_service_and_governance(warehouse_path):
    with pytest.raises(AccessDenied, match="may not run ad-hoc SQL"):
        as_("analyst", warehouse_path).query("SELECT * FROM silver.eligibility")
    assert as_("governance", warehouse_path).query("SELECT count(*) AS n FROM silver.eligibility")["n"][0] == 3


def test_unknown_principal_is_refused_by_name():
    with pytest.raises(AccessDenied, match="principal 'mallory' is not in the access policy"):
        grant_for("mallory")


def test_reads_by_people_are_audited_and_service_reads_are_not(warehouse_path):
    before = len(read_entries(default_path())) if default_path().exists() else 0
    as_("pipeline-service", warehouse_path).read_table("gold", "features")
    as_("researcher", warehouse_path).read_table("gold", "features")
    added = read_entries(default_path())[before:]
    assert [(e["principal"], e["action"], e["target"]) for e in added] == [("researcher", "read", "gold.features")]


def test_researchers_get_safe_harbor_form(warehouse_path):
    seen = as_("researcher", warehouse_path).read_table("gold", "features")
    assert seen["age"].to_list() == [90, 46, 66] and seen["region"].to_list() == ["606", "000", "981"]
    shifts = [(d - date(2026, 3, 31)).days for d in seen["as_of"]]
    assert all(-180 <= s <= 180 for s in shifts) and len(set(shifts)) > 1
    elig = as_("researcher", warehouse_path).read_table("silver", "eligibility")
    assert elig["birth_year"].to_list() == [None, 1980, 1960]
    assert elig["zip3"].to_list() == ["000", "100", "000"]
    assert as_("analyst", warehouse_path).read_table("silver", "eligibility")["zip3"].to_list() == ["823", "100", "059"]


def test_date_shift_is_stable_per_member_so_intervals_survive():
    frame = pl.DataFrame({"member_key": [KEYS[0], KEYS[0]], "event": [date(2025, 1, 1), date(2025, 3, 2)]})
    shifted = safe_harbor(frame, date(2026, 1, 1))
    assert (shifted["event"][1] - shifted["event"][0]).days == 60
    assert shifted["event"][0] == date(2025, 1, 1) + timedelta(days=pl.select(member_shift_days(pl.lit(KEYS[0]))).item())
