"""End-to-end materialization (`workbench run`, what `make run` does) at a given member count: wall time per job, rows
per second per job, peak memory of the whole process tree.

There is no external peer for a whole pipeline: the peer is the same pipeline at a smaller scale, so the ratio is
how well throughput holds up from 100k to 1M members (1.0 = linear scaling). Each scale runs in a fresh state folder
under `$WORKBENCH_HOME/bench/` (the same disk as a normal run: Dagster's SQLite event log is fsync-bound, so a tmpfs
would flatter it), removed afterwards. Job times are taken from when the CLI announces each job on stdout.
Peak memory sums the resident set of the CLI and every descendant (papermill kernels), sampled from /proc every
0.2 s (not a cgroup: the run shares its memory cgroup with everything else on the machine): shared pages count once per
process, so it is an upper bound, and a peak shorter than 0.2 s can be missed. Each job's figure is the largest sample
while it ran: the CLI keeps memory its allocator got in an earlier job, so a job's figure bounds its own need from above. A run is killed (its own process group)
when the machine has less than MEMORY_FLOOR available, before the kernel's OOM killer picks a process; it then misses
both targets.

    python -m bench.end_to_end --members 100000 1000000
"""

from __future__ import annotations

import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from itertools import pairwise
from pathlib import Path

from bench.table import Row, load_average, markdown
from resources.environment import settings

JOBS = ("ingest", "gold", "train", "score")
RATE_UNITS = {"ingest": "feed rows", "gold": "feature member-months", "train": "feature member-months read", "score": "open gaps scored"}
TARGET_MEMBERS, TARGET_SECONDS, TARGET_GIB = 1_000_000, 15 * 60, 8.0
JOB_LINE = re.compile(rf"^({'|'.join(JOBS)}): ")
SUMMARY = re.compile(r"^Care-gap workbench: (runs succeeded|RUN FAILED) in [\d.]+ s, peak memory ([\d.]+) GiB")
FEED_ROW = re.compile(r"^ {4}\w+ +[\d,]+ +([\d,]+) +([\d,]+)$")
FEATURES = re.compile(r"^ {2}gold .*\bfeatures ([\d,]+)")
SCORED = re.compile(r"([\d,]+) open gaps scored")
FAILED = re.compile(r"^ {2}FAILED +(.*)")
PAGE = os.sysconf("SC_PAGE_SIZE")
SAMPLE_SECONDS = 0.2
MEMORY_FLOOR = 2 * 1024**3  # a run is stopped when the machine has less than this left


@dataclass(frozen=True)
class Scale:
    """One `workbench run`: seconds and rows per job, the tree's peak memory and the job it came in, the CLI's own peak
    (None if the run was stopped for memory)."""

    members: int
    success: bool
    seconds: dict[str, float]
    rows: dict[str, int]
    total_seconds: float
    tree_peak_gib: float
    peak_job: str
    job_peak_gib: dict[str, float]
    cli_peak_gib: float | None
    stopped: bool
    failure: str | None
    load: float

    def rate(self, job: str) -> float:
        return self.rows[job] / self.seconds[job]


