"""The synthetic plan: deterministic, shaped as delivered, realistic rates, and behaviour a model can learn."""

import re
from datetime import date, timedelta

import polars as pl
import pytest

from resources.feeds import synthetic
from resources.feeds.contract import ARRIVAL_DATE, FEEDS, SOURCE_FILE, SOURCE_LINE, contract
from resources.feeds.synthetic import SyntheticConfig, canary_tokens, generate_feed, generate_members, true_propensities

END = date(2025, 6, 30)
CFG = SyntheticConfig(end_date=END, members=6000, months=36)  # denominators of a few hundred: bands are about +-3 standard errors
SMALL = SyntheticConfig(end_date=END, members=600, months=12, seed=5)
MAMMOGRAM = ["77061", "77062", "77063", "77065", "77066", "77067", "G0202", "G0204", "G0206"]
COLONOSCOPY = ["45378", "45380", "45385", "G0121", "G0105"]
HBA1C_LOINC = ["4548-4", "4549-2", "17856-6"]
SERVICE_DATE = {feed: contract(feed).service_date for feed in FEEDS}


@pytest.fixture(scope="module")
def feeds() -> dict[str, pl.DataFrame]:
    return {feed: generate_feed(CFG, feed) for feed in FEEDS}


@pytest.fixture(scope="module")
def members() -> pl.DataFrame:
    return generate_members(CFG).with_columns(age=(pl.lit(END) - pl.col("birth_date")).dt.total_days() / 365.25)


def _dated(frame: pl.DataFrame, *columns: str) -> pl.DataFrame:
    return frame.with_columns(pl.col(c).str.to_date() for c in columns)


def _enrolled_throughout(feeds: dict[str, pl.DataFrame], start: date, end: date) -> pl.DataFrame:
    """Members with one span covering [start, end]: the continuous-enrollment part of a denominator."""
    spans = _dated(feeds["eligibility"], "coverage_start", "coverage_end").group_by("member_id", "coverage_start").agg(pl.col("coverage_end").max())
    covering = (pl.col("coverage_start") <= start) & (pl.col("coverage_end").is_null() | (pl.col("coverage_end") >= end))
    return spans.filter(covering).select("member_id").unique()


def _rate(denominator: pl.DataFrame, numerator: pl.DataFrame) -> float:
    return denominator.join(numerator.select("member_id").unique(), on="member_id", how="semi").height / denominator.height


# --- determinism ---------------------------------------------------------------------------------------------------
def test_same_config_gives_identical_feeds_even_from_a_cold_cache():
    first = {feed: generate_feed(SMALL, feed) for feed in FEEDS}
    synthetic.release_plans()  # rebuild from scratch, as a new process would
    for feed in FEEDS:
        assert generate_feed(SMALL, feed).equals(first[feed]), feed
    assert generate_members(SMALL).equals(generate_members(SyntheticConfig(end_date=END, members=600, months=12, seed=5)))


def test_a_different_seed_gives_a_different_plan():
    other = SyntheticConfig(end_date=END, members=600, months=12, seed=6)
    assert not generate_members(other).equals(generate_members(SMALL))
    assert not generate_feed(other, "medical_claims").equals(generate_feed(SMALL, "medical_claims"))


# --- shape as delivered --------------------------------------------------------------------------------------------
@pytest.mark.parametrize("feed", FEEDS)
def test_feed_has_every_contract_column_as_text_plus_lineage(feeds, feed):
    frame = feeds[feed]
    assert frame.columns == [*contract(feed).column_names, SOURCE_FILE, SOURCE_LINE, ARRIVAL_DATE]
    assert {frame.schema[c] for c in contract(feed).column_names} == {pl.String}
    assert (frame.schema[SOURCE_FILE], frame.schema[SOURCE_LINE], frame.schema[ARRIVAL_DATE]) == (pl.String, pl.Int64, pl.Date)
    assert frame.height > 1000


