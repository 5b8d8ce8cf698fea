"""Code-location load time (what the Dagster UI waits for) and import time of the definitions module, each in fresh
processes, with the heavy libraries that import pulls in.

- import: `import definitions` timed inside a fresh interpreter (interpreter start-up excluded); the same process
  lists which of HEAVY it loaded. The peer is `import dagster` alone, the floor any code location pays.
- load: what `dagster dev` and dagster-webserver do at start-up (dagster_webserver/cli.py): a `WorkspaceProcessContext`
  on workspace.yaml, which spawns a `dagster api grpc` code server that imports definitions and returns the
  repository snapshot. Timed in a fresh process that has already imported dagster, as the webserver has.
- over the target, `python -X importtime` names the slowest packages and the project module that imports each.

    python -m bench.code_location
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time

from bench.measure import PROJECT, run_json
from bench.table import Row, load_average, markdown

HEAVY = ("torch", "mlflow", "sklearn", "matplotlib", "scipy", "pandas", "papermill", "nbconvert", "jupyter_client")
PROJECT_PACKAGES = ("definitions", "assets", "checks", "resources", "sensors")
TARGET_SECONDS = 3.0
REPEATS = 5


def measure_import(module: str) -> dict:
    start = time.perf_counter()
    __import__(module)
    seconds = time.perf_counter() - start
    return {"seconds": seconds, "heavy": [name for name in HEAVY if name in sys.modules]}


def measure_load() -> dict:
    """The webserver's start-up load of workspace.yaml, against a throwaway instance."""
    import dagster as dg
    from dagster._cli.workspace.cli_target import workspace_opts_to_load_target
    from dagster._core.workspace.context import WorkspaceProcessContext
    from dagster_shared.cli import WorkspaceOpts

    target = workspace_opts_to_load_target(WorkspaceOpts(workspace=[str(PROJECT / "workspace.yaml")]))
    with tempfile.TemporaryDirectory() as home, dg.DagsterInstance.local_temp(home) as instance:
        start = time.perf_counter()
        with WorkspaceProcessContext(instance, target, version=dg.__version__, read_only=True) as context:
            entries = context.create_request_context().get_code_location_entries()
            seconds = time.perf_counter() - start
            errors = [f"{name}: {entry.load_error}" for name, entry in entries.items() if entry.load_error]
    return {"seconds": seconds, "locations": len(entries), "errors": errors}


def repeated(kind: str, arg: str = "") -> list[dict]:
    """REPEATS fresh processes; a failure stops early and is said by run_json."""
    runs = []
    for _ in range(REPEATS):
        run = run_json([sys.executable, "-m", "bench.code_location", "--measure", kind, arg], timeout=600)
        if run is None:
            break
        runs.append(run)
    return runs


def import_causes(module: str, top: int = 5) -> list[str]:
    """The `top` slowest third-party packages `python -X importtime` sees, each with the project module importing it."""
    done = subprocess.run([sys.executable, "-X", "importtime", "-c", f"import {module}"], capture_output=True, text=True, cwd=PROJECT, check=False)
    entries = []  # (depth, name, cumulative seconds) in the order printed: children before their importer
    for line in done.stderr.splitlines():
        if line.startswith("import time:") and "|" in line and "cumulative" not in line:
            _, cumulative, name = line.split("|")
            entries.append(((len(name) - len(name.lstrip()) - 1) // 2, name.strip(), int(cumulative) / 1e6))

    def importer(i: int) -> str:
        """The project module whose import pulled entry i in, and the package in between if any."""
        depth, own, between = entries[i][0], entries[i][1].split(".")[0], None
        for later_depth, name, _ in entries[i + 1:]:
            if later_depth < depth:
                depth, root = later_depth, name.split(".")[0]
                if root in PROJECT_PACKAGES:
                    return name + (f" via {between}" if between else "")
                between = between or (root if root != own else None)
        return "?"

    roots = [(seconds, name, importer(i)) for i, (depth, name, seconds) in enumerate(entries)
             if "." not in name and name not in PROJECT_PACKAGES]
    return [f"{name} {seconds:.2f} s (from {via})" for seconds, name, via in sorted(roots, reverse=True)[:top]]


def rows() -> list[Row]:
    load = load_average()
    ours, dagster = repeated("import", "definitions"), repeated("import", "dagster")
    load_runs = repeated("load")
    out = []
    if ours and dagster:
        seconds = statistics.median(r["seconds"] for r in ours)
        floor = statistics.median(r["seconds"] for r in dagster)
        heavy = ", ".join(ours[-1]["heavy"]) or "none"
        out.append(Row(f"`import definitions`, fresh process (median of {len(ours)})", f"{seconds:.2f} s",
                       f"{floor:.2f} s (`import dagster` alone)", f"{seconds / floor:.1f}x dagster alone",
                       f"< {TARGET_SECONDS:.0f} s", seconds < TARGET_SECONDS, load))
        out.append(Row("heavy libraries loaded by `import definitions`", heavy, "", "", "no torch, mlflow (lazy)",
                       not {"torch", "mlflow"} & set(ours[-1]["heavy"]), load))
        if seconds >= TARGET_SECONDS:
            out.append(Row("slowest imports under `import definitions` (-X importtime)", "; ".join(import_causes("definitions")), load=load))
    if load_runs:
        seconds = statistics.median(r["seconds"] for r in load_runs)
        errors = sorted({e for r in load_runs for e in r["errors"]})
        out.append(Row(f"code location load as dagster-webserver does it: spawn the gRPC code server, import, snapshot (median of {len(load_runs)})",
                       f"{seconds:.2f} s" + (f"; LOAD ERROR {errors[0]}" if errors else ""), "", "", f"< {TARGET_SECONDS:.0f} s",
                       seconds < TARGET_SECONDS and not errors, load))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measure", nargs=2, metavar=("KIND", "MODULE"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.measure:
        kind, module = args.measure
        print(json.dumps(measure_import(module) if kind == "import" else measure_load()))
        return
    print(markdown(rows()))


if __name__ == "__main__":
    main()
