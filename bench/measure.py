"""How benchmarks time work and run a measurement in a process of its own, so that each side's peak memory is its own."""

from __future__ import annotations

import json
import statistics
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT = Path(__file__).parents[1]


def timed(fn: Callable, *args: Any) -> tuple[Any, float]:
    start = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - start


def median_timed(fn: Callable, repeats: int, *args: Any) -> tuple[Any, float]:
    """The last result and the median wall time of `repeats` calls."""
    runs = [timed(fn, *args) for _ in range(repeats)]
    return runs[-1][0], statistics.median(seconds for _, seconds in runs)


def peak_mib() -> float:
    """This process's peak resident set so far: VmHWM, not ru_maxrss, which Linux carries over from the parent's size at
    fork through exec, so a measuring process started by a parent holding the data would report the parent's size."""
    line = next(line for line in Path("/proc/self/status").read_text().splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


def run_json(command: list, timeout: float) -> dict | None:
    """The last JSON object line a measuring process prints (a child it starts may log after it); None, said in one line,
    if it fails or times out."""
    try:
        done = subprocess.run(command, capture_output=True, text=True, timeout=timeout, cwd=PROJECT, check=False)
    except subprocess.TimeoutExpired:
        print(f"{command[1:4]} did not finish within {timeout:.0f} s")
        return None
    if done.returncode:
        print(f"{command[1:4]} failed: {(done.stderr.strip().splitlines() or ['no message'])[-1]}")
        return None
    return json.loads([line for line in done.stdout.splitlines() if line.startswith("{")][-1])
