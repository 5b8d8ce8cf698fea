"""Injected faults: each kind logged with the right count, each visible where the log says, and off means off."""

from datetime import date

import polars as pl
import pytest

from resources.feeds.contract import ARRIVAL_DATE, FEEDS, RAW_LINEAGE, SOURCE_FILE, SOURCE_LINE, contract
from resources.feeds.faults import FAULTS, ROW_FAULTS, SCHEMA_CHANGES, UNIT_MIXUP, FaultConfig, fault_count, inject_faults
from resources.feeds.synthetic import SyntheticConfig, generate_feed

CFG = SyntheticConfig(end_date=date(2025, 6, 30), members=1500, months=12, seed=4)
SEED = 11
SERVICE_DATE = {feed: contract(feed).service_date for feed in FEEDS}


@pytest.fixture(scope="module")
def clean() -> dict[str, pl.DataFrame]:
    return {feed: generate_feed(CFG, feed) for feed in FEEDS}


@pytest.fixture(scope="module")
def faulty(clean) -> dict[str, tuple[pl.DataFrame, pl.DataFrame]]:
    return {feed: inject_faults(clean[feed], feed, FaultConfig(), SEED) for feed in FEEDS}


def _logged(faulty, feed: str, fault: str) -> pl.DataFrame:
    """The faulty rows the log names for one fault, with the logged column."""
    frame, log = faulty[feed]
    return log.filter(pl.col("fault") == fault).join(frame, on=[SOURCE_FILE, SOURCE_LINE], how="left", coalesce=True)


def _value(rows: pl.DataFrame) -> pl.Series:
    """Each row's value in its own logged column."""
    return rows.select(pl.coalesce([pl.when(pl.col("column") == c).then(pl.col(c)) for c in rows["column"].unique()])).to_series()


# --- counts and shape --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("feed", FEEDS)
def test_every_fault_kind_is_logged_with_its_count(clean, faulty, feed):
    counts = dict(faulty[feed][1].group_by("fault").len().iter_rows())
    cfg, rows = FaultConfig(), clean[feed].height
    for fault in ROW_FAULTS:
        applies = fault != "unit_mixup" or feed in UNIT_MIXUP
        assert counts.get(fault, 0) == (fault_count(getattr(cfg, fault), rows) if applies else 0), fault
    assert counts.get("schema_change", 0) == (3 if feed == "pharmacy_fills" else 0)
    assert set(counts) <= set(FAULTS)


@pytest.mark.parametrize("feed", FEEDS)
def test_faulty_frame_keeps_the_raw_shape(clean, faulty, feed):
    frame, log = faulty[feed]
    assert {frame.schema[c] for c in frame.columns if c not in RAW_LINEAGE} == {pl.String}
    assert (frame.schema[SOURCE_FILE], frame.schema[SOURCE_LINE], frame.schema[ARRIVAL_DATE]) == (pl.String, pl.Int64, pl.Date)
    assert set(contract(feed).column_names) <= set(frame.columns)
    added = log.filter(pl.col("fault").is_in(["exact_duplicate", "near_duplicate"])).height
    assert frame.height == clean[feed].height + added
    assert log.schema == {SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64, "fault": pl.String, "column": pl.String}


@pytest.mark.parametrize("feed", FEEDS)
def test_files_stay_consistent_and_lines_unique(clean, faulty, feed):
    frame = faulty[feed][0]
    assert (frame[SOURCE_FILE] == (f"{feed}_" + frame[ARRIVAL_DATE].cast(pl.String) + ".csv")).all()
    lines = frame.group_by(SOURCE_FILE).agg(pl.col(SOURCE_LINE).min().alias("first"), pl.col(SOURCE_LINE).n_unique().alias("distinct"), pl.len())
    assert (lines["first"] == 2).all() and (lines["distinct"] == lines["len"]).all()
    assert frame[ARRIVAL_DATE].max() == clean[feed][ARRIVAL_DATE].max()
    assert set(frame[ARRIVAL_DATE].unique()) <= set(clean[feed][ARRIVAL_DATE].unique())


# --- each fault is visible where the log says ----------------------------------------------------------------------------
@pytest.mark.parametrize("feed", FEEDS)
def test_missing_required_fields_are_blank(faulty, feed):
    rows = _logged(faulty, feed, "missing_required")
    required = {c.name for c in contract(feed).columns.values() if c.required}
    assert set(rows["column"]) <= required and _value(rows).null_count() == rows.height


