"""The landing directory (inbox): files senders drop into `<inbox>/<feed>/`, read as a production landing zone would.

Each file is read as text exactly as delivered (CSV, Parquet, NDJSON or JSON Lines, optionally gzipped) into the
raw shape: the sender's columns as `pl.String` (empty cell = null) plus `_source_file`, `_source_line` and
`_arrival_date`. A file that cannot be trusted whole (empty, truncated, not UTF-8, not this feed) is refused whole
with a one-line reason and left where it is, so the sender can fix and resend it; the feed's other files still land.
Files outside the known feed folders (and `fhir/`, the FHIR export's own folder) raise `StrayFiles`: a misrouted
delivery would otherwise never land, unseen.
Dot-files are skipped, as upload tools write in-flight files under a leading dot.
An inbox may also be an `s3://` prefix: `staged_inbox` copies its objects into a temporary folder, so the same rules apply.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import json
import os
import re
import tempfile
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timezone
from pathlib import Path

import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, FEEDS, RAW_LINEAGE, SOURCE_FILE, SOURCE_LINE, contract
from resources.object_store import ObjectStore, is_s3

FORMATS = {".csv": "csv", ".parquet": "parquet", ".ndjson": "ndjson", ".jsonl": "ndjson"}
_DATE_IN_NAME = re.compile(r"(?<!\d)(\d{4}-\d{2}-\d{2}|\d{8})(?!\d)")
FIELDS = "_fields"  # a CSV record as a list of field texts, before it becomes columns
OTHER_SOURCES = ("fhir",)  # inbox folders read by another feed source (the FHIR bulk export), not stray


class BadFeedFile(ValueError):
    """A delivered file refused whole; the message is one line naming the file and what is wrong."""


class StrayFiles(ValueError):
    """Files in the inbox outside every known feed folder (a misrouted or misnamed delivery)."""


@dataclass(frozen=True)
class LandingFile:
    feed: str
    path: Path
    arrival_date: date
    size_bytes: int
    sha256: str


@dataclass(frozen=True)
class Rejection:
    """A file refused whole and left in place, with the one-line reason."""

    file: Path
    reason: str


def arrival_date_from(name: str, modified: datetime) -> date:
    """The delivery date the sender put in the file name (YYYY-MM-DD or YYYYMMDD), else the UTC date it was last modified."""
    for match in _DATE_IN_NAME.finditer(name):
        text = match.group(1).replace("-", "")
        try:
            return date(int(text[:4]), int(text[4:6]), int(text[6:]))
        except ValueError:
            continue
    return modified.astimezone(timezone.utc).date()


def arrival_date_of(path: Path) -> date:
    return arrival_date_from(path.name, datetime.fromtimestamp(path.stat().st_mtime, tz=timezone.utc))


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _landing_file(feed: str, path: Path) -> LandingFile:
    return LandingFile(feed=feed, path=path, arrival_date=arrival_date_of(path), size_bytes=path.stat().st_size, sha256=_sha256(path))


def _visible_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts))


def _feed_files(inbox: Path, feed: str, arrival_dates: set[date] | None = None) -> list[LandingFile]:
    """The feed's files (of some arrival dates), hashed: only the files asked for are read to hash them."""
    folder = inbox / feed
    paths = _visible_files(folder) if folder.is_dir() else []
    return [_landing_file(feed, p) for p in paths if arrival_dates is None or arrival_date_of(p) in arrival_dates]


def _outside_feeds(parts: tuple[str, ...]) -> bool:
    return len(parts) < 2 or parts[0] not in (*FEEDS, *OTHER_SOURCES)


