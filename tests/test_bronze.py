"""Bronze: encrypted at rest, immutable per arrival day, and schema changes named by column and kind."""

import os
from datetime import date

import polars as pl
import pytest

from assets.bronze import land
from checks.bronze import schema_changes, staleness
from resources.bronze_store import BronzeStore, ImmutablePartitionError
from resources.feeds.contract import contract
from resources.vault import KeyUnavailable, load_key
from tests.rows import fill, raw_rows

KEY = os.urandom(32)
DAY = date(2025, 3, 3)


def test_partition_is_encrypted_and_reads_back_exactly(tmp_path):
    store = BronzeStore(root=str(tmp_path))
    rows = raw_rows([fill(member_id="M00000777", drug_name="Zqxcanary")], arrival=DAY)
    manifest = store.write("pharmacy_fills", DAY, rows, KEY)
    stored = (tmp_path / "bronze" / "pharmacy_fills" / manifest.file).read_bytes()
    assert b"M00000777" not in stored and b"Zqxcanary" not in stored
    assert store.read("pharmacy_fills", KEY).equals(rows)
    assert manifest.rows == 1 and manifest.source_files == {"delivery.csv": 1} and len(manifest.sha256) == 64


def test_wrong_key_fails_with_a_clear_message(tmp_path):
    store = BronzeStore(root=str(tmp_path))
    store.write("pharmacy_fills", DAY, raw_rows([fill()], arrival=DAY), KEY)
    with pytest.raises(KeyUnavailable, match="cannot decrypt bronze/pharmacy_fills/2025-03-03.parquet.enc: wrong raw-layer key"):
        store.read("pharmacy_fills", os.urandom(32))


def test_landed_partition_is_never_rewritten(tmp_path):
    store = BronzeStore(root=str(tmp_path))
    first = raw_rows([fill()], arrival=DAY)
    assert len(land("pharmacy_fills", first, [DAY], store, KEY).written) == 1
    again = land("pharmacy_fills", first, [DAY], store, KEY)
    assert again.written == [] and again.already_landed == ["2025-03-03"]
    with pytest.raises(ImmutablePartitionError, match="new file\\(s\\) late.csv must be delivered with a new arrival date"):
        land("pharmacy_fills", raw_rows([fill()], arrival=DAY, source="late.csv"), [DAY], store, KEY)
    with pytest.raises(ImmutablePartitionError):
        store.write("pharmacy_fills", DAY, first, KEY)


def test_empty_arrival_day_is_landed_with_zero_rows(tmp_path):
    store = BronzeStore(root=str(tmp_path))
    landing = land("pharmacy_fills", raw_rows([fill()], arrival=DAY), [DAY, date(2025, 3, 4)], store, KEY)
    assert [m.rows for m in landing.written] == [1, 0]


def test_schema_change_is_named_by_column_and_kind():
    normal = raw_rows([fill()], arrival=date(2025, 3, 2))
    changed = {**{k: v for k, v in fill().items() if k != "days_supply"}, "days_supplied": "30", "pharmacy_npi": "1234567890", "paid_amount": "$12.50"}
    rows = pl.concat([normal, raw_rows([changed, changed], arrival=DAY)], how="diagonal")
    found = {(c.kind, c.column, c.arrival_date, c.accepted) for c in schema_changes(rows, contract("pharmacy_fills"))}
    assert found == {
        ("renamed", "days_supplied", "2025-03-03", True),
        ("new_column", "pharmacy_npi", "2025-03-03", False),
        ("type_changed", "paid_amount", "2025-03-03", False),
    }
    detail = next(c.detail for c in schema_changes(rows, contract("pharmacy_fills")) if c.kind == "type_changed")
    assert "2 of 2 values are not decimal" in detail and "'$99.99'" in detail


def test_scattered_bad_values_are_not_a_schema_change():
    rows = raw_rows([fill(fill_id=f"R{i:010d}") for i in range(9)] + [fill(paid_amount="$1")], arrival=DAY)
    assert schema_changes(rows, contract("pharmacy_fills")) == []


def test_staleness_follows_the_feed_cadence():
    claims = contract("medical_claims")
    assert staleness(date(2025, 3, 1), date(2025, 3, 5), claims)[0] is False
    assert staleness(date(2025, 3, 1), date(2025, 3, 6), claims)[0] is True
    assert staleness(None, date(2025, 3, 6), claims)[0] is True
    assert staleness(date(2025, 3, 1), date(2025, 4, 7), contract("eligibility"))[0] is False


def test_keys_come_from_env_or_an_owner_only_file(tmp_path, monkeypatch):
    monkeypatch.delenv("WORKBENCH_RAW_KEY", raising=False)
    with pytest.raises(KeyUnavailable, match="key WORKBENCH_RAW_KEY is missing: set the environment variable"):
        load_key("WORKBENCH_RAW_KEY", tmp_path / "keys", create=False)
    key = load_key("WORKBENCH_RAW_KEY", tmp_path / "keys", create=True)
    assert (tmp_path / "keys" / "workbench_raw_key.key").stat().st_mode & 0o777 == 0o600
    assert load_key("WORKBENCH_RAW_KEY", tmp_path / "keys", create=False) == key
    monkeypatch.setenv("WORKBENCH_RAW_KEY", "not base64!")
    with pytest.raises(KeyUnavailable, match="WORKBENCH_RAW_KEY is not valid base64"):
        load_key("WORKBENCH_RAW_KEY", tmp_path / "keys", create=False)