@pytest.mark.parametrize("feed", FEEDS)
def test_one_file_per_arrival_date_numbered_from_line_two(feeds, feed):
    frame = feeds[feed]
    assert (frame[SOURCE_FILE] == (f"{feed}_" + frame[ARRIVAL_DATE].cast(pl.String) + ".csv")).all()
    lines = frame.group_by(SOURCE_FILE).agg(pl.col(SOURCE_LINE).min().alias("first"), pl.col(SOURCE_LINE).max().alias("last"),
                                             pl.col(SOURCE_LINE).n_unique().alias("distinct"), pl.len())
    assert (lines["first"] == 2).all() and (lines["last"] == lines["len"] + 1).all() and (lines["distinct"] == lines["len"]).all()


@pytest.mark.parametrize("feed", FEEDS)
def test_clean_values_meet_the_contract(feeds, feed):
    frame = feeds[feed]
    for col in contract(feed).columns.values():
        values = frame[col.name]
        if col.required:
            assert values.null_count() == 0, col.name
        present = values.drop_nulls()
        if col.pattern:
            assert present.str.contains(col.pattern).all(), col.name
        if col.allowed:
            assert present.is_in(list(col.allowed)).all(), col.name
        typed = present.str.to_date() if col.type == "date" else present.cast(pl.Float64) if col.type in ("decimal", "integer") else None
        if typed is not None and col.min is not None:
            assert typed.min() >= col.min, col.name
        if typed is not None and col.max is not None:
            assert typed.max() <= col.max, col.name


def test_decimals_and_dates_are_written_as_senders_write_them(feeds):
    claims = feeds["medical_claims"]
    assert claims["paid_amount"].str.contains(r"^\d+\.\d{2}$").all()
    assert claims["service_date"].str.contains(r"^\d{4}-\d{2}-\d{2}$").all()
    assert feeds["eligibility"]["coverage_end"].null_count() > 0


# --- time --------------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("feed", FEEDS)
def test_nothing_arrives_after_the_end_date_or_before_its_service(feeds, feed):
    frame = _dated(feeds[feed], SERVICE_DATE[feed])
    assert frame[ARRIVAL_DATE].max() <= END
    assert frame.filter(pl.col(SERVICE_DATE[feed]) > pl.col(ARRIVAL_DATE)).is_empty()
    assert frame[SERVICE_DATE[feed]].min() >= (CFG.start_date if feed != "eligibility" else date(2000, 1, 1))


def test_claims_arrive_when_paid_after_a_realistic_lag(feeds):
    claims = _dated(feeds["medical_claims"], "service_date", "paid_date")
    assert (claims["paid_date"] == claims[ARRIVAL_DATE]).all()
    lag = (claims["paid_date"] - claims["service_date"]).dt.total_days()
    assert lag.min() >= 7 and 14 <= lag.median() <= 42 and lag.max() > 60


def test_delivery_cadence_per_feed(feeds):
    eligibility, clinical = feeds["eligibility"][ARRIVAL_DATE], feeds["clinical_records"][ARRIVAL_DATE]
    assert ((eligibility.dt.day() == 1) | (eligibility == CFG.start_date)).all()
    assert (clinical.dt.weekday() == 1).all()
    labs = _dated(feeds["lab_results"], "collection_date", "result_date")
    assert ((labs["result_date"] - labs["collection_date"]).dt.total_days().is_between(0, 3)).all()
    assert ((labs[ARRIVAL_DATE] - labs["result_date"]).dt.total_days().is_between(0, 7)).all()
    fills = _dated(feeds["pharmacy_fills"], "fill_date")
    assert ((fills[ARRIVAL_DATE] - fills["fill_date"]).dt.total_days().is_between(0, 3)).all()


def test_span_records_arrive_open_then_again_closed(feeds):
    spans = feeds["eligibility"].group_by("member_id", "coverage_start").agg(pl.len(), pl.col("coverage_end").null_count().alias("open"))
    assert set(spans["len"].unique()) <= {1, 2} and (spans["open"] == 1).all()
    assert spans.filter(pl.col("len") == 2).height > 0.1 * spans.height