def scan_inbox(inbox: Path, shown_as: str | None = None) -> list[LandingFile]:
    """Every file under a known feed folder, ordered by feed, arrival date and name.

    Raises StrayFiles if any file lies outside the feed folders (unknown folder or inbox root), naming them,
    because a delivery nobody reads is worse than a loud sensor error; files are never moved. `shown_as` names the
    inbox in that message when `inbox` is a staged copy.
    """
    stray = [p.relative_to(inbox).as_posix() for p in _visible_files(inbox) if _outside_feeds(p.relative_to(inbox).parts)]
    if stray:
        raise StrayFiles(f"inbox {shown_as or inbox} has files outside the feed folders ({', '.join(FEEDS)}): {', '.join(stray)}")
    files = [f for feed in FEEDS for f in _feed_files(inbox, feed)]
    return sorted(files, key=lambda f: (FEEDS.index(f.feed), f.arrival_date, f.path.name))


@contextmanager
def staged_inbox(inbox: str, endpoint_url: str | None = None, feed: str | None = None,
                 arrival_dates: set[date] | None = None) -> Iterator[Path]:
    """The inbox as a local folder. A local inbox is itself; an `s3://` inbox's objects (all, or one feed's for some
    arrival days) are copied into a private temporary folder that is deleted when the block ends, each file stamped with
    its object's last-modified time, so arrival dates, stray files, hashes and reading all follow the rules above.

    Objects are only read, never moved or deleted. Like the local scan, which hashes every file, a whole-inbox stage
    reads every object: an inbox that keeps years of deliveries should archive them elsewhere.
    """
    if not is_s3(inbox):
        yield Path(inbox)
        return
    store = ObjectStore.at(inbox, endpoint_url)
    with tempfile.TemporaryDirectory(prefix="workbench-inbox-") as folder:
        for obj in store.list(*([feed] if feed else [])):
            key = f"{feed}/{obj.key}" if feed else obj.key
            wanted = arrival_dates is None or arrival_date_from(key.rsplit("/", 1)[-1], obj.modified) in arrival_dates
            if wanted and not key.endswith("/"):
                _stage(store, key, obj.modified, Path(folder), inbox)
        yield Path(folder)


def _stage(store: ObjectStore, key: str, modified: datetime, folder: Path, inbox: str) -> None:
    """One object copied to its key's path under `folder`; a key that could climb out of the folder is refused."""
    if any(part in ("", ".", "..") for part in key.split("/")):
        raise StrayFiles(f"inbox {inbox} has an object whose key is not a plain path: {key}")
    target = folder / key
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(store.get(key))
    os.utime(target, (modified.timestamp(), modified.timestamp()))


def file_format(path: Path) -> tuple[str, bool]:
    """(format, gzipped) from the file name; an unsupported suffix is a BadFeedFile."""
    suffixes = [s.lower() for s in path.suffixes]
    gzipped = bool(suffixes) and suffixes[-1] == ".gz"
    suffix = suffixes[-2] if gzipped and len(suffixes) > 1 else (suffixes[-1] if suffixes and not gzipped else "")
    if suffix not in FORMATS:
        raise BadFeedFile(f"{path.name}: unsupported file type (expected {', '.join(FORMATS)}, optionally .gz)")
    return FORMATS[suffix], gzipped


def file_bytes(path: Path, gzipped: bool) -> bytes:
    """The delivered content, gunzipped; an empty or broken file is a BadFeedFile."""
    data = path.read_bytes()
    if not data:
        raise BadFeedFile(f"{path.name}: empty file (0 bytes)")
    if not gzipped:
        return data
    try:
        data = gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as err:
        raise BadFeedFile(f"{path.name}: not a complete gzip file ({err})") from None
    if not data:
        raise BadFeedFile(f"{path.name}: empty file (0 bytes after gunzip)")
    return data