def tree_rss(root: int) -> int:
    """Resident bytes of `root` and all its descendants now."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError):
            continue
        children.setdefault(parent, []).append(int(stat.parent.name))
    total, stack = 0, [root]
    while stack:
        pid = stack.pop()
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE
        except OSError:
            continue
        stack += children.get(pid, [])
    return total


def available_memory() -> int:
    """Bytes the kernel could still give out without swapping (MemAvailable)."""
    line = next(line for line in Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemAvailable:"))
    return int(line.split()[1]) * 1024


class TreeSampler(threading.Thread):
    """Keeps the largest `tree_rss` seen, when, and the largest since each `mark` (the job then running); kills the run's own process group if the machine, shared with other
    work, is about to run out of memory, since the kernel's OOM killer might pick someone else's process."""

    def __init__(self, root: int) -> None:
        super().__init__(daemon=True)
        self.root, self.done = root, threading.Event()
        self.peak, self.peak_at, self.exhausted = 0, 0.0, False
        self.job, self.job_peaks = "startup", {"startup": 0}

    def mark(self, job: str) -> None:
        self.job = job
        self.job_peaks.setdefault(job, 0)

    def run(self) -> None:
        while not self.done.wait(SAMPLE_SECONDS):
            rss = tree_rss(self.root)
            if rss > self.peak:
                self.peak, self.peak_at = rss, time.perf_counter()
            self.job_peaks[self.job] = max(self.job_peaks[self.job], rss)
            if available_memory() < MEMORY_FLOOR:
                self.exhausted = True
                os.killpg(self.root, signal.SIGKILL)
                return


def run_environment(home: Path, members: int, months: int | None) -> dict[str, str]:
    """The Makefile's environment with every state folder inside `home`, the synthetic plan and its own MLflow store."""
    env = {k: v for k, v in os.environ.items() if k != "WORKBENCH_MLFLOW_URI"}
    env |= {"WORKBENCH_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"), "MPLCONFIGDIR": str(home / "matplotlib"),
            "IPYTHONDIR": str(home / "ipython"), "JUPYTER_CONFIG_DIR": str(home / "jupyter/config"),
            "JUPYTER_DATA_DIR": str(home / "jupyter/data"), "JUPYTER_RUNTIME_DIR": str(home / "jupyter/runtime"),
            "MLFLOW_DISABLE_TELEMETRY": "true", "MLFLOW_LOGGING_LEVEL": "WARNING",
            "WORKBENCH_FEED_SOURCE": "synthetic", "WORKBENCH_MEMBERS": str(members)}
    return env | ({"WORKBENCH_MONTHS": str(months)} if months else {})


def _number(text: str) -> int:
    return int(text.replace(",", ""))


def parse_rows(summary: list[str]) -> dict[str, int]:
    """Rows each job processed, read from the run summary."""
    feed_rows = sum(_number(m[1]) + _number(m[2]) for line in summary if (m := FEED_ROW.match(line)))
    features = next((_number(m[1]) for line in summary if (m := FEATURES.match(line))), 0)
    scored = sum(_number(m[1]) for line in summary if (m := SCORED.search(line)))
    return {"ingest": feed_rows, "gold": features, "train": features, "score": scored}


def run_scale(members: int, months: int | None = None) -> Scale:
    """`workbench run` on a fresh state folder, timed per job; its Dagster log is kept only to explain a failure."""
    base = settings().home / "bench"
    base.mkdir(parents=True, exist_ok=True)
    workbench = Path(sys.executable).with_name("workbench")
    with tempfile.TemporaryDirectory(prefix=f"e2e-{members}-", dir=base) as folder:
        home, log = Path(folder), Path(folder) / "run.log"
        load = load_average()
        marks: dict[str, float] = {"startup": time.perf_counter()}
        summary: list[str] = []
        with log.open("w") as stderr, subprocess.Popen([workbench, "run"], stdout=subprocess.PIPE, stderr=stderr, text=True,
                                                        env=run_environment(home, members, months), start_new_session=True) as process:
            sampler = TreeSampler(process.pid)
            sampler.start()
            for line in process.stdout:
                if match := JOB_LINE.match(line):
                    marks[match[1]] = time.perf_counter()
                    sampler.mark(match[1])
                elif SUMMARY.match(line):
                    marks["end"] = time.perf_counter()
                summary.append(line.rstrip("\n"))
        marks.setdefault("end", time.perf_counter())
        sampler.done.set()
        sampler.join()
        outcome = next((m for line in summary if (m := SUMMARY.match(line))), None)
        if outcome is None and not sampler.exhausted:
            raise RuntimeError(f"workbench run at {members:,} members printed no summary; last log lines:\n"
                               + "\n".join(log.read_text().splitlines()[-20:]))
    order = sorted(marks, key=marks.get)
    seconds = {job: marks[following] - marks[job] for job, following in pairwise(order) if job in JOBS}
    return Scale(members=members, success=outcome is not None and outcome[1] == "runs succeeded" and len(seconds) == len(JOBS),
                 seconds=seconds, rows=parse_rows(summary), total_seconds=marks["end"] - marks["startup"],
                 tree_peak_gib=sampler.peak / 1024**3, peak_job=max((m for m in order if marks[m] <= sampler.peak_at), key=marks.get),
                 job_peak_gib={job: peak / 1024**3 for job, peak in sampler.job_peaks.items() if job in JOBS},
                 cli_peak_gib=float(outcome[2]) if outcome else None, stopped=sampler.exhausted,
                 failure=next((m[1][:160] for line in summary if (m := FAILED.match(line))), None), load=load)


