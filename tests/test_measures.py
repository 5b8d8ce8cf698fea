"""Measure status on hand-built members with known answers: eligibility bands, windows, exclusions and edge dates."""

from datetime import date

import pytest

from assets.measures.evaluate import evaluate_at
from tests.silver_rows import SilverBuilder

T = date(2025, 12, 31)


def status(builder: SilverBuilder, as_of: date = T) -> dict[tuple[str, str], dict]:
    frame = evaluate_at(builder.build(), as_of)
    return {(row["member_key"], row["measure"]): row for row in frame.iter_rows(named=True)}


def key(name: str) -> str:
    return name.ljust(16, "0")[:16]


BCS = "breast_cancer_screening"
COL = "colorectal_cancer_screening"
GSD = "glycemic_status_testing"
SPC = "statin_adherence"


def test_breast_screening_window_exclusion_and_age_band():
    b = SilverBuilder()
    b.member(key("screened"), "F", 1965).claim(key("screened"), date(2025, 6, 1), "77067")
    b.member(key("unscreened"), "F", 1965).claim(key("unscreened"), date(2025, 6, 1))
    b.member(key("edgeout"), "F", 1965).claim(key("edgeout"), date(2023, 9, 30), "77067")
    b.member(key("edgein"), "F", 1965).claim(key("edgein"), date(2023, 10, 1), "G0202")
    b.member(key("mastect"), "F", 1965).claim(key("mastect"), date(2021, 5, 1), dx="Z90.13")
    b.member(key("man"), "M", 1965).claim(key("man"), date(2025, 6, 1), "77067")
    b.member(key("age74"), "F", 1951).member(key("age75"), "F", 1950).member(key("age50"), "F", 1975).member(key("age49"), "F", 1976)
    s = status(b)
    assert s[(key("screened"), BCS)]["gap_open"] is False and s[(key("screened"), BCS)]["evidence_feed"] == "medical_claims"
    assert s[(key("unscreened"), BCS)]["gap_open"] is True
    assert s[(key("edgeout"), BCS)]["gap_open"] is True
    assert s[(key("edgein"), BCS)]["gap_open"] is False
    assert s[(key("mastect"), BCS)]["excluded"] is True and s[(key("mastect"), BCS)]["gap_open"] is None
    assert (key("man"), BCS) not in s
    assert (key("age74"), BCS) in s and (key("age50"), BCS) in s
    assert (key("age75"), BCS) not in s and (key("age49"), BCS) not in s


def test_late_arriving_closing_claim_closes_the_gap_only_once_it_has_arrived():
    b = SilverBuilder().member(key("late"), "F", 1965).claim(key("late"), date(2025, 12, 1), "77067", arrival=date(2026, 1, 15))
    assert status(b)[(key("late"), BCS)]["gap_open"] is True
    assert status(b, date(2026, 1, 31))[(key("late"), BCS)]["gap_open"] is False


def test_colorectal_modalities_have_their_own_lookbacks():
    b = SilverBuilder()
    b.member(key("fit"), "M", 1965).claim(key("fit"), date(2025, 3, 1), "82274")
    b.member(key("oldfit"), "M", 1965).claim(key("oldfit"), date(2024, 12, 31), "82274")
    b.member(key("scope"), "F", 1965).claim(key("scope"), date(2016, 1, 2), "45378")
    b.member(key("fitlab"), "F", 1965).lab(key("fitlab"), date(2025, 8, 1), loinc="29771-3", value=0.0)
    b.member(key("cancer"), "M", 1965).problem(key("cancer"), date(2024, 2, 1), "C18.9")
    b.member(key("age44"), "M", 1981).member(key("age45"), "M", 1980)
    s = status(b)
    assert s[(key("fit"), COL)]["gap_open"] is False and s[(key("oldfit"), COL)]["gap_open"] is True
    assert s[(key("scope"), COL)]["gap_open"] is False and s[(key("fitlab"), COL)]["evidence_feed"] == "lab_results"
    assert s[(key("cancer"), COL)]["excluded"] is True
    assert (key("age44"), COL) not in s and s[(key("age45"), COL)]["gap_open"] is True