# --- the population ----------------------------------------------------------------------------------------------------
def test_lines_of_business_have_their_own_age_and_sex_mix(members):
    mix = members.group_by("line_of_business").agg(
        (pl.col("age") >= 65).mean().alias("older"), pl.col("age").is_between(18, 65).mean().alias("working"),
        (pl.col("sex") == "F").mean().alias("female"), pl.col("age").mean().alias("mean_age"),
    ).rows_by_key("line_of_business", named=True, unique=True)
    assert mix["medicare"]["older"] > 0.8 and mix["commercial"]["working"] > 0.9
    assert mix["medicaid"]["mean_age"] < mix["commercial"]["mean_age"] < mix["medicare"]["mean_age"]
    assert mix["medicaid"]["female"] > mix["commercial"]["female"] + 0.04


@pytest.mark.parametrize(("line", "low", "high"), [("commercial", 0.09, 0.14), ("medicare", 0.20, 0.30), ("medicaid", 0.09, 0.15)])
def test_diabetes_prevalence_per_line_of_business(members, line, low, high):
    adults = members.filter((pl.col("age") >= 18) & (pl.col("line_of_business") == line))
    assert low <= adults["true_diabetes"].mean() <= high


def test_hypertension_and_ascvd_prevalence_correlated_and_rising_with_age(members):
    adults = members.filter(pl.col("age") >= 18)
    assert 0.25 <= adults["true_hypertension"].mean() <= 0.45
    assert 0.04 <= adults["true_ascvd"].mean() <= 0.12
    with_diabetes = adults.filter("true_diabetes")["true_hypertension"].mean()
    assert with_diabetes > adults.filter(~pl.col("true_diabetes"))["true_hypertension"].mean() + 0.2
    by_age = adults.group_by(pl.col("age") >= 50).agg(pl.col("true_diabetes", "true_ascvd").mean()).sort("age")
    assert (by_age["true_diabetes"].diff().drop_nulls() > 0).all() and (by_age["true_ascvd"].diff().drop_nulls() > 0).all()


def test_true_propensities_are_the_hidden_columns(members):
    truths = true_propensities(CFG)
    assert truths.columns[0] == "member_id" and all(c.startswith("true_") for c in truths.columns[1:])
    assert {"true_p_mammogram", "true_p_colorectal_screen", "true_p_hba1c_test", "true_p_statin_adherent", "true_engagement"} <= set(truths.columns)
    assert truths.height == members.height
    assert members.filter(pl.col("sex") == "M")["true_p_mammogram"].max() == 0
    assert members.filter(~pl.col("true_diabetes"))["true_p_hba1c_test"].max() == 0


def test_direct_identifiers_look_real(members):
    assert members["member_id"].str.contains(r"^M\d{8,}$").all() and members["member_id"].is_unique().all()
    assert members["zip"].str.contains(r"^\d{5}$").all() and members["zip"].str.slice(0, 3).n_unique() >= 5
    assert members["phone"].str.contains(r"^\d{3}-\d{3}-\d{4}$").all()
    assert members["first_name"].n_unique() > 50 and members["last_name"].n_unique() > 50


def test_canaries_are_planted_in_eligibility_and_flow_into_claims(feeds):
    tokens = canary_tokens(CFG)
    assert len(tokens) == 3 * CFG.canaries and any(re.fullmatch(r"Zqxcanary\d{4}", t) for t in tokens)
    eligibility = feeds["eligibility"]
    delivered = set(eligibility["last_name"]) | set(eligibility["member_id"]) | set(eligibility["phone"])
    assert set(tokens) <= delivered
    assert set(feeds["medical_claims"]["member_id"]) >= {t for t in tokens if t.startswith("M")}