def outcome(scale: Scale) -> str:
    if scale.stopped:
        return "stopped, machine memory nearly exhausted,"
    return "finished" if scale.success else f"RUN FAILED ({scale.failure or 'see the run summary'})"


def completed(scale: Scale, job: str) -> bool:
    """The job ran to its end (every job of a successful run; all but the last one reached in any other)."""
    return job in scale.seconds and (scale.success or job != list(scale.seconds)[-1])


def job_row(job: str, big: Scale, small: Scale | None) -> Row:
    def figure(scale: Scale) -> str:
        if job not in scale.seconds:
            return f"not reached ({scale.members:,} members)"
        if not completed(scale, job):
            return f"{outcome(scale)} after {scale.seconds[job]:,.0f} s ({scale.members:,} members)"
        return (f"{scale.seconds[job]:,.0f} s, {scale.rate(job):,.0f} {RATE_UNITS[job]}/s, process tree at most "
                f"{scale.job_peak_gib[job]:.2f} GiB ({scale.members:,} members)")

    both = small is not None and completed(big, job) and completed(small, job)
    return Row(f"end to end: `{job}` job, wall time, {RATE_UNITS[job]} per s, largest RSS of the process tree while it ran", figure(big), figure(small) if small else "",
               f"{big.rate(job) / small.rate(job):.2f}x the smaller scale's rate" if both else "", load=big.load)


def memory(scale: Scale) -> str:
    cli = "" if scale.cli_peak_gib is None else f"; CLI process alone {scale.cli_peak_gib:.2f}"
    return f"{scale.tree_peak_gib:.2f} GiB in `{scale.peak_job}`{cli} ({scale.members:,} members)"


def rows(members: list[int], months: int | None = None) -> list[Row]:
    """One row per job (largest scale against the smallest), then total wall time and peak memory, judged at 1M members:
    a run that did not finish misses both targets."""
    scales = sorted((run_scale(n, months) for n in members), key=lambda s: s.members)
    big, small = scales[-1], (scales[0] if len(scales) > 1 else None)
    judged = big.members >= TARGET_MEMBERS
    at = f"{TARGET_MEMBERS:,} members" + ("" if judged else f" (not run; largest run {big.members:,})")
    total = f"{big.total_seconds / 60:,.1f} min, {outcome(big)} ({big.members:,} members)"
    return [job_row(job, big, small) for job in JOBS] + [
        Row("end to end: total wall time", total,
            f"{small.total_seconds / 60:,.1f} min, {outcome(small)} ({small.members:,} members)" if small else "",
            f"{big.total_seconds / small.total_seconds:.1f}x the time for {big.members / small.members:.0f}x the members" if small else "",
            f"< {TARGET_SECONDS // 60} min at {at}", big.success and big.total_seconds < TARGET_SECONDS if judged else None, big.load),
        Row("end to end: peak memory, RSS summed over the process tree (papermill kernels included)", memory(big),
            memory(small) if small else "", f"{big.tree_peak_gib / small.tree_peak_gib:.1f}x" if small else "",
            f"< {TARGET_GIB:.0f} GB at {at}", big.success and big.tree_peak_gib * 1024**3 < TARGET_GIB * 1e9 if judged else None,
            big.load),
    ]


def members_from_env(default: str = "100000,1000000") -> list[int]:
    return [int(n.replace("_", "")) for n in os.environ.get("BENCH_MEMBERS", default).split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, nargs="+", default=members_from_env("100000"))
    parser.add_argument("--months", type=int, help="history length (default: the plan's, WORKBENCH_MONTHS or 60)")
    args = parser.parse_args()
    print(markdown(rows(args.members, args.months)))


if __name__ == "__main__":
    main()