def utf8_text(name: str, data: bytes) -> str:
    """Strict UTF-8 (a leading byte-order mark dropped): a wrong encoding is refused, never guessed."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise BadFeedFile(f"{name}: not UTF-8: byte 0x{data[err.start]:02x} at offset {err.start} (line {line})") from None


def _refuse_reserved(name: str, columns: list[str]) -> None:
    reserved = [c for c in columns if c in RAW_LINEAGE]
    if reserved:
        raise BadFeedFile(f"{name}: column(s) {', '.join(reserved)} are reserved for lineage")


def _plain_records(text: str) -> tuple[list[str], pl.DataFrame]:
    """Quote-free CSV (the common case) split by polars: one record per physical line, blank lines skipped."""
    lines = pl.DataFrame(pl.Series(FIELDS, text.split("\n")).str.strip_suffix("\r")).with_row_index(SOURCE_LINE, offset=1)
    header = lines[FIELDS][0].split(",")
    return header, lines.slice(1).filter(pl.col(FIELDS) != "").with_columns(pl.col(FIELDS).str.split(","))


def _quoted_records(name: str, text: str) -> tuple[list[str], pl.DataFrame]:
    """CSV with quoting, parsed by the csv module; a record's line is the physical line it starts on."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    records, lines = [], []
    try:
        header, last = next(reader, []), reader.line_num
        for record in reader:
            if record:  # a blank line is not a record
                records.append(record)
                lines.append(last + 1)
            last = reader.line_num
    except csv.Error as err:
        raise BadFeedFile(f"{name}: malformed CSV at line {reader.line_num}: {err}") from None
    return header, pl.DataFrame({SOURCE_LINE: lines, FIELDS: records}, schema={SOURCE_LINE: pl.Int64, FIELDS: pl.List(pl.String)})


def read_csv_text(name: str, text: str) -> pl.DataFrame:
    """CSV records with their physical start line; a record with more or fewer fields than the header is refused,
    because a truncated file would otherwise be padded with empty cells and pass silently."""
    header, records = _quoted_records(name, text) if '"' in text else _plain_records(text)
    if header in ([], [""]):
        raise BadFeedFile(f"{name}: empty file (no header)")
    if len(set(header)) != len(header):
        raise BadFeedFile(f"{name}: header repeats a column name: {', '.join(sorted({c for c in header if header.count(c) > 1}))}")
    if not records.height:
        raise BadFeedFile(f"{name}: header only, no records")
    ragged = records.filter(pl.col(FIELDS).list.len() != len(header))
    if ragged.height:
        line, fields = ragged[SOURCE_LINE][0], ragged[FIELDS][0]
        where = "last line" if line == records[SOURCE_LINE].max() else "line"
        raise BadFeedFile(f"{name}: {where} {line} has {len(fields)} fields, header has {len(header)} (truncated or malformed)")
    _refuse_reserved(name, header)
    return records.select(*[pl.col(FIELDS).list.get(i).replace("", None).alias(c) for i, c in enumerate(header)], pl.col(SOURCE_LINE).cast(pl.Int64))


def _json_text(value: object) -> str | None:
    """A JSON value as the text the sender wrote: numbers were kept as text by the parser; nested values stay JSON."""
    if value is None or isinstance(value, str):
        return value or None
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value, separators=(",", ":"))


def json_lines(name: str, text: str) -> list[tuple[int, dict]]:
    """(line number, object) per non-blank line; numbers kept as their literal text so nothing is altered."""
    records = []
    for number, line in enumerate(text.split("\n"), start=1):  # not splitlines(): U+2028 may sit inside a JSON string
        if not line.strip():
            continue
        try:
            record = json.loads(line, parse_float=str, parse_int=str)
        except json.JSONDecodeError as err:
            raise BadFeedFile(f"{name}: line {number} is not valid JSON (truncated?): {err.msg} at column {err.colno}") from None
        if not isinstance(record, dict):
            raise BadFeedFile(f"{name}: line {number} is a JSON {type(record).__name__}, not an object")
        records.append((number, record))
    if not records:
        raise BadFeedFile(f"{name}: no records (only blank lines)")
    return records


def read_ndjson_text(name: str, text: str) -> pl.DataFrame:
    """One row per JSON object line; columns in first-seen order, absent keys null."""
    records = json_lines(name, text)
    columns = list(dict.fromkeys(key for _, record in records for key in record))
    _refuse_reserved(name, columns)
    values = {c: [_json_text(record.get(c)) for _, record in records] for c in columns}
    return pl.DataFrame(values, schema={c: pl.String for c in columns}).with_columns(
        pl.Series(SOURCE_LINE, [number for number, _ in records], dtype=pl.Int64)
    )


