"""Point in time: features see only what had arrived, labels only what arrived by the horizon, and the
leakage probe catches a builder that forgets arrival dates."""

from datetime import date, timedelta

import polars as pl

from assets.events import Silver, tagged_events
from assets.features import FEATURES, RECENCY_MONTHS, build_features
from assets.labels import build_labels
from assets.pit import add_months
from checks.leakage import changed_columns, leakage, without_later_arrivals
from checks.schemas import VALID_TO
from resources.feeds.contract import ARRIVAL_DATE, contract
from tests.silver_rows import SilverBuilder

T = date(2025, 6, 30)


def key(name: str) -> str:
    return name.ljust(16, "0")[:16]


def features(silver: Silver, as_of: date = T) -> pl.DataFrame:
    return build_features(silver, tagged_events(silver), as_of)


def plan() -> Silver:
    b = SilverBuilder()
    b.member(key("ann"), "F", 1965).claim(key("ann"), date(2025, 5, 1)).claim(key("ann"), date(2025, 6, 20), pos="23", arrival=date(2025, 7, 25))
    b.lab(key("ann"), date(2025, 3, 1), value=7.9).lab(key("ann"), date(2025, 6, 25), value=9.4, arrival=date(2025, 7, 2))
    b.fill(key("ann"), date(2025, 4, 1), 90).fill(key("ann"), date(2025, 6, 29), 90, arrival=date(2025, 7, 3))
    b.member(key("bob"), "M", 1958).claim(key("bob"), date(2025, 1, 15), dx="E11.9").claim(key("bob"), date(2025, 8, 1), "77067")
    return b.build()


def forget_arrivals(silver: Silver) -> Silver:
    """The commonest leak: treating the service date as the day a record was known."""
    return Silver(**{name: frame.with_columns(pl.col(contract(name).service_date).alias(ARRIVAL_DATE)) for name, frame in vars(silver).items()})


def test_features_see_only_records_that_had_arrived():
    row = features(plan()).filter(pl.col("member_key") == key("ann")).row(0, named=True)
    assert row["visits_90d"] == 1 and row["ed_90d"] == 0
    assert row["last_hba1c"] == 7.9 and row["days_since_hba1c"] == (T - date(2025, 3, 1)).days
    assert row["pdc_statin"] == 90 / 180 and row["age"] == 60 and row["age_band"] == "50-64"


def test_recency_features_look_back_the_same_horizon_in_every_month():
    """A result older than the horizon is as invisible as none at all, so a longer data window cannot shift them."""
    b = SilverBuilder()
    b.member(key("cy"), "F", 1960, start=date(2018, 1, 1)).lab(key("cy"), add_months(T, -RECENCY_MONTHS) - timedelta(days=1), value=6.1)
    b.claim(key("cy"), add_months(T, -RECENCY_MONTHS) - timedelta(days=1), "77067")
    b.member(key("dee"), "F", 1960, start=date(2018, 1, 1)).lab(key("dee"), add_months(T, -RECENCY_MONTHS) + timedelta(days=1), value=6.2)
    b.claim(key("dee"), add_months(T, -RECENCY_MONTHS) + timedelta(days=1), "77067")
    rows = {r["member_key"]: r for r in features(b.build()).iter_rows(named=True)}
    old, recent = rows[key("cy")], rows[key("dee")]
    assert (old["days_since_hba1c"], old["last_hba1c"], old["days_since_breast_cancer_screening_event"]) == (None, None, None)
    assert recent["last_hba1c"] == 6.2 and recent["days_since_hba1c"] == recent["days_since_breast_cancer_screening_event"] > 700


def test_every_feature_is_present_and_typed():
    frame = features(plan())
    assert frame.columns == ["member_key", "as_of", *[f.name for f in FEATURES]]
    assert all(frame.schema[f.name] == f.dtype for f in FEATURES)


def test_leakage_probe_passes_for_the_pipeline_builder():
    silver = plan()
    stored = features(silver)
    assert leakage(lambda s, t: features(s, t), silver, T, stored) == {}


def test_leakage_probe_fails_when_a_late_record_is_allowed_in():
    silver = plan()
    leaky = lambda s, t: features(forget_arrivals(s), t)  # noqa: E731
    found = leakage(leaky, silver, T, leaky(silver, T))
    assert found and {"ed_90d", "last_hba1c"} <= set(found["deleted"])


def test_a_correction_after_the_as_of_date_does_not_rewrite_the_past():
    b = SilverBuilder().member(key("cat"), "F", 1970)
    b.lab(key("cat"), date(2025, 5, 1), value=8.1, arrival=date(2025, 5, 5))
    original = b.build()
    corrected = original.lab_results.collect()
    correction = corrected.with_columns(pl.lit(6.1).alias("value"), pl.lit(date(2025, 8, 1)).alias(ARRIVAL_DATE), pl.lit("later.csv").alias("_source_file"))
    versions = pl.concat([corrected.with_columns(pl.lit(date(2025, 8, 1)).alias(VALID_TO)), correction])
    silver = Silver(**{**vars(original), "lab_results": versions.lazy()})
    assert features(silver).filter(pl.col("member_key") == key("cat"))["last_hba1c"].to_list() == [8.1]
    assert features(silver, date(2025, 8, 31)).filter(pl.col("member_key") == key("cat"))["last_hba1c"].to_list() == [6.1]
    assert changed_columns(features(silver), features(without_later_arrivals(silver, T))) == []


def test_labels_use_only_data_arrived_by_the_horizon_and_mark_immature_ones():
    b = SilverBuilder()
    b.member(key("closes"), "F", 1965).claim(key("closes"), date(2025, 9, 1), "77067")
    b.member(key("toolate"), "F", 1965).claim(key("toolate"), date(2025, 12, 20), "77067", arrival=date(2026, 1, 20))
    b.member(key("leaves"), "F", 1965, end=date(2025, 10, 31))
    b.member(key("stays"), "F", 1965).claim(key("stays"), date(2025, 3, 1))
    silver = b.build()
    labels = build_labels(silver, tagged_events(silver), T, 6, through=date(2026, 3, 1)).filter(pl.col("measure") == "breast_cancer_screening")
    status = dict(labels.select("member_key", "label_status").iter_rows())
    assert status == {key("closes"): "closed", key("toolate"): "open", key("leaves"): "censored", key("stays"): "open"}
    immature = build_labels(silver, tagged_events(silver), T, 6, through=T + timedelta(days=90))
    assert set(immature["label_status"]) == {"immature"} and immature["gap_open_at_horizon"].null_count() == immature.height


def test_month_ends_stay_month_ends_when_shifted():
    from assets.pit import add_months

    assert add_months(date(2026, 4, 30), 6) == date(2026, 10, 31)
    assert add_months(date(2025, 12, 31), -27) == date(2023, 9, 30)
    assert add_months(date(2024, 2, 29), 12) == date(2025, 2, 28)
    assert add_months(date(2025, 1, 15), 1) == date(2025, 2, 15)
