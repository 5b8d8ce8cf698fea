"""Bronze, then silver, at a given member count: the layers that must stay flat in memory as members grow.

Bronze: the synthetic plan generated block by block and every arrival day of the five feeds encrypted into bronze, a
month at a time. Silver: every feed conformed, judged, de-duplicated and versioned from all of bronze in batches of
months, with its checks (schema in key-hashed batches, reconciliation, quarantine rate). Wall time, feed rows per
second, peak memory of each layer's process tree.

The peer is the same layers at a smaller scale, so the ratios say how time and memory scale from 100k to 1M members
(time linear, memory about 1x when nothing holds a whole feed). Each scale runs in a fresh state folder under
`$WORKBENCH_HOME/bench/`, removed afterwards, each layer in its own process; memory is sampled as `bench.end_to_end`
samples it.

    python -m bench.ingest_layers --members 100000 1000000
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

LAYERS = ("bronze", "silver")
RESULT = "rows:"


@dataclass(frozen=True)
class LayerRun:
    layer: str
    members: int
    rows: int | None  # None: the run failed or was stopped for memory
    seconds: float
    peak_gib: float
    load: float

    def figure(self) -> str:
        done = f"{self.rows:,} rows, {self.rows / self.seconds:,.0f} rows/s" if self.rows is not None else "did not finish"
        return f"{self.seconds:,.0f} s, {done}, peak {self.peak_gib:.2f} GiB ({self.members:,} members)"


def materialized_rows(layer: str) -> int:
    """Materialize every asset of `layer` (silver with its checks) over every arrival day in this process; the rows it took in."""
    import dagster as dg

    from assets.bronze import BRONZE_FEEDS
    from assets.partitions import arrival_partitions
    from assets.silver import SILVER_FEEDS
    from checks.silver import SILVER_CHECKS
    from resources import build_resources

    keys = arrival_partitions().get_partition_keys()
    tags = {"dagster/asset_partition_range_start": keys[0], "dagster/asset_partition_range_end": keys[-1]} if layer == "bronze" else {}
    assets, figure = (BRONZE_FEEDS, "rows_landed") if layer == "bronze" else ([*SILVER_FEEDS, *SILVER_CHECKS], "rows_in")
    with dg.DagsterInstance.get() as instance:
        result = dg.materialize(assets, resources=build_resources(), tags=tags, instance=instance)
    counts = {e.asset_key: metadata[figure].value  # bronze: one event per partition, same figures
              for e in result.all_events if e.is_step_materialization
              if figure in (metadata := e.event_specific_data.materialization.metadata)}
    return sum(counts.values())


def run_layer(layer: str, home: Path, members: int, months: int | None) -> LayerRun:
    """One layer in a child process on `home`, sampled for the tree's peak memory."""
    load, start = load_average(), time.perf_counter()
    child = subprocess.Popen([sys.executable, "-m", "bench.ingest_layers", "--child", layer], env=run_environment(home, members, months),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    sampler = TreeSampler(child.pid)
    sampler.start()
    out, err = child.communicate()
    sampler.done.set()
    sampler.join()
    seconds = time.perf_counter() - start
    if child.returncode != 0:
        print(f"{layer} at {members:,} members failed:", *err.splitlines()[-5:], sep="\n", file=sys.stderr)
    rows = next((int(line.removeprefix(RESULT)) for line in out.splitlines() if line.startswith(RESULT)), None)
    return LayerRun(layer, members, rows if child.returncode == 0 and not sampler.exhausted else None, seconds, sampler.peak / 1024**3, load)


def run_scale(members: int, months: int | None) -> list[LayerRun]:
    """Bronze then silver in a fresh state folder; silver is skipped when bronze did not finish."""
    root = settings().home / "bench"
    root.mkdir(parents=True, exist_ok=True)
    runs: list[LayerRun] = []
    with tempfile.TemporaryDirectory(dir=root, prefix=f"ingest-{members}-") as home:
        (Path(home) / "dagster").mkdir()
        for layer in LAYERS:
            if not runs or runs[-1].rows is not None:
                runs.append(run_layer(layer, Path(home), members, months))
    return runs


LABELS = {
    "bronze": "bronze landing (plan generated in blocks, 5 feeds, every arrival day): wall time, rows/s, peak RSS of the process tree",
    "silver": "silver from all of bronze, with its checks (5 feeds, batches of months): wall time, rows in/s, peak RSS of the process tree",
}


def rows(members: list[int], months: int | None = None) -> list[Row]:
    runs = [run for n in sorted(members) for run in run_scale(n, months)]
    table = []
    for layer in LAYERS:
        scales = [r for r in runs if r.layer == layer]
        if not scales:
            continue
        big, small = scales[-1], (scales[0] if len(scales) > 1 else None)
        compared = small is not None and big.rows is not None and small.rows is not None
        table.append(Row(LABELS[layer], big.figure(), small.figure() if small else "",
                         (f"{big.seconds / small.seconds:.1f}x the time and {big.peak_gib / small.peak_gib:.1f}x the memory for "
                          f"{big.members / small.members:.0f}x the members") if compared else "",
                         load=big.load, peer_load=small.load if small else None))
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=members_from_env("100000"))
    parser.add_argument("--months", type=int, help="history length (default: the plan's, WORKBENCH_MONTHS or 60)")
    parser.add_argument("--child", choices=LAYERS, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(f"{RESULT}{materialized_rows(args.child)}")
        return
    print(markdown(rows(args.members, args.months)))


if __name__ == "__main__":
    main()
