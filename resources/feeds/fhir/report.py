"""What a FHIR bulk export delivered and how it was mapped."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import polars as pl


@dataclass
class FhirReport:
    """What an export delivered and how it was mapped: the counts a reviewer needs to trust (or doubt) the feeds."""

    resources_read: dict[str, int] = field(default_factory=dict)
    rows_per_feed: dict[str, int] = field(default_factory=dict)
    unknown_resource_types: dict[str, int] = field(default_factory=dict)
    unmapped_codes: Counter[tuple[str, str]] = field(default_factory=Counter)
    skipped: Counter[str] = field(default_factory=Counter)
    approximations: list[str] = field(default_factory=list)
    ignored_files: list[str] = field(default_factory=list)

    def count_unmapped(self, frame: pl.DataFrame, system: str, code: str, mapped: str) -> None:
        """Count each output occurrence of a source code the code map does not translate, by (system, code)."""
        missing = frame.filter(pl.col(code).is_not_null() & ~pl.col(mapped).fill_null(True)).group_by(system, code).len()
        self.unmapped_codes.update({(s or "", c): n for s, c, n in missing.iter_rows()})
