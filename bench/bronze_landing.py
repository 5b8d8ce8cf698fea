"""Bronze landing alone at a given member count: the synthetic plan generated block by block and every arrival day of
the five feeds encrypted into bronze, a month at a time. Wall time, feed rows landed per second, peak memory.

The layer that must stay flat in memory as members grow: the peer is the same landing at a smaller scale, so the
ratios say how time and memory scale from 100k to 1M members (time linear, memory about 1x when nothing holds a
whole feed). Each scale runs in its own process and a fresh state folder under `$WORKBENCH_HOME/bench/`, removed
afterwards; memory is sampled as `bench.end_to_end` samples it.

    python -m bench.bronze_landing --members 100000 1000000
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from bench.end_to_end import TreeSampler, members_from_env, run_environment
from bench.table import Row, load_average, markdown
from resources.environment import settings

RESULT = "bronze landed rows:"


@dataclass(frozen=True)
class LandingRun:
    members: int
    rows: int | None  # None: the run failed or was stopped for memory
    seconds: float
    peak_gib: float
    load: float

    def figure(self) -> str:
        landed = f"{self.rows:,} rows, {self.rows / self.seconds:,.0f} rows/s" if self.rows is not None else "did not finish"
        return f"{self.seconds:,.0f} s, {landed}, peak {self.peak_gib:.2f} GiB ({self.members:,} members)"


def land_all() -> int:
    """Materialize every bronze feed over every arrival day in this process; the rows landed."""
    import dagster as dg

    from assets.bronze import BRONZE_FEEDS
    from assets.partitions import arrival_partitions
    from resources import build_resources

    keys = arrival_partitions().get_partition_keys()
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]}
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(BRONZE_FEEDS, resources=build_resources(), tags=tags, instance=instance)
    landed = {e.asset_key: e.event_specific_data.materialization.metadata["rows_landed"].value  # one event per partition, same figures
              for e in result.all_events if e.is_step_materialization}
    return sum(landed.values())


def run_scale(members: int, months: int | None) -> LandingRun:
    """One landing in a child process with its own state folder, sampled for the tree's peak memory."""
    root = settings().home / "bench"
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root, prefix=f"bronze-{members}-") as home:
        (Path(home) / "dagster").mkdir()
        load, start = load_average(), time.perf_counter()
        child = subprocess.Popen([sys.executable, "-m", "bench.bronze_landing", "--child"], env=run_environment(Path(home), members, months),
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
        sampler = TreeSampler(child.pid)
        sampler.start()
        out, err = child.communicate()
        sampler.done.set()
        sampler.join()
        seconds = time.perf_counter() - start
    if child.returncode != 0:
        print(f"bronze landing at {members:,} members failed:", *err.splitlines()[-5:], sep="\n", file=sys.stderr)
    rows = next((int(line.split(":")[1]) for line in out.splitlines() if line.startswith(RESULT)), None)
    return LandingRun(members, rows if child.returncode == 0 and not sampler.exhausted else None, seconds, sampler.peak / 1024**3, load)


def rows(members: list[int], months: int | None = None) -> list[Row]:
    scales = sorted((run_scale(n, months) for n in members), key=lambda s: s.members)
    big, small = scales[-1], (scales[0] if len(scales) > 1 else None)
    compared = small is not None and big.rows is not None and small.rows is not None
    return [
        Row("bronze landing alone (plan generated in blocks, 5 feeds, every arrival day): wall time, rows/s, peak RSS of the process tree",
            big.figure(), small.figure() if small else "",
            (f"{big.seconds / small.seconds:.1f}x the time and {big.peak_gib / small.peak_gib:.1f}x the memory for "
             f"{big.members / small.members:.0f}x the members") if compared else "", load=big.load, peer_load=small.load if small else None),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=members_from_env("100000"))
    parser.add_argument("--months", type=int, help="history length (default: the plan's, WORKBENCH_MONTHS or 60)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(f"{RESULT}{land_all()}")
        return
    print(markdown(rows(args.members, args.months)))


if __name__ == "__main__":
    main()
