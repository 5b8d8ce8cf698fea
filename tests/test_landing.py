"""The landing directory: files as senders drop them are read as text with exact lineage; bad files are refused whole."""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl
import pytest

from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE
from resources.feeds.landing import BadFeedFile, StrayFiles, arrival_date_of, read_inbox, read_landing_file, scan_inbox

# Contract names, one declared rename (dob -> birth_date) and one column no contract knows (plan_tier).
HEADER = "member_id,first_name,last_name,dob,sex,zip,line_of_business,plan_id,coverage_start,coverage_end,plan_tier"
CSV_ROWS = [
    "M001,Ana,Lee,1970-02-01,F,02134,commercial,P1,2023-01-01,,gold",
    'M002,"Bo, Jr.",Kim,1961-07-15,M,10001,medicare,P2,2023-01-01,2023-12-31,',
    "M003,Cy,Ng,1985-11-30,F,94105,medicaid,P3,2023-02-01,,silver",
]


def _write(path: Path, content: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    return path


def _csv(*rows: str) -> str:
    return "\n".join([HEADER, *rows]) + "\n"


def _good_inbox(inbox: Path) -> dict[str, Path]:
    """One file per supported format, all for eligibility, with different arrival dates and schemas."""
    folder = inbox / "eligibility"
    parquet = folder / "elig_20240229.parquet"
    parquet.parent.mkdir(parents=True, exist_ok=True)
    pl.DataFrame({"member_id": ["M010", "M011"], "birth_date": [date(1950, 1, 2), date(1960, 3, 4)], "plan_tier": [1, 2]}).write_parquet(parquet)
    ndjson_lines = [{"member_id": "M020", "sex": "F", "zip": "60601", "risk_score": 7.50, "flags": ["a"]}, {"member_id": "M021", "gender": "M", "age": 40}]
    return {
        "csv": _write(folder / "eligibility_2024-01-31.csv", _csv(*CSV_ROWS)),
        "parquet": parquet,
        "ndjson": _write(folder / "eligibility_2024-03-31.ndjson", "\n".join(json.dumps(r) for r in ndjson_lines) + "\n\n"),
        "gz": _write(folder / "eligibility_2024-04-30.csv.gz", gzip.compress(_csv(CSV_ROWS[0]).encode())),
    }


def _landing(tmp_path: Path, name: str) -> object:
    return next(f for f in scan_inbox(tmp_path) if f.path.name == name)


def test_scan_inbox_reads_arrival_dates_sizes_and_hashes(tmp_path: Path) -> None:
    files = _good_inbox(tmp_path)
    undated = _write(tmp_path / "medical_claims" / "claims.csv", "claim_id\nC1\n")
    os.utime(undated, (0, datetime(2024, 5, 6, 23, 30, tzinfo=timezone.utc).timestamp()))
    scanned = {f.path.name: f for f in scan_inbox(tmp_path)}
    assert {n: f.arrival_date for n, f in scanned.items()} == {
        "eligibility_2024-01-31.csv": date(2024, 1, 31), "elig_20240229.parquet": date(2024, 2, 29),
        "eligibility_2024-03-31.ndjson": date(2024, 3, 31), "eligibility_2024-04-30.csv.gz": date(2024, 4, 30),
        "claims.csv": date(2024, 5, 6),
    }
    csv_file = scanned["eligibility_2024-01-31.csv"]
    assert csv_file.feed == "eligibility" and scanned["claims.csv"].feed == "medical_claims"
    assert csv_file.size_bytes == files["csv"].stat().st_size
    assert csv_file.sha256 == hashlib.sha256(files["csv"].read_bytes()).hexdigest()


def test_arrival_date_skips_impossible_dates_in_names(tmp_path: Path) -> None:
    path = _write(tmp_path / "batch_20241399_2024-06-01.csv", "x\n")
    assert arrival_date_of(path) == date(2024, 6, 1)


def test_scan_inbox_reports_files_outside_feed_folders(tmp_path: Path) -> None:
    _good_inbox(tmp_path)
    _write(tmp_path / "pharmacy" / "rx_2024-01-31.csv", "fill_id\nF1\n")
    _write(tmp_path / ".uploading" / "partial.csv", "in flight")
    _write(tmp_path / "fhir" / "Patient.000.ndjson", "{}")  # the FHIR export's folder belongs to another source
    with pytest.raises(StrayFiles, match=r"pharmacy/rx_2024-01-31\.csv") as err:
        scan_inbox(tmp_path)
    assert ".uploading" not in str(err.value) and "fhir" not in str(err.value)


def test_csv_is_read_as_delivered_text_with_lineage(tmp_path: Path) -> None:
    _good_inbox(tmp_path)
    frame = read_landing_file(_landing(tmp_path, "eligibility_2024-01-31.csv"))
    assert frame.columns == [*HEADER.split(","), SOURCE_FILE, SOURCE_LINE, ARRIVAL_DATE]
    assert frame.schema[SOURCE_LINE] == pl.Int64 and frame.schema[ARRIVAL_DATE] == pl.Date
    assert all(frame.schema[c] == pl.String for c in HEADER.split(","))
    assert frame[SOURCE_LINE].to_list() == [2, 3, 4]
    assert frame[SOURCE_FILE].unique().to_list() == ["eligibility_2024-01-31.csv"]
    assert frame[ARRIVAL_DATE].unique().to_list() == [date(2024, 1, 31)]
    assert frame["zip"].to_list() == ["02134", "10001", "94105"]  # no type inference: leading zeros stay
    assert frame["first_name"][1] == "Bo, Jr." and frame["coverage_end"][0] is None and frame["plan_tier"][1] is None


def test_csv_line_numbers_are_physical_lines(tmp_path: Path) -> None:
    text = HEADER + "\n" + CSV_ROWS[0] + "\n\n" + CSV_ROWS[1].replace('"Bo, Jr."', '"Bo\nJr."') + "\n" + CSV_ROWS[2] + "\n"
    _write(tmp_path / "eligibility" / "e_2024-01-31.csv", text)
    frame = read_landing_file(_landing(tmp_path, "e_2024-01-31.csv"))
    assert frame[SOURCE_LINE].to_list() == [2, 4, 6]
    assert frame["first_name"][1] == "Bo\nJr."


def test_unquoted_csv_with_crlf_and_blank_lines_keeps_physical_lines(tmp_path: Path) -> None:
    text = "\r\n".join([HEADER, CSV_ROWS[0], "", CSV_ROWS[2], ""])
    _write(tmp_path / "eligibility" / "e_2024-01-31.csv", text)
    frame = read_landing_file(_landing(tmp_path, "e_2024-01-31.csv"))
    assert frame.select("member_id", "plan_tier", SOURCE_LINE).rows() == [("M001", "gold", 2), ("M003", "silver", 4)]


def test_parquet_ndjson_and_gzip_read_as_text(tmp_path: Path) -> None:
    _good_inbox(tmp_path)
    parquet = read_landing_file(_landing(tmp_path, "elig_20240229.parquet"))
    assert parquet.select("birth_date", "plan_tier", SOURCE_LINE).rows() == [("1950-01-02", "1", 1), ("1960-03-04", "2", 2)]
    ndjson = read_landing_file(_landing(tmp_path, "eligibility_2024-03-31.ndjson"))
    assert ndjson.columns[:-3] == ["member_id", "sex", "zip", "risk_score", "flags", "gender", "age"]
    assert ndjson.row(0, named=True) | {ARRIVAL_DATE: None} == {
        "member_id": "M020", "sex": "F", "zip": "60601", "risk_score": "7.5", "flags": '["a"]', "gender": None, "age": None,
        SOURCE_FILE: "eligibility_2024-03-31.ndjson", SOURCE_LINE: 1, ARRIVAL_DATE: None,
    }
    gz = read_landing_file(_landing(tmp_path, "eligibility_2024-04-30.csv.gz"))
    assert gz.height == 1 and gz[SOURCE_FILE][0] == "eligibility_2024-04-30.csv.gz"


def test_ndjson_numbers_keep_their_written_text(tmp_path: Path) -> None:
    _write(tmp_path / "lab_results" / "labs_2024-01-31.jsonl", '{"result_id": "R1", "value": 7.50, "unit": "%", "ok": true}\n')
    frame = read_landing_file(_landing(tmp_path, "labs_2024-01-31.jsonl"))
    assert frame.select("value", "ok").row(0) == ("7.50", "true")


def test_read_inbox_concatenates_formats_and_filters_dates(tmp_path: Path) -> None:
    _good_inbox(tmp_path)
    rows, rejections = read_inbox(tmp_path, "eligibility")
    assert rejections == []
    assert rows.height == 3 + 2 + 2 + 1
    assert rows.columns[-3:] == [SOURCE_FILE, SOURCE_LINE, ARRIVAL_DATE]
    assert {"dob", "birth_date", "gender", "plan_tier", "risk_score"} <= set(rows.columns)
    assert rows.group_by(SOURCE_FILE).len().sort(SOURCE_FILE).rows() == [
        ("elig_20240229.parquet", 2), ("eligibility_2024-01-31.csv", 3), ("eligibility_2024-03-31.ndjson", 2), ("eligibility_2024-04-30.csv.gz", 1),
    ]
    some, _ = read_inbox(tmp_path, "eligibility", {date(2024, 2, 29)})
    assert some[SOURCE_FILE].unique().to_list() == ["elig_20240229.parquet"]


def test_read_inbox_of_an_empty_feed_returns_the_lineage_schema(tmp_path: Path) -> None:
    rows, rejections = read_inbox(tmp_path, "lab_results")
    assert rows.height == 0 and rows.schema == pl.Schema({SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64, ARRIVAL_DATE: pl.Date})
    assert rejections == []


BAD_FILES = {
    "truncated.csv": (_csv(*CSV_ROWS[:2], "M003,Cy,Ng,1985-1"), r"last line 4 has 4 fields, header has 11"),
    "truncated_plain.csv": (_csv(CSV_ROWS[0]) + "M003,Cy,Ng,19", r"last line 3 has 4 fields, header has 11"),
    "ragged_middle.csv": (_csv(CSV_ROWS[0], "M002,Bo", CSV_ROWS[2]), r"line 3 has 2 fields"),
    "open_quote.csv": (_csv(CSV_ROWS[0], 'M002,"Bo'), r"malformed CSV"),
    "truncated.ndjson": ('{"member_id": "M1", "sex": "F"}\n{"member_id": "M2", "se', r"line 2 is not valid JSON"),
    "latin1.csv": (_csv(CSV_ROWS[0]).replace("Ana", "Ana Müller").encode("latin-1"), r"not UTF-8: byte 0xfc at offset \d+ \(line 2\)"),
    "empty.csv": (b"", r"empty file \(0 bytes\)"),
    "header_only.csv": (HEADER + "\n", r"header only, no records"),
    "foreign.csv": ("account,balance\nA1,10\n", r"no column of the eligibility contract \(got: account, balance\)"),
    "empty.ndjson": ("\n\n", r"no records"),
    "notes.txt": ("hello", r"unsupported file type"),
    "broken.csv.gz": (b"\x1f\x8b\x08\x00garbage", r"not a complete gzip file"),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
def test_bad_file_raises_one_line_reason_naming_the_file(tmp_path: Path, name: str) -> None:
    content, reason = BAD_FILES[name]
    _write(tmp_path / "eligibility" / name, content)
    with pytest.raises(BadFeedFile, match=reason) as err:
        read_landing_file(_landing(tmp_path, name))
    message = str(err.value)
    assert message.startswith(f"{name}: ") and "\n" not in message


def test_bad_files_are_rejected_left_untouched_and_good_files_still_land(tmp_path: Path) -> None:
    good = _good_inbox(tmp_path)
    bad = {name: _write(tmp_path / "eligibility" / f"{Path(name).stem}_2024-05-31{''.join(Path(name).suffixes)}", content)
           for name, (content, _) in BAD_FILES.items()}
    before = {p: p.read_bytes() for p in [*good.values(), *bad.values()]}
    rows, rejections = read_inbox(tmp_path, "eligibility")
    assert rows.height == 8
    assert sorted(r.file for r in rejections) == sorted(bad.values())
    assert all(r.reason.startswith(r.file.name) for r in rejections)
    assert {p: p.read_bytes() for p in before} == before  # nothing moved, deleted or rewritten
