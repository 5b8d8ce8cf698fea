"""Care-gap measure declarations and code sets, loaded from the data files beside this module."""

from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import polars as pl
import yaml

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Window:
    """Where an event must fall: `lookback_months` back from T (None: any time), or the measurement year."""

    code_set: str
    lookback_months: int | None = None
    measurement_year: bool = False


@dataclass(frozen=True)
class Condition:
    name: str
    description: str
    code_set: str
    lookback_months: int
    min_dates: int
    or_one_date_with_fill: tuple[str, ...] = ()


@dataclass(frozen=True)
class Measure:
    name: str
    title: str
    sexes: tuple[str, ...] | None
    age_by_sex: dict[str, tuple[int, int]]
    condition: str | None
    numerator: tuple[Window, ...]
    exclusions: tuple[Window, ...]
    adherence: dict = field(default_factory=dict)
    filled_class: str | None = None
    fill_lookback_months: int | None = None


def _window(spec: dict) -> Window:
    return Window(spec["code_set"], spec.get("lookback_months"), spec.get("window") == "measurement_year")


def _measure(name: str, spec: dict) -> Measure:
    population = spec["population"]
    ages = population.get("age_by_sex") or {sex: population["age"] for sex in population.get("sexes", ["F", "M"])}
    return Measure(
        name=name,
        title=spec["title"],
        sexes=tuple(population["sexes"]) if "sexes" in population else None,
        age_by_sex={sex: tuple(band) for sex, band in ages.items()},
        condition=population.get("condition"),
        numerator=tuple(_window(w) for w in spec.get("numerator", [])),
        exclusions=tuple(_window(w) for w in spec.get("exclusions", [])),
        adherence=spec.get("adherence", {}),
        filled_class=population.get("filled_class"),
        fill_lookback_months=population.get("fill_lookback_months"),
    )


@cache
def _declarations() -> dict:
    return yaml.safe_load((HERE / "measures.yaml").read_text())


def measures() -> dict[str, Measure]:
    return {name: _measure(name, spec) for name, spec in _declarations()["measures"].items()}


def conditions() -> dict[str, Condition]:
    return {
        name: Condition(name, s["description"], s["code_set"], s["lookback_months"], s["min_dates"], tuple(s.get("or_one_date_with_fill", [])))
        for name, s in _declarations()["conditions"].items()
    }


def measure_settings() -> dict:
    return dict(_declarations()["settings"])


@cache
def code_sets() -> pl.DataFrame:
    """Every code-set member; prefix entries are three-character ICD-10-CM categories."""
    table = pl.read_csv(HERE / "code_sets.csv", schema_overrides={"code": pl.String})
    bad = table.filter((pl.col("match") == "prefix") & (pl.col("code").str.len_chars() != 3) & ~pl.col("code").str.contains(r"\."))
    if bad.height:
        raise ValueError(f"prefix codes must be ICD-10-CM categories or subcategories: {bad['code'].to_list()}")
    return table


MEASURES = tuple(_declarations()["measures"])