@pytest.mark.parametrize("feed", ["medical_claims", "pharmacy_fills", "lab_results", "clinical_records"])
def test_out_of_range_values_break_the_contract_bounds(faulty, feed):
    rows = _logged(faulty, feed, "out_of_range")
    column = contract(feed).columns[rows["column"][0]]
    values = _value(rows).cast(pl.Float64)
    assert ((values < column.min) | (values > column.max)).all()


def test_out_of_range_birth_dates_are_after_the_delivery(faulty):
    rows = _logged(faulty, "eligibility", "out_of_range")
    assert set(rows["column"]) == {"birth_date"} and (rows["birth_date"].str.to_date() > rows[ARRIVAL_DATE]).all()


@pytest.mark.parametrize("feed", ["eligibility", "medical_claims", "pharmacy_fills", "lab_results"])
def test_invalid_codes_fail_the_contract_pattern(faulty, feed):
    rows = _logged(faulty, feed, "invalid_code")
    pattern = contract(feed).columns[rows["column"][0]].pattern
    assert rows.height and not _value(rows).str.contains(pattern).any()


def test_invalid_problem_codes_are_not_icd10(faulty):
    rows = _logged(faulty, "clinical_records", "invalid_code")
    icd10 = contract("medical_claims").columns["diagnosis_code_1"].pattern
    assert (rows["record_type"] == "problem").all() and not rows["code"].str.contains(icd10).any()


def test_hba1c_unit_mixup_is_mmol_labelled_percent(faulty):
    rows = _logged(faulty, "lab_results", "unit_mixup")
    assert rows["loinc_code"].is_in(["4548-4", "4549-2", "17856-6"]).all() and (rows["unit"] == "%").all()
    assert (rows["value"].cast(pl.Float64) > 20).all()


def test_other_unit_mixups_scale_the_value(clean, faulty):
    systolic = _logged(faulty, "clinical_records", "unit_mixup")
    assert (systolic["code"] == "8480-6").all() and (systolic["unit"] == "mm[Hg]").all() and (systolic["value"].cast(pl.Float64) < 35).all()
    strength = _logged(faulty, "pharmacy_fills", "unit_mixup")
    assert (strength["strength_mg"].cast(pl.Float64) < 1.01).all()


@pytest.mark.parametrize("feed", FEEDS)
def test_exact_duplicates_repeat_a_delivered_row(faulty, feed):
    frame = faulty[feed][0]
    values = contract(feed).column_names
    copies = _logged(faulty, feed, "exact_duplicate").select(*values, ARRIVAL_DATE, SOURCE_LINE)
    copy_arrival, copy_line = pl.col(f"{ARRIVAL_DATE}_copy"), pl.col(f"{SOURCE_LINE}_copy")
    delivered_before = (pl.col(ARRIVAL_DATE) < copy_arrival) | ((pl.col(ARRIVAL_DATE) == copy_arrival) & (pl.col(SOURCE_LINE) < copy_line))
    originals = frame.join(copies, on=values, how="inner", nulls_equal=True, suffix="_copy").filter(delivered_before)
    assert originals.select(values).unique().height == copies.height


@pytest.mark.parametrize("feed", FEEDS)
def test_near_duplicates_correct_an_earlier_row_of_the_same_key_later(faulty, feed):
    frame = faulty[feed][0]
    key = list(contract(feed).key)
    corrections = _logged(faulty, feed, "near_duplicate")
    column = corrections["column"][0]
    earlier = corrections.select(SOURCE_FILE, SOURCE_LINE, *key, ARRIVAL_DATE, pl.col(column).alias("corrected")).join(
        frame.select(*key, pl.col(ARRIVAL_DATE).alias("first_arrival"), pl.col(column).alias("first_value")), on=key)
    earlier = earlier.filter(pl.col("first_arrival") < pl.col(ARRIVAL_DATE)).group_by(SOURCE_FILE, SOURCE_LINE).agg(
        (pl.col("corrected") != pl.col("first_value")).all().alias("changed"))
    assert earlier.height == corrections.height and earlier["changed"].all()


