"""`make bench`: every benchmark against its peer on identical data, measured now, as one markdown table.

Scales default to the issue's (10M claim lines, 100k and 1M members end to end, 40 features x 1M drift rows) and
are set by environment variables; `BENCH_QUICK=1` shrinks them all to a smoke run (about 15 minutes on 2 cores).

    BENCH_CLAIM_LINES    claim lines validated                          10000000   (quick 200000)
    BENCH_MEMBERS        member counts run end to end, comma-separated  100000,1000000 (quick 20000: fewer members
                         leave too few labels for the model gates, and a refused model stops the run before scoring)
    BENCH_MONTHS         history of the end-to-end runs                 the plan's
    BENCH_DRIFT_ROWS     current and reference rows of the drift bench  1000000    (quick 100000)
    BENCH_FEATURE_MEMBERS, BENCH_SERVING_MEMBERS  plans of the feature and serving benches  50000, 20000 (quick 3000)
"""

from __future__ import annotations

import os
import platform
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from bench import (
    code_location,
    drift_statistics,
    end_to_end,
    feature_build,
    model_serving,
    silver_validation,
)
from bench.table import Row, load_average, markdown


@dataclass(frozen=True)
class Scales:
    claim_lines: int
    members: list[int]
    months: int | None
    drift_rows: int
    feature_members: int
    feature_as_of_months: int
    serving_members: int

    @classmethod
    def from_env(cls) -> Scales:
        quick = os.environ.get("BENCH_QUICK") == "1"

        def number(name: str, full: int, smoke: int) -> int:
            return int(os.environ.get(name, str(smoke if quick else full)).replace("_", ""))

        months = os.environ.get("BENCH_MONTHS", "")
        return cls(claim_lines=number("BENCH_CLAIM_LINES", 10_000_000, 200_000),
                   members=end_to_end.members_from_env("20000" if quick else "100000,1000000"),
                   months=int(months) if months else None,
                   drift_rows=number("BENCH_DRIFT_ROWS", 1_000_000, 100_000),
                   feature_members=number("BENCH_FEATURE_MEMBERS", 50_000, 3_000), feature_as_of_months=2 if quick else 12,
                   serving_members=number("BENCH_SERVING_MEMBERS", 20_000, 3_000))


def benchmarks(s: Scales) -> list[tuple[str, Callable[[], list[Row]]]]:
    """Shortest first, so a long end-to-end run comes last."""
    return [
        ("code location", code_location.rows),
        ("silver validation", lambda: silver_validation.rows(s.claim_lines)),
        ("drift statistics", lambda: drift_statistics.rows(s.drift_rows)),
        ("feature build", lambda: feature_build.rows(s.feature_members, 36, s.feature_as_of_months)),
        ("model serving", lambda: model_serving.rows(s.serving_members, 42, 24)),
        ("end to end", lambda: end_to_end.rows(s.members, s.months)),
    ]


def main() -> None:
    scales = Scales.from_env()
    started = time.perf_counter()
    rows: list[Row] = []
    for name, run in benchmarks(scales):
        print(f"bench: {name} (load average {load_average():.1f}) ...", file=sys.stderr, flush=True)
        try:
            rows += run()
        except Exception as err:  # noqa: BLE001 - one failed benchmark must not lose the figures of the others
            traceback.print_exc()
            rows.append(Row(f"{name}: FAILED", f"{type(err).__name__}: {err}".splitlines()[0]))
    print(f"\n## Benchmarks, {datetime.now():%Y-%m-%d %H:%M}: {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"{(time.perf_counter() - started) / 60:.0f} min in all\n")
    print(markdown(rows))


if __name__ == "__main__":
    main()
