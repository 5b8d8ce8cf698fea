"""What to generate: the configuration every part of the synthetic plan reads."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

MAX_BLOCKS = 1000


@dataclass(frozen=True, kw_only=True)
class SyntheticConfig:
    """What to generate: population size, months of service history before the end date, and the seed.

    `block` numbers one block of a plan generated in blocks of members (see `blocks`): block 0 is the plan as a
    single block generates it; any other block has its own random streams and identifiers carrying its number.
    """

    end_date: date
    seed: int = 7
    members: int = 50_000
    months: int = 36
    canaries: int = 3
    block: int = 0

    def __post_init__(self) -> None:
        """Reject a population too small for its canaries, or an empty window."""
        if self.members < max(100, 10 * self.canaries):
            raise ValueError(f"members must be at least {max(100, 10 * self.canaries)}, got {self.members}")
        if self.months < 1:
            raise ValueError(f"months must be at least 1, got {self.months}")
        if not 0 <= self.block < MAX_BLOCKS:
            raise ValueError(f"block must be from 0 to {MAX_BLOCKS - 1}, got {self.block}")

    def id_prefix(self, letter: str) -> str:
        """The start of this block's identifiers: block 0's are `letter` + digits, any other block's put its number
        (three digits) in between, so ids of different blocks differ in length or in that number and never collide."""
        return letter if self.block == 0 else f"{letter}{self.block:03d}"

    @property
    def start_date(self) -> date:
        """First day of the window: the first of the month `months` months before the end date's month."""
        year, month = divmod(self.end_date.year * 12 + self.end_date.month - 1 - self.months, 12)
        return date(year, month + 1, 1)