# --- care-gap rates near the published anchors ---------------------------------------------------------------------------
def test_breast_screening_rate_near_published(feeds, members):
    start = date(END.year - 2, 4, 1)
    women = members.filter((pl.col("sex") == "F") & pl.col("age").is_between(52, 74) & ~pl.col("true_bilateral_mastectomy"))
    denominator = women.join(_enrolled_throughout(feeds, start, END), on="member_id", how="semi")
    screened = _dated(feeds["medical_claims"], "service_date").filter(pl.col("procedure_code").is_in(MAMMOGRAM) & (pl.col("service_date") >= start))
    assert denominator.height > 250
    assert 0.60 <= _rate(denominator, screened) <= 0.80


def test_colorectal_screening_rate_near_published(feeds, members):
    people = members.filter(pl.col("age").is_between(46, 75) & ~pl.col("true_colorectal_cancer"))
    denominator = people.join(_enrolled_throughout(feeds, CFG.start_date, END), on="member_id", how="semi")
    claims = _dated(feeds["medical_claims"], "service_date")
    labs = _dated(feeds["lab_results"], "collection_date")
    last_year = END - timedelta(days=365)
    screened = pl.concat([
        claims.filter(pl.col("procedure_code").is_in([*COLONOSCOPY, "81528"])).select("member_id"),
        claims.filter(pl.col("procedure_code").is_in(["82274", "G0328"]) & (pl.col("service_date") > last_year)).select("member_id"),
        labs.filter((pl.col("loinc_code") == "29771-3") & (pl.col("collection_date") > last_year)).select("member_id"),
    ])
    assert 0.52 <= _rate(denominator, screened) <= 0.70


def test_hba1c_testing_rate_near_published_and_values_match_diabetes(feeds, members):
    start = END - timedelta(days=364)
    diabetics = members.filter(pl.col("true_diabetes") & pl.col("age").is_between(18, 75))
    denominator = diabetics.join(_enrolled_throughout(feeds, start, END), on="member_id", how="semi")
    labs = _dated(feeds["lab_results"], "collection_date").filter(pl.col("loinc_code").is_in(HBA1C_LOINC))
    claims = _dated(feeds["medical_claims"], "service_date").filter(pl.col("procedure_code") == "83036")
    tested = pl.concat([labs.filter(pl.col("collection_date") >= start).select("member_id"),
                        claims.filter(pl.col("service_date") >= start).select("member_id")])
    assert 0.84 <= _rate(denominator, tested) <= 0.95
    values = labs.join(members.select("member_id", "true_diabetes"), on="member_id").with_columns(pl.col("value").cast(pl.Float64))
    assert (labs["unit"] == "%").all() and (labs["reference_high"] == "5.6").all()
    assert values.filter("true_diabetes")["value"].median() > 6.8 > 5.8 > values.filter(~pl.col("true_diabetes"))["value"].median()


def _pdc(fills: pl.DataFrame, year_start: date, year_end: date) -> pl.DataFrame:
    """Proportion of days covered from the first fill in the year to its end, per member."""
    last = (year_end - date(1970, 1, 1)).days
    start = pl.col("fill_date").cast(pl.Int32)
    days = fills.with_columns(pl.int_ranges(start, start + pl.col("days_supply").cast(pl.Int32)).alias("d"))
    per_member = days.group_by("member_id").agg(start.min().alias("first"), pl.col("d").list.explode().unique().alias("d"))
    return per_member.with_columns(
        covered=pl.col("d").list.eval(pl.element().filter(pl.element() <= last)).list.len(), period=last - pl.col("first") + 1,
    ).filter(pl.col("period") >= 90).select("member_id", (pl.col("covered") / pl.col("period")).alias("pdc"))


