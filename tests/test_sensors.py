"""The arrival sensor: new landing files request their day once; nothing new or another source skips, saying why."""

from datetime import date

import dagster as dg
import polars as pl

from definitions import defs
from resources.bronze_store import BronzeStore
from sensors.arrivals import landing_arrivals
from tests.rows import fill, raw_rows

DAY = "2026-06-01"


def evaluate(store: BronzeStore):
    context = dg.build_sensor_context(resources={"bronze_store": store}, definitions=defs)
    return landing_arrivals(context)


def drop(inbox, name: str, rows: int = 2) -> None:
    folder = inbox / "pharmacy_fills"
    folder.mkdir(parents=True, exist_ok=True)
    pl.DataFrame([fill(fill_id=f"R{i:010d}") for i in range(rows)]).write_csv(folder / name)


def test_skips_with_a_reason_when_the_source_is_not_the_landing_directory(tmp_path):
    result = evaluate(BronzeStore(root=str(tmp_path)))
    assert isinstance(result, dg.SkipReason) and "WORKBENCH_FEED_SOURCE=landing" in result.skip_message


def test_new_files_request_their_day_once_and_landed_files_do_not(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_FEED_SOURCE", "landing")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    store = BronzeStore(root=str(tmp_path / "raw"))
    assert "no new files" in evaluate(store).skip_message
    drop(tmp_path / "inbox", f"fills_{DAY}.csv")
    first = evaluate(store)
    assert [(r.partition_key, r.tags["workbench/reason"]) for r in first] == [(DAY, "1 new file(s) for pharmacy_fills")]
    assert [r.run_key for r in evaluate(store)] == [first[0].run_key]
    store.write("pharmacy_fills", date.fromisoformat(DAY), raw_rows([fill()], arrival=date.fromisoformat(DAY), source=f"fills_{DAY}.csv"), b"k" * 32)
    assert "no new files" in evaluate(store).skip_message


def test_a_day_outside_the_partitions_is_skipped_by_name(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_FEED_SOURCE", "landing")
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    drop(tmp_path / "inbox", "fills_1999-01-01.csv")
    result = evaluate(BronzeStore(root=str(tmp_path / "raw")))
    assert isinstance(result, dg.SkipReason) and "1999-01-01" in result.skip_message
