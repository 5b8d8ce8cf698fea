"""What to generate: the configuration every part of the synthetic plan reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    """What to generate: population size, months of service history before the end date, and the seed."""

    end_date: date
    seed: int = 7
    members: int = 50_000
    months: int = 36
    canaries: int = 3

    def __post_init__(self) -> None:
        """Reject a population too small for its canaries, or an empty window."""
        if self.members < max(100, 10 * self.canaries):
            raise ValueError(f"members must be at least {max(100, 10 * self.canaries)}, got {self.members}")
        if self.months < 1:
            raise ValueError(f"months must be at least 1, got {self.months}")

    @property
    def start_date(self) -> date:
        """First day of the window: the first of the month `months` months before the end date's month."""
        year, month = divmod(self.end_date.year * 12 + self.end_date.month - 1 - self.months, 12)
        return date(year, month + 1, 1)
