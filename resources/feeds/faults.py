"""Production faults injected into a raw feed at small rates, each logged with the file and line it landed on.

The faults are the ones real health-plan feeds show: late files, blank required fields, resent rows, corrections
of a key already delivered, impossible values, malformed codes, unit mix-ups and a sender's schema change. The
log is the answer key that silver's quarantine and the schema-contract check are tested against.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from datetime import date
from typing import Callable, NamedTuple

import numpy as np
import polars as pl

from resources.feeds import codes
from resources.feeds.contract import ARRIVAL_DATE, RAW_LINEAGE, SOURCE_FILE, SOURCE_LINE, contract

FAULTS = ("late_arrival", "missing_required", "exact_duplicate", "near_duplicate", "out_of_range", "invalid_code", "unit_mixup", "schema_change")
ROW_FAULTS = FAULTS[:-1]
LOG_SCHEMA = {SOURCE_FILE: pl.String, SOURCE_LINE: pl.Int64, "fault": pl.String, "column": pl.String}
HEADER_LINE = 1
LATE_DAYS = (60, 180)
CORRECTION_DAYS = (1, 45)
RESEND_DAYS = (1, 30)
HBA1C_LOINC = tuple(test.loinc for test, _ in codes.HBA1C_TESTS)
BLOOD_PRESSURE_LOINC = (codes.SYSTOLIC_LOINC, codes.DIASTOLIC_LOINC)
ROW, APPENDED, FAULT, COLUMN = "_row", "_appended", "_fault", "_column"


@dataclass(frozen=True)
class FaultConfig:
    """Share of a feed's rows hit by each fault, and which feed changes schema on which arrival date."""

    late_arrival: float = 0.003
    missing_required: float = 0.002
    exact_duplicate: float = 0.003
    near_duplicate: float = 0.003
    out_of_range: float = 0.002
    invalid_code: float = 0.002
    unit_mixup: float = 0.005
    schema_change_feed: str | None = "pharmacy_fills"
    schema_change_date: date | None = None

    @classmethod
    def none(cls) -> FaultConfig:
        """Every fault off: the feed is delivered exactly as generated."""
        return cls(**dict.fromkeys(ROW_FAULTS, 0.0), schema_change_feed=None)

    @property
    def is_off(self) -> bool:
        return self == FaultConfig.none()


def fault_count(rate: float, rows: int) -> int:
    """Rows a fault touches: its share of the frame, at least one when on, so small frames still show every fault."""
    return 0 if rate <= 0 or rows == 0 else max(1, round(rate * rows))


# --- how each feed goes wrong ----------------------------------------------------------------------------------------
NewText = Callable[[pl.DataFrame, np.random.Generator], pl.Series]


class Corruption(NamedTuple):
    """One way a feed goes wrong: the column, the rows it can hit, and the new text for the rows it hits."""

    column: str
    rows: pl.Expr
    new_text: NewText


def _number(column: str) -> pl.Expr:
    return pl.col(column).cast(pl.Float64, strict=False)


def _format(value: pl.Expr, places: int) -> pl.Expr:
    """Decimal text with `places` digits after the point (negative values keep their sign)."""
    scaled = (value * 10**places).round(0).cast(pl.Int64)
    sign = pl.when(scaled < 0).then(pl.lit("-")).otherwise(pl.lit(""))
    whole, frac = scaled.abs() // 10**places, scaled.abs() % 10**places
    return sign + whole.cast(pl.String) + (pl.lit(".") + frac.cast(pl.String).str.zfill(places) if places else pl.lit(""))


def _evaluate(rows: pl.DataFrame, expr: pl.Expr) -> pl.Series:
    return rows.select(expr.alias("v")).to_series()


def _draw_choice(values: list[str]) -> NewText:
    return lambda rows, rng: pl.Series(np.array(values)[rng.integers(0, len(values), rows.height)])