def test_statin_adherence_near_published_and_driven_by_true_propensity(feeds, members):
    year_start, year_end = date(2024, 1, 1), date(2024, 12, 31)
    ascvd = members.filter(pl.col("true_ascvd")).join(_enrolled_throughout(feeds, year_start, year_end), on="member_id", how="semi")
    in_year = (pl.col("therapeutic_class") == "statin") & pl.col("fill_date").is_between(year_start, year_end)
    statins = _dated(feeds["pharmacy_fills"], "fill_date").filter(in_year)
    assert 0.65 <= _rate(ascvd, statins) <= 0.9
    pdc = _pdc(statins.join(ascvd, on="member_id", how="semi"), year_start, year_end).join(members, on="member_id")
    assert 0.55 <= (pdc["pdc"] >= 0.8).mean() <= 0.85
    median = pdc["true_p_statin_adherent"].median()
    high, low = (pdc.filter(cond)["pdc"].mean() for cond in (pl.col("true_p_statin_adherent") > median, pl.col("true_p_statin_adherent") <= median))
    assert high > low + 0.05


def test_statins_follow_the_intensity_table(feeds):
    statins = feeds["pharmacy_fills"].filter(pl.col("therapeutic_class") == "statin")
    named = statins.select(pl.col("drug_name").str.extract(r"^(\w+) \d+ mg", 1).alias("drug"),
                           pl.col("drug_name").str.extract(r" (\d+) mg", 1).alias("mg"), "strength_mg", "days_supply")
    assert (named["mg"] == named["strength_mg"]).all() and set(named["days_supply"]) == {"30", "90"}
    allowed = {"atorvastatin": {"10", "20", "40", "80"}, "rosuvastatin": {"5", "10", "20", "40"}, "simvastatin": {"10", "20", "40"},
               "pravastatin": {"20", "40", "80"}, "lovastatin": {"40"}}
    assert all(mg in allowed[drug] for drug, mg in named.select("drug", "mg").unique().iter_rows())


# --- behaviour a model can learn ---------------------------------------------------------------------------------------------
def test_members_with_higher_true_propensity_screen_more(feeds, members):
    women = members.filter((pl.col("sex") == "F") & pl.col("age").is_between(50, 74) & ~pl.col("true_bilateral_mastectomy"))
    women = women.join(_enrolled_throughout(feeds, CFG.start_date, END), on="member_id", how="semi")
    screened = feeds["medical_claims"].filter(pl.col("procedure_code").is_in(MAMMOGRAM))
    median = women["true_p_mammogram"].median()
    high, low = (_rate(women.filter(cond), screened) for cond in (pl.col("true_p_mammogram") > median, pl.col("true_p_mammogram") <= median))
    assert high > low + 0.15


def test_engagement_drives_visits_and_visits_predict_screening(feeds, members):
    office = feeds["medical_claims"].filter(pl.col("place_of_service") == "11")
    visits = office.group_by("member_id").agg(pl.col("claim_id").n_unique().alias("visits"))
    adults = members.filter(pl.col("age") >= 18).join(visits, on="member_id", how="left").with_columns(pl.col("visits").fill_null(0))
    assert adults.select(pl.corr("true_engagement", "visits")).item() > 0.25
    assert adults.select(pl.corr("visits", "true_p_colorectal_screen")).item() > 0.1


def test_vitals_follow_hypertension_and_problem_lists_name_conditions(feeds, members):
    clinical = feeds["clinical_records"].join(members.select("member_id", "true_hypertension", "true_diabetes"), on="member_id")
    systolic = clinical.filter(pl.col("code") == "8480-6").with_columns(pl.col("value").cast(pl.Float64))
    assert (systolic["unit"] == "mm[Hg]").all()
    assert systolic.filter("true_hypertension")["value"].mean() > systolic.filter(~pl.col("true_hypertension"))["value"].mean() + 10
    problems = clinical.filter(pl.col("record_type") == "problem")
    assert problems.filter(pl.col("code").str.starts_with("E1"))["true_diabetes"].all()
    assert problems["value"].null_count() == problems.height


def test_measure_exclusions_occur(feeds, members):
    claims = feeds["medical_claims"].join(members.select("member_id", "sex"), on="member_id")
    mastectomy = claims.filter(pl.col("diagnosis_code_2") == "Z90.13")
    assert mastectomy.height > 0 and (mastectomy["sex"] == "F").all()
    assert claims.filter(pl.col("diagnosis_code_2").str.contains(r"^(C18|C20)")).height > 0
