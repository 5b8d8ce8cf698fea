"""Feed contracts: the declared shape of each raw feed, loaded once from contracts.yaml.

Every feed source delivers text columns named as the sender names them plus three lineage
columns (RAW_LINEAGE); everything downstream (bronze, silver, Pandera schemas, PHI tags)
reads column meaning from here, so a feed's contract has one home.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from functools import cache
from pathlib import Path

import yaml

CONTRACTS_FILE = Path(__file__).with_name("contracts.yaml")

SOURCE_FILE = "_source_file"
SOURCE_LINE = "_source_line"
ARRIVAL_DATE = "_arrival_date"
RAW_LINEAGE = (SOURCE_FILE, SOURCE_LINE, ARRIVAL_DATE)

CLASSIFICATIONS = ("direct_identifier", "quasi_identifier", "clinical", "operational")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    required: bool
    classification: str
    description: str
    pattern: str | None = None
    allowed: tuple[str, ...] | None = None
    min: float | date | None = None
    max: float | date | None = None


@dataclass(frozen=True)
class FeedContract:
    name: str
    description: str
    service_date: str
    cadence_days: int
    grace_days: int
    key: tuple[str, ...]
    renames: dict[str, str]
    columns: dict[str, Column] = field(default_factory=dict)

    @property
    def column_names(self) -> list[str]:
        return list(self.columns)

    def direct_identifiers(self) -> list[str]:
        return [c.name for c in self.columns.values() if c.classification == "direct_identifier"]


def _column(name: str, spec: dict) -> Column:
    if spec["classification"] not in CLASSIFICATIONS:
        raise ValueError(f"column {name}: unknown classification {spec['classification']!r}")
    bounds = {k: (date.fromisoformat(v) if isinstance(v, str) else v) for k in ("min", "max") if (v := spec.get(k)) is not None}
    return Column(
        name=name,
        type=spec["type"],
        required=bool(spec.get("required", False)),
        classification=spec["classification"],
        description=spec.get("description", ""),
        pattern=spec.get("pattern"),
        allowed=tuple(spec["allowed"]) if "allowed" in spec else None,
        **bounds,
    )


@cache
def contracts() -> dict[str, FeedContract]:
    """All feed contracts by feed name, in declaration order."""
    raw = yaml.safe_load(CONTRACTS_FILE.read_text())["feeds"]
    return {
        name: FeedContract(
            name=name,
            description=spec["description"],
            service_date=spec["service_date"],
            cadence_days=spec["cadence_days"],
            grace_days=spec["grace_days"],
            key=tuple(spec["key"]),
            renames=dict(spec.get("renames", {})),
            columns={c: _column(c, s) for c, s in spec["columns"].items()},
        )
        for name, spec in raw.items()
    }


FEEDS: tuple[str, ...] = tuple(contracts())


def contract(feed: str) -> FeedContract:
    """The contract of one feed; an unknown name gets a one-line error listing the known feeds."""
    try:
        return contracts()[feed]
    except KeyError:
        raise ValueError(f"unknown feed {feed!r}; known feeds: {', '.join(FEEDS)}") from None
