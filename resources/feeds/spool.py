"""The synthetic plan's feeds spooled to disk one block of members at a time, so no step holds a feed's whole history.

Each block is generated, its faults injected, and written as Parquet sorted by arrival date; a delivery reads back
only its arrival dates. The spool is the synthetic sender's outbox: text as delivered, in plaintext like a landing
inbox, in a temporary folder (`TMPDIR` chooses the disk) deleted when the run ends. A day's file takes rows from every
block, so its lines are numbered across blocks in block order: block 0 keeps its own numbers, and a plan of one block
reads back exactly what was generated.
"""

from __future__ import annotations

import shutil
import tempfile
from dataclasses import dataclass, replace
from datetime import date
from pathlib import Path

import polars as pl

from resources.feeds.contract import ARRIVAL_DATE, SOURCE_FILE, SOURCE_LINE
from resources.feeds.faults import FaultConfig, inject_faults, schema_change_date
from resources.feeds.synthetic import SyntheticConfig, generate_feed, release_plans
from resources.feeds.synthetic.blocks import blocks

ROW_GROUP_ROWS = 50_000
_SPOOLED: dict[tuple, SpooledFeed] = {}
_FOLDER: list[Path] = []


@dataclass(frozen=True)
class SpooledFeed:
    """One feed's blocks on disk, and per block the line number each of its files continues from."""

    files: tuple[Path, ...]
    line_offsets: tuple[dict[str, int], ...]

    def rows(self, arrival_dates: set[date]) -> pl.DataFrame:
        """The rows delivered on these dates, every block's, lines numbered across blocks."""
        days = pl.Series(sorted(arrival_dates), dtype=pl.Date)
        parts = [
            pl.scan_parquet(path).filter(pl.col(ARRIVAL_DATE).is_in(days)).with_columns(
                pl.col(SOURCE_LINE) + pl.col(SOURCE_FILE).replace_strict(offsets, default=0, return_dtype=pl.Int64))
            for path, offsets in zip(self.files, self.line_offsets)
        ]
        return pl.concat(parts).collect()


def _blocks_share_schema_change(faults: FaultConfig, feed: str, first_block: pl.DataFrame) -> FaultConfig:
    """Every block changes layout on the date block 0 would choose, so the feed shows one sender's change."""
    if faults.schema_change_feed != feed or faults.schema_change_date is not None:
        return faults
    return replace(faults, schema_change_date=schema_change_date(first_block, faults))


def spool_feed(plan: SyntheticConfig, feed: str, faults: FaultConfig, folder: Path, block_members: int) -> SpooledFeed:
    """Generate the feed block by block, inject each block's faults, and write each block sorted by arrival date."""
    plan_blocks = blocks(plan, block_members)
    files, offsets, lines = [], [], {}
    for part in plan_blocks:
        generated = generate_feed(part, feed)
        if part.block == 0 and len(plan_blocks) > 1:
            faults = _blocks_share_schema_change(faults, feed, generated)
        rows = inject_faults(generated, feed, faults, plan.seed, part.block)[0]
        del generated
        if len(plan_blocks) > 1:
            release_plans()
        files.append(folder / f"{feed}-{part.block:03d}.parquet")
        rows.write_parquet(files[-1], row_group_size=ROW_GROUP_ROWS)
        offsets.append(dict(lines))
        for file, last in rows.group_by(SOURCE_FILE).agg(pl.col(SOURCE_LINE).max()).iter_rows():
            lines[file] = lines.get(file, 0) + last - 1
    return SpooledFeed(tuple(files), tuple(offsets))


def spooled_feed(plan: SyntheticConfig, feed: str, faults: FaultConfig, block_members: int) -> SpooledFeed:
    """The feed spooled once per process and plan; later deliveries of the same run read the spool."""
    key = (plan, feed, faults, block_members)
    if key not in _SPOOLED:
        if not _FOLDER:
            _FOLDER.append(Path(tempfile.mkdtemp(prefix="workbench-synthetic-")))
        folder = Path(tempfile.mkdtemp(prefix=f"{feed}-", dir=_FOLDER[0]))
        _SPOOLED[key] = spool_feed(plan, feed, faults, folder, block_members)
    return _SPOOLED[key]


def release_spools() -> None:
    """Delete every spooled feed of this process: the run that needed them has ended."""
    _SPOOLED.clear()
    while _FOLDER:
        shutil.rmtree(_FOLDER.pop(), ignore_errors=True)