def _scaled(column: str, low: float, high: float, places: int) -> NewText:
    """A numeric column multiplied by a random factor: a repriced claim, a corrected result."""
    def new_text(rows: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
        factor = pl.Series(rng.uniform(low, high, rows.height))
        return _evaluate(rows.with_columns(f=factor), _format(_number(column) * pl.col("f"), places))
    return new_text


def _shifted(column: str, low: int, high: int) -> NewText:
    """A whole number moved by a few units: a re-keyed vital sign."""
    def new_text(rows: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
        step = pl.Series(rng.integers(low, high, rows.height))
        return _evaluate(rows.with_columns(f=step), _format(_number(column) + pl.col("f"), 0))
    return new_text


def _expression(expr: pl.Expr) -> NewText:
    return lambda rows, rng: _evaluate(rows, expr)


def _future_birth(rows: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """A birth date after the delivery itself (a keying error)."""
    days = pl.Series(rng.integers(30, 400, rows.height))
    return _evaluate(rows.with_columns(d=days), (pl.col(ARRIVAL_DATE) + pl.duration(days=pl.col("d"))).cast(pl.String))


def _corrected_phone(rows: pl.DataFrame, rng: np.random.Generator) -> pl.Series:
    """The same area code and exchange with different last four digits: a corrected contact number."""
    last_four = (_number("phone_end") + pl.Series(rng.integers(1, 10_000, rows.height))) % 10_000
    frame = rows.with_columns(pl.col("phone").str.slice(-4).alias("phone_end"))
    prefix = pl.col("phone").str.slice(0, pl.col("phone").str.len_chars() - 4)
    return _evaluate(frame, prefix + last_four.cast(pl.Int64).cast(pl.String).str.zfill(4))


_MALFORMED_ICD = _draw_choice(["E11.9XQZ7", "ZZZ", "I1O", "E11-9"])
_HAS_VALUE = pl.col("value").is_not_null()

OUT_OF_RANGE: dict[str, Corruption] = {
    "eligibility": Corruption("birth_date", pl.col("birth_date").is_not_null(), _future_birth),
    "medical_claims": Corruption("paid_amount", _number("paid_amount") > 0, _expression(_format(-_number("paid_amount"), 2))),
    "pharmacy_fills": Corruption("days_supply", pl.col("days_supply").is_not_null(), _draw_choice(["0", "999"])),
    "lab_results": Corruption("value", _HAS_VALUE, _draw_choice(["999999", "-1"])),
    "clinical_records": Corruption("value", pl.col("code") == codes.SYSTOLIC_LOINC, _draw_choice(["900", "1200"])),
}
INVALID_CODE: dict[str, Corruption] = {
    "eligibility": Corruption("zip", pl.col("zip").is_not_null(), _expression(pl.col("zip").str.slice(1))),
    "medical_claims": Corruption("diagnosis_code_1", pl.col("diagnosis_code_1").is_not_null(), _MALFORMED_ICD),
    "pharmacy_fills": Corruption("ndc", pl.col("ndc").is_not_null(), _expression(pl.col("ndc").str.slice(2))),
    "lab_results": Corruption("loinc_code", pl.col("loinc_code").str.contains(r"-\d$"),
                              _expression(pl.col("loinc_code").str.replace(r"-\d$", "-X"))),
    "clinical_records": Corruption("code", pl.col("record_type") == "problem", _MALFORMED_ICD),
}
UNIT_MIXUP: dict[str, Corruption] = {
    # HbA1c sent in IFCC mmol/mol while the unit still says %.
    "lab_results": Corruption("value", pl.col("loinc_code").is_in(HBA1C_LOINC) & (pl.col("unit") == "%") & _HAS_VALUE,
                    _expression(_format((_number("value") - 2.15) * 10.929, 0))),
    # Systolic pressure in kPa with the unit still mm[Hg].
    "clinical_records": Corruption("value", (pl.col("code") == codes.SYSTOLIC_LOINC) & _HAS_VALUE,
                                   _expression(_format(_number("value") * 0.133322, 1))),
    # Strength in grams in a milligram column.
    "pharmacy_fills": Corruption("strength_mg", _number("strength_mg") >= 1, _expression(_format(_number("strength_mg") / 1000, 3))),
}
IN_PLACE = {"out_of_range": OUT_OF_RANGE, "invalid_code": INVALID_CODE, "unit_mixup": UNIT_MIXUP}
NEAR_DUPLICATE: dict[str, Corruption] = {
    "eligibility": Corruption("phone", pl.col("phone").str.contains(r"[0-9]{4}$"), _corrected_phone),
    "medical_claims": Corruption("paid_amount", _number("paid_amount") > 0, _scaled("paid_amount", 0.5, 0.95, 2)),
    "pharmacy_fills": Corruption("paid_amount", _number("paid_amount") > 0, _scaled("paid_amount", 0.5, 0.95, 2)),
    "lab_results": Corruption("value", _number("value") > 1, _scaled("value", 0.9, 0.97, 1)),
    "clinical_records": Corruption("value", pl.col("code").is_in(BLOOD_PRESSURE_LOINC) & _HAS_VALUE, _shifted("value", 2, 10)),
}


@dataclass(frozen=True)
class SchemaChange:
    """A sender's new layout from one delivery on: a declared rename, an undeclared column, a retyped column."""

    renamed: tuple[str, str]
    added: tuple[str, Callable[[int, np.random.Generator], pl.Series]]
    retyped: tuple[str, pl.Expr]


def _us_date(column: str) -> pl.Expr:
    text = pl.col(column)
    return text.str.slice(5, 2) + "/" + text.str.slice(8, 2) + "/" + text.str.slice(0, 4)


def _npi_text(size: int, rng: np.random.Generator) -> pl.Series:
    return pl.Series(rng.integers(1_000_000_000, 2_000_000_000, size)).cast(pl.String)


def _constant(text: str) -> Callable[[int, np.random.Generator], pl.Series]:
    return lambda size, rng: pl.Series([text] * size, dtype=pl.String)


SCHEMA_CHANGES: dict[str, SchemaChange] = {
    "eligibility": SchemaChange(("birth_date", "dob"), ("preferred_language", _constant("en")), ("coverage_start", _us_date("coverage_start"))),
    "medical_claims": SchemaChange(("diagnosis_code_1", "dx1"), ("claim_status", _constant("paid")), ("paid_amount", "$" + pl.col("paid_amount"))),
    "pharmacy_fills": SchemaChange(("days_supply", "days_supplied"), ("pharmacy_npi", _npi_text), ("paid_amount", "$" + pl.col("paid_amount"))),
    "lab_results": SchemaChange(("value", "result_value"), ("specimen_type", _constant("blood")), ("collection_date", _us_date("collection_date"))),
    "clinical_records": SchemaChange(("code", "obs_code"), ("encounter_type", _constant("office")), ("encounter_date", _us_date("encounter_date"))),
}


# --- choosing rows ------------------------------------------------------------------------------------------------
def _fault_rng(seed: int, feed: str, block: int) -> np.random.Generator:
    """The feed's fault stream; a plan's block other than 0 gets its own (block 0 draws what a one-block plan draws)."""
    entropy = [seed, zlib.crc32(feed.encode()), zlib.crc32(b"faults")] + ([block] if block else [])
    return np.random.default_rng(np.random.SeedSequence(entropy))


def _choose_rows(rng: np.random.Generator, masks: dict[str, np.ndarray], counts: dict[str, int]) -> dict[str, np.ndarray]:
    """Disjoint random rows per fault, each among the rows that fault can hit; restrictive faults choose first."""
    size = next(iter(masks.values())).size
    order, used = rng.permutation(size), np.zeros(size, dtype=bool)
    chosen = {}
    for fault in sorted(masks, key=lambda f: masks[f].sum()):
        pool = order[masks[fault][order] & ~used[order]]
        chosen[fault] = np.sort(pool[: counts[fault]])
        used[chosen[fault]] = True
    return chosen


def _mask(frame: pl.DataFrame, expr: pl.Expr) -> np.ndarray:
    return frame.select(expr.fill_null(False).alias("m")).to_series().to_numpy()


@dataclass(frozen=True)
class _Deliveries:
    """When each row arrived, the feed's delivery dates and the file delivered on each date."""

    row_day: np.ndarray
    days: np.ndarray
    files: dict[date, str]

    @classmethod
    def of(cls, frame: pl.DataFrame) -> _Deliveries:
        row_day = frame[ARRIVAL_DATE].cast(pl.Int32).to_numpy().astype(np.int64)
        return cls(row_day, np.unique(row_day), dict(frame.group_by(ARRIVAL_DATE).agg(pl.col(SOURCE_FILE).min()).iter_rows()))

    def later(self, rows: np.ndarray, low: int, high: int, rng: np.random.Generator) -> np.ndarray:
        """An existing delivery date `low`-`high` days after each row's own (snapped forward, never past the last)."""
        target = np.minimum(self.row_day[rows] + rng.integers(low, high + 1, rows.size), self.days[-1])
        return self.days[np.searchsorted(self.days, target)]


def _eligible_rows(frame: pl.DataFrame, feed: str, deliveries: _Deliveries) -> dict[str, np.ndarray]:
    """The rows each fault can hit in this feed (none where the fault does not apply)."""
    everywhere = np.ones(frame.height, dtype=bool)
    return {
        "late_arrival": deliveries.row_day + LATE_DAYS[0] <= deliveries.days[-1],
        "missing_required": everywhere,
        "exact_duplicate": everywhere,
        "near_duplicate": (deliveries.row_day < deliveries.days[-1]) & _mask(frame, NEAR_DUPLICATE[feed].rows),
        **{fault: _mask(frame, table[feed].rows) if feed in table else ~everywhere for fault, table in IN_PLACE.items()},
    }


# --- applying them ------------------------------------------------------------------------------------------------
def _overwrite(frame: pl.DataFrame, rows: np.ndarray, column: str, values: pl.Series, fault: str) -> pl.DataFrame:
    """New text for some rows of one column, each marked with the fault and column for the log."""
    return frame.with_columns(
        frame[column].scatter(rows, values.cast(pl.String)),
        frame[FAULT].scatter(rows, fault),
        frame[COLUMN].scatter(rows, column),
    )


def _corrupt(frame: pl.DataFrame, rows: np.ndarray, corruption: Corruption, fault: str, rng: np.random.Generator) -> pl.DataFrame:
    return _overwrite(frame, rows, corruption.column, corruption.new_text(frame[rows], rng), fault) if rows.size else frame


def _blank_required(frame: pl.DataFrame, rows: np.ndarray, feed: str, rng: np.random.Generator) -> pl.DataFrame:
    """Blank one required column per chosen row."""
    required = [c.name for c in contract(feed).columns.values() if c.required]
    which = rng.integers(0, len(required), rows.size)
    for k, column in enumerate(required):
        hit = rows[which == k]
        if hit.size:
            frame = _overwrite(frame, hit, column, pl.Series([None] * hit.size, dtype=pl.String), "missing_required")
    return frame


def _redeliver(frame: pl.DataFrame, rows: np.ndarray, arrival: np.ndarray, files: dict[date, str], fault: str) -> pl.DataFrame:
    """Copies of rows delivered again on the given dates, appended to those files."""
    dates = pl.Series(arrival.astype("datetime64[D]")).cast(pl.Date)
    copies = frame[rows]
    return copies.with_columns(
        dates.alias(ARRIVAL_DATE),
        dates.replace_strict(files, return_dtype=pl.String).alias(SOURCE_FILE),
        pl.lit(True).alias(APPENDED),
        pl.lit(fault).alias(FAULT),
        copies[COLUMN] if fault == "near_duplicate" else pl.lit(None, pl.String).alias(COLUMN),
    )


def _with_schema_change(frame: pl.DataFrame, feed: str, on: date, rng: np.random.Generator) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The new layout on one delivery date (columns absent from that file are empty elsewhere), with its log rows."""
    change = SCHEMA_CHANGES[feed]
    (old, new), (added, make), (retyped, expr) = change.renamed, change.added, change.retyped
    if contract(feed).renames.get(new) != old:
        raise ValueError(f"{feed}: schema-change rename {new!r} -> {old!r} is not declared in the contract")
    today = pl.col(ARRIVAL_DATE) == on
    rows = int(frame.select(today.sum()).item())
    extra = pl.Series(added, [None] * frame.height, dtype=pl.String).scatter(np.flatnonzero(_mask(frame, today)), make(rows, rng))
    changed = frame.with_columns(
        pl.when(today).then(expr).otherwise(pl.col(retyped)).alias(retyped),
        pl.when(today).then(pl.col(old)).alias(new),
        pl.when(~today).then(pl.col(old)).alias(old),
        extra,
    )
    files = frame.filter(today)[SOURCE_FILE].unique().sort()
    log = pl.DataFrame(
        {SOURCE_FILE: [f for f in files for _ in range(3)], SOURCE_LINE: [HEADER_LINE] * (3 * files.len()),
         "fault": ["schema_change"] * (3 * files.len()), "column": [new, added, retyped] * files.len()},
        schema=LOG_SCHEMA,
    )
    return changed, log


def _renumber(frame: pl.DataFrame) -> pl.DataFrame:
    """Lines 2.. per file in delivered order, redelivered rows after the file's own rows."""
    ordered = frame.sort(ARRIVAL_DATE, SOURCE_FILE, APPENDED, ROW, maintain_order=True)
    return ordered.with_columns((pl.int_range(pl.len(), dtype=pl.Int64).over(SOURCE_FILE) + 2).alias(SOURCE_LINE))


def schema_change_date(frame: pl.DataFrame, cfg: FaultConfig) -> date:
    """The configured date, else the middle arrival date of the feed."""
    if cfg.schema_change_date is not None:
        return cfg.schema_change_date
    arrivals = frame[ARRIVAL_DATE].unique().sort()
    return arrivals[arrivals.len() // 2]


def _redeliveries(work: pl.DataFrame, feed: str, chosen: dict[str, np.ndarray], deliveries: _Deliveries,
                  rng: np.random.Generator) -> list[pl.DataFrame]:
    """Rows delivered (again) later: late rows moved, exact resends, and corrections of a key already sent."""
    late, resent, corrected = chosen["late_arrival"], chosen["exact_duplicate"], chosen["near_duplicate"]
    resend_on = np.where(rng.random(resent.size) < 0.5, deliveries.row_day[resent], deliveries.later(resent, *RESEND_DAYS, rng))
    correction = _corrupt(work[corrected], np.arange(corrected.size), NEAR_DUPLICATE[feed], "near_duplicate", rng)
    return [
        _redeliver(work, late, deliveries.later(late, *LATE_DAYS, rng), deliveries.files, "late_arrival"),
        _redeliver(work, resent, resend_on, deliveries.files, "exact_duplicate"),
        _redeliver(correction, np.arange(corrected.size), deliveries.later(corrected, *CORRECTION_DAYS, rng), deliveries.files, "near_duplicate"),
    ]


def _fault_log(work: pl.DataFrame) -> pl.DataFrame:
    return work.filter(pl.col(FAULT).is_not_null()).select(SOURCE_FILE, SOURCE_LINE, pl.col(FAULT).alias("fault"), pl.col(COLUMN).alias("column"))


def inject_faults(frame: pl.DataFrame, feed: str, cfg: FaultConfig, seed: int, block: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The raw feed (or one block of members' part of it) with faults injected, and a log of one row per fault (file,
    line, fault, column)."""
    contract(feed)
    if cfg.is_off or frame.is_empty():
        return frame, pl.DataFrame(schema=LOG_SCHEMA)
    rng = _fault_rng(seed, feed, block)
    work = frame.with_row_index(ROW).with_columns(
        pl.lit(False).alias(APPENDED), pl.lit(None, pl.String).alias(FAULT), pl.lit(None, pl.String).alias(COLUMN))
    deliveries = _Deliveries.of(work)
    counts = {fault: fault_count(getattr(cfg, fault), frame.height) for fault in ROW_FAULTS}
    chosen = _choose_rows(rng, _eligible_rows(work, feed, deliveries), counts)
    for fault, table in IN_PLACE.items():
        if feed in table:
            work = _corrupt(work, chosen[fault], table[feed], fault, rng)
    work = _blank_required(work, chosen["missing_required"], feed, rng)
    work = _renumber(pl.concat([work.filter(~pl.col(ROW).is_in(chosen["late_arrival"])), *_redeliveries(work, feed, chosen, deliveries, rng)]))
    logs = [_fault_log(work)]
    if cfg.schema_change_feed == feed:
        work, schema_log = _with_schema_change(work, feed, schema_change_date(work, cfg), rng)
        logs.append(schema_log)
    added = [c for c in work.columns if c not in frame.columns and c not in (ROW, APPENDED, FAULT, COLUMN)]
    values = [c for c in frame.columns if c not in RAW_LINEAGE]
    return work.select(*values, *added, *RAW_LINEAGE), pl.concat(logs).sort(SOURCE_FILE, SOURCE_LINE, "fault", "column", nulls_last=True)


def claims_outage(rows: pl.DataFrame, since: date) -> pl.DataFrame:
    """A clearinghouse outage: no medical claim with a service date on or after `since` is ever delivered.

    Not one of the small-rate faults above: it is the switch that lets a demo show monitoring catch drift (the
    recent-utilisation features of the months after `since` collapse) and the drift sensor request retraining.
    """
    days = pl.col("service_date").str.to_date("%Y-%m-%d", strict=False)
    return rows.filter(days.is_null() | (days < since))
