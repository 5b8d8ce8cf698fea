"""The one shape every benchmark reports in and the one markdown table `python -m bench` prints.

Each figure carries the load average of the machine when it was measured: on shared 2-core machines a figure
without it cannot be compared with another run's.
"""

from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass(frozen=True)
class Row:
    """One measured figure against its peer; `met` is None where the issue sets no target."""

    measure: str
    ours: str
    peer: str = ""
    ratio: str = ""
    target: str = ""
    met: bool | None = None
    load: float | None = None
    peer_load: float | None = None


def load_average() -> float:
    """The 1-minute load average now, taken when a timing begins."""
    return os.getloadavg()[0]


def verdict(met: bool | None) -> str:
    return "" if met is None else ("yes" if met else "**no**")


def loads(row: Row) -> str:
    return " / ".join(f"{load:.1f}" for load in (row.load, row.peer_load) if load is not None)


def markdown(rows: list[Row]) -> str:
    """measure | ours | peer | ratio | target | met? | load average (ours / peer), one line per row."""
    lines = ["| measure | ours | peer | ratio | target | met? | load avg (ours / peer) |", "|---|---|---|---|---|---|---|"]
    lines += [f"| {r.measure} | {r.ours} | {r.peer} | {r.ratio} | {r.target} | {verdict(r.met)} | {loads(r)} |" for r in rows]
    return "\n".join(lines)


def times(ours_seconds: float, peer_seconds: float) -> str:
    """How many times faster ours is than the peer on the same work."""
    return f"{peer_seconds / ours_seconds:,.1f}x faster" if ours_seconds <= peer_seconds else f"{ours_seconds / peer_seconds:,.1f}x slower"