@pytest.mark.parametrize("feed", ["medical_claims", "pharmacy_fills", "lab_results"])
def test_late_rows_arrive_months_after_their_first_delivery(clean, faulty, feed):
    key = list(contract(feed).key)
    late = _logged(faulty, feed, "late_arrival").select(*key, ARRIVAL_DATE)
    was = late.join(clean[feed].select(*key, pl.col(ARRIVAL_DATE).alias("due")), on=key)
    delay = (was[ARRIVAL_DATE] - was["due"]).dt.total_days()
    assert was.height == late.height and delay.min() >= 60 and delay.max() <= 181
    dates = _logged(faulty, feed, "late_arrival").select(pl.col(SERVICE_DATE[feed]).str.to_date(), ARRIVAL_DATE)
    assert (dates[SERVICE_DATE[feed]] < dates[ARRIVAL_DATE]).all()


# --- the schema change ---------------------------------------------------------------------------------------------------------
def test_schema_change_date_renames_adds_and_retypes(clean, faulty):
    frame, log = faulty["pharmacy_fills"]
    changed = log.filter(pl.col("fault") == "schema_change")
    assert set(changed["column"]) == {"days_supplied", "pharmacy_npi", "paid_amount"} and (changed[SOURCE_LINE] == 1).all()
    on_date = frame.filter(pl.col(SOURCE_FILE) == changed[SOURCE_FILE][0])
    dates = clean["pharmacy_fills"][ARRIVAL_DATE].unique().sort()
    assert on_date[ARRIVAL_DATE][0] == dates[dates.len() // 2]
    assert on_date["days_supply"].null_count() == on_date.height and on_date["days_supplied"].null_count() < on_date.height
    assert on_date["pharmacy_npi"].str.contains(r"^\d{10}$").all()
    assert on_date["paid_amount"].drop_nulls().str.starts_with("$").all()
    other = frame.filter(pl.col(SOURCE_FILE) != changed[SOURCE_FILE][0])
    assert other["days_supplied"].null_count() == other.height and other["pharmacy_npi"].null_count() == other.height
    assert not other["paid_amount"].drop_nulls().str.starts_with("$").any()
    assert contract("pharmacy_fills").renames["days_supplied"] == "days_supply"


def test_schema_change_on_an_explicit_date_and_feed(clean):
    day = clean["lab_results"][ARRIVAL_DATE].unique().sort()[5]
    cfg = FaultConfig(**dict.fromkeys(ROW_FAULTS, 0.0), schema_change_feed="lab_results", schema_change_date=day)
    frame, log = inject_faults(clean["lab_results"], "lab_results", cfg, SEED)
    assert set(log["fault"]) == {"schema_change"} and log.height == 3
    on_date = frame.filter(pl.col(ARRIVAL_DATE) == day)
    assert on_date["value"].null_count() == on_date.height and on_date["result_value"].null_count() == 0
    assert on_date["collection_date"].str.contains(r"^\d{2}/\d{2}/\d{4}$").all()


@pytest.mark.parametrize("feed", FEEDS)
def test_every_feed_schema_change_uses_a_declared_rename(feed):
    old, new = SCHEMA_CHANGES[feed].renamed
    assert contract(feed).renames[new] == old


# --- off, and determinism ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("feed", FEEDS)
def test_no_faults_leaves_the_frame_unchanged(clean, feed):
    frame, log = inject_faults(clean[feed], feed, FaultConfig.none(), SEED)
    assert frame.equals(clean[feed]) and log.is_empty()


def test_same_seed_same_faults_and_another_seed_others(clean, faulty):
    again = inject_faults(clean["medical_claims"], "medical_claims", FaultConfig(), SEED)
    assert again[0].equals(faulty["medical_claims"][0]) and again[1].equals(faulty["medical_claims"][1])
    other = inject_faults(clean["medical_claims"], "medical_claims", FaultConfig(), SEED + 1)
    assert not other[1].equals(faulty["medical_claims"][1])


def test_faulty_rows_are_few(clean, faulty):
    for feed in FEEDS:
        assert faulty[feed][1].height < 0.03 * clean[feed].height


def test_the_demo_claims_outage_withholds_every_claim_from_its_start():
    from resources.feeds.faults import claims_outage

    claims = generate_feed(SyntheticConfig(seed=3, members=400, months=6, end_date=date(2026, 6, 30)), "medical_claims")
    kept = claims_outage(claims, date(2026, 4, 1))
    after = pl.col("service_date") >= "2026-04-01"
    assert claims.filter(after).height > 0 and kept.filter(after).height == 0
    assert kept.height == claims.height - claims.filter(after).height