def read_parquet_bytes(name: str, data: bytes) -> pl.DataFrame:
    """Parquet columns cast to text (row number as line); nested columns are refused, as no feed delivers them."""
    try:
        frame = pl.read_parquet(io.BytesIO(data))
    except Exception as err:  # polars raises several error types for damaged Parquet
        raise BadFeedFile(f"{name}: not a readable Parquet file ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    _refuse_reserved(name, frame.columns)
    nested = [c for c, t in frame.schema.items() if t.is_nested()]
    if nested:
        raise BadFeedFile(f"{name}: nested column(s) {', '.join(nested)}; feeds are flat tables")
    if not frame.height:
        raise BadFeedFile(f"{name}: schema only, no records")
    try:
        text = frame.select(pl.col(c).cast(pl.String).replace("", None) for c in frame.columns)
    except pl.exceptions.PolarsError as err:
        raise BadFeedFile(f"{name}: a column cannot be read as text ({type(err).__name__}: {str(err).splitlines()[0]})") from None
    return text.with_row_index(SOURCE_LINE, offset=1).with_columns(pl.col(SOURCE_LINE).cast(pl.Int64))


def _check_columns(name: str, feed: str, columns: list[str]) -> None:
    """A file must carry at least one column this feed's contract knows; extra columns are fine (silver flags them)."""
    spec = contract(feed)
    if not set(columns) & (set(spec.column_names) | set(spec.renames)):
        shown = ", ".join(columns[:10]) + (f", ... ({len(columns)} columns)" if len(columns) > 10 else "")
        raise BadFeedFile(f"{name}: no column of the {feed} contract (got: {shown})")


def with_lineage(frame: pl.DataFrame, source_file: str, arrival_date: date) -> pl.DataFrame:
    """Delivered columns, then the three lineage columns in their fixed order and types."""
    data = [c for c in frame.columns if c not in RAW_LINEAGE]
    return frame.select(
        *data,
        pl.lit(source_file, pl.String).alias(SOURCE_FILE),
        pl.col(SOURCE_LINE).cast(pl.Int64),
        pl.lit(arrival_date, pl.Date).alias(ARRIVAL_DATE),
    )


def read_landing_file(f: LandingFile) -> pl.DataFrame:
    """One delivered file in the raw shape, or BadFeedFile naming the file and what is wrong with it."""
    kind, gzipped = file_format(f.path)
    data = file_bytes(f.path, gzipped)
    name = f.path.name
    if kind == "parquet":
        frame = read_parquet_bytes(name, data)
    elif kind == "csv":
        frame = read_csv_text(name, utf8_text(name, data))
    else:
        frame = read_ndjson_text(name, utf8_text(name, data))
    _check_columns(name, f.feed, [c for c in frame.columns if c != SOURCE_LINE])
    return with_lineage(frame, name, f.arrival_date)


def empty_raw_frame() -> pl.DataFrame:
    """No rows yet: only the lineage columns, so callers can still filter and concatenate."""
    return pl.DataFrame(schema={SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64, ARRIVAL_DATE: pl.Date})


def read_inbox(inbox: Path, feed: str, arrival_dates: set[date] | None = None) -> tuple[pl.DataFrame, list[Rejection]]:
    """All files of one feed (optionally some arrival dates), concatenated diagonally; bad files become rejections.

    Files are only read, never moved or deleted: a refused file stays for the sender to replace.
    """
    contract(feed)  # an unknown feed name fails here with the list of known feeds
    frames, rejections = [], []
    for f in _feed_files(inbox, feed, arrival_dates):
        try:
            frames.append(read_landing_file(f))
        except BadFeedFile as err:
            rejections.append(Rejection(file=f.path, reason=str(err)))
    if not frames:
        return empty_raw_frame(), rejections
    rows = pl.concat(frames, how="diagonal")
    return rows.select(*[c for c in rows.columns if c not in RAW_LINEAGE], *RAW_LINEAGE), rejections
