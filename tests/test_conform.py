"""Silver conformance: every faulty row is quarantined with the rule it broke, nothing is lost, no identifier survives."""

import hashlib
import hmac
import os
from datetime import date

import polars as pl
import pytest

from assets.silver_build import split_feed
from assets.privacy import pseudonyms
from checks.pandera_adapter import failure_summary
from checks.schemas import silver_schema
from checks.silver import reconcile
from resources.feeds.contract import ARRIVAL_DATE, contract
from tests.rows import fill, lab, raw_rows

KEY = os.urandom(32)


def split(feed: str, records: list[dict]) -> tuple[pl.DataFrame, pl.DataFrame]:
    out = split_feed(raw_rows(records), contract(feed), KEY)
    return out.accepted, out.quarantined


def rules_of(quarantined: pl.DataFrame, id_column: str) -> dict[str, str]:
    return dict(quarantined.select(id_column, "_rules").iter_rows())


@pytest.mark.parametrize(
    ("override", "rule"),
    [
        ({"member_id": None}, "member_id:required"),
        ({"member_id": "  "}, "member_id:required"),
        ({"ndc": "123456789"}, "ndc:pattern"),
        ({"days_supply": "999"}, "days_supply:range"),
        ({"days_supply": "0"}, "days_supply:range"),
        ({"paid_amount": "-4.00"}, "paid_amount:range"),
        ({"paid_amount": "$12.50"}, "paid_amount:type"),
        ({"fill_date": "03/01/2025"}, "fill_date:type"),
        ({"therapeutic_class": "vitamins"}, "therapeutic_class:allowed"),
        ({"fill_date": "2025-04-01"}, "record:fill_not_after_arrival"),
    ],
)
def test_each_fault_is_quarantined_with_its_rule(override, rule):
    accepted, quarantined = split("pharmacy_fills", [fill(), fill(fill_id="R0000000002", **override)])
    assert accepted["fill_id"].to_list() == ["R0000000001"]
    assert rules_of(quarantined, "fill_id") == {"R0000000002": rule}


def test_quarantine_keeps_source_file_and_line():
    _, quarantined = split("pharmacy_fills", [fill(), fill(fill_id="R0000000002", ndc="x")])
    assert quarantined.select("_source_file", "_source_line").row(0) == ("delivery.csv", 3)


def test_exact_resend_is_a_duplicate_and_a_correction_becomes_a_new_version():
    first = raw_rows([fill(), fill(), fill(fill_id="R0000000003", paid_amount="10.00")], arrival=date(2025, 3, 3))
    later = raw_rows([fill(fill_id="R0000000003", paid_amount="11.00")], arrival=date(2025, 3, 9), source="later.csv")
    out = split_feed(pl.concat([first, later]), contract("pharmacy_fills"), KEY)
    assert out.quarantined["_rules"].to_list() == ["record:duplicate"]
    versions = out.accepted.filter(pl.col("fill_id") == "R0000000003").sort("_arrival_date")
    assert versions.select("paid_amount", "_valid_to_arrival").rows() == [(10.0, date(2025, 3, 9)), (11.0, None)]


def test_declared_rename_is_mapped_and_unknown_column_dropped():
    renamed = [{**{k: v for k, v in fill().items() if k != "days_supply"}, "days_supplied": "90", "pharmacy_npi": "1234567890"}]
    accepted, quarantined = split("pharmacy_fills", renamed)
    assert quarantined.is_empty()
    assert accepted["days_supply"].to_list() == [90]
    assert "pharmacy_npi" not in accepted.columns and "days_supplied" not in accepted.columns


def test_hba1c_in_mmol_is_converted_and_mislabelled_unit_is_quarantined():
    records = [lab(value="53", unit="mmol/mol"), lab(result_id="L0000000002", value="53", unit="%")]
    accepted, quarantined = split("lab_results", records)
    assert accepted["unit"].to_list() == ["%"] and accepted["value"][0] == pytest.approx(7.0, abs=0.05)
    assert rules_of(quarantined, "result_id") == {"L0000000002": "record:hba1c_percent_plausible"}


def test_no_direct_identifier_reaches_silver_or_quarantine():
    member = {"member_id": "M00000042", "first_name": "Ada", "last_name": "Zqxcanary", "birth_date": "1950-07-04", "sex": "F",
              "address_line": "1 Canary Row", "zip": "02139", "phone": "555-0100", "line_of_business": "medicare",
              "plan_id": "P1", "coverage_start": "2025-01-01", "coverage_end": None}
    bad = {**member, "member_id": "M00000043", "sex": "X"}
    accepted, quarantined = split("eligibility", [member, bad])
    assert accepted.select("birth_year", "zip3").row(0) == (1950, "021")
    for frame in (accepted, quarantined):
        text = frame.write_csv()
        for identifier in ("M00000042", "M00000043", "Ada", "Zqxcanary", "1950-07-04", "Canary Row", "02139", "555-0100"):
            assert identifier not in text


def test_pseudonym_is_the_keyed_hmac_of_the_member_id():
    expected = hmac.new(KEY, b"M00000001", hashlib.sha256).hexdigest()[:16]
    assert pseudonyms(pl.Series(["M00000001", None]), KEY).to_list() == [expected, None]
    assert pseudonyms(pl.Series(["M00000001"]), os.urandom(32))[0] != expected


def test_counts_reconcile_and_silver_satisfies_its_schema():
    records = [fill(fill_id=f"R{i:010d}", member_id=f"M{i:08d}") for i in range(50)]
    records += [fill(fill_id="R0000000100", ndc="1"), fill(fill_id="R0000000101", days_supply="abc"), records[0]]
    raw = raw_rows(records)
    out = split_feed(raw, contract("pharmacy_fills"), KEY)
    landed = raw.group_by(ARRIVAL_DATE).len("rows_in").with_columns(pl.col("rows_in").cast(pl.Int64))
    table = reconcile(landed, out.accepted, out.quarantined)
    assert table.select("rows_in", "accepted", "quarantined", "unaccounted").row(0) == (53, 50, 3, 0)
    assert failure_summary(silver_schema("pharmacy_fills"), out.accepted).is_empty()


def test_silver_schema_check_fails_on_a_row_that_breaks_the_contract():
    accepted, _ = split("pharmacy_fills", [fill(), fill(fill_id="R0000000002")])
    broken = pl.concat([accepted, accepted.head(1).with_columns(pl.lit(0).cast(pl.Int64).alias("days_supply"))])
    rules = set(failure_summary(silver_schema("pharmacy_fills"), broken)["rule"])
    assert rules == {"days_supply:range", "record:one_current_version_per_key"}


def test_silver_schema_check_names_an_unexpected_column():
    accepted, _ = split("pharmacy_fills", [fill()])
    rules = set(failure_summary(silver_schema("pharmacy_fills"), accepted.with_columns(pl.lit("x").alias("member_id")))["rule"])
    assert rules == {"member_id:column_in_schema"}
