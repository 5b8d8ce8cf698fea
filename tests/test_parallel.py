"""Parallel execution: steps in separate processes share the one DuckDB warehouse file by taking turns at its lock,
first-use key files come out the same in every process, and the local instance bounds runs and the MLflow pool."""

import multiprocessing
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as StillWaiting
from contextlib import contextmanager
from multiprocessing.synchronize import Barrier
from pathlib import Path

import dagster as dg
import polars as pl
import pytest
import yaml

from cli import instance_yaml
from definitions import defs, step_executor
from resources import build_resources
from resources.environment import settings
from resources.file_lock import lock_path
from resources.vault import load_key
from resources.warehouse import Warehouse

ROOT = Path(__file__).resolve().parents[1]
ROWS = 200_000
MEET_TIMEOUT_S = 30
KEY_FOLDERS = 50
HOLDER = """
import sys
from pathlib import Path
from resources.file_lock import held
with held(Path(sys.argv[1]), shared=sys.argv[2] == "shared"):
    print("held", flush=True)
    sys.stdin.readline()
"""


@contextmanager
def lock_held_elsewhere(path: Path, mode: str) -> Iterator[None]:
    """Another process holds the lock on `path` in `mode` until the block ends."""
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(path), mode], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        yield
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


@pytest.mark.parametrize(("mode", "read_only", "waits"), [
    ("exclusive", False, True),
    ("exclusive", True, True),
    ("shared", False, True),
    ("shared", True, False),
])
def test_a_connection_waits_only_for_a_conflicting_lock_in_another_process(tmp_path, mode, read_only, waits):
    warehouse = Warehouse(path=str(tmp_path / "warehouse.duckdb"))
    warehouse.write_table("ops", "seed", pl.DataFrame({"n": [1, 2, 3]}))
    work = (lambda: warehouse.query("SELECT sum(n) FROM ops.seed").item()) if read_only else (
        lambda: warehouse.write_table("ops", "written", pl.DataFrame({"n": [4]})))
    with ThreadPoolExecutor(1) as pool, lock_held_elsewhere(lock_path(Path(warehouse.path)), mode):
        outcome = pool.submit(work)
        if waits:
            with pytest.raises(StillWaiting):
                outcome.result(timeout=0.5)
        else:
            assert outcome.result(timeout=5) == 6
    outcome.result(timeout=10)
    assert warehouse.tables() == ["ops.seed"] + ([] if read_only else ["ops.written"])


def first_uses_of_keys(root: str, start: Barrier, keys: "multiprocessing.Queue[tuple[bytes, ...]]") -> None:
    start.wait()
    keys.put(tuple(load_key("WORKBENCH_RAW_KEY", Path(root, str(n)), create=True) for n in range(KEY_FOLDERS)))


def test_parallel_first_uses_of_a_key_file_agree_on_one_key(tmp_path):
    """Four processes race to create the same key in each of 50 fresh folders (one folder rarely shows a race)."""
    context = multiprocessing.get_context("spawn")
    start, keys = context.Barrier(4), context.Queue()
    workers = [context.Process(target=first_uses_of_keys, args=(str(tmp_path), start, keys)) for _ in range(4)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=60)
    assert [worker.exitcode for worker in workers] == [0, 0, 0, 0]
    assert len({keys.get(timeout=5) for _ in workers}) == 1
    assert {p.name for folder in tmp_path.iterdir() for p in folder.iterdir()} == {"workbench_raw_key.key"}


def test_every_job_runs_its_steps_in_at_most_max_concurrent_processes(monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_CONCURRENT", "3")
    executor = step_executor(settings())
    assert executor.name == "multiprocess" and executor.apply_config_mapping({}).value["config"]["max_concurrent"] == 3
    for job in ("ingest", "gold", "train", "score", "rollback"):
        assert defs.resolve_job_def(job).executor_def.name == "multiprocess", job


def test_the_local_instance_bounds_runs_and_gives_the_mlflow_pool_one_slot(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_MAX_CONCURRENT_RUNS", "3")
    (tmp_path / "dagster.yaml").write_text(instance_yaml(settings()))
    with dg.DagsterInstance.from_config(str(tmp_path)) as instance:
        config = instance.get_concurrency_config()
        assert config.run_queue_config.max_concurrent_runs == 3 and config.pool_config.default_pool_limit == 1
        assert instance.event_log_storage.supports_global_concurrency_limits
    pools = {node.name: node.definition.pool for node in defs.resolve_job_def("train").graph.node_dict.values()}
    assert {name: pool for name, pool in pools.items() if pool} == {f"models__{m}": "mlflow_registry" for m in
                                                                     ("breast_cancer_screening", "colorectal_cancer_screening",
                                                                      "glycemic_status_testing", "statin_adherence")}
    assert yaml.safe_load(instance_yaml(settings()))["telemetry"] == {"enabled": False}


def meet(name: str, other: str) -> None:
    """Say this step has started and wait until `other` has too: both are then computing at the same time."""
    folder = settings().home / "rendezvous"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).touch()
    deadline = time.monotonic() + MEET_TIMEOUT_S
    while not (folder / other).exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"step {other} never ran while {name} did")
        time.sleep(0.05)


def writer(name: str, other: str) -> dg.AssetsDefinition:
    @dg.asset(key=["parallel", name])
    def _written() -> pl.DataFrame:
        meet(name, other)
        return pl.DataFrame({"step": [name] * ROWS, "n": range(ROWS)})

    return _written


def two_writers() -> dg.JobDefinition:
    """Two independent assets stored by the warehouse IO manager, with the project's resources and executor; rebuilt in
    every step process, which inherits the test's environment (spawned)."""
    s = settings()
    return dg.Definitions(assets=[writer("left", "right"), writer("right", "left")], jobs=[dg.define_asset_job("two_writers")],
                          resources=build_resources(s), executor=step_executor(s)).resolve_job_def("two_writers")


def step_events(instance: dg.DagsterInstance, run_id: str, kind: dg.DagsterEventType) -> dict[str, dg.EventLogEntry]:
    return {entry.step_key: entry for entry in instance.all_logs(run_id, of_type=kind)}


def test_two_steps_writing_the_warehouse_run_at_once_in_separate_processes(tmp_path, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path))
    monkeypatch.setenv("WORKBENCH_MAX_CONCURRENT", "2")
    (tmp_path / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(tmp_path / "dagster")) as instance:
        result = dg.execute_job(dg.reconstructable(two_writers), instance=instance)
        assert result.success, [e.message for e in result.all_events if e.event_type == dg.DagsterEventType.STEP_FAILURE]
        started = step_events(instance, result.run_id, dg.DagsterEventType.STEP_START)
        succeeded = step_events(instance, result.run_id, dg.DagsterEventType.STEP_SUCCESS)
    assert set(started) == set(succeeded) == {"parallel__left", "parallel__right"}
    pids = {entry.dagster_event.pid for entry in started.values()}
    assert len(pids) == 2 and not pids & {None, os.getpid()}
    assert max(e.timestamp for e in started.values()) < min(e.timestamp for e in succeeded.values())
    warehouse = Warehouse(path=str(settings().warehouse_path))
    for name in ("left", "right"):
        stored = warehouse.read_table("parallel", name)
        assert stored.height == ROWS and set(stored["step"]) == {name}