def test_glycemic_testing_needs_diabetes_and_a_test_in_the_measurement_year():
    b = SilverBuilder()
    b.member(key("tested"), "F", 1970).claim(key("tested"), date(2025, 2, 1), dx="E11.9").claim(key("tested"), date(2025, 4, 1), dx="E11.65").lab(key("tested"), date(2025, 5, 1))
    b.member(key("lastyear"), "F", 1970).claim(key("lastyear"), date(2025, 2, 1), dx="E11.9").claim(key("lastyear"), date(2025, 4, 1), dx="E11.9").lab(key("lastyear"), date(2024, 12, 20))
    b.member(key("dxfill"), "M", 1970).claim(key("dxfill"), date(2025, 2, 1), dx="E11.9").fill(key("dxfill"), date(2025, 3, 1), therapeutic_class="oral_hypoglycemic")
    b.member(key("onedx"), "M", 1970).claim(key("onedx"), date(2025, 2, 1), dx="E11.9")
    b.member(key("cpt"), "M", 1970).problem(key("cpt"), date(2025, 1, 5), "E11.9").problem(key("cpt"), date(2025, 6, 5), "E11.9").claim(key("cpt"), date(2025, 7, 1), "83036")
    s = status(b)
    assert s[(key("tested"), GSD)]["gap_open"] is False and s[(key("tested"), GSD)]["evidence_feed"] == "lab_results"
    assert s[(key("lastyear"), GSD)]["gap_open"] is True
    assert s[(key("dxfill"), GSD)]["gap_open"] is True
    assert (key("onedx"), GSD) not in s
    assert s[(key("cpt"), GSD)]["gap_open"] is False


def test_statin_adherence_uses_pdc_with_early_refills_carried_forward():
    b = SilverBuilder()
    b.member(key("adherent"), "M", 1960).claim(key("adherent"), date(2025, 1, 10), dx="I25.10")
    for month in range(1, 13):
        b.fill(key("adherent"), date(2025, month, 1), 31)
    b.member(key("gappy"), "M", 1960).claim(key("gappy"), date(2025, 1, 10), dx="I25.10")
    for month in (1, 3, 5, 7, 9, 11):
        b.fill(key("gappy"), date(2025, month, 1), 30)
    b.member(key("early"), "M", 1960).claim(key("early"), date(2025, 1, 10), dx="I25.10").fill(key("early"), date(2025, 9, 1), 60).fill(key("early"), date(2025, 10, 1), 60)
    b.member(key("young"), "F", 1990).claim(key("young"), date(2025, 1, 10), dx="I25.10").fill(key("young"), date(2025, 2, 1), 90)
    b.member(key("nofill"), "M", 1960).claim(key("nofill"), date(2025, 1, 10), dx="I25.10")
    b.member(key("esrd"), "M", 1960).claim(key("esrd"), date(2025, 1, 10), dx="I25.10", dx2="N18.6").fill(key("esrd"), date(2025, 2, 1), 90)
    s = status(b)
    assert s[(key("adherent"), SPC)]["gap_open"] is False and s[(key("adherent"), SPC)]["pdc"] == pytest.approx(1.0)
    assert s[(key("gappy"), SPC)]["gap_open"] is True and s[(key("gappy"), SPC)]["pdc"] == pytest.approx(180 / 365)
    assert s[(key("early"), SPC)]["pdc"] == pytest.approx(120 / 122) and s[(key("early"), SPC)]["gap_open"] is False
    assert (key("young"), SPC) not in s and (key("nofill"), SPC) not in s
    assert s[(key("esrd"), SPC)]["excluded"] is True


def test_disenrolled_member_is_not_in_any_measure():
    b = SilverBuilder().member(key("left"), "F", 1965, end=date(2025, 6, 30)).claim(key("left"), date(2025, 3, 1), dx="E11.9")
    assert not [k for k in status(b) if k[0] == key("left")]
